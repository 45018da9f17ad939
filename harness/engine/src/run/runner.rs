//! The runner: suite paths -> planned runs -> workers (one environment each, reused and reset
//! between scenarios) -> one stream of RunEvents. `--jobs N` runs N environments in parallel.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bc_protocol::ObservedEvent;
use bc_suite::{Capability, PlannedScenario};
use tokio::sync::{mpsc, watch};

use super::load::{load_runs, LoadError, PlannedRun};
use super::scenario::{info, run_scenario, ScenarioContext};
use crate::env::{now_us, DesktopSpec, EnvConfig, Environment, KeepAlive, RuntimeKind, Topology};
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
    /// Parallel environments (at least 1).
    pub jobs: usize,
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
            jobs: 1,
            filter: None,
            seed: 0,
            bin_dir: None,
            keepalive: KeepAlive::default(),
            proxy_image: None,
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

fn check_program(spec: &DesktopSpec) -> Result<(), RunError> {
    let p = &spec.argv[0];
    let found = if p.contains('/') {
        std::path::Path::new(p).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(RunError::Desktop(format!("program `{p}` not found")))
    }
}

/// The shape of environment a scenario needs; equal shapes share an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    config: PathBuf,
    sites: Vec<String>,
    stat_server: bool,
}

impl Shape {
    fn of(sc: &PlannedScenario) -> Shape {
        Shape {
            config: sc.config_path.clone(),
            sites: sc.sites.iter().map(|s| s.as_str().to_string()).collect(),
            stat_server: sc.stat_server,
        }
    }
}

struct Worker {
    job: usize,
    env: Option<(Shape, Environment, mpsc::Receiver<ObservedEvent>)>,
}

struct Shared {
    opts: RunOptions,
    desktop: DesktopSpec,
    queue: Mutex<VecDeque<PlannedScenario>>,
    sink: mpsc::UnboundedSender<RunEvent>,
    runtime_name: String,
}

impl Shared {
    fn emit(&self, e: RunEvent) {
        let _ = self.sink.send(e);
    }
}

async fn start_env(
    shared: &Shared,
    shape: &Shape,
) -> Result<(Environment, mpsc::Receiver<ObservedEvent>), String> {
    let topo = Topology::load(shape.config.clone())
        .and_then(|t| t.with_sites(shape.sites.clone()))
        .map(|t| t.with_stat_server(shape.stat_server))
        .map_err(|e| e.to_string())?;
    let mut cfg = EnvConfig::new(topo).with_runtime(shared.opts.runtime);
    cfg.bin_dir = shared.opts.bin_dir.clone();
    cfg.keepalive = shared.opts.keepalive;
    cfg.proxy_image = shared.opts.proxy_image.clone();
    let mut env = Environment::start(cfg)
        .await
        .map_err(|e| format!("cannot start the environment: {e}"))?;
    let events = env
        .take_events()
        .ok_or("the environment's observation feed was already taken")?;
    Ok((env, events))
}

fn error_result(shared: &Shared, sc: &PlannedScenario, message: String) -> ScenarioResult {
    let mut r = ScenarioResult::skipped(info(sc), String::new(), shared.opts.seed);
    r.skip_reason = None;
    r.verdict = crate::check::Verdict::Error;
    r.errors.push(message);
    r.started_us = now_us();
    r.runtime = shared.runtime_name.clone();
    r
}

async fn worker(shared: Arc<Shared>, mut w: Worker, cancel: watch::Receiver<bool>) {
    loop {
        let Some(sc) = shared
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
        else {
            break;
        };
        if *cancel.borrow() {
            let r = ScenarioResult::skipped(
                info(&sc),
                "not run: the run was interrupted".into(),
                shared.opts.seed,
            );
            shared.emit(RunEvent::ScenarioFinished {
                result: Box::new(r),
            });
            continue;
        }
        let shape = Shape::of(&sc);
        let mut fresh = false;
        if w.env.as_ref().is_some_and(|(s, _, _)| *s != shape) {
            if let Some((_, env, _)) = w.env.take() {
                let _ = env.shutdown().await;
            }
        }
        if w.env.is_none() {
            shared.emit(RunEvent::EnvironmentStarting { job: w.job });
            match start_env(&shared, &shape).await {
                Ok((env, ev)) => {
                    w.env = Some((shape.clone(), env, ev));
                    fresh = true;
                }
                Err(e) => {
                    shared.emit(RunEvent::ScenarioStarted {
                        info: info(&sc),
                        job: w.job,
                    });
                    let r = error_result(&shared, &sc, e);
                    shared.emit(RunEvent::ScenarioFinished {
                        result: Box::new(r),
                    });
                    continue;
                }
            }
        }
        shared.emit(RunEvent::ScenarioStarted {
            info: info(&sc),
            job: w.job,
        });
        let (_, env, events) = w.env.as_mut().expect("started above");
        if !fresh {
            if let Err(e) = env.reset().await {
                let r = error_result(&shared, &sc, format!("environment reset failed: {e}"));
                shared.emit(RunEvent::ScenarioFinished {
                    result: Box::new(r),
                });
                if let Some((_, env, _)) = w.env.take() {
                    let _ = env.shutdown().await;
                }
                continue;
            }
        }
        let sink = shared.sink.clone();
        let emit = move |e: RunEvent| {
            let _ = sink.send(e);
        };
        let ctx = ScenarioContext {
            env,
            events,
            desktop: &shared.desktop,
            capabilities: &shared.opts.capabilities,
            client_timeout_ms: shared.opts.keepalive.client_timeout_ms.unwrap_or(10_000),
            seed: shared.opts.seed,
            runtime: shared.runtime_name.clone(),
            cancel: cancel.clone(),
            emit: &emit,
        };
        let r = run_scenario(ctx, &sc).await;
        shared.emit(RunEvent::ScenarioFinished {
            result: Box::new(r),
        });
    }
    if let Some((_, env, _)) = w.env.take() {
        let _ = env.shutdown().await;
    }
}

/// Runs suites: emits `RunStarted`, one `ScenarioFinished` per planned run (skipped ones included),
/// then `RunFinished`; returns the summary. Errors only for unusable input (exit code 2).
pub async fn run(
    opts: RunOptions,
    cancel: watch::Receiver<bool>,
    sink: mpsc::UnboundedSender<RunEvent>,
) -> Result<Summary, RunError> {
    let t0 = Instant::now();
    let desktop =
        DesktopSpec::parse(&opts.desktop).map_err(|e| RunError::Desktop(e.to_string()))?;
    check_program(&desktop)?;
    if opts.jobs == 0 {
        return Err(RunError::Usage("--jobs must be at least 1".into()));
    }
    let runs = load_runs(
        &opts.paths,
        opts.budget,
        opts.filter.as_deref(),
        &opts.capabilities,
    )?;
    let (skipped, to_run): (Vec<PlannedRun>, Vec<PlannedRun>) =
        runs.into_iter().partition(|r| r.skip.is_some());
    let resolved = opts.runtime.resolve().await;
    if let (Some(image), false) = (&opts.proxy_image, resolved == RuntimeKind::Docker) {
        return Err(RunError::Usage(format!(
            "--toxiproxy-image {image} needs the docker runtime, and this run resolved to {}\nhint: add --runtime docker",
            resolved.as_str()
        )));
    }
    let runtime_name = match &opts.proxy_image {
        // Reports name the proxy that ran: a verdict against the real Toxiproxy is worth knowing as such.
        Some(image) => format!("docker (fault proxy {image})"),
        None => resolved.as_str().to_string(),
    };
    let _ = sink.send(RunEvent::RunStarted {
        to_run: to_run.len(),
        skipped: skipped.len(),
        jobs: opts.jobs.min(to_run.len().max(1)),
        desktop: opts.desktop.clone(),
        runtime: runtime_name.clone(),
        seed: opts.seed,
        budget_ms: opts.budget.map(|b| b.as_millis() as u64),
        capabilities: opts
            .capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        started_us: now_us(),
    });
    let mut summary = Summary::default();
    for r in skipped {
        let res = ScenarioResult::skipped(info(&r.scenario), r.skip.unwrap_or_default(), opts.seed);
        summary.add(res.verdict);
        let _ = sink.send(RunEvent::ScenarioFinished {
            result: Box::new(res),
        });
    }
    let jobs = opts.jobs.min(to_run.len()).max(1);
    // Workers report through an inner channel so the summary is counted here, in one place.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        queue: Mutex::new(to_run.into_iter().map(|r| r.scenario).collect()),
        desktop,
        sink: tx,
        runtime_name,
        opts,
    });
    let mut handles = Vec::new();
    for job in 0..jobs {
        handles.push(tokio::spawn(worker(
            shared.clone(),
            Worker { job, env: None },
            cancel.clone(),
        )));
    }
    drop(shared);
    while let Some(e) = rx.recv().await {
        if let RunEvent::ScenarioFinished { result } = &e {
            summary.add(result.verdict);
        }
        let _ = sink.send(e);
    }
    for h in handles {
        if let Err(e) = h.await {
            summary.errors += 1;
            tracing::error!(error = %e, "a runner worker failed");
        }
    }
    summary.interrupted = *cancel.borrow();
    let _ = sink.send(RunEvent::RunFinished {
        summary: summary.clone(),
        duration_ms: t0.elapsed().as_millis() as u64,
    });
    Ok(summary)
}

/// A cancellation signal that turns true on SIGINT or SIGTERM.
pub fn signal_cancel() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
        // Keep the sender alive so receivers do not see a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}

/// Runs and feeds every event to `reporters`, then writes their files. Returns the exit code
/// (see [`crate::exit::ExitCode`]); `Err` for unusable input (exit code 2, message for the user).
pub async fn run_and_report(
    opts: RunOptions,
    mut reporters: crate::report::Reporters,
    cancel: watch::Receiver<bool>,
) -> Result<(crate::exit::ExitCode, Vec<String>), RunError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consume = async {
        while let Some(e) = rx.recv().await {
            reporters.event(&e);
        }
    };
    let (res, ()) = tokio::join!(run(opts, cancel, tx), consume);
    let summary = res?;
    let problems = reporters.write();
    let code = if problems.is_empty() {
        summary.exit_code()
    } else {
        crate::exit::ExitCode::HarnessError
    };
    Ok((code, problems))
}
