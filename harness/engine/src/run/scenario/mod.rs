//! Runs one planned scenario on a ready environment: preconditions, a fresh desktop, the steps
//! (faults, heals, waits, markers, expectations), then heal and stop; the timeline decides the verdict.

mod desktop;
mod driver;
mod faults;
mod herd;
mod infra;
mod phone;
mod record;
mod result;
mod steps;
mod trigger;
mod watermark;

use std::time::{Duration, Instant};

use bc_protocol::ObservedEvent;
use bc_suite::{Capability, PlannedScenario};
use tokio::sync::{mpsc, watch};

use super::translate;
use crate::check::{spec::CheckSpec, Activation, Evaluator, Verdict};
use crate::env::{now_us, DesktopSpec, Environment};
use crate::event::{RunEvent, ScenarioInfo, ScenarioResult};
use crate::observe::Subject;
use driver::{Driver, Stop};
pub use infra::{left_the_plan, NOT_STARTED};
use watermark::Pace;

pub use watermark::{MAX_LATENESS_MS, STALL_MS};

/// What a scenario run needs besides the scenario.
pub struct ScenarioContext<'a> {
    /// The ready (reset) environment.
    pub env: &'a Environment,
    /// Its observation feed.
    pub events: &'a mut mpsc::Receiver<ObservedEvent>,
    /// How to start the desktop.
    pub desktop: &'a DesktopSpec,
    /// How to start the agent's SIP phone, when the run has one.
    pub phone: Option<&'a DesktopSpec>,
    /// Declared capabilities.
    pub capabilities: &'a [Capability],
    /// Declared timers, when the profile has them.
    pub timers: Option<crate::run::DeclaredTimers>,
    /// The mocks' client keep-alive timeout (BC-6 tolerance after a healed partition).
    pub client_timeout_ms: u64,
    /// Seed of the run.
    pub seed: u64,
    /// Runtime name.
    pub runtime: String,
    /// Becomes true on Ctrl-C / SIGTERM.
    pub cancel: watch::Receiver<bool>,
    /// Where progress events go.
    pub emit: &'a (dyn Fn(RunEvent) + Send + Sync),
    /// The harness's own lateness past which the scenario is `error` ([`MAX_LATENESS_MS`]).
    pub max_lateness: Duration,
    /// The desktop command is the stand-in that runs a lab's hooks (`run --attach`): its
    /// "desktop not started" exit is the lab's failure, not the desktop's.
    pub attached: bool,
    /// `--keep-env=on-failure`: a failed scenario leaves its desktop and faults here instead of
    /// its teardown (its verdict is then decided at the end of its steps, before any teardown).
    pub keep: Option<&'a mut Option<crate::run::keep::KeptScenario>>,
    /// A failed check does not stop the scenario: it runs all its steps (`--run-to-end`).
    pub run_to_end: bool,
}

/// The identity of a planned scenario in reports.
pub fn info(sc: &PlannedScenario) -> ScenarioInfo {
    ScenarioInfo {
        id: sc.id.clone(),
        suite_id: sc.suite_id.clone(),
        file: sc.file.display().to_string(),
        scenario_id: sc.scenario_id.clone(),
        title: sc.title.clone(),
        rules: sc.rules.iter().map(|r| r.to_string()).collect(),
        preferred_site: sc.preferred_site.map(|s| s.as_str().to_string()),
        budget_ms: sc.budget.as_millis() as u64,
    }
}

/// The parts of the context the steps use.
struct Ctx<'a> {
    desktop: &'a DesktopSpec,
    phone: Option<&'a DesktopSpec>,
    capabilities: &'a [Capability],
    timers: Option<crate::run::DeclaredTimers>,
    seed: u64,
    emit: &'a (dyn Fn(RunEvent) + Send + Sync),
}

/// PH-1's registration window: the built-in phone retries every second; a vendor's phone declares
/// a retry interval under this (docs/rules.md).
pub const PH1_WINDOW_MS: u64 = 5_000;

/// PH-2's window from a `deliver_call` step to the phone's answer.
pub const PH2_WINDOW_MS: u64 = 10_000;

/// Who the scenario observes: the agent, its DN and sites, and what "logged in" includes.
fn subject(ctx: &ScenarioContext<'_>, sc: &PlannedScenario) -> Subject {
    let agent = ctx.env.topology().agent(&sc.agent).ok().cloned();
    Subject {
        scenario: sc.id.clone(),
        username: sc.agent.clone(),
        agent_id: agent
            .as_ref()
            .map(|a| a.agent_id.clone())
            .unwrap_or_default(),
        dn: agent.as_ref().map(|a| a.dn.clone()).unwrap_or_default(),
        sites: sc.sites.iter().map(|s| s.as_str().to_string()).collect(),
        uses_stat_server: sc.stat_server && ctx.capabilities.contains(&Capability::StatServer),
        client_timeout_ms: ctx.client_timeout_ms,
        rules: sc.rules.iter().map(|r| r.to_string()).collect(),
    }
}

/// The error of a scenario cut short by the run's cancellation (a signal, or `--fail-fast`).
pub const INTERRUPTED: &str = "interrupted (SIGINT/SIGTERM): the scenario did not finish";

/// Runs one scenario and returns its result (never panics on environment problems: they are errors).
pub async fn run_scenario(ctx: ScenarioContext<'_>, sc: &PlannedScenario) -> ScenarioResult {
    let started = Instant::now();
    let start_us = now_us();
    // Observations queued before this scenario belong to the previous one (or the reset).
    while ctx.events.try_recv().is_ok() {}
    let subject = subject(&ctx, sc);
    let dn = subject.dn.clone();
    let herd = sc.herd.as_ref().map(|h| match ctx.attached {
        // The lab's hooks start one desktop on another machine, not a floor of them.
        true => Err("a herd cannot run on an attached environment (`run --attach`)".into()),
        false => herd::subjects(ctx.env, &subject, h),
    });
    let ScenarioContext {
        env,
        events,
        desktop,
        phone,
        capabilities,
        timers,
        seed,
        runtime,
        cancel,
        emit,
        max_lateness,
        attached,
        keep,
        run_to_end,
        ..
    } = ctx;
    let steps = Ctx {
        desktop,
        phone,
        capabilities,
        timers,
        seed,
        emit,
    };
    // A herd has no phone: phones are one agent's.
    let phone = phone.filter(|_| herd.is_none());
    // Slack 0: the driver advances the evaluator to the sources' watermark, not to the clock.
    let (ev, herd_error) = match herd {
        Some(Ok((whole, agents))) => (Evaluator::herd(whole, agents, 0), None),
        Some(Err(e)) => (Evaluator::new(subject, 0), Some(e)),
        None => (Evaluator::new(subject, 0), None),
    };
    let mut d = Driver::new(env, ev, events, start_us, cancel, Pace::new(max_lateness));
    d.attached = attached;
    d.run_to_end = run_to_end;
    d.aims = herd::aims(sc, seed);
    d.herd_agents = sc.herd.as_ref().map_or(0, |h| h.agents as usize);
    for spec in translate::invariants(sc) {
        d.ev.add(spec, Activation::Start);
    }
    for spec in herd::fleet_checks(sc) {
        d.ev.add_fleet(spec);
    }
    if phone.is_some() {
        let spec = CheckSpec::PhoneRegistered {
            within_ms: PH1_WINDOW_MS,
            return_within_ms: u64::from(crate::env::sip::GRANTED_EXPIRES_SECS) * 1000
                + PH1_WINDOW_MS,
        };
        d.ev.add(spec, Activation::Start);
    }
    for m in translate::measurements(sc, capabilities) {
        d.ev.measure(m);
    }
    let stop = match herd_error {
        Some(e) => Err(d.harness_error(e)),
        None => steps::execute(&mut d, &steps, sc, &dn).await,
    };
    if matches!(stop, Err(Stop::Cancelled)) {
        d.errors.push(INTERRUPTED.into());
        d.note("interrupted");
    }
    // Observations still in flight belong to the run.
    if stop.is_ok() {
        let _ = d.settle().await;
    }
    d.settle_infra().await;
    let end_us = now_us();
    let run = result::Run {
        info: info(sc),
        started,
        seed,
        runtime,
        end_us,
    };
    if let Some(slot) = keep {
        let outcome = d.ev.finish(end_us);
        if outcome.verdict == Verdict::Fail && d.errors.is_empty() {
            *slot = Some(d.keep(sc));
            return result::build(&mut d, run, Some(outcome));
        }
        d.teardown().await;
        let _ = d.on_infra();
        return result::build(&mut d, run, Some(outcome));
    }
    d.teardown().await;
    // An exit during the teardown (not one of its heals) still counts.
    let _ = d.on_infra();
    result::build(&mut d, run, None)
}
