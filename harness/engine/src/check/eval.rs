//! The evaluator: folds timeline entries into the session state in timestamp order, up to the time
//! its caller knows complete (a watermark), and drives every check and measurement; panics are errors.

mod lane;
mod route;

use serde::{Deserialize, Serialize};

use super::measure::{MeasureSpec, Measured};
use super::{fleet, verdict_of, Check, CheckSpec, Status, Verdict};
use crate::observe::{EntryKind, SessionState, Subject, Timeline};
use lane::Lane;
use route::{Route, Router};

/// When a check becomes active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// From the beginning of the timeline (invariants).
    Start,
    /// When the `step` entry with this index is reached (expectations).
    Step(usize),
}

/// A registered check and its current status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// What it checks.
    pub spec: CheckSpec,
    /// When it starts.
    pub activation: Activation,
    /// Where it stands.
    pub status: Status,
}

/// Everything the checks concluded about one timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// The worst status of all checks.
    pub verdict: Verdict,
    /// Each check with its final status.
    pub checks: Vec<Registered>,
    /// Measured durations (automatic, named, and `measure:` of expectations).
    pub measurements: Vec<Measured>,
}

/// Drives checks over a timeline, live or replayed: one lane per agent (one for a scenario, one
/// per agent of a herd) and, for a herd, the fleet checks that judge the agents together.
pub struct Evaluator {
    timeline: Timeline,
    lanes: Vec<Lane>,
    /// A herd's fleet checks (HERD-n), which read entries, not one agent's state.
    fleet: Option<Lane>,
    /// A herd's routing of observations to the agent whose connection they are on.
    router: Option<Router>,
    pending: Vec<usize>,
    /// Per lane, the checks about other agents (`add_among`).
    outside: std::collections::HashMap<usize, Vec<usize>>,
    /// The group each check about some agents names, by handle (`add_among`).
    groups: std::collections::HashMap<usize, fleet::Group>,
    slack_us: i64,
    hold: Option<i64>,
    /// The first released entry's instant (see `release`).
    origin_us: Option<i64>,
}

impl Evaluator {
    /// An evaluator that releases entries `slack_ms` before the time given to `advance` (0 when
    /// that time is a watermark, as the runner's is, and for replays).
    pub fn new(subject: Subject, slack_ms: u64) -> Evaluator {
        Evaluator {
            timeline: Timeline::new(subject.clone()),
            lanes: vec![Lane::new(subject)],
            fleet: None,
            router: None,
            pending: Vec::new(),
            outside: Default::default(),
            groups: Default::default(),
            slack_us: slack_ms as i64 * 1000,
            hold: None,
            origin_us: None,
        }
    }

    /// An evaluator of a herd: the timeline's subject names the herd, and every agent gets its own
    /// lane (each check added later is checked for every agent) plus one lane of fleet checks.
    pub fn herd(herd: Subject, agents: Vec<Subject>, slack_ms: u64) -> Evaluator {
        let mut ev = Evaluator::new(herd.clone(), slack_ms);
        if !agents.is_empty() {
            ev.router = Some(Router::new(agents.iter()));
            ev.lanes = agents.into_iter().map(Lane::herd_agent).collect();
        }
        ev.fleet = Some(Lane::fleet(herd));
        ev
    }

    /// How many agents are judged (1 outside a herd).
    pub fn agents(&self) -> usize {
        self.lanes.len()
    }

    /// Registers a check in every lane; returns its handle. A step check whose step was already
    /// reached starts now.
    pub fn add(&mut self, spec: CheckSpec, activation: Activation) -> usize {
        let tl = &self.timeline;
        let mut h = 0;
        for lane in &mut self.lanes {
            h = lane.add(spec.clone(), spec.build(), activation, tl);
        }
        h
    }

    /// Registers a check in the lanes of `members` only (a herd's expectation about the agents
    /// aimed faults hit, or those they spared: `group`, which its merged failure names); the other
    /// lanes hold it as outside their agent.
    pub fn add_among(
        &mut self,
        spec: CheckSpec,
        activation: Activation,
        members: &[usize],
        group: fleet::Group,
    ) -> usize {
        let tl = &self.timeline;
        let mut h = 0;
        for (k, lane) in self.lanes.iter_mut().enumerate() {
            h = if members.contains(&k) {
                lane.add(spec.clone(), spec.build(), activation, tl)
            } else {
                lane.add_outside(spec.clone(), activation)
            };
            if !members.contains(&k) {
                self.outside.entry(k).or_default().push(h);
            }
        }
        self.groups.insert(h, group);
        h
    }

    /// Registers a hand-built checker under a spec's name (tests, extensions); same activation
    /// rules. In a herd it is one checker in the first agent's lane.
    pub fn add_boxed(
        &mut self,
        spec: CheckSpec,
        check: Box<dyn Check>,
        activation: Activation,
    ) -> usize {
        let tl = &self.timeline;
        self.lanes[0].add(spec, check, activation, tl)
    }

    /// Registers a fleet check, active from the start (a herd's; ignored outside one).
    pub fn add_fleet(&mut self, spec: CheckSpec) {
        let tl = &self.timeline;
        if let Some(f) = &mut self.fleet {
            f.add(spec.clone(), spec.build(), Activation::Start, tl);
        }
    }

    /// Registers a measurement (in every lane).
    pub fn measure(&mut self, spec: MeasureSpec) {
        for lane in &mut self.lanes {
            lane.measure(spec.clone());
        }
    }

    /// Appends an entry to the timeline; it is evaluated once released by [`Evaluator::advance`].
    pub fn push(&mut self, ts_us: i64, kind: EntryKind) {
        self.timeline.push(ts_us, kind);
        self.pending.push(self.timeline.entries.len() - 1);
    }

    /// Evaluates every entry stamped at or before `now_us - slack`, then lets deadlines up to
    /// there expire. `now_us` is a watermark: nothing stamped at or before it is still to come.
    pub fn advance(&mut self, now_us: i64) {
        let mut w = now_us - self.slack_us;
        if let Some(h) = self.hold {
            w = w.min(h - 1);
        }
        self.release(|ts| ts <= w);
        self.on_time(w);
    }

    /// Holds evaluation before `from_us` (`None` releases): while a fault is being applied, its entry
    /// (stamped with its earlier effect time) is not known yet, so later entries must wait for it.
    pub fn hold(&mut self, from_us: Option<i64>) {
        self.hold = from_us;
    }

    /// Evaluates everything and concludes: pending invariants pass (unless observations were lost),
    /// pending expectations are unknown.
    pub fn finish(&mut self, end_us: i64) -> Outcome {
        self.release(|_| true);
        let tl = &self.timeline;
        for lane in self.lanes.iter_mut().chain(self.fleet.as_mut()) {
            let end = end_us.max(lane.state.now_us());
            lane.finish(end, tl);
        }
        self.outcome()
    }

    /// The current conclusions (pending checks count as passing so far); a herd's checks merged
    /// over its agents (`fleet::merge`), its fleet checks after them.
    pub fn outcome(&self) -> Outcome {
        if self.fleet.is_none() {
            let lane = &self.lanes[0];
            return Outcome {
                verdict: self.verdict(),
                checks: lane.checks().cloned().collect(),
                measurements: lane.measurements(),
            };
        }
        let per: Vec<fleet::AgentOutcome> = self
            .lanes
            .iter()
            .enumerate()
            .map(|(k, l)| fleet::AgentOutcome {
                agent: l.state.subject().username.clone(),
                checks: l.checks().cloned().collect(),
                measurements: l.measurements(),
                outside: self.outside.get(&k).cloned().unwrap_or_default(),
            })
            .collect();
        let mut out = fleet::merge(&per, &self.groups);
        if let Some(f) = &self.fleet {
            out.checks.extend(f.checks().cloned());
        }
        out.verdict = self.verdict();
        out
    }

    /// The worst status so far over every lane (inconclusive when no check was exercised).
    pub fn verdict(&self) -> Verdict {
        verdict_of(
            self.lanes
                .iter()
                .chain(&self.fleet)
                .flat_map(|l| l.checks())
                .map(|r| (&r.spec, &r.status)),
        )
    }

    /// Whether a check failed or errored in some lane: the verdict is at least `fail` (what
    /// `verdict() >= Fail` says, without a fold over every check).
    pub fn decided_bad(&self) -> bool {
        self.lanes.iter().chain(&self.fleet).any(|l| l.bad)
    }

    /// The status of one check in the first lane (the agent's, outside a herd).
    pub fn status(&self, handle: usize) -> &Status {
        self.lanes[0].status(handle)
    }

    /// Whether one check is decided for every agent, or failed for one.
    pub fn decided(&self, handle: usize) -> bool {
        // Asked at every wake: without a failure anywhere (`decided_bad`, a flag per lane), the
        // first agent still pending answers, not a pass over all 2,000.
        let failed = |s: &Status| matches!(s, Status::Fail(_) | Status::Error { .. });
        let all = self.lanes.iter().all(|l| l.status(handle).is_decided());
        all || (self.decided_bad() && self.lanes.iter().any(|l| failed(l.status(handle))))
    }

    /// The deciding instants of the checks decided since the last call (for the caller's lag).
    pub fn take_decided(&mut self) -> Vec<i64> {
        self.lanes
            .iter_mut()
            .chain(self.fleet.as_mut())
            .flat_map(|l| std::mem::take(&mut l.decided_at))
            .collect()
    }

    /// The smallest time to [`Evaluator::advance`] to that may change something, if anything waits.
    pub fn next_wakeup_us(&self) -> Option<i64> {
        if self.hold.is_some() {
            return None;
        }
        let entries = self
            .pending
            .iter()
            .map(|i| self.timeline.entries[*i].ts_us + self.slack_us);
        let deadlines = self
            .lanes
            .iter()
            .chain(&self.fleet)
            .filter_map(|l| l.next_deadline())
            .map(|d| d + 1 + self.slack_us);
        entries.chain(deadlines).min()
    }

    /// The timeline recorded so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The derived state of the first lane (entries released so far).
    pub fn state(&self) -> &SessionState {
        &self.lanes[0].state
    }

    fn release(&mut self, ready: impl Fn(i64) -> bool) {
        let entries = &self.timeline.entries;
        let (mut now, later): (Vec<usize>, Vec<usize>) =
            self.pending.iter().partition(|i| ready(entries[**i].ts_us));
        self.pending = later;
        now.sort_by_key(|i| (entries[*i].ts_us, *i));
        // The first entry released is the timeline's first: the watermark lets none come before.
        if let (None, Some(first)) = (self.origin_us, now.first()) {
            let origin = entries[*first].ts_us;
            self.origin_us = Some(origin);
            for lane in self.lanes.iter_mut().chain(self.fleet.as_mut()) {
                lane.origin_us = Some(origin);
            }
        }
        let tl = &self.timeline;
        for i in now {
            let e = &tl.entries[i];
            let route = match &mut self.router {
                Some(r) => r.route(i, e),
                None => Route::All,
            };
            if let Some(f) = &mut self.fleet {
                let known = f.state.gaps().len();
                f.process(e, tl);
                let lost = &f.state.gaps()[known..];
                if !lost.is_empty() {
                    for lane in &mut self.lanes {
                        lane.state.add_gaps(lost);
                    }
                }
            }
            match route {
                Route::All => {
                    for lane in &mut self.lanes {
                        lane.process(e, tl);
                    }
                }
                Route::One(k, earlier) => {
                    for j in earlier {
                        self.lanes[k].process(&tl.entries[j], tl);
                    }
                    self.lanes[k].process(e, tl);
                }
                Route::Nowhere => {}
                Route::Aimed(hit) => {
                    let mut spared = e.clone();
                    if let EntryKind::Fault { effects, .. } = &mut spared.kind {
                        effects.clear();
                    }
                    for (k, lane) in self.lanes.iter_mut().enumerate() {
                        lane.process(if hit.contains(&k) { e } else { &spared }, tl);
                    }
                }
            }
        }
    }

    fn on_time(&mut self, now: i64) {
        let tl = &self.timeline;
        for lane in self.lanes.iter_mut().chain(self.fleet.as_mut()) {
            lane.on_time(now, tl);
        }
    }
}

/// Replays a recorded timeline through fresh checks and measurements: the pure form of evaluation.
pub fn replay(
    timeline: &Timeline,
    checks: &[(Activation, CheckSpec)],
    measures: &[MeasureSpec],
) -> Outcome {
    let mut ev = Evaluator::new(timeline.subject.clone(), 0);
    for (a, spec) in checks {
        ev.add(spec.clone(), *a);
    }
    for m in measures {
        ev.measure(m.clone());
    }
    for e in &timeline.entries {
        ev.push(e.ts_us, e.kind.clone());
    }
    let end = timeline.end_us().unwrap_or(0);
    ev.finish(end)
}
