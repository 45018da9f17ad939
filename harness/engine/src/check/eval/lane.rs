//! One lane of an evaluation: one agent's derived session state and its own instance of every
//! check and measurement. A scenario has one lane; a herd has one per agent, over one timeline.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Activation, Registered};
use crate::check::after::{self, After};
use crate::check::measure::{MeasureSpec, Measured, Measurer};
use crate::check::{rules, Check, CheckSpec, Status};
use crate::observe::{Entry, EntryKind, SessionState, Subject, Timeline};

/// Lines of timeline quoted in a failure.
const EXCERPT_LINES: usize = 15;
/// How far before the deadline (or the failure) the excerpt starts, µs.
const EXCERPT_BEFORE_US: i64 = 10_000_000;

struct Slot {
    reg: Registered,
    check: Box<dyn Check>,
    active: bool,
    /// A herd agent's look past the check's failure, fed its own entries.
    after: Option<After>,
}

/// One agent's state, checks and measurements.
pub(super) struct Lane {
    pub state: SessionState,
    slots: Vec<Slot>,
    measurers: Vec<Measurer>,
    steps_seen: Vec<usize>,
    /// The instant being judged (entry stamp or time), which is where a decision is taken.
    cursor: i64,
    /// Where checks were decided since the caller last took them (their deciding instants).
    pub decided_at: Vec<i64>,
    /// A herd agent's lane looks past a failure at the entries it folds in, its own: the whole
    /// timeline has the other agents' too. A lone agent's failures look at the whole timeline.
    own_after: bool,
    /// A herd agent's last entries worth quoting, its failure's excerpt: quoting the whole
    /// timeline would cost each failing agent a pass over every agent's entries.
    recent: std::collections::VecDeque<Entry>,
    /// The timeline's first instant (the evaluator's), from which excerpts count time.
    pub origin_us: Option<i64>,
    /// The earliest deadline of a pending check (`i64::MAX` when none): before it, and unless a
    /// grace period ends, time alone decides nothing here, so a wake skips the lane's checks.
    next_due: i64,
    /// A check here failed or errored: the scenario's verdict is decided bad (asked at every
    /// wake, where a fold over every check of 2,000 agents was an eighth of the harness's CPU).
    pub bad: bool,
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

impl Lane {
    pub fn new(subject: Subject) -> Lane {
        Lane {
            state: SessionState::new(subject),
            slots: Vec::new(),
            measurers: Vec::new(),
            steps_seen: Vec::new(),
            cursor: i64::MIN,
            decided_at: Vec::new(),
            own_after: false,
            recent: std::collections::VecDeque::new(),
            origin_us: None,
            next_due: i64::MAX,
            bad: false,
        }
    }

    /// The lane of one agent of a herd (it gets its own connections' events).
    pub fn herd_agent(subject: Subject) -> Lane {
        let mut lane = Lane::new(subject);
        lane.state = lane.state.herd_agent();
        lane.own_after = true;
        lane
    }

    /// The lane of a herd's fleet checks: observations reach its checks; its state checks the
    /// instances' event sequences only.
    pub fn fleet(subject: Subject) -> Lane {
        let mut lane = Lane::new(subject);
        lane.state = lane.state.herd_fleet();
        lane
    }

    /// Registers a checker; a step check whose step was already reached starts now.
    /// Registers a check that is about other agents (an expectation of `agents: hit|spared`):
    /// it keeps the handles aligned with the other lanes and is never active here.
    pub fn add_outside(&mut self, spec: CheckSpec, activation: Activation) -> usize {
        let check = spec.build();
        self.slots.push(Slot {
            reg: Registered {
                spec,
                activation,
                status: Status::NotExercised {
                    reason: "about other agents".into(),
                },
            },
            check,
            active: false,
            after: None,
        });
        self.slots.len() - 1
    }

    pub fn add(
        &mut self,
        spec: CheckSpec,
        check: Box<dyn Check>,
        activation: Activation,
        tl: &Timeline,
    ) -> usize {
        self.slots.push(Slot {
            reg: Registered {
                spec,
                activation,
                status: Status::Pending,
            },
            check,
            active: false,
            after: None,
        });
        let i = self.slots.len() - 1;
        let now = self.state.now_us();
        match activation {
            Activation::Start => self.activate(i, now, tl),
            Activation::Step(s) if self.steps_seen.contains(&s) => self.activate(i, now, tl),
            Activation::Step(_) => {}
        }
        self.refresh_due();
        i
    }

    pub fn measure(&mut self, spec: MeasureSpec) {
        self.measurers.push(Measurer::new(spec));
    }

    pub fn status(&self, handle: usize) -> &Status {
        &self.slots[handle].reg.status
    }

    pub fn checks(&self) -> impl Iterator<Item = &Registered> {
        self.slots.iter().map(|s| &s.reg)
    }

    /// The earliest deadline of a pending check, if any.
    pub fn next_deadline(&self) -> Option<i64> {
        (self.next_due != i64::MAX).then_some(self.next_due)
    }

    /// Recomputes [`Lane::next_deadline`] after checks were asked (their deadlines move).
    fn refresh_due(&mut self) {
        self.next_due = self
            .slots
            .iter()
            .filter(|s| s.active && !s.reg.status.is_decided())
            .filter_map(|s| s.check.deadline_us())
            .min()
            .unwrap_or(i64::MAX);
    }

    /// Automatic and named measurements, and those of the checks.
    pub fn measurements(&self) -> Vec<Measured> {
        let mut out: Vec<Measured> = self.measurers.iter().map(Measurer::result).collect();
        for s in &self.slots {
            if let Some((name, micros)) = s.check.measurement() {
                // A suite measurement named like an automatic one replaces it.
                out.retain(|m| m.name != name);
                out.push(Measured { name, micros });
            }
        }
        out
    }

    pub fn process(&mut self, e: &Entry, tl: &Timeline) {
        self.cursor = e.ts_us;
        if self.own_after && !crate::observe::format::is_noise(&e.kind) {
            if self.recent.len() == EXCERPT_LINES {
                self.recent.pop_front();
            }
            self.recent.push_back(e.clone());
        }
        for a in self.slots.iter_mut().filter_map(|s| s.after.as_mut()) {
            a.before(e, &self.state);
        }
        self.state.apply(e);
        for m in &mut self.measurers {
            m.on_entry(e, &self.state);
        }
        if let EntryKind::Step { index, .. } = e.kind {
            self.steps_seen.push(index);
            for i in 0..self.slots.len() {
                if !self.slots[i].active && self.slots[i].reg.activation == Activation::Step(index)
                {
                    self.activate(i, e.ts_us, tl);
                }
            }
        }
        for i in 0..self.slots.len() {
            if self.slots[i].active && !self.slots[i].reg.status.is_decided() {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.on_entry(e, st));
                self.set(i, s, tl);
            }
        }
        // After the checks: a failure decided on this entry looks at it too (it is past the deadline).
        for a in self.slots.iter_mut().filter_map(|s| s.after.as_mut()) {
            a.after(e, &self.state);
        }
        self.refresh_due();
    }

    /// Time moved to `now`: asks the checks whose deadline has come, or every pending one when a
    /// grace period ended (what the state shows changed without an entry). A check's `on_time`
    /// decides only at its deadline or on such a change (the `Check` contract), so the others
    /// are skipped: asking every check at every wake was a pass over every agent's checks.
    pub fn on_time(&mut self, now: i64, tl: &Timeline) {
        self.time_passes(now, tl, false);
    }

    fn time_passes(&mut self, now: i64, tl: &Timeline, everyone: bool) {
        let changed = self.state.tick(now);
        let t = self.state.now_us();
        self.cursor = t;
        if !(everyone || changed || self.next_due <= t) {
            return;
        }
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if !slot.active || slot.reg.status.is_decided() {
                continue;
            }
            let due = everyone || changed || slot.check.deadline_us().is_some_and(|d| d <= t);
            if due {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.on_time(t, st));
                self.set(i, s, tl);
            }
        }
        self.refresh_due();
    }

    /// Concludes every pending active check at `end`, then completes each failure with what
    /// happened after it.
    pub fn finish(&mut self, end: i64, tl: &Timeline) {
        self.time_passes(end, tl, true);
        for i in 0..self.slots.len() {
            if self.slots[i].active && !self.slots[i].reg.status.is_decided() {
                let st = &self.state;
                let s = guarded(&mut self.slots[i].check, |c| c.finish(end, st));
                self.set(i, s, tl);
            }
        }
        let start = match self.origin_us {
            Some(o) => o,
            None => tl.start_us().unwrap_or(0),
        };
        for slot in &mut self.slots {
            let Status::Fail(f) = &mut slot.reg.status else {
                continue;
            };
            match (&slot.after, self.own_after) {
                (Some(a), _) => a.fill(f, start, &self.state),
                (None, true) => {}
                (None, false) => after::complete(&slot.reg.spec, f, tl),
            }
        }
    }

    fn activate(&mut self, i: usize, at: i64, tl: &Timeline) {
        // Decided before its start: a check about other agents (`add_outside`), never run here.
        if self.slots[i].reg.status.is_decided() {
            return;
        }
        self.cursor = self.cursor.max(at);
        self.slots[i].active = true;
        let st = &self.state;
        let s = guarded(&mut self.slots[i].check, |c| c.start(at, st));
        self.set(i, s, tl);
    }

    fn set(&mut self, i: usize, mut s: Status, tl: &Timeline) {
        // Still pending, as before: nothing to store. (Every wake asks every pending check of
        // every lane; at 2,000 agents moving each `Status` back into place was a copy a check.)
        if matches!(s, Status::Pending) && matches!(self.slots[i].reg.status, Status::Pending) {
            return;
        }
        if let Status::Fail(f) = &mut s {
            let present = self.slots.iter().map(|s| &s.reg.spec);
            let spec = &self.slots[i].reg.spec;
            f.rules = rules::of(spec, &self.state.subject().rules, present);
            f.expected = spec.expected();
            let from = f.deadline_us.unwrap_or(f.at_us).min(f.at_us) - EXCERPT_BEFORE_US;
            f.excerpt = if self.own_after {
                let origin = self.origin_us.unwrap_or(0);
                self.recent
                    .iter()
                    .filter(|e| e.ts_us >= from && e.ts_us <= f.at_us)
                    .map(|e| crate::observe::format::line(e, origin))
                    .collect()
            } else {
                tl.excerpt(from, f.at_us, EXCERPT_LINES)
            };
            if self.own_after {
                self.slots[i].after = After::new(spec, f, &self.state);
            }
        }
        self.bad |= s.verdict() >= crate::check::Verdict::Fail;
        if s.is_decided() && !self.slots[i].reg.status.is_decided() {
            self.decided_at.push(self.cursor);
        }
        self.slots[i].reg.status = s;
    }
}
