//! Shrinking a failing schedule (delta debugging): drop the tail after the failure, halve the
//! budget down to a floor, then chunks of operations and pauses, keeping a candidate only when a
//! real run fails the same way. Every candidate is a real run, so runs and time are capped; the
//! closure does the running.

mod candidates;

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::model::Spec;
use super::resolve::resolve;
use super::schedule::{Op, Schedule};
use candidates::{candidates, prefix};

/// What one run of a candidate said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Pass,
    /// Checks failed; each signature names a broken check (kind and rules, no parameters).
    Fail {
        /// The broken checks, e.g. `invariant never_logged_in_at_both_peers [BC-6]`.
        signatures: Vec<String>,
    },
    /// Anything else (inconclusive, harness error): never counts as reproducing.
    Other(String),
}

/// Caps of one shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkLimits {
    /// Most candidate runs.
    pub max_runs: usize,
    /// Most wall-clock time (a candidate is not started after it).
    pub max_time: Duration,
    /// The budget is halved while the failure reproduces, never below this (a conformant desktop
    /// must still pass the written suite: keep it above the desktop's slowest recovery).
    pub min_budget: Duration,
}

/// The default floor of the budget while shrinking: twice what the reference desktop needs to
/// recover from any state (docs/explore.md, "Choosing a budget").
pub const DEFAULT_MIN_BUDGET: Duration = Duration::from_secs(10);

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            max_runs: 24,
            max_time: Duration::from_secs(300),
            min_budget: DEFAULT_MIN_BUDGET,
        }
    }
}

/// Why shrinking stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// No smaller candidate reproduces.
    Minimal,
    /// `max_runs` reached.
    Runs,
    /// `max_time` reached.
    Time,
}

/// One candidate: a schedule and the budget it runs with (checkpoints wait one budget each).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The schedule, resolved with this budget.
    pub schedule: Schedule,
    /// The budget, ms.
    pub budget_ms: u64,
}

impl Candidate {
    /// What the schedule waits up to the final heal: its pauses and one budget per checkpoint.
    pub fn waits_ms(&self) -> u64 {
        self.schedule
            .ops
            .iter()
            .map(|o| match o.op {
                Op::Checkpoint => o.wait_ms + self.budget_ms,
                _ => o.wait_ms,
            })
            .sum()
    }
}

/// The result of a shrink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The smallest schedule that still failed the same way.
    pub schedule: Schedule,
    /// The budget it failed with (at most the original one).
    pub budget_ms: u64,
    /// The budget of the original case.
    pub original_budget_ms: u64,
    /// Candidate runs made.
    pub runs: usize,
    /// Candidates that reproduced.
    pub accepted: usize,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Shrinking as a state machine, for callers that run candidates asynchronously: take a
/// candidate with [`Shrinker::next_candidate`], run it with its budget, give its outcome to
/// [`Shrinker::report`].
///
/// Order: the prefix of operations started before the failure; then the budget halved (never
/// below [`ShrinkLimits::min_budget`], the floor itself tried once) while the failure reproduces,
/// so that every later run is shorter; then operations and pauses; when those are minimal, the
/// budget once more for the smaller schedule (and operations again after it is accepted).
pub struct Shrinker {
    best: Candidate,
    original_budget_ms: u64,
    target: String,
    spec: Spec,
    limits: ShrinkLimits,
    t0: Instant,
    tried: HashSet<Candidate>,
    prefix: Option<Candidate>,
    queue: VecDeque<Candidate>,
    /// Try the budget before the queue (until a shorter budget fails to reproduce).
    budget_first: bool,
    /// The candidates handed out and not yet reported, in order.
    pending: Vec<Candidate>,
    runs: usize,
    accepted: usize,
    stop: Option<StopReason>,
}

impl Shrinker {
    /// Starts shrinking `failing`, which failed with `target` at `spec.budget_ms`. `hint`: how many
    /// operations had started when the failure was decided (the rest cannot matter).
    pub fn new(
        failing: &Schedule,
        target: &str,
        spec: &Spec,
        limits: ShrinkLimits,
        hint: Option<usize>,
    ) -> Shrinker {
        let schedule = resolve(failing, spec).schedule(failing.seed);
        let at = |schedule| Candidate {
            schedule,
            budget_ms: spec.budget_ms,
        };
        let mut s = Shrinker {
            prefix: prefix(&schedule, spec, hint).map(at),
            queue: VecDeque::new(),
            best: at(schedule),
            original_budget_ms: spec.budget_ms,
            target: target.to_string(),
            spec: spec.clone(),
            limits,
            t0: Instant::now(),
            tried: HashSet::new(),
            budget_first: true,
            pending: Vec::new(),
            runs: 0,
            accepted: 0,
            stop: None,
        };
        s.tried.insert(s.best.clone());
        s.refill();
        s
    }

    /// The spec the schedules of budget `budget_ms` are resolved with.
    fn spec_at(&self, budget_ms: u64) -> Spec {
        Spec {
            budget_ms,
            ..self.spec.clone()
        }
    }

    /// The operation and pause candidates of the best schedule, at its budget.
    fn refill(&mut self) {
        let spec = self.spec_at(self.best.budget_ms);
        let budget_ms = self.best.budget_ms;
        self.queue = candidates(&self.best.schedule, &spec)
            .into_iter()
            .map(|schedule| Candidate {
                schedule,
                budget_ms,
            })
            .collect();
    }

    /// The best schedule with half its budget (the floor when half is below it), re-resolved at
    /// that budget; `None` at the floor or when already tried.
    fn budget_candidate(&self) -> Option<Candidate> {
        let floor = (self.limits.min_budget.as_millis() as u64).max(1);
        let now = self.best.budget_ms;
        if now <= floor {
            return None;
        }
        let budget_ms = (now / 2).max(floor);
        let c = Candidate {
            schedule: resolve(&self.best.schedule, &self.spec_at(budget_ms))
                .schedule(self.best.schedule.seed),
            budget_ms,
        };
        (!self.tried.contains(&c)).then_some(c)
    }

    fn pick(&mut self) -> Option<Candidate> {
        if let Some(p) = self.prefix.take() {
            return Some(p);
        }
        if self.budget_first {
            if let Some(b) = self.budget_candidate() {
                return Some(b);
            }
        }
        self.queue.pop_front().or_else(|| self.budget_candidate())
    }

    /// The next candidate to run, or `None` when done (see [`Shrinker::finish`]).
    pub fn next_candidate(&mut self) -> Option<Candidate> {
        self.next_batch(1).pop()
    }

    /// Up to `n` candidates to run side by side, in the order a sequential shrink would try them;
    /// empty when done. Report their outcomes, in the same order, with [`Shrinker::report_batch`].
    pub fn next_batch(&mut self, n: usize) -> Vec<Candidate> {
        let mut batch = Vec::new();
        while batch.len() < n.max(1) {
            match self.take() {
                Some(c) => batch.push(c),
                None => break,
            }
        }
        // A batch cut short still runs, and its outcomes may bring new candidates: the next
        // call decides again whether shrinking is over (and why).
        if !batch.is_empty() {
            self.stop = None;
        }
        self.pending = batch.clone();
        batch
    }

    fn take(&mut self) -> Option<Candidate> {
        if self.stop.is_some() {
            return None;
        }
        loop {
            let Some(c) = self.pick() else {
                self.stop = Some(StopReason::Minimal);
                return None;
            };
            if !self.tried.insert(c.clone()) {
                continue;
            }
            if self.runs >= self.limits.max_runs {
                self.stop = Some(StopReason::Runs);
                return None;
            }
            if self.t0.elapsed() >= self.limits.max_time {
                self.stop = Some(StopReason::Time);
                return None;
            }
            self.runs += 1;
            return Some(c);
        }
    }

    /// The outcome of the candidate last returned; returns true when it reproduced (it is then
    /// the best candidate).
    pub fn report(&mut self, outcome: &Outcome) -> bool {
        self.report_batch(std::slice::from_ref(outcome)).is_some()
    }

    /// Whether an outcome reproduces the failure being shrunk.
    pub fn reproduces(&self, outcome: &Outcome) -> bool {
        matches!(outcome, Outcome::Fail { signatures } if signatures.contains(&self.target))
    }

    /// The outcomes of the last batch, in its order. The first that reproduced becomes the best
    /// candidate (what a sequential shrink would have kept) and its index is returned; the
    /// candidates after it were measured against the old best, so they are forgotten and may be
    /// proposed again.
    pub fn report_batch(&mut self, outcomes: &[Outcome]) -> Option<usize> {
        let pending = std::mem::take(&mut self.pending);
        for (i, (c, outcome)) in pending.iter().zip(outcomes).enumerate() {
            let shorter_budget = c.budget_ms < self.best.budget_ms;
            if self.reproduces(outcome) {
                for later in &pending[i + 1..] {
                    self.tried.remove(later);
                }
                self.best = c.clone();
                self.accepted += 1;
                self.budget_first |= shorter_budget;
                self.refill();
                return Some(i);
            }
            if shorter_budget {
                self.budget_first = false;
            }
        }
        None
    }

    /// The smallest reproducing candidate so far.
    pub fn best(&self) -> &Candidate {
        &self.best
    }

    /// Candidate runs made so far.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The result.
    pub fn finish(self) -> Shrunk {
        Shrunk {
            schedule: self.best.schedule,
            budget_ms: self.best.budget_ms,
            original_budget_ms: self.original_budget_ms,
            runs: self.runs,
            accepted: self.accepted,
            stop: self.stop.unwrap_or(StopReason::Minimal),
        }
    }
}

/// Shrinks `failing` (which failed with `target` at `spec.budget_ms`) by running candidates
/// through `run`, each with its own budget.
/// `hint`: how many operations had started when the failure was decided (the rest cannot matter).
pub fn shrink<F: FnMut(&Candidate) -> Outcome>(
    failing: &Schedule,
    target: &str,
    spec: &Spec,
    limits: ShrinkLimits,
    hint: Option<usize>,
    mut run: F,
) -> Shrunk {
    let mut s = Shrinker::new(failing, target, spec, limits, hint);
    while let Some(c) = s.next_candidate() {
        let o = run(&c);
        s.report(&o);
    }
    s.finish()
}
