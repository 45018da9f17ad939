//! Real exploration: N seeded cases run in sessions of the runner (`--jobs` of them side by side),
//! the first failure shrunk with real runs (candidates side by side too) and written as a suite.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bc_suite::Capability;
use tokio::sync::{mpsc, watch};

use super::case::{started_ops, CaseRun, Explorer};
use super::emit::dur;
use super::found::{outcome, signatures, ExploreReport};
use super::generate::generate;
use super::model::Spec;
use super::options::{find_config, ExploreError, ExploreOptions};
use super::schedule::Schedule;
use super::shrink::{Outcome, Shrinker};
use super::write::write_failure;
use crate::check::Verdict;
use crate::env::now_us;
use crate::event::RunEvent;
use crate::run::{check_desktop, Session, Settings, Shape};

/// What the checks of the options give: the options with the output directory made absolute,
/// the model's spec, the configuration database, the session settings and the jobs.
struct Checked {
    opts: ExploreOptions,
    spec: Spec,
    config: PathBuf,
    settings: Settings,
    jobs: usize,
}

/// Checks the options, the desktop and the configuration database before anything starts.
async fn check(opts: ExploreOptions) -> Result<Checked, ExploreError> {
    opts.gen.validate().map_err(ExploreError::Usage)?;
    if opts.cases == 0 {
        return Err(ExploreError::Usage("--cases must be at least 1".into()));
    }
    if opts.jobs == Some(0) {
        return Err(ExploreError::Usage("--jobs must be at least 1".into()));
    }
    if opts.budget.is_zero() || opts.budget > Duration::from_secs(3600) {
        return Err(ExploreError::Usage(
            "--budget must be above zero and at most 1h".into(),
        ));
    }
    let desktop = check_desktop(&opts.desktop).map_err(ExploreError::Desktop)?;
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
    let caps = &opts.capabilities;
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
    let runtime = opts.runtime.resolve().await;
    let settings = Settings {
        runtime,
        runtime_name: runtime.as_str().to_string(),
        bin_dir: opts.bin_dir.clone(),
        keepalive: opts.keepalive,
        proxy_image: opts.proxy_image.clone(),
        desktop,
        phone: None,
        capabilities: opts.capabilities.clone(),
        // Exploration declares no timers: a gap is tolerated for the budget, as before.
        timers: None,
        max_lateness: std::time::Duration::from_millis(crate::run::MAX_LATENESS_MS),
        attach: None,
        keep_env: false,
        run_to_end: false,
    };
    let jobs = opts
        .jobs
        .unwrap_or_else(|| crate::run::default_jobs(runtime))
        .max(1);
    Ok(Checked {
        opts: ExploreOptions { out_dir, ..opts },
        spec,
        config,
        settings,
        jobs,
    })
}

/// Explores: emits `RunStarted`, one `ScenarioStarted`/`ScenarioFinished` per case (the usual
/// reporters make one testcase each), then `RunFinished`.
pub async fn explore(
    opts: ExploreOptions,
    cancel: watch::Receiver<bool>,
    sink: mpsc::UnboundedSender<RunEvent>,
) -> Result<ExploreReport, ExploreError> {
    let t0 = Instant::now();
    let Checked {
        opts,
        spec,
        config,
        settings,
        jobs,
    } = check(opts).await?;
    let forward = {
        let sink = sink.clone();
        move |e: RunEvent| {
            let _ = sink.send(e);
        }
    };
    let runtime = settings.runtime_name.clone();
    let settings = Arc::new(settings);
    let mut sessions: Vec<Session> = (0..jobs)
        .map(|job| Session::new(settings.clone(), job))
        .collect();
    let shape = Shape::of_config(config.clone());
    let started = futures::future::join_all(
        sessions
            .iter_mut()
            .map(|s| async { s.prepare(&shape, &forward).await }),
    )
    .await;
    if let Some(Err(e)) = started.into_iter().find(Result::is_err) {
        for s in &mut sessions {
            s.shutdown().await;
        }
        return Err(ExploreError::Environment(e));
    }
    let mut ex = Explorer {
        opts: &opts,
        spec,
        config,
        sessions,
        cancel: cancel.clone(),
    };
    forward(RunEvent::RunStarted {
        to_run: opts.cases,
        skipped: 0,
        jobs,
        desktop: opts.desktop.clone(),
        runtime,
        seed: opts.seed,
        budget_ms: Some(ex.spec.budget_ms),
        capabilities: opts
            .capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        started_us: now_us(),
        suites: Vec::new(),
        filter: None,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        retry_errors: 0,
        timers: None,
        desktop_identity: Some(crate::run::identity::identify(&opts.desktop).await),
        suite_hash: String::new(),
        partition: None,
        plan: Vec::new(),
        repeat: None,
        pass_policy: None,
        max_lateness_ms: None,
    });
    let report = cases(&mut ex, t0, &forward).await;
    forward(RunEvent::RunFinished {
        summary: report.summary.clone(),
        duration_ms: t0.elapsed().as_millis() as u64,
    });
    for s in &mut ex.sessions {
        s.shutdown().await;
    }
    Ok(report)
}

/// Runs the cases, a batch of one per session side by side, until the first failure in case
/// order (shrunk and written), the end, `--max-time` or Ctrl-C.
async fn cases(
    ex: &mut Explorer<'_>,
    t0: Instant,
    forward: &(dyn Fn(RunEvent) + Send + Sync),
) -> ExploreReport {
    let opts = ex.opts;
    let jobs = ex.sessions.len();
    let mut report = ExploreReport::default();
    let mut case = 0;
    while case < opts.cases {
        if *ex.cancel.borrow() {
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
        let first = case;
        let batch: Vec<(Schedule, u64)> = (first..(first + jobs).min(opts.cases))
            .map(|c| {
                let case_seed = opts.seed.wrapping_add(c as u64);
                let schedule = generate(case_seed, &ex.spec, &opts.gen);
                opts.say(&format!(
                    "explore: case {}/{} seed {case_seed}: {} operations ({} on triggers); replay: {}",
                    c + 1,
                    opts.cases,
                    schedule.ops.len(),
                    schedule.triggers(),
                    opts.replay_command(case_seed)
                ));
                (schedule, ex.spec.budget_ms)
            })
            .collect();
        case += batch.len();
        let fails = |r: &CaseRun| r.result.verdict == Verdict::Fail;
        let runs = ex.run_batch(&batch, forward, &fails).await;
        let mut failed = None;
        let mut broken = false;
        for (i, r) in runs.into_iter().enumerate() {
            let result = match r {
                Ok(Some(run)) => {
                    let result = run.result.clone();
                    if result.verdict == Verdict::Fail && failed.is_none() {
                        failed = Some((first + i, run));
                    }
                    result
                }
                // Cut short: an earlier case of the batch failed first (the runner's fail-fast
                // wording: not run, no verdict of its own).
                Ok(None) => crate::event::ScenarioResult::skipped(
                    ex.info(&batch[i].0),
                    format!(
                        "not run: cancelled, an earlier case of its batch failed (seed {})",
                        failed.as_ref().map_or(0, |(c, _)| batch[*c - first].0.seed)
                    ),
                    batch[i].0.seed,
                ),
                // The environment could not be used (or a bug): no later case can run.
                Err(e) => {
                    broken = true;
                    ex.error_result(&batch[i].0, e)
                }
            };
            report.cases_run += 1;
            report.summary.add(result.verdict);
            forward(RunEvent::ScenarioFinished {
                result: Box::new(result),
            });
        }
        if *ex.cancel.borrow() {
            report.summary.interrupted = true;
            break;
        }
        // A harness error or an inconclusive case says nothing about the desktop: go on with the
        // next cases (each environment is reset; if that fails, exploration stops here).
        if let Some((c, run)) = failed {
            let schedule = batch[c - first].0.clone();
            let target = signatures(&run.result)
                .into_iter()
                .next()
                .unwrap_or_default();
            let (shrunk, best) = shrink(ex, &schedule, &target, run).await;
            let written = write_failure(ex, c, &schedule, &target, &shrunk, &best);
            if written.suite_path.as_os_str().is_empty() {
                report.summary.errors += 1;
            }
            report.failure = Some(written);
            break;
        }
        if broken {
            break;
        }
    }
    report
}

/// Shrinks a failing case with real runs, each candidate with its own budget, a batch of one per
/// session side by side; says each candidate's verdict and each accepted step. Returns the result
/// and the last failing run.
async fn shrink(
    ex: &mut Explorer<'_>,
    schedule: &Schedule,
    target: &str,
    run: CaseRun,
) -> (super::shrink::Shrunk, CaseRun) {
    let opts = ex.opts;
    let jobs = ex.sessions.len();
    opts.say(&format!(
        "explore: case seed {} failed: {target}; shrinking (at most {} runs, {}, {jobs} side by side; budget {} halved down to at least {})",
        schedule.seed,
        opts.shrink.max_runs,
        dur(opts.shrink.max_time.as_millis() as u64),
        dur(ex.spec.budget_ms),
        dur(opts.shrink.min_budget.as_millis() as u64)
    ));
    let t0 = Instant::now();
    let mut shrinker = Shrinker::new(schedule, target, &ex.spec, opts.shrink, started_ops(&run));
    let silent = |_: RunEvent| {};
    let mut best = run;
    let mut steps = 0;
    loop {
        if *ex.cancel.borrow() {
            break;
        }
        let before = shrinker.best().clone();
        let first_run = shrinker.runs() + 1;
        let batch = shrinker.next_batch(jobs);
        if batch.is_empty() {
            break;
        }
        let reproduces = |r: &CaseRun| shrinker.reproduces(&outcome(&r.result));
        let runs = ex
            .run_batch(
                &batch
                    .iter()
                    .map(|c| (c.schedule.clone(), c.budget_ms))
                    .collect::<Vec<_>>(),
                &silent,
                &reproduces,
            )
            .await;
        let outcomes: Vec<Outcome> = runs
            .iter()
            .map(|r| match r {
                Ok(Some(r)) => outcome(&r.result),
                Ok(None) => Outcome::Other(
                    "not needed: cut short, an earlier candidate of its batch reproduced".into(),
                ),
                Err(e) => Outcome::Other(e.clone()),
            })
            .collect();
        let kept = shrinker.report_batch(&outcomes);
        for (i, (c, o)) in batch.iter().zip(&outcomes).enumerate() {
            let verdict = match o {
                Outcome::Pass => "passed".to_string(),
                _ if kept == Some(i) => "fails the same way (kept)".to_string(),
                _ if shrinker.reproduces(o) => {
                    "fails the same way (an earlier candidate of its batch was kept)".to_string()
                }
                Outcome::Fail { signatures } => {
                    format!("fails differently: {}", signatures.join("; "))
                }
                Outcome::Other(v) => v.clone(),
            };
            opts.say(&format!(
                "explore: shrink run {}: {} operations ({} on triggers), budget {}, waits {}: {verdict}",
                first_run + i,
                c.schedule.ops.len(),
                c.schedule.triggers(),
                dur(c.budget_ms),
                secs(c.waits_ms()),
            ));
        }
        if let Some(i) = kept {
            let c = &batch[i];
            if let Some(Ok(Some(r))) = runs.into_iter().nth(i) {
                best = r;
            }
            steps += 1;
            opts.say(&format!(
                "explore: shrink step {steps} accepted: {} -> {} operations, budget {} -> {}, waits {} -> {} ({} runs, {} so far)",
                before.schedule.ops.len(),
                c.schedule.ops.len(),
                dur(before.budget_ms),
                dur(c.budget_ms),
                secs(before.waits_ms()),
                secs(c.waits_ms()),
                shrinker.runs(),
                secs(t0.elapsed().as_millis() as u64)
            ));
        }
    }
    (shrinker.finish(), best)
}

/// Milliseconds as seconds with one decimal: `60.1s`.
pub(super) fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}
