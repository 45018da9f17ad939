//! One exploration case: a schedule resolved, written as a suite, planned and run in the session;
//! how the written suite names the configuration database.

use std::path::{Path, PathBuf};

use bc_suite::{PlanOptions, PlannedScenario};
use tokio::sync::watch;

use super::emit::{emit_indexed, SuiteMeta};
use super::model::Spec;
use super::options::ExploreOptions;
use super::resolve::resolve;
use super::schedule::Schedule;
use crate::event::{RunEvent, ScenarioResult};
use crate::observe::EntryKind;
use crate::run::{Session, Shape};
use std::sync::atomic::{AtomicBool, Ordering};

/// One case as run: the result and the suite text it ran.
pub(super) struct CaseRun {
    pub result: ScenarioResult,
    pub text: String,
    /// The planned step index of each resolved operation.
    pub index: Vec<usize>,
}

/// Runs cases in sessions of the runner (one environment each, reset between cases): one case at
/// a time, or a batch side by side, one per session (`--jobs`).
pub(super) struct Explorer<'a> {
    pub opts: &'a ExploreOptions,
    pub spec: Spec,
    pub config: PathBuf,
    pub sessions: Vec<Session>,
    pub cancel: watch::Receiver<bool>,
}

/// How a written suite names the configuration database: relative to the nearest directory above the suite
/// that holds it, when that directory is the working directory or inside it (the tree being worked in):
/// suites resolve such a path by walking up from their own directory, so the file also runs when moved
/// elsewhere in that tree, e.g. into `suites/`, or cloned. Else absolute.
fn config_text(config: &Path, out_dir: &Path, cwd: &Path) -> String {
    let config = config
        .canonicalize()
        .unwrap_or_else(|_| config.to_path_buf());
    let found_from = |rel: &Path| {
        rel.to_str()
            .and_then(|r| bc_suite::config::resolve_path(out_dir, r))
            .and_then(|p| p.canonicalize().ok())
    };
    // Only the nearest common directory: a path relative to a far one (say /tmp) would be surprising.
    out_dir
        .ancestors()
        .filter(|dir| dir.parent().is_some())
        .find(|dir| config.starts_with(dir))
        .filter(|dir| dir.starts_with(cwd))
        .and_then(|dir| config.strip_prefix(dir).ok())
        .filter(|rel| found_from(rel).as_deref() == Some(config.as_path()))
        .map(|rel| rel.display().to_string())
        .unwrap_or_else(|| config.display().to_string())
}

pub(super) fn suite_id(seed: u64) -> String {
    format!("explore-{seed}")
}

impl Explorer<'_> {
    pub fn meta(&self, seed: u64, header: Vec<String>) -> SuiteMeta {
        SuiteMeta {
            suite_id: suite_id(seed),
            scenario_id: "case".into(),
            agent: self.opts.agent.clone(),
            config: config_text(
                &self.config,
                &self.opts.out_dir,
                &std::env::current_dir()
                    .and_then(|d| d.canonicalize())
                    .unwrap_or_default(),
            ),
            header,
        }
    }

    pub fn suite_path(&self, seed: u64) -> PathBuf {
        self.opts.out_dir.join(format!("{}.yaml", suite_id(seed)))
    }

    fn plan(&self, text: &str, seed: u64) -> Result<PlannedScenario, String> {
        let path = self.suite_path(seed);
        let loaded = bc_suite::load_str(&path.display().to_string(), text, &self.opts.out_dir)
            .map_err(|d| {
                format!(
                    "explore produced an invalid suite (a bug):\n{}",
                    bc_suite::render_plain(&d.errors)
                )
            })?;
        let mut planned = bc_suite::plan(&loaded, &PlanOptions::default())
            .map_err(|e| format!("explore produced an unplannable suite (a bug): {e}"))?;
        let mut sc = planned.remove(0);
        sc.file = path;
        Ok(sc)
    }

    /// The exploration's spec with another budget (shrinking shortens it).
    pub fn spec_at(&self, budget_ms: u64) -> Spec {
        Spec {
            budget_ms,
            ..self.spec.clone()
        }
    }

    /// The planned scenario of schedule `s` at budget `budget_ms`, its suite text and the step
    /// index of each operation.
    fn prepare(
        &self,
        s: &Schedule,
        budget_ms: u64,
    ) -> Result<(PlannedScenario, String, Vec<usize>), String> {
        let spec = self.spec_at(budget_ms);
        let res = resolve(s, &spec);
        let (text, index) = emit_indexed(&res, &spec, &self.meta(s.seed, Vec::new()));
        Ok((self.plan(&text, s.seed)?, text, index))
    }

    /// Runs up to one case per session side by side (schedule and budget each); the results in
    /// the same order. When a run finishes and `settles` says its result decides the batch (a
    /// failure, a reproducing candidate), the runs after it are cut short: their results are
    /// `Ok(None)`, as those of runs beyond the sessions. `Err`: the case could not run (no usable
    /// environment, or a suite that does not plan, which is a bug).
    pub async fn run_batch(
        &mut self,
        batch: &[(Schedule, u64)],
        emit: &(dyn Fn(RunEvent) + Send + Sync),
        settles: &(dyn Fn(&CaseRun) -> bool + Send + Sync),
    ) -> Vec<Result<Option<CaseRun>, String>> {
        let planned: Vec<_> = batch
            .iter()
            .take(self.sessions.len())
            .map(|(s, budget_ms)| self.prepare(s, *budget_ms))
            .collect();
        let n = planned.len();
        let (cut_tx, cut_rx): (Vec<_>, Vec<_>) = (0..n).map(|_| watch::channel(false)).unzip();
        let cut: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
        let (done_tx, mut done_rx) = watch::channel(false);
        let mut global = self.cancel.clone();
        let shape = Shape::of_config(self.config.clone());
        let (cut_tx, cut, shape) = (&cut_tx, &cut, &shape);
        let runs = self
            .sessions
            .iter_mut()
            .zip(planned)
            .zip(batch)
            .zip(cut_rx)
            .enumerate()
            .map(|(i, (((session, planned), (s, _)), rx))| async move {
                let (sc, text, index) = planned?;
                // A run cut short may have left its environment to be replaced.
                session.prepare(shape, emit).await?;
                let result = session.run(&sc, s.seed, rx, emit).await?;
                if cut[i].load(Ordering::SeqCst) {
                    return Ok(None);
                }
                let run = CaseRun {
                    result,
                    text,
                    index,
                };
                if settles(&run) {
                    for (flag, tx) in cut.iter().zip(cut_tx).skip(i + 1) {
                        flag.store(true, Ordering::SeqCst);
                        let _ = tx.send(true);
                    }
                }
                Ok(Some(run))
            });
        let all = async {
            let mut out = futures::future::join_all(runs).await;
            let _ = done_tx.send(true);
            out.resize_with(batch.len(), || Ok(None));
            out
        };
        // Ctrl-C reaches every run of the batch.
        let relay = async {
            tokio::select! {
                _ = global.wait_for(|v| *v) => {
                    for tx in cut_tx {
                        let _ = tx.send(true);
                    }
                }
                _ = done_rx.wait_for(|v| *v) => {}
            }
        };
        tokio::join!(all, relay).0
    }

    /// The result of a case that could not run, named like the suite it would have been.
    pub fn error_result(&self, s: &Schedule, message: String) -> ScenarioResult {
        self.sessions[0].error_result(self.info(s), s.seed, message)
    }

    /// How the case of schedule `s` is named in the reports.
    pub fn info(&self, s: &Schedule) -> crate::event::ScenarioInfo {
        crate::event::ScenarioInfo {
            id: format!("{}/case", suite_id(s.seed)),
            suite_id: suite_id(s.seed),
            file: self.suite_path(s.seed).display().to_string(),
            scenario_id: "case".into(),
            title: None,
            rules: Vec::new(),
            preferred_site: Some(self.spec.preferred.as_str().into()),
            budget_ms: self.spec.budget_ms,
        }
    }
}

/// Operations that had started when the first failure was decided.
pub(super) fn started_ops(run: &CaseRun) -> Option<usize> {
    let f = run.result.failures.first()?;
    let tl = run.result.timeline.as_ref()?;
    let last_step = tl
        .entries
        .iter()
        .filter(|e| e.ts_us <= f.at_us)
        .filter_map(|e| match e.kind {
            EntryKind::Step { index, .. } => Some(index),
            _ => None,
        })
        .max()?;
    // Planned steps: the implicit start_desktop comes first.
    Some(run.index.iter().filter(|i| **i < last_step).count())
}

#[cfg(test)]
mod tests {
    use super::config_text;

    #[test]
    fn written_suites_name_the_config_relative_to_the_tree_when_they_can() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let config = root.join("fixtures/config/db.yaml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "x").unwrap();
        let out = root.join("explore-failures");
        std::fs::create_dir_all(&out).unwrap();
        assert_eq!(config_text(&config, &out, &root), "fixtures/config/db.yaml");
        // Exploring from elsewhere: the tree is not the one worked in.
        let away = tempfile::tempdir().unwrap();
        let away = away.path().canonicalize().unwrap();
        assert_eq!(
            config_text(&config, &out, &away),
            config.display().to_string()
        );

        // A same-named file nearer the suite would win the walk up: then only the absolute path is right.
        let shadow = out.join("fixtures/config/db.yaml");
        std::fs::create_dir_all(shadow.parent().unwrap()).unwrap();
        std::fs::write(&shadow, "y").unwrap();
        assert_eq!(
            config_text(&config, &out, &root),
            config.display().to_string()
        );

        let elsewhere = tempfile::tempdir().unwrap();
        let other = elsewhere.path().canonicalize().unwrap().join("db.yaml");
        std::fs::write(&other, "z").unwrap();
        assert_eq!(
            config_text(&other, &out, &root),
            other.display().to_string()
        );
    }
}
