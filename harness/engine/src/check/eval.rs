//! The evaluator: folds timeline entries into the session state in timestamp order, up to the time
//! its caller knows complete (a watermark), and drives every check and measurement; panics are errors.

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

use super::measure::{MeasureSpec, Measured, Measurer};
use super::{after, rules, verdict_of, Check, CheckSpec, Status, Verdict};
use crate::observe::{Entry, EntryKind, SessionState, Subject, Timeline};

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

struct Slot {
    reg: Registered,
    check: Box<dyn Check>,
    active: bool,
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

/// Lines of timeline quoted in a failure.
const EXCERPT_LINES: usize = 15;
/// How far before the deadline (or the failure) the excerpt starts, µs.
const EXCERPT_BEFORE_US: i64 = 10_000_000;

/// Drives checks over a timeline, live or replayed.
pub struct Evaluator {
    timeline: Timeline,
    state: SessionState,
    slots: Vec<Slot>,
    measurers: Vec<Measurer>,
    pending: Vec<usize>,
    steps_seen: Vec<usize>,
    watermark: i64,
    slack_us: i64,
    hold: Option<i64>,
    /// The instant being judged (entry stamp or time), which is where a decision is taken.
    cursor: i64,
    /// Where checks were decided since the caller last took them (their deciding instants).
    decided_at: Vec<i64>,
}

fn guarded(check: &mut Box<dyn Check>, f: impl FnOnce(&mut Box<dyn Check>) -> Status) -> Status {
    match catch_unwind(AssertUnwindSafe(|| f(check))) {
        Ok(s) => s,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Status::Error {
                reason: format!("checker panicked: {msg}"),
            }
        }
    }
}

impl Evaluator {
    /// An evaluator that releases entries `slack_ms` before the time given to `advance` (0 when
    /// that time is a watermark, as the runner's is, and for replays).
    pub fn new(subject: Subject, slack_ms: u64) -> Evaluator {
        Evaluator {
            state: SessionState::new(subject.clone()),
            timeline: Timeline::new(subject),
            slots: Vec::new(),
            measurers: Vec::new(),
            pending: Vec::new(),
            steps_seen: Vec::new(),
            watermark: i64::MIN,
            slack_us: slack_ms as i64 * 1000,
            hold: None,
            cursor: i64::MIN,
            decided_at: Vec::new(),
        }
    }

    /// Registers a check; returns its handle. A step check whose step was already reached starts now.
    pub fn add(&mut self, spec: CheckSpec, activation: Activation) -> usize {
        let check = spec.build();
        self.slots.push(Slot {
            reg: Registered {
                spec,
                activation,
                status: Status::Pending,
            },
            check,
            active: false,
        });
        let i = self.slots.len() - 1;
        let now = self.state.now_us();
        match activation {
            Activation::Start => self.activate(i, now),
            Activation::Step(s) if self.steps_seen.contains(&s) => self.activate(i, now),
            Activation::Step(_) => {}
        }
        i
    }

    /// Registers a hand-built checker under a spec's name (tests, extensions); same activation rules.
    pub fn add_boxed(
        &mut self,
        spec: CheckSpec,
        check: Box<dyn Check>,
        activation: Activation,
    ) -> usize {
        let i = self.add(spec, activation);
        self.slots[i].check = check;
        if self.slots[i].active {
            let now = self.state.now_us();
            self.activate(i, now);
        }
        i
    }

    /// Registers a measurement.
    pub fn measure(&mut self, spec: MeasureSpec) {
        self.measurers.push(Measurer::new(spec));
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
        let end = end_us.max(self.state.now_us());
        self.on_time(end);
        for i in 0..self.slots.len() {
            if self.slots[i].active && !self.slots[i].reg.status.is_decided() {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.finish(end, st));
                self.set(i, s);
            }
        }
        // The whole timeline is known now: each failure says what happened after it.
        for slot in &mut self.slots {
            if let Status::Fail(f) = &mut slot.reg.status {
                after::complete(&slot.reg.spec, f, &self.timeline);
            }
        }
        self.outcome()
    }

    /// The current conclusions (pending checks count as passing so far).
    pub fn outcome(&self) -> Outcome {
        let mut measurements: Vec<Measured> = self.measurers.iter().map(Measurer::result).collect();
        for s in &self.slots {
            if let Some((name, micros)) = s.check.measurement() {
                // A suite measurement named like an automatic one replaces it.
                measurements.retain(|m| m.name != name);
                measurements.push(Measured { name, micros });
            }
        }
        Outcome {
            verdict: self.verdict(),
            checks: self.slots.iter().map(|s| s.reg.clone()).collect(),
            measurements,
        }
    }

    /// The worst status so far (inconclusive when no check was exercised).
    pub fn verdict(&self) -> Verdict {
        verdict_of(self.slots.iter().map(|s| (&s.reg.spec, &s.reg.status)))
    }

    /// The status of one check.
    pub fn status(&self, handle: usize) -> &Status {
        &self.slots[handle].reg.status
    }

    /// The deciding instants of the checks decided since the last call (for the caller's lag).
    pub fn take_decided(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.decided_at)
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
            .slots
            .iter()
            .filter(|s| s.active && !s.reg.status.is_decided())
            .filter_map(|s| s.check.deadline_us())
            .map(|d| d + 1 + self.slack_us);
        entries.chain(deadlines).min()
    }

    /// The timeline recorded so far.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The derived state (entries released so far).
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    fn release(&mut self, ready: impl Fn(i64) -> bool) {
        let entries = &self.timeline.entries;
        let (mut now, later): (Vec<usize>, Vec<usize>) =
            self.pending.iter().partition(|i| ready(entries[**i].ts_us));
        self.pending = later;
        now.sort_by_key(|i| (entries[*i].ts_us, *i));
        for i in now {
            let e = self.timeline.entries[i].clone();
            self.process(&e);
        }
    }

    fn process(&mut self, e: &Entry) {
        self.cursor = e.ts_us;
        self.state.apply(e);
        self.watermark = self.watermark.max(e.ts_us);
        for m in &mut self.measurers {
            m.on_entry(e, &self.state);
        }
        if let EntryKind::Step { index, .. } = e.kind {
            self.steps_seen.push(index);
            for i in 0..self.slots.len() {
                if !self.slots[i].active && self.slots[i].reg.activation == Activation::Step(index)
                {
                    self.activate(i, e.ts_us);
                }
            }
        }
        for i in 0..self.slots.len() {
            if self.slots[i].active && !self.slots[i].reg.status.is_decided() {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.on_entry(e, st));
                self.set(i, s);
            }
        }
    }

    fn on_time(&mut self, now: i64) {
        self.state.tick(now);
        let t = self.state.now_us();
        self.cursor = t;
        for i in 0..self.slots.len() {
            if self.slots[i].active && !self.slots[i].reg.status.is_decided() {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.on_time(t, st));
                self.set(i, s);
            }
        }
    }

    fn activate(&mut self, i: usize, at: i64) {
        self.cursor = self.cursor.max(at);
        self.slots[i].active = true;
        let st = &self.state;
        let s = guarded(&mut self.slots[i].check, |c| c.start(at, st));
        self.set(i, s);
    }

    fn set(&mut self, i: usize, mut s: Status) {
        if let Status::Fail(f) = &mut s {
            let present = self.slots.iter().map(|s| &s.reg.spec);
            let spec = &self.slots[i].reg.spec;
            f.rules = rules::of(spec, &self.state.subject().rules, present);
            f.expected = spec.expected();
            let from = f.deadline_us.unwrap_or(f.at_us).min(f.at_us) - EXCERPT_BEFORE_US;
            f.excerpt = self.timeline.excerpt(from, f.at_us, EXCERPT_LINES);
        }
        if s.is_decided() && !self.slots[i].reg.status.is_decided() {
            self.decided_at.push(self.cursor);
        }
        self.slots[i].reg.status = s;
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
