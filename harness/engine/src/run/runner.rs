//! The scheduler: suite paths -> planned runs -> workers (one session each: an environment reused
//! and reset between scenarios) -> one stream of RunEvents. `--jobs N` runs N sessions in parallel.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bc_suite::Capability;
use tokio::sync::{mpsc, watch};

use super::identity::{identify, suite_hash};
use super::keep::KeepSlot;
use super::load::{load_runs, LoadError, PlannedRun};
use super::order::default_jobs;
use super::partition::{shard, Partition};
use super::profile::DeclaredTimers;
use super::scenario::{info, MAX_LATENESS_MS};
use super::session::{check_desktop, Session, Settings};
use super::worker::{forward, repetitions, worker, Shared};
use crate::check::Verdict;
use crate::env::{now_us, KeepAlive, RuntimeKind};
use crate::event::repeat::{self, PassPolicy};
use crate::event::{RunEvent, ScenarioResult, Summary};

/// Everything `bc-harness run` decides.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Suite files or directories.
    pub paths: Vec<PathBuf>,
    /// The desktop command (`{config}` is replaced by the connection file path).
    pub desktop: String,
    /// Which runtime runs the servers.
    pub runtime: RuntimeKind,
    /// Budget override.
    pub budget: Option<Duration>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
    /// Declared timers (from the profile): a logged-out gap's tolerance follows from them.
    pub timers: Option<DeclaredTimers>,
    /// Parallel environments (at least 1; `new` sets 1); `None`: the runtime's default
    /// (`order::default_jobs`), or 1 with `keep_env` or `attach` (the CLI without `--jobs`).
    pub jobs: Option<usize>,
    /// Only runs whose id matches (`*` wildcards, else substring).
    pub filter: Option<String>,
    /// Seed recorded in reports and passed to the desktop as `BC_HARNESS_SEED`.
    pub seed: u64,
    /// Where bc-mock and bc-toxiproxy are (default: the environment's search).
    pub bin_dir: Option<PathBuf>,
    /// Server keep-alive given to every mock.
    pub keepalive: KeepAlive,
    /// Docker runtime only: a Toxiproxy image to run as the fault proxy instead of ours.
    pub proxy_image: Option<String>,
    /// Runs a scenario whose verdict is `error` again, up to this many times (never a `fail`).
    pub retry_errors: u32,
    /// The harness's own lateness past which a scenario is `error`; only tests lower it.
    pub max_lateness: Duration,
    /// Only this shard of the planned runs (`--partition`).
    pub partition: Option<Partition>,
    /// Run on the environment `env up` owns (`run --attach`); one job, no environment started.
    pub attach: Option<super::Attach>,
    /// Each run this many times, fresh desktop and derived seed each (`--repeat`, at least 1).
    pub repeat: u32,
    /// Stop repeating a run after its first failure (`--until-fail`).
    pub until_fail: bool,
    /// Stop at the first run that fails or is inconclusive (`--fail-fast`): the rest are not
    /// started, those running are cancelled; all are reported not run.
    pub fail_fast: bool,
    /// A scenario runs all its steps after a check failed, so that every check a desktop breaks is
    /// reported (`--run-to-end`; by default a scenario stops at its first failure).
    pub run_to_end: bool,
    /// How many passing repetitions make a repeated run pass.
    pub pass_policy: PassPolicy,
    /// `--keep-env=on-failure`: the first failed scenario's environment is left here (faults
    /// applied, desktop running) instead of torn down; the rest of the run is not run. One job.
    pub keep_env: Option<KeepSlot>,
    /// The agent's SIP phone (`--phone builtin [FLAGS]` or a command with `{config}`): SIP on
    /// the wire, one phone per scenario, started before the desktop. Local runtime only.
    pub phone: Option<String>,
    /// With `repeat`: judge a floor of this many agents synthesised from each run's repetitions
    /// (`--herd-of`, `check::fleet::synth`), reported as a run of its own.
    pub herd_of: Option<u32>,
    /// With `herd_of`: also replay each repeated run as a herd of that many reference desktops
    /// against the servers (`run::replay`), a run of its own too; `--no-herd-replay` turns it off.
    pub herd_replay: bool,
}

impl RunOptions {
    /// Defaults for everything but the paths and the desktop.
    pub fn new(paths: Vec<PathBuf>, desktop: impl Into<String>) -> RunOptions {
        RunOptions {
            paths,
            desktop: desktop.into(),
            runtime: RuntimeKind::Auto,
            budget: None,
            capabilities: Vec::new(),
            timers: None,
            jobs: Some(1),
            filter: None,
            seed: 0,
            bin_dir: None,
            keepalive: KeepAlive::default(),
            proxy_image: None,
            retry_errors: 0,
            max_lateness: Duration::from_millis(MAX_LATENESS_MS),
            partition: None,
            attach: None,
            repeat: 1,
            until_fail: false,
            fail_fast: false,
            run_to_end: false,
            pass_policy: PassPolicy::All,
            keep_env: None,
            phone: None,
            herd_of: None,
            herd_replay: true,
        }
    }
}

/// Why a run could not start (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Suites did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The desktop command is unusable.
    #[error("invalid --desktop: {0}")]
    Desktop(String),
    /// Other usage problems.
    #[error("{0}")]
    Usage(String),
}

/// The runs in the order workers take them: with several jobs longest first, so the longest
/// scenario does not start last and stretch the wall time alone; with one job the order cannot
/// change the wall time, so the files' order is kept (reports and attached runs read in it).
fn order(mut runs: Vec<PlannedRun>, jobs: usize) -> Vec<PlannedRun> {
    if jobs > 1 {
        runs.sort_by_key(|r| std::cmp::Reverse(super::order::longest_ms(&r.scenario)));
    }
    runs
}

/// The run's facts as its first event: what every report heads its output with.
async fn run_started(
    opts: &RunOptions,
    (to_run, skipped): (usize, usize),
    runtime_name: &str,
    suite_hash: String,
    plan: Vec<String>,
) -> RunEvent {
    RunEvent::RunStarted {
        to_run: to_run * opts.repeat.max(1) as usize,
        skipped,
        jobs: opts.jobs.unwrap_or(1).min(to_run.max(1)),
        desktop: opts.desktop.clone(),
        runtime: runtime_name.to_string(),
        seed: opts.seed,
        budget_ms: opts.budget.map(|b| b.as_millis() as u64),
        capabilities: opts
            .capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        started_us: now_us(),
        suites: opts.paths.iter().map(|p| p.display().to_string()).collect(),
        filter: opts.filter.clone(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        retry_errors: opts.retry_errors,
        timers: opts.timers.map(Box::new),
        desktop_identity: Some(identify(&opts.desktop).await),
        suite_hash,
        partition: opts.partition.map(|p| p.to_string()),
        plan,
        repeat: (opts.repeat > 1).then_some(opts.repeat),
        pass_policy: (opts.repeat > 1).then(|| opts.pass_policy.as_str().to_string()),
        max_lateness_ms: (opts.max_lateness != Duration::from_millis(MAX_LATENESS_MS))
            .then_some(opts.max_lateness.as_millis() as u64),
    }
}

/// The runs of this shard (all without `--partition`), the suites' hash, and the whole plan's
/// run ids when partitioned.
fn planned(opts: &RunOptions) -> Result<(Vec<PlannedRun>, String, Vec<String>), RunError> {
    let runs = load_runs(
        &opts.paths,
        opts.budget,
        opts.filter.as_deref(),
        &opts.capabilities,
    )?;
    let infos: Vec<_> = runs.iter().map(|r| info(&r.scenario)).collect();
    let files: Vec<&str> = infos.iter().map(|i| i.file.as_str()).collect();
    let hash = suite_hash(&files);
    let ids: Vec<String> = infos.iter().map(|i| i.id.clone()).collect();
    let (runs, plan) = shard(runs, &ids, opts.partition);
    Ok((runs, hash, plan))
}

/// The runtime of a run and its name in reports; `Err` for flags that do not go together.
async fn runtime_of(opts: &RunOptions) -> Result<(RuntimeKind, String), RunError> {
    if opts.keep_env.is_some()
        && (opts.jobs.is_some_and(|j| j != 1) || opts.attach.is_some() || opts.repeat > 1)
    {
        return Err(RunError::Usage(
            "--keep-env keeps one environment, of the first failed scenario: it needs --jobs 1, and not --attach (that environment stays up anyway) or --repeat".into(),
        ));
    }
    if let Some(a) = &opts.attach {
        if opts.jobs.is_some_and(|j| j != 1) || opts.proxy_image.is_some() {
            return Err(RunError::Usage(
                "--attach runs on the environment `env up` started, one scenario at a time: drop --jobs and --toxiproxy-image".into(),
            ));
        }
        // The owner's runtime; its kind here only names it.
        return Ok((RuntimeKind::Local, format!("attached ({})", a.control_url)));
    }
    let resolved = opts.runtime.resolve().await;
    if let (Some(image), false) = (&opts.proxy_image, resolved == RuntimeKind::Docker) {
        return Err(RunError::Usage(format!(
            "--toxiproxy-image {image} needs the docker runtime, and this run resolved to {}\nhint: add --runtime docker",
            resolved.as_str()
        )));
    }
    let name = match &opts.proxy_image {
        // Reports name the proxy that ran: a verdict against the real Toxiproxy is worth knowing as such.
        Some(image) => format!("docker (fault proxy {image})"),
        None => resolved.as_str().to_string(),
    };
    Ok((resolved, name))
}

/// Runs suites: emits `RunStarted`, one `ScenarioFinished` per planned run (skipped ones included),
/// then `RunFinished`; returns the summary. Errors only for unusable input (exit code 2).
pub async fn run(
    mut opts: RunOptions,
    cancel: watch::Receiver<bool>,
    sink: mpsc::UnboundedSender<RunEvent>,
) -> Result<Summary, RunError> {
    let t0 = Instant::now();
    let desktop = check_desktop(&opts.desktop).map_err(RunError::Desktop)?;
    let phone = super::phone::phone_of(&mut opts)?;
    if opts.jobs == Some(0) {
        return Err(RunError::Usage("--jobs must be at least 1".into()));
    }
    let (runs, suite_hash, plan) = planned(&opts)?;
    let (skipped, to_run): (Vec<PlannedRun>, Vec<PlannedRun>) =
        runs.into_iter().partition(|r| r.skip.is_some());
    let (resolved, runtime_name) = runtime_of(&opts).await?;
    // One environment is kept or attached to; otherwise the runtime's default.
    let one = opts.keep_env.is_some() || opts.attach.is_some();
    opts.jobs = Some(
        opts.jobs
            .unwrap_or_else(|| if one { 1 } else { default_jobs(resolved) }),
    );
    let facts = run_started(
        &opts,
        (to_run.len(), skipped.len()),
        &runtime_name,
        suite_hash,
        plan,
    )
    .await;
    let _ = sink.send(facts);
    let mut summary = report_skipped(skipped, opts.seed, &sink);
    let jobs = opts.jobs.unwrap_or(1).min(to_run.len()).max(1);
    // Workers report through an inner channel so the summary is counted here, in one place.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let settings = Arc::new(Settings {
        runtime: resolved,
        runtime_name,
        bin_dir: opts.bin_dir,
        keepalive: opts.keepalive,
        proxy_image: opts.proxy_image,
        desktop,
        phone,
        capabilities: opts.capabilities,
        timers: opts.timers,
        max_lateness: opts.max_lateness,
        attach: opts.attach,
        keep_env: opts.keep_env.is_some(),
        run_to_end: opts.run_to_end,
    });
    // What the workers watch: the signal, or --fail-fast's stop (which is not an interruption).
    let (stop, stopping) = watch::channel(false);
    let stop = Arc::new(stop);
    tokio::spawn(super::signal::follow(cancel.clone(), stop.clone()));
    // A herd replayed from the repetitions (`--herd-of`) runs its run's scenario again.
    let repeated = match opts.herd_of.filter(|_| opts.herd_replay) {
        Some(_) => to_run.iter().map(|r| r.scenario.clone()).collect(),
        None => Vec::new(),
    };
    let shared = Arc::new(Shared {
        retry_errors: opts.retry_errors,
        queue: Mutex::new(repetitions(order(to_run, jobs), opts.seed, opts.repeat)),
        until_fail: opts.until_fail,
        fail_fast: opts.fail_fast,
        stopped_by: Mutex::new(None),
        stop,
        failed: Mutex::new(Default::default()),
        keep: opts.keep_env,
        kept_for: Mutex::new(None),
        sink: tx,
    });
    let mut handles = Vec::new();
    for job in 0..jobs {
        let session = Session::new(settings.clone(), job);
        handles.push(tokio::spawn(worker(
            shared.clone(),
            session,
            stopping.clone(),
        )));
    }
    drop(shared);
    let mut finished = forward(&mut rx, &sink, &mut summary, opts.repeat > 1).await;
    for h in handles {
        if let Err(e) = h.await {
            summary.errors += 1;
            tracing::error!(error = %e, "a runner worker failed");
        }
    }
    if let Some(agents) = opts.herd_of.filter(|_| !*cancel.borrow()) {
        let replays = super::replay::Replays {
            agents,
            seed: opts.seed,
            runs: repeated,
            settings,
            retry_errors: opts.retry_errors,
            cancel: cancel.clone(),
        };
        super::replay::add(&mut finished, &mut summary, &sink, replays).await;
    }
    summary.interrupted = *cancel.borrow();
    let _ = sink.send(RunEvent::RunFinished {
        summary: summary.clone(),
        duration_ms: t0.elapsed().as_millis() as u64,
    });
    Ok(by_policy(summary, &finished, opts.pass_policy))
}

/// Reports the runs that do not apply to the desktop (skipped, never queued); their summary.
fn report_skipped(
    skipped: Vec<PlannedRun>,
    seed: u64,
    sink: &mpsc::UnboundedSender<RunEvent>,
) -> Summary {
    let mut summary = Summary::default();
    for r in skipped {
        let res = ScenarioResult::skipped(info(&r.scenario), r.skip.unwrap_or_default(), seed);
        summary.add(res.verdict);
        let _ = sink.send(RunEvent::ScenarioFinished {
            result: Box::new(res),
        });
    }
    summary
}

/// The exit's summary of a repeated run: one verdict per run under the pass policy (the reports
/// count every repetition), and the runs that are no repetition (a synthesised herd) as they are.
fn by_policy(summary: Summary, results: &[ScenarioResult], policy: PassPolicy) -> Summary {
    let groups = repeat::groups(results);
    if groups.is_empty() {
        return summary;
    }
    let mut s = Summary {
        interrupted: summary.interrupted,
        ..Summary::default()
    };
    for g in groups {
        s.add(g.verdict(policy));
    }
    for r in results {
        if repeat::split_id(&r.info.id).1.is_none() {
            s.add(r.verdict);
        }
    }
    // Inapplicable runs (never queued) and failed workers still count.
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    s.skipped += summary.skipped.saturating_sub(count(Verdict::Skipped));
    s.errors += summary.errors.saturating_sub(count(Verdict::Error));
    s
}
