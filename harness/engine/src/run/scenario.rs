//! Runs one planned scenario on a ready environment: preconditions, a fresh desktop, the steps
//! (faults, heals, waits, markers, expectations), then heal and stop; the timeline decides the verdict.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bc_protocol::ObservedEvent;
use bc_suite::{Action, Capability, HealTarget, PlannedScenario};
use tokio::sync::{mpsc, watch};

use super::flap::{flapper, Flapper};
use super::translate;
use crate::check::{Activation, Evaluator, Status, Verdict};
use crate::env::{now_us, Desktop, DesktopSpec, Environment, LogStream};
use crate::event::{RunEvent, ScenarioInfo, ScenarioResult};
use crate::fault::{ConfigLevel, Fault, FaultGuard, FaultOutcome, Faults};
use crate::observe::{DesktopEvent, EntryKind, Subject};

/// Reorder slack: entries are evaluated this long after their timestamp (sources race a little).
pub const SLACK_MS: u64 = 200;
/// Desktop output lines kept in a result.
const LOG_TAIL_LINES: usize = 40;

/// What a scenario run needs besides the scenario.
pub struct ScenarioContext<'a> {
    /// The ready (reset) environment.
    pub env: &'a Environment,
    /// Its observation feed.
    pub events: &'a mut mpsc::Receiver<ObservedEvent>,
    /// How to start the desktop.
    pub desktop: &'a DesktopSpec,
    /// Declared capabilities.
    pub capabilities: &'a [Capability],
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

#[derive(Debug)]
enum Stop {
    /// The verdict is decided (a check failed or errored).
    Decided,
    /// Ctrl-C.
    Cancelled,
    /// A harness problem, already recorded.
    Harness,
}

struct Driver<'a> {
    env: &'a Environment,
    flappers: Vec<Flapper>,
    next_fault: u32,
    ev: Evaluator,
    events: &'a mut mpsc::Receiver<ObservedEvent>,
    desktop: Option<Desktop>,
    desktop_exited: bool,
    logs_pushed: bool,
    log_tail: Vec<String>,
    start_us: i64,
    cancel: watch::Receiver<bool>,
    cancel_open: bool,
    errors: Vec<String>,
}

enum Wake<T> {
    Cancel,
    CancelClosed,
    Event(Option<ObservedEvent>),
    Exit(crate::env::ExitInfo),
    Done(T),
    Tick,
}

impl<'a> Driver<'a> {
    fn push(&mut self, ts: i64, kind: EntryKind) {
        self.ev.push(ts, kind);
    }

    fn note(&mut self, message: impl Into<String>) {
        self.push(
            now_us(),
            EntryKind::Note {
                message: message.into(),
            },
        );
    }

    fn harness_error(&mut self, message: String) -> Stop {
        self.note(format!("harness error: {message}"));
        self.errors.push(message);
        Stop::Harness
    }

    fn decided_bad(&self) -> bool {
        self.ev.verdict() >= Verdict::Fail
    }

    /// Records the desktop's output and exit once (early exit or stop).
    fn record_exit(&mut self, info: crate::env::ExitInfo, expected: bool) {
        if self.logs_pushed {
            return;
        }
        self.logs_pushed = true;
        self.desktop_exited = true;
        let lines = self
            .desktop
            .as_ref()
            .map(|d| d.log_tail())
            .unwrap_or_default();
        for l in &lines {
            let stderr = l.stream == LogStream::Stderr;
            self.push(
                l.ts_us,
                EntryKind::Desktop(DesktopEvent::Log {
                    line: l.line.clone(),
                    stderr,
                }),
            );
        }
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        self.log_tail = lines.iter().skip(skip).map(|l| l.line.clone()).collect();
        let ts = info.ts_us.max(self.start_us);
        self.push(
            ts,
            EntryKind::Desktop(DesktopEvent::Exited {
                code: info.code,
                expected,
            }),
        );
    }

    /// Runs `fut` while feeding observations to the evaluator; stops early when `until` holds, the
    /// verdict is decided, the desktop exits early (a failure) or the run is cancelled.
    async fn drive<F: Future>(
        &mut self,
        fut: F,
        until: impl Fn(&Evaluator) -> bool,
    ) -> Result<Option<F::Output>, Stop> {
        tokio::pin!(fut);
        loop {
            self.ev.advance(now_us());
            if self.decided_bad() {
                return Err(Stop::Decided);
            }
            if until(&self.ev) {
                return Ok(None);
            }
            self.run_flappers().await?;
            let mut sleep = match self.ev.next_wakeup_us() {
                Some(w) => Duration::from_micros((w - now_us()).max(0) as u64),
                None => Duration::from_secs(3600),
            };
            if let Some(next) = self.flappers.iter().map(|f| f.next_at).min() {
                sleep = sleep.min(next.saturating_duration_since(Instant::now()));
            }
            let wake = {
                let events = &mut *self.events;
                let cancel = &mut self.cancel;
                let cancel_open = self.cancel_open;
                let desktop = if self.desktop_exited {
                    None
                } else {
                    self.desktop.as_ref()
                };
                tokio::select! {
                    biased;
                    r = cancel.changed(), if cancel_open => match r {
                        Ok(()) if *cancel.borrow() => Wake::Cancel,
                        Ok(()) => Wake::Tick,
                        Err(_) => Wake::CancelClosed,
                    },
                    e = events.recv() => Wake::Event(e),
                    info = async { desktop.expect("guarded").exited().await }, if desktop.is_some() => Wake::Exit(info),
                    out = &mut fut => Wake::Done(out),
                    _ = tokio::time::sleep(sleep) => Wake::Tick,
                }
            };
            match wake {
                Wake::Cancel => return Err(Stop::Cancelled),
                Wake::CancelClosed => self.cancel_open = false,
                Wake::Event(Some(e)) => {
                    if e.ts_us >= self.start_us {
                        self.push(e.ts_us, EntryKind::Observed { event: e });
                    }
                }
                Wake::Event(None) => {
                    return Err(self.harness_error("the observation feed closed".into()))
                }
                Wake::Exit(info) => self.record_exit(info, false),
                Wake::Done(out) => {
                    self.ev.advance(now_us());
                    return Ok(Some(out));
                }
                Wake::Tick => {}
            }
        }
    }

    /// Makes every due phase change of the flapping links (down: inject, up: heal).
    async fn run_flappers(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        let mut i = 0;
        while i < self.flappers.len() {
            if self.flappers[i].next_at > now {
                i += 1;
                continue;
            }
            let mut f = self.flappers.remove(i);
            let step_ts = now_us();
            self.ev.hold(Some(step_ts));
            let r = self.flap_phase(&mut f, step_ts).await;
            self.ev.hold(None);
            r?;
            f.remaining = f.remaining.saturating_sub(1);
            f.next_at += f.half;
            if f.remaining > 0 || f.down.is_some() {
                self.flappers.insert(i, f);
                i += 1;
            }
        }
        Ok(())
    }

    async fn flap_phase(&mut self, f: &mut Flapper, step_ts: i64) -> Result<(), Stop> {
        match f.down.take() {
            None => match self.env.inject(&f.fault).await {
                Ok(guard) => {
                    self.next_fault += 1;
                    let at = guard.applied_at_us().max(step_ts);
                    if let (Some(m), false) = (&f.marker, f.started) {
                        self.push(at, EntryKind::Marker { name: m.clone() });
                    }
                    f.started = true;
                    let description = format!("{} (flapping)", guard.fault());
                    let effects = f.effects.clone();
                    let marker = f.marker.clone();
                    self.push(
                        at,
                        EntryKind::Fault {
                            id: self.next_fault,
                            marker,
                            description,
                            effects,
                        },
                    );
                    f.down = Some((self.next_fault, guard));
                    Ok(())
                }
                Err(e) => Err(self.harness_error(format!("flapping fault not applied: {e}"))),
            },
            Some((id, mut guard)) => match guard.heal().await {
                Ok(rep) => {
                    let description = format!("{} (flapping)", guard.fault());
                    self.push(
                        rep.healed_at_us,
                        EntryKind::Heal {
                            fault: Some(id),
                            description,
                            effects: Vec::new(),
                        },
                    );
                    Ok(())
                }
                Err(e) => Err(self.harness_error(format!("flapping heal failed: {e}"))),
            },
        }
    }

    /// Stops flappers (all, or the one a step started), healing a link that is down.
    async fn stop_flappers(&mut self, step: Option<usize>) -> Result<(), Stop> {
        let (stop, keep): (Vec<Flapper>, Vec<Flapper>) = self
            .flappers
            .drain(..)
            .partition(|f| step.is_none_or(|s| s == f.step));
        self.flappers = keep;
        for mut f in stop {
            if f.down.is_some() {
                f.remaining = 0;
                self.flap_phase(&mut f, now_us()).await?;
            }
        }
        Ok(())
    }

    async fn wait(&mut self, d: Duration) -> Result<(), Stop> {
        self.drive(tokio::time::sleep(d), |_| false)
            .await
            .map(|_| ())
    }
}

/// Runs one scenario and returns its result (never panics on environment problems: they are errors).
#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
pub async fn run_scenario(ctx: ScenarioContext<'_>, sc: &PlannedScenario) -> ScenarioResult {
    let ScenarioContext {
        env,
        events,
        desktop,
        capabilities,
        client_timeout_ms,
        seed,
        runtime,
        cancel,
        emit,
    } = ctx;
    let ctx = Ctx {
        env,
        desktop,
        capabilities,
        seed,
        emit,
    };
    let info = info(sc);
    let t0 = Instant::now();
    let start_us = now_us();
    // Observations queued before this scenario belong to the previous one (or the reset).
    while events.try_recv().is_ok() {}
    let topo = ctx.env.topology();
    let agent = topo.agent(&sc.agent).ok().cloned();
    let subject = Subject {
        scenario: sc.id.clone(),
        username: sc.agent.clone(),
        agent_id: agent
            .as_ref()
            .map(|a| a.agent_id.clone())
            .unwrap_or_default(),
        dn: agent.as_ref().map(|a| a.dn.clone()).unwrap_or_default(),
        sites: sc.sites.iter().map(|s| s.as_str().to_string()).collect(),
        uses_stat_server: sc.stat_server && ctx.capabilities.contains(&Capability::StatServer),
        client_timeout_ms,
    };
    let dn = subject.dn.clone();
    let mut d = Driver {
        env,
        flappers: Vec::new(),
        next_fault: 0,
        ev: Evaluator::new(subject, SLACK_MS),
        events,
        desktop: None,
        desktop_exited: false,
        logs_pushed: false,
        log_tail: Vec::new(),
        start_us,
        cancel,
        cancel_open: true,
        errors: Vec::new(),
    };
    for spec in translate::invariants(sc) {
        d.ev.add(spec, Activation::Start);
    }
    for m in translate::measurements(sc, ctx.capabilities) {
        d.ev.measure(m);
    }
    let stop = execute(&mut d, &ctx, sc, &dn).await;
    let cancelled = matches!(stop, Err(Stop::Cancelled));
    if cancelled {
        d.errors
            .push("interrupted (SIGINT/SIGTERM): the scenario did not finish".into());
        d.note("interrupted");
    }
    // Observations still in flight belong to the run.
    if stop.is_ok() {
        let _ = d.wait(Duration::from_millis(SLACK_MS)).await;
    }
    let end_us = now_us();
    teardown(&mut d, ctx.env).await;
    let outcome = d.ev.finish(end_us);
    let mut verdict = outcome.verdict;
    if !d.errors.is_empty() {
        verdict = verdict.worsen(Verdict::Error);
    }
    let mut failures = Vec::new();
    let mut inconclusive = Vec::new();
    let mut errors = d.errors.clone();
    for c in &outcome.checks {
        match &c.status {
            Status::Fail(f) => failures.push(f.clone()),
            Status::Unknown { reason } => inconclusive.push(reason.clone()),
            Status::Error { reason } => errors.push(format!("{}: {reason}", c.spec.describe())),
            _ => {}
        }
    }
    ScenarioResult {
        info,
        verdict,
        failures,
        errors,
        inconclusive,
        skip_reason: None,
        checks: outcome.checks,
        measurements: outcome.measurements,
        started_us: start_us,
        duration_ms: t0.elapsed().as_millis() as u64,
        log_tail: d.log_tail.clone(),
        seed,
        runtime,
        timeline: Some(d.ev.timeline().clone()),
    }
}

async fn teardown(d: &mut Driver<'_>, env: &Environment) {
    // Flapping stops; `heal_all` below heals a link left down.
    d.flappers.clear();
    if let Some(desk) = d.desktop.take() {
        let info = desk.terminate().await;
        d.desktop = Some(desk);
        match info {
            Ok(i) => {
                let expected = !d.desktop_exited;
                d.record_exit(i, expected);
            }
            Err(e) => d.errors.push(format!("cannot stop the desktop: {e}")),
        }
    }
    d.desktop = None;
    if let Err(e) = env.heal_all().await {
        d.note(format!("heal at scenario end reported: {e}"));
    }
    d.push(
        now_us(),
        EntryKind::Heal {
            fault: None,
            description: "heal all (scenario end)".into(),
            effects: Vec::new(),
        },
    );
}

/// The parts of the context the steps use.
struct Ctx<'a> {
    env: &'a Environment,
    desktop: &'a DesktopSpec,
    capabilities: &'a [Capability],
    seed: u64,
    emit: &'a (dyn Fn(RunEvent) + Send + Sync),
}

#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
async fn execute(
    d: &mut Driver<'_>,
    ctx: &Ctx<'_>,
    sc: &PlannedScenario,
    dn: &str,
) -> Result<(), Stop> {
    if dn.is_empty() {
        return Err(d.harness_error(format!(
            "agent `{}` is not in the environment's configuration database",
            sc.agent
        )));
    }
    if !sc.ha {
        d.note("topology ha: false is not supported by the environment; backups run anyway");
    }
    if sc.pin_preferred_site {
        if let Some(site) = sc.preferred_site {
            let fault = Fault::SetPreferredSite {
                level: ConfigLevel::Person,
                object: sc.agent.clone(),
                site: Some(site.as_str().into()),
            };
            match d.drive(ctx.env.inject(&fault), |_| false).await? {
                Some(Ok(_)) => d.note(format!(
                    "precondition: preferred site {site} set on Person {}",
                    sc.agent
                )),
                Some(Err(e)) => return Err(d.harness_error(format!("precondition failed: {e}"))),
                None => {}
            }
        }
    }
    let config = ctx
        .env
        .write_connection_file(&sc.agent)
        .map_err(|e| d.harness_error(format!("cannot write the connection file: {e}")))?;
    let mut guards: HashMap<usize, (u32, FaultGuard)> = HashMap::new();
    for step in &sc.steps {
        let description = translate::describe(&step.action);
        (ctx.emit)(RunEvent::StepStarted {
            id: sc.id.clone(),
            index: step.index,
            description: description.clone(),
        });
        let step_ts = now_us();
        d.push(
            step_ts,
            EntryKind::Step {
                index: step.index,
                description: description.clone(),
            },
        );
        let plain_marker = |d: &mut Driver<'_>| {
            if let Some(m) = &step.marker {
                d.push(step_ts, EntryKind::Marker { name: m.clone() });
            }
        };
        if let Some(spec) = translate::expectation(&step.action, sc, ctx.capabilities) {
            plain_marker(d);
            let h = d.ev.add(spec, Activation::Step(step.index));
            d.drive(std::future::pending::<()>(), move |ev| {
                ev.status(h).is_decided()
            })
            .await?;
            continue;
        }
        match &step.action {
            Action::StartDesktop => {
                plain_marker(d);
                let mut spec = ctx.desktop.clone();
                spec.env
                    .push(("BC_HARNESS_SEED".into(), ctx.seed.to_string()));
                match spec.spawn(&config) {
                    Ok(desk) => {
                        let command = desk.argv().join(" ");
                        d.push(
                            now_us(),
                            EntryKind::Desktop(DesktopEvent::Started {
                                pid: desk.pid(),
                                command,
                            }),
                        );
                        d.desktop = Some(desk);
                    }
                    Err(e) => return Err(d.harness_error(format!("cannot start the desktop: {e}"))),
                }
            }
            Action::Wait(dur) => {
                plain_marker(d);
                d.wait(*dur).await?;
            }
            Action::Mark => plain_marker(d),
            Action::Heal(target) => {
                plain_marker(d);
                match target {
                    HealTarget::All => {
                        d.stop_flappers(None).await?;
                        let r = d.drive(ctx.env.heal_faults(), |_| false).await?;
                        if let Some(Err(e)) = r {
                            return Err(d.harness_error(format!("heal all failed: {e}")));
                        }
                        d.push(
                            now_us(),
                            EntryKind::Heal {
                                fault: None,
                                description: "all".into(),
                                effects: Vec::new(),
                            },
                        );
                    }
                    HealTarget::Marker { marker, step: s } => {
                        if d.flappers.iter().any(|f| f.step == *s) {
                            d.stop_flappers(Some(*s)).await?;
                            continue;
                        }
                        let Some((id, mut guard)) = guards.remove(s) else {
                            d.note(format!("heal {marker}: nothing to heal"));
                            continue;
                        };
                        d.ev.hold(Some(step_ts));
                        let r = d.drive(guard.heal(), |_| false).await;
                        d.ev.hold(None);
                        match r? {
                            Some(Ok(rep)) => d.push(
                                rep.healed_at_us,
                                EntryKind::Heal {
                                    fault: Some(id),
                                    description: guard.fault().to_string(),
                                    effects: Vec::new(),
                                },
                            ),
                            Some(Err(e)) => {
                                return Err(d.harness_error(format!("heal {marker} failed: {e}")))
                            }
                            None => {}
                        }
                    }
                }
            }
            action => {
                if let Some(f) = flapper(step.index, step.marker.clone(), action) {
                    // The first down phase happens now; later phases while the next steps run.
                    d.flappers.push(f);
                    d.run_flappers().await?;
                    continue;
                }
                let inj = match d
                    .drive(translate::injection(ctx.env, action, dn), |_| false)
                    .await?
                {
                    Some(Ok(Some(inj))) => inj,
                    Some(Ok(None)) => {
                        plain_marker(d);
                        d.note(format!("step `{description}` does nothing here"));
                        continue;
                    }
                    Some(Err(e)) => {
                        return Err(d.harness_error(format!("step `{description}`: {e}")))
                    }
                    None => continue,
                };
                let is_call = matches!(inj.fault, Fault::DeliverCall { .. });
                d.ev.hold(Some(step_ts));
                let r = d.drive(ctx.env.inject(&inj.fault), |_| false).await;
                d.ev.hold(None);
                match r? {
                    Some(Ok(guard)) => {
                        d.next_fault += 1;
                        let next_fault = d.next_fault;
                        // A call may be answered before its delivery is confirmed: it counts from the step.
                        let at = if is_call {
                            step_ts
                        } else {
                            guard.applied_at_us().max(step_ts)
                        };
                        if let Some(m) = &step.marker {
                            d.push(at, EntryKind::Marker { name: m.clone() });
                        }
                        let mut desc = guard.fault().to_string();
                        if let FaultOutcome::Call(c) = guard.outcome() {
                            desc = format!("{desc} ({c:?})");
                        }
                        d.push(
                            at,
                            EntryKind::Fault {
                                id: next_fault,
                                marker: step.marker.clone(),
                                description: desc,
                                effects: inj.effects,
                            },
                        );
                        guards.insert(step.index, (next_fault, guard));
                    }
                    Some(Err(e)) if is_call => {
                        // A call nobody can take is the desktop's problem: expect_call_answered judges it.
                        plain_marker(d);
                        d.note(format!("call not delivered: {e}"));
                    }
                    Some(Err(e)) => return Err(d.harness_error(format!("fault not applied: {e}"))),
                    None => {}
                }
            }
        }
        if d.decided_bad() {
            return Err(Stop::Decided);
        }
    }
    Ok(())
}
