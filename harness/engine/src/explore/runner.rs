//! Real exploration: one environment, N seeded cases each run as a suite through the runner's
//! `run_scenario`, the first failure shrunk with real runs and written as a reproducing suite.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bc_protocol::ObservedEvent;
use bc_suite::{Capability, PlanOptions, PlannedScenario};
use tokio::sync::{mpsc, watch};

use super::emit::{dur, emit_indexed, SuiteMeta};
use super::generate::{generate, GenConfig};
use super::model::{resolve, Spec};
use super::schedule::Schedule;
use super::shrink::{Outcome, ShrinkLimits, Shrinker, StopReason};
use crate::check::Verdict;
use crate::env::{now_us, DesktopSpec, EnvConfig, Environment, KeepAlive, RuntimeKind, Topology};
use crate::event::{RunEvent, ScenarioResult, Summary};
use crate::observe::{format, EntryKind};
use crate::run::scenario::{info, run_scenario, ScenarioContext};

/// Where progress lines go.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything `bc-harness explore` decides.
#[derive(Clone)]
pub struct ExploreOptions {
    /// The desktop command (`{config}` is replaced by the connection file path).
    pub desktop: String,
    /// Seed of case 0; case `i` uses `seed + i`.
    pub seed: u64,
    /// Cases to explore.
    pub cases: usize,
    /// No new case starts after this much time.
    pub max_time: Option<Duration>,
    /// Where failing schedules are written as suites.
    pub out_dir: PathBuf,
    /// Which runtime runs the servers.
    pub runtime: RuntimeKind,
    /// Budget: expectation deadlines and checkpoint length.
    pub budget: Duration,
    /// Settling period after the final heal.
    pub settle: Duration,
    /// The agent the desktop logs in as.
    pub agent: String,
    /// The configuration database (default: `fixtures/config/default.yaml` found from the
    /// current directory upwards).
    pub config: Option<PathBuf>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
    /// How schedules are drawn.
    pub gen: GenConfig,
    /// Caps of the shrink.
    pub shrink: ShrinkLimits,
    /// Where bc-mock and bc-toxiproxy are.
    pub bin_dir: Option<PathBuf>,
    /// Server keep-alive given to every mock.
    pub keepalive: KeepAlive,
    /// Docker runtime only: a Toxiproxy image to run as the fault proxy instead of ours.
    pub proxy_image: Option<String>,
    /// Progress lines (seeds, replay commands, shrink steps); `None`: stderr.
    pub progress: Option<Progress>,
}

impl ExploreOptions {
    /// Defaults for everything but the desktop.
    pub fn new(desktop: impl Into<String>) -> ExploreOptions {
        ExploreOptions {
            desktop: desktop.into(),
            seed: 0,
            cases: 10,
            max_time: None,
            out_dir: PathBuf::from("explore-failures"),
            runtime: RuntimeKind::Auto,
            budget: bc_suite::DEFAULT_BUDGET,
            settle: Duration::from_millis(2500),
            agent: "agent1001".into(),
            config: None,
            capabilities: Vec::new(),
            gen: GenConfig::default(),
            shrink: ShrinkLimits::default(),
            bin_dir: None,
            keepalive: KeepAlive::default(),
            proxy_image: None,
            progress: None,
        }
    }

    fn say(&self, line: &str) {
        match &self.progress {
            Some(p) => p(line),
            None => eprintln!("{line}"),
        }
    }

    /// The command that replays case seed `case_seed` exactly (same generator settings).
    pub fn replay_command(&self, case_seed: u64) -> String {
        let mut c = vec![
            "bc-harness".to_string(),
            "explore".into(),
            "--desktop".into(),
            quote(&self.desktop),
            "--seed".into(),
            case_seed.to_string(),
            "--cases".into(),
            "1".into(),
            "--budget".into(),
            dur(self.budget.as_millis() as u64),
            "--settle".into(),
            dur(self.settle.as_millis() as u64),
            "--min-ops".into(),
            self.gen.min_ops.to_string(),
            "--max-ops".into(),
            self.gen.max_ops.to_string(),
            "--max-wait".into(),
            dur(self.gen.max_wait_ms),
        ];
        if self.runtime != RuntimeKind::Auto {
            c.push("--runtime".into());
            c.push(self.runtime.as_str().into());
        }
        if let Some(image) = &self.proxy_image {
            c.push("--toxiproxy-image".into());
            c.push(quote(image));
        }
        if !self.gen.focus.is_empty() {
            c.push("--focus".into());
            c.push(self.gen.focus.join(","));
        }
        if self.agent != "agent1001" {
            c.push("--agent".into());
            c.push(self.agent.clone());
        }
        if let Some(p) = &self.config {
            c.push("--config".into());
            c.push(quote(&p.display().to_string()));
        }
        if !self.capabilities.is_empty() {
            c.push("--capabilities".into());
            c.push(
                self.capabilities
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        c.join(" ")
    }
}

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| format!("'{s}'"))
}

/// Why exploration could not start (exit code 2 or 3).
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// The desktop command is unusable.
    #[error("invalid --desktop: {0}")]
    Desktop(String),
    /// Other usage problems.
    #[error("{0}")]
    Usage(String),
    /// The environment did not start.
    #[error("cannot start the environment: {0}")]
    Environment(String),
}

/// A failure found, shrunk and written.
#[derive(Debug, Clone)]
pub struct FoundFailure {
    /// Case number.
    pub case: usize,
    /// Its seed (replay with `--seed SEED --cases 1`).
    pub case_seed: u64,
    /// The broken check, without parameters.
    pub signature: String,
    /// The broken check as worded by the checker, and what was observed.
    pub check: String,
    /// What was observed instead.
    pub observed: String,
    /// Operations of the original schedule.
    pub original_ops: usize,
    /// Operations of the shrunk schedule.
    pub shrunk_ops: usize,
    /// Candidate runs made while shrinking.
    pub shrink_runs: usize,
    /// Why shrinking stopped.
    pub shrink_stop: StopReason,
    /// The suite written.
    pub suite_path: PathBuf,
    /// Command replaying the original case.
    pub replay: String,
    /// Command running the written suite.
    pub run_command: String,
}

/// What an exploration found.
#[derive(Debug, Clone, Default)]
pub struct ExploreReport {
    /// Counts by verdict (explored cases only; shrink runs are not cases).
    pub summary: Summary,
    /// Cases run.
    pub cases_run: usize,
    /// The first failure, shrunk.
    pub failure: Option<FoundFailure>,
    /// `--max-time` stopped the exploration early.
    pub stopped_by_time: bool,
}

impl ExploreReport {
    /// Exit code: 0 nothing found, 1 a failure found, 3 harness errors or interrupted.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        if self.summary.interrupted || self.summary.errors > 0 {
            ExitCode::HarnessError
        } else if self.failure.is_some() || self.summary.failed > 0 {
            ExitCode::Failed
        } else {
            ExitCode::Success
        }
    }
}

/// The broken checks of a result, without parameters (what "fails the same way" compares):
/// `expect_logged_in`, `invariant never_logged_in_at_both_peers [BC-6]`, ...
pub fn signatures(r: &ScenarioResult) -> Vec<String> {
    r.failures.iter().map(failure_signature).collect()
}

/// The signature of one failure.
pub fn failure_signature(f: &crate::check::Failure) -> String {
    let words: Vec<&str> = f.check.split_whitespace().collect();
    let head = match words.as_slice() {
        ["invariant", name, ..] => format!("invariant {name}"),
        [first, ..] => first.to_string(),
        [] => String::new(),
    };
    if f.rules.is_empty() {
        head
    } else {
        format!("{head} [{}]", f.rules.join(", "))
    }
}

fn outcome(r: &ScenarioResult) -> Outcome {
    match r.verdict {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => Outcome::Fail {
            signatures: signatures(r),
        },
        v => Outcome::Other(v.as_str().to_string()),
    }
}

fn find_config(opts: &ExploreOptions) -> Result<PathBuf, ExploreError> {
    let p = match &opts.config {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => {
            return Err(ExploreError::Usage(format!(
                "configuration database {} not found",
                p.display()
            )))
        }
        None => {
            let cwd = std::env::current_dir().map_err(|e| ExploreError::Usage(e.to_string()))?;
            bc_suite::config::resolve_path(&cwd, bc_suite::DEFAULT_CONFIG).ok_or_else(|| {
                ExploreError::Usage(format!(
                    "{} not found from {} upwards; pass --config",
                    bc_suite::DEFAULT_CONFIG,
                    cwd.display()
                ))
            })?
        }
    };
    std::fs::canonicalize(&p).map_err(|e| ExploreError::Usage(format!("{}: {e}", p.display())))
}

/// One case as run: the result and the suite text it ran.
struct CaseRun {
    result: ScenarioResult,
    text: String,
    index: Vec<usize>,
}

struct Explorer<'a> {
    opts: &'a ExploreOptions,
    spec: Spec,
    config: PathBuf,
    desktop: DesktopSpec,
    env: Environment,
    events: mpsc::Receiver<ObservedEvent>,
    fresh: bool,
    runtime: String,
    cancel: watch::Receiver<bool>,
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

fn suite_id(seed: u64) -> String {
    format!("explore-{seed}")
}

impl Explorer<'_> {
    fn meta(&self, seed: u64, header: Vec<String>) -> SuiteMeta {
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

    fn suite_path(&self, seed: u64) -> PathBuf {
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

    async fn run(
        &mut self,
        s: &Schedule,
        emit: &(dyn Fn(RunEvent) + Send + Sync),
    ) -> Result<CaseRun, String> {
        let res = resolve(s, &self.spec);
        let (text, index) = emit_indexed(&res, &self.spec, &self.meta(s.seed, Vec::new()));
        let sc = self.plan(&text, s.seed)?;
        if !self.fresh {
            self.env
                .reset()
                .await
                .map_err(|e| format!("environment reset failed: {e}"))?;
        }
        self.fresh = false;
        emit(RunEvent::ScenarioStarted {
            info: info(&sc),
            job: 0,
        });
        let ctx = ScenarioContext {
            env: &self.env,
            events: &mut self.events,
            desktop: &self.desktop,
            capabilities: &self.opts.capabilities,
            client_timeout_ms: self.opts.keepalive.client_timeout_ms.unwrap_or(10_000),
            seed: s.seed,
            runtime: self.runtime.clone(),
            cancel: self.cancel.clone(),
            emit,
        };
        let result = run_scenario(ctx, &sc).await;
        Ok(CaseRun {
            result,
            text,
            index,
        })
    }

    fn error_result(&self, s: &Schedule, message: String) -> ScenarioResult {
        let info = crate::run::ScenarioInfo {
            id: format!("{}/case", suite_id(s.seed)),
            suite_id: suite_id(s.seed),
            file: self.suite_path(s.seed).display().to_string(),
            scenario_id: "case".into(),
            title: None,
            rules: Vec::new(),
            preferred_site: Some(self.spec.preferred.as_str().into()),
            budget_ms: self.spec.budget_ms,
        };
        let mut r = ScenarioResult::skipped(info, String::new(), s.seed);
        r.skip_reason = None;
        r.verdict = Verdict::Error;
        r.errors.push(message);
        r.started_us = now_us();
        r.runtime = self.runtime.clone();
        r
    }
}

/// Operations that had started when the first failure was decided.
fn started_ops(run: &CaseRun) -> Option<usize> {
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

/// The comment header of a written failure: what broke, the seeds, the commands, the timeline.
fn header(
    opts: &ExploreOptions,
    found: &FoundFailure,
    shrunk: &Schedule,
    result: &ScenarioResult,
) -> Vec<String> {
    let mut h = vec![
        "Minimal failing schedule found by `bc-harness explore`.".to_string(),
        format!("broken: {}", found.check),
        format!("observed: {}", found.observed.lines().next().unwrap_or("")),
        format!(
            "case {} seed {} (explore --seed {}): {} operations, shrunk to {} in {} runs ({:?})",
            found.case,
            found.case_seed,
            opts.seed,
            found.original_ops,
            shrunk.ops.len(),
            found.shrink_runs,
            found.shrink_stop
        ),
        format!("replay the original case: {}", found.replay),
        format!("reproduce this file:      {}", found.run_command),
        String::new(),
        "timeline of the last failing run:".into(),
    ];
    if let Some(tl) = &result.timeline {
        let start = tl.start_us().unwrap_or(0);
        let lines: Vec<String> = tl
            .sorted()
            .into_iter()
            .filter(|e| !format::is_noise(&e.kind))
            .map(|e| format!("  {}", format::line(e, start)))
            .collect();
        let n = lines.len();
        const MAX: usize = 150;
        if n > MAX {
            h.extend(lines[..MAX / 2].iter().cloned());
            h.push(format!("  ... {} entries left out ...", n - MAX));
            h.extend(lines[n - MAX / 2..].iter().cloned());
        } else {
            h.extend(lines);
        }
    }
    h.push(String::new());
    h
}

/// Explores: emits `RunStarted`, one `ScenarioStarted`/`ScenarioFinished` per case (the usual
/// reporters make one testcase each), then `RunFinished`.
#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
pub async fn explore(
    opts: ExploreOptions,
    cancel: watch::Receiver<bool>,
    sink: mpsc::UnboundedSender<RunEvent>,
) -> Result<ExploreReport, ExploreError> {
    let t0 = Instant::now();
    opts.gen.validate().map_err(ExploreError::Usage)?;
    if opts.cases == 0 {
        return Err(ExploreError::Usage("--cases must be at least 1".into()));
    }
    if opts.budget.is_zero() || opts.budget > Duration::from_secs(3600) {
        return Err(ExploreError::Usage(
            "--budget must be above zero and at most 1h".into(),
        ));
    }
    let desktop =
        DesktopSpec::parse(&opts.desktop).map_err(|e| ExploreError::Desktop(e.to_string()))?;
    let program = &desktop.argv[0];
    let found = if program.contains('/') {
        Path::new(program).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
    };
    if !found {
        return Err(ExploreError::Desktop(format!(
            "program `{program}` not found"
        )));
    }
    let config = find_config(&opts)?;
    let db_text = std::fs::read_to_string(&config)
        .map_err(|e| ExploreError::Usage(format!("{}: {e}", config.display())))?;
    let db = bc_suite::config::ConfigDb::parse(&db_text)
        .map_err(|e| ExploreError::Usage(format!("{}: {e}", config.display())))?;
    if db.person(&opts.agent).is_none() {
        return Err(ExploreError::Usage(format!(
            "agent `{}` is not in {}",
            opts.agent,
            config.display()
        )));
    }
    let preferred = db.preferred_site(&opts.agent).ok_or_else(|| {
        ExploreError::Usage(format!(
            "agent `{}` has no preferred site in {}",
            opts.agent,
            config.display()
        ))
    })?;
    let caps = opts.capabilities.clone();
    let mut spec = Spec::new(opts.budget.as_millis() as u64, preferred);
    spec.settle_ms = opts.settle.as_millis() as u64;
    spec.stat_required = caps.contains(&Capability::StatServer);
    spec.stat_loss_dr = caps.contains(&Capability::StatLossTriggersDr);
    spec.failback = caps.contains(&Capability::Failback);
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| {
        ExploreError::Usage(format!("cannot create {}: {e}", opts.out_dir.display()))
    })?;
    let out_dir = std::fs::canonicalize(&opts.out_dir)
        .map_err(|e| ExploreError::Usage(format!("{}: {e}", opts.out_dir.display())))?;
    let opts = ExploreOptions { out_dir, ..opts };

    let runtime = opts.runtime.resolve().await;
    let topo =
        Topology::load(config.clone()).map_err(|e| ExploreError::Environment(e.to_string()))?;
    let mut cfg = EnvConfig::new(topo).with_runtime(runtime);
    cfg.bin_dir = opts.bin_dir.clone();
    cfg.keepalive = opts.keepalive;
    cfg.proxy_image = opts.proxy_image.clone();
    let _ = sink.send(RunEvent::EnvironmentStarting { job: 0 });
    let mut env = Environment::start(cfg)
        .await
        .map_err(|e| ExploreError::Environment(e.to_string()))?;
    let events = env
        .take_events()
        .ok_or_else(|| ExploreError::Environment("observation feed already taken".into()))?;
    let mut ex = Explorer {
        opts: &opts,
        spec,
        config,
        desktop,
        env,
        events,
        fresh: true,
        runtime: runtime.as_str().to_string(),
        cancel: cancel.clone(),
    };
    let _ = sink.send(RunEvent::RunStarted {
        to_run: opts.cases,
        skipped: 0,
        jobs: 1,
        desktop: opts.desktop.clone(),
        runtime: ex.runtime.clone(),
        seed: opts.seed,
        budget_ms: Some(ex.spec.budget_ms),
        capabilities: caps.iter().map(|c| c.as_str().to_string()).collect(),
        started_us: now_us(),
    });
    let forward = {
        let sink = sink.clone();
        move |e: RunEvent| {
            let _ = sink.send(e);
        }
    };
    let silent = |_: RunEvent| {};
    let mut report = ExploreReport::default();
    for case in 0..opts.cases {
        if *cancel.borrow() {
            report.summary.interrupted = true;
            break;
        }
        if opts.max_time.is_some_and(|m| t0.elapsed() >= m) {
            report.stopped_by_time = true;
            opts.say(&format!(
                "explore: --max-time reached after {case} case(s); stopping"
            ));
            break;
        }
        let case_seed = opts.seed.wrapping_add(case as u64);
        let schedule = generate(case_seed, &ex.spec, &opts.gen);
        opts.say(&format!(
            "explore: case {}/{} seed {case_seed}: {} operations; replay: {}",
            case + 1,
            opts.cases,
            schedule.ops.len(),
            opts.replay_command(case_seed)
        ));
        let run = match ex.run(&schedule, &forward).await {
            Ok(r) => r,
            Err(e) => {
                let r = ex.error_result(&schedule, e);
                report.summary.add(r.verdict);
                report.cases_run += 1;
                let _ = sink.send(RunEvent::ScenarioFinished {
                    result: Box::new(r),
                });
                break;
            }
        };
        report.cases_run += 1;
        report.summary.add(run.result.verdict);
        let verdict = run.result.verdict;
        let sig = signatures(&run.result).into_iter().next();
        let _ = sink.send(RunEvent::ScenarioFinished {
            result: Box::new(run.result.clone()),
        });
        if *cancel.borrow() {
            report.summary.interrupted = true;
            break;
        }
        // A harness error says nothing about the desktop: go on with the next case (the
        // environment is reset; if that fails, exploration stops above).
        if verdict != Verdict::Fail {
            continue;
        }
        // Shrink with real runs, then write the smallest reproduction.
        let target = sig.unwrap_or_default();
        opts.say(&format!(
            "explore: case seed {case_seed} failed: {target}; shrinking (at most {} runs, {})",
            opts.shrink.max_runs,
            dur(opts.shrink.max_time.as_millis() as u64)
        ));
        let mut shrinker =
            Shrinker::new(&schedule, &target, &ex.spec, opts.shrink, started_ops(&run));
        let mut best = run;
        while let Some(c) = shrinker.next_candidate() {
            if *cancel.borrow() {
                break;
            }
            let o = match ex.run(&c, &silent).await {
                Ok(r) => {
                    let o = outcome(&r.result);
                    if shrinker.report(&o) {
                        best = r;
                    }
                    o
                }
                Err(e) => {
                    let o = Outcome::Other(e);
                    shrinker.report(&o);
                    o
                }
            };
            opts.say(&format!(
                "explore: shrink candidate of {} operations: {}",
                c.ops.len(),
                match &o {
                    Outcome::Pass => "passed".to_string(),
                    Outcome::Fail { signatures } if signatures.contains(&target) =>
                        "fails the same way (kept)".to_string(),
                    Outcome::Fail { signatures } =>
                        format!("fails differently: {}", signatures.join("; ")),
                    Outcome::Other(v) => v.clone(),
                }
            ));
        }
        let shrunk = shrinker.finish();
        let f = best
            .result
            .failures
            .iter()
            .find(|f| failure_signature(f) == target)
            .or(best.result.failures.first())
            .cloned();
        let path = ex.suite_path(case_seed);
        let mut found = FoundFailure {
            case,
            case_seed,
            signature: target.clone(),
            check: f.as_ref().map(|f| f.check.clone()).unwrap_or_default(),
            observed: f.as_ref().map(|f| f.observed.clone()).unwrap_or_default(),
            original_ops: schedule.ops.len(),
            shrunk_ops: shrunk.schedule.ops.len(),
            shrink_runs: shrunk.runs,
            shrink_stop: shrunk.stop,
            suite_path: path.clone(),
            replay: opts.replay_command(case_seed),
            run_command: format!(
                "bc-harness run {} --desktop {} --seed {case_seed}",
                quote(&path.display().to_string()),
                quote(&opts.desktop)
            ),
        };
        let h = header(&opts, &found, &shrunk.schedule, &best.result);
        let text = super::emit::emit(
            &resolve(&shrunk.schedule, &ex.spec),
            &ex.spec,
            &ex.meta(case_seed, h),
        );
        debug_assert!(text.ends_with(&best.text));
        let written = std::fs::write(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
            .and_then(|()| {
                bc_suite::load_file(&path)
                    .map(|_| ())
                    .map_err(|d| bc_suite::render_plain(&d.errors))
            });
        if let Err(e) = written {
            report.summary.errors += 1;
            opts.say(&format!("explore: error: {e}"));
            found.suite_path = PathBuf::new();
        } else {
            opts.say(&format!(
                "explore: minimal failing schedule ({} operations, broke {}) written to {}\n  reproduce: {}",
                found.shrunk_ops,
                found.signature,
                path.display(),
                found.run_command
            ));
        }
        report.failure = Some(found);
        break;
    }
    let _ = sink.send(RunEvent::RunFinished {
        summary: report.summary.clone(),
        duration_ms: t0.elapsed().as_millis() as u64,
    });
    let _ = ex.env.shutdown().await;
    Ok(report)
}

/// Explores and feeds every event to `reporters`, then writes their files. Returns the exit code
/// and the report; `Err` for unusable input.
pub async fn explore_and_report(
    opts: ExploreOptions,
    mut reporters: crate::report::Reporters,
    cancel: watch::Receiver<bool>,
) -> Result<(crate::exit::ExitCode, ExploreReport, Vec<String>), ExploreError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consume = async {
        while let Some(e) = rx.recv().await {
            reporters.event(&e);
        }
    };
    let (res, ()) = tokio::join!(explore(opts, cancel, tx), consume);
    let report = res?;
    let problems = reporters.write();
    let code = if problems.is_empty() {
        report.exit_code()
    } else {
        crate::exit::ExitCode::HarnessError
    };
    Ok((code, report, problems))
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
