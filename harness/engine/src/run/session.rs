//! One worker's environment: started for a shape, reset between scenarios, replaced when the shape
//! changes; one planned scenario in, one result out. The scheduler and exploration both use it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bc_protocol::ObservedEvent;
use bc_suite::{Capability, PlannedScenario};
use tokio::sync::{mpsc, watch};

use super::keep::{KeptEnv, KeptScenario};
use super::scenario::{info, left_the_plan, run_scenario, ScenarioContext};
pub use super::shape::Shape;
use crate::check::Verdict;
use crate::env::{now_us, DesktopSpec, EnvConfig, Environment, KeepAlive, RuntimeKind};
use crate::event::{RunEvent, ScenarioInfo, ScenarioResult};

/// The BC-6 tolerance after a healed partition when the mocks drop no silent client (their
/// client timeout is off): long enough for a desktop's own reconnect.
const CLIENT_TIMEOUT_OFF_MS: u64 = 10_000;

/// Where progress events go.
pub type Emit<'a> = &'a (dyn Fn(RunEvent) + Send + Sync);

/// What every scenario of a run or an exploration shares: how environments and the desktop start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The resolved runtime (not `Auto`).
    pub runtime: RuntimeKind,
    /// The runtime as reports name it.
    pub runtime_name: String,
    /// Where bc-mock and bc-toxiproxy are (default: the environment's search).
    pub bin_dir: Option<PathBuf>,
    /// Server keep-alive given to every mock.
    pub keepalive: KeepAlive,
    /// Docker runtime only: a Toxiproxy image to run as the fault proxy instead of ours.
    pub proxy_image: Option<String>,
    /// How to start the desktop.
    pub desktop: DesktopSpec,
    /// How to start the agent's SIP phone (`--phone`); with it the environment has SIP on the wire.
    pub phone: Option<DesktopSpec>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
    /// Declared timers, when the profile has them.
    pub timers: Option<crate::run::DeclaredTimers>,
    /// The harness's own lateness past which a scenario is `error` (`run::MAX_LATENESS_MS`).
    pub max_lateness: Duration,
    /// Run on an environment `env up` owns instead of starting one (`run --attach`).
    pub attach: Option<super::Attach>,
    /// Keep the first failed scenario's environment instead of tearing it down
    /// (`--keep-env=on-failure`).
    pub keep_env: bool,
    /// Scenarios run all their steps after a failure (`--run-to-end`).
    pub run_to_end: bool,
}

impl Settings {
    /// A result for a scenario that could not run because of the harness (verdict `error`).
    pub fn error_result(&self, info: ScenarioInfo, seed: u64, message: String) -> ScenarioResult {
        let mut r = ScenarioResult::skipped(info, String::new(), seed);
        r.skip_reason = None;
        r.verdict = Verdict::Error;
        r.errors.push(message);
        r.started_us = now_us();
        r.runtime = self.runtime_name.clone();
        r
    }
}

/// The `--phone` argument as a command: `builtin [FLAGS]` is bc-phone reading the connection file
/// (FLAGS e.g. `--only-preferred`); anything else is the vendor's phone, checked like a desktop.
pub fn check_phone(
    command: &str,
    bin_dir: Option<&std::path::Path>,
) -> Result<DesktopSpec, String> {
    let words = shlex::split(command).ok_or(format!("--phone `{command}`: unbalanced quotes"))?;
    if words.first().map(String::as_str) != Some("builtin") {
        // A phone takes `dial NUMBER` lines on its stdin (PH-3).
        let mut spec = check_desktop(command).map_err(|e| format!("--phone: {e}"))?;
        spec.stdin = true;
        return Ok(spec);
    }
    let bin = crate::env::bins::find_binary(bin_dir, "bc-phone", "bc-phones")
        .map_err(|e| e.to_string())?;
    let mut argv = vec![
        bin.display().to_string(),
        "--config".into(),
        crate::env::CONFIG_PLACEHOLDER.into(),
    ];
    argv.extend(words.into_iter().skip(1));
    let mut spec = DesktopSpec::from_argv(argv).map_err(|e| e.to_string())?;
    spec.stdin = true;
    Ok(spec)
}

/// The desktop command split into argv, its program found (on PATH when it has no slash).
pub fn check_desktop(command: &str) -> Result<DesktopSpec, String> {
    let spec = DesktopSpec::parse(command).map_err(|e| e.to_string())?;
    let p = &spec.argv[0];
    let found = if p.contains('/') {
        std::path::Path::new(p).is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    if found {
        Ok(spec)
    } else {
        Err(format!("program `{p}` not found"))
    }
}

struct Ready {
    shape: Shape,
    env: Environment,
    events: mpsc::Receiver<ObservedEvent>,
    /// A herd's configuration database lives here as long as the environment.
    _floor: Option<tempfile::TempDir>,
}

/// One worker's environment and the scenarios it runs.
pub struct Session {
    settings: Arc<Settings>,
    job: usize,
    ready: Option<Ready>,
    /// The environment was just started: the first scenario needs no reset.
    fresh: bool,
    /// The failed scenario whose environment is kept (`--keep-env`): its run id, agent and what
    /// its teardown would have removed.
    kept: Option<(String, String, KeptScenario)>,
}

impl Session {
    /// A session of worker `job`, with no environment yet.
    pub fn new(settings: Arc<Settings>, job: usize) -> Session {
        Session {
            settings,
            job,
            ready: None,
            fresh: false,
            kept: None,
        }
    }

    /// Makes an environment of `shape` ready: the current one when it has it, else the current one
    /// is shut down and a new one started (announced with `EnvironmentStarting`).
    pub async fn prepare(&mut self, shape: &Shape, emit: Emit<'_>) -> Result<(), String> {
        if self.ready.as_ref().is_some_and(|r| r.shape == *shape) {
            return Ok(());
        }
        self.shutdown().await;
        emit(RunEvent::EnvironmentStarting { job: self.job });
        let s = &self.settings;
        let (topology, floor) = shape.topology()?;
        let mut cfg = EnvConfig::new(topology).with_runtime(s.runtime);
        cfg.bin_dir = s.bin_dir.clone();
        cfg.keepalive = s.keepalive;
        if let Some(ms) = shape.ping_interval_ms {
            cfg.keepalive.ping_interval_ms = Some(ms);
        }
        if let Some(ms) = shape.client_timeout_ms {
            cfg.keepalive.client_timeout_ms = Some(ms);
        }
        // A floor's keep-alives would be most of its event stream; nothing judges them one by one.
        cfg.keepalive.summarise |= !shape.floor.is_empty();
        cfg.proxy_image = s.proxy_image.clone();
        cfg.sip = s.phone.is_some();
        let mut env = match &s.attach {
            Some(a) => a.environment(cfg).await?,
            None => Environment::start(cfg)
                .await
                .map_err(|e| format!("cannot start the environment: {e}"))?,
        };
        let events = env
            .take_events()
            .ok_or("the environment's observation feed was already taken")?;
        self.ready = Some(Ready {
            shape: shape.clone(),
            env,
            events,
            _floor: floor,
        });
        self.fresh = true;
        Ok(())
    }

    /// Runs one planned scenario in the prepared environment: announces it, resets the
    /// environment unless fresh, runs it. `Err` when there is no usable environment (a failed
    /// reset drops it).
    pub async fn run(
        &mut self,
        sc: &PlannedScenario,
        seed: u64,
        cancel: watch::Receiver<bool>,
        emit: Emit<'_>,
    ) -> Result<ScenarioResult, String> {
        emit(RunEvent::ScenarioStarted {
            info: info(sc),
            job: self.job,
        });
        let ready = self.ready.as_mut().ok_or("no environment is ready")?;
        let attached = self.settings.attach.is_some();
        if attached {
            // Before the reset, which would close the old desktop's connections and hide it.
            super::attach::check_no_session(&ready.env, &sc.agent).await?;
        }
        // An attached environment was in other hands before: always from the start state.
        if !std::mem::take(&mut self.fresh) || attached {
            if let Err(e) = ready.env.reset().await {
                self.shutdown().await;
                return Err(format!("environment reset failed: {e}"));
            }
        }
        let s = &self.settings;
        let mut kept = None;
        let ctx = ScenarioContext {
            env: &ready.env,
            events: &mut ready.events,
            desktop: &s.desktop,
            phone: s.phone.as_ref(),
            capabilities: &s.capabilities,
            timers: s.timers,
            // The BC-6 tolerance after a heal follows the timeout the mocks really run with.
            client_timeout_ms: ready
                .shape
                .client_timeout_ms
                .or(s.keepalive.client_timeout_ms)
                .unwrap_or(CLIENT_TIMEOUT_OFF_MS),
            seed,
            runtime: s.runtime_name.clone(),
            cancel,
            emit,
            max_lateness: s.max_lateness,
            attached,
            keep: (s.keep_env && self.kept.is_none()).then_some(&mut kept),
            run_to_end: s.run_to_end,
        };
        let result = run_scenario(ctx, sc).await;
        if let Some(k) = kept {
            self.kept = Some((sc.id.clone(), sc.agent.clone(), k));
            return Ok(result);
        }
        if left_the_plan(&result) {
            // Replaced rather than reset: the next scenario must not inherit a broken environment.
            self.shutdown().await;
        }
        Ok(result)
    }

    /// One planned scenario, one result: the environment of its shape made ready, then the
    /// scenario run; what keeps it from running is an error result.
    pub async fn scenario(
        &mut self,
        sc: &PlannedScenario,
        seed: u64,
        cancel: watch::Receiver<bool>,
        emit: Emit<'_>,
    ) -> ScenarioResult {
        if let Err(e) = self.prepare(&Shape::of(sc), emit).await {
            emit(RunEvent::ScenarioStarted {
                info: info(sc),
                job: self.job,
            });
            return self.error_result(info(sc), seed, e);
        }
        match self.run(sc, seed, cancel, emit).await {
            Ok(r) => r,
            Err(e) => self.error_result(info(sc), seed, e),
        }
    }

    /// A result for a scenario that could not run because of the harness.
    pub fn error_result(&self, info: ScenarioInfo, seed: u64, message: String) -> ScenarioResult {
        self.settings.error_result(info, seed, message)
    }

    /// Whether a failed scenario's environment is kept (no scenario may run in it any more).
    pub fn has_kept(&self) -> bool {
        self.kept.is_some()
    }

    /// The kept environment with its failed scenario's desktop and faults, if one is kept.
    pub fn take_kept(&mut self) -> Option<KeptEnv> {
        let (scenario, agent, kept) = self.kept.take()?;
        let ready = self.ready.take()?;
        Some(KeptEnv {
            scenario,
            agent,
            config: ready.shape.config.clone(),
            env: ready.env,
            events: ready.events,
            kept,
        })
    }

    /// Shuts the environment down, if there is one.
    pub async fn shutdown(&mut self) {
        if let Some(r) = self.ready.take() {
            if self.settings.attach.is_some() {
                // It stays up for the next user: leave it as it started.
                let _ = r.env.reset().await;
            }
            let _ = r.env.shutdown().await;
        }
    }
}
