//! Shrinking a failing schedule (delta debugging): drop the tail after the failure, then chunks of
//! operations, then pauses, keeping a candidate only when a real run fails the same way.
//! Every candidate is a real run, so runs and time are capped; the closure does the running.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::model::Spec;
use super::resolve::resolve;
use super::schedule::{FaultOp, Op, Schedule};

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
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            max_runs: 24,
            max_time: Duration::from_secs(300),
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

/// The result of a shrink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shrunk {
    /// The smallest schedule that still failed the same way.
    pub schedule: Schedule,
    /// Candidate runs made.
    pub runs: usize,
    /// Candidates that reproduced.
    pub accepted: usize,
    /// Why it stopped.
    pub stop: StopReason,
}

/// Pauses shorter than this are only ever dropped, not halved: below it, halving costs runs and
/// saves nothing a reader would notice.
const MIN_HALVED_MS: u64 = 500;

/// The size order shrinking minimises: operations first, then total pause.
fn size(s: &Schedule) -> (usize, u64) {
    (s.ops.len(), s.ops.iter().map(|o| o.wait_ms).sum())
}

fn candidates(s: &Schedule, spec: &Spec, hint: Option<usize>) -> Vec<Schedule> {
    let norm = |c: Schedule| resolve(&c, spec).schedule(c.seed);
    let mut out = Vec::new();
    let n = s.ops.len();
    if let Some(h) = hint.filter(|h| *h < n) {
        out.push(norm(Schedule {
            seed: s.seed,
            ops: s.ops[..h].to_vec(),
        }));
    }
    // Chunks, big to small.
    let mut chunk = n.div_ceil(2).max(1);
    loop {
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let mut ops = s.ops[..start].to_vec();
            ops.extend_from_slice(&s.ops[end..]);
            out.push(norm(Schedule {
                seed: s.seed,
                ops: ops.clone(),
            }));
            // The same chunk gone with its pauses kept: the next operation waits them out, so a
            // failure that needs time to pass (a timer) survives losing unrelated operations.
            let carried: u64 = s.ops[start..end].iter().map(|o| o.wait_ms).sum();
            if carried > 0 && end < n {
                ops[start].wait_ms += carried;
                out.push(norm(Schedule { seed: s.seed, ops }));
            }
            start += chunk;
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    // Pauses: all gone, then one at a time.
    let mut z = s.clone();
    z.ops.iter_mut().for_each(|o| o.wait_ms = 0);
    out.push(norm(z));
    for i in 0..n {
        if s.ops[i].wait_ms > 0 {
            let mut c = s.clone();
            c.ops[i].wait_ms = 0;
            out.push(norm(c));
        }
    }
    // Shorter pauses: halved, all together, then one at a time (a pause that matters often
    // matters only past a timer, so halving converges on it where zeroing cannot).
    if s.ops.iter().any(|o| o.wait_ms >= MIN_HALVED_MS) {
        let mut h = s.clone();
        h.ops
            .iter_mut()
            .filter(|o| o.wait_ms >= MIN_HALVED_MS)
            .for_each(|o| o.wait_ms /= 2);
        out.push(norm(h));
    }
    for i in 0..n {
        if s.ops[i].wait_ms >= MIN_HALVED_MS {
            let mut c = s.clone();
            c.ops[i].wait_ms /= 2;
            out.push(norm(c));
        }
    }
    // Simpler faults: one flap cycle.
    for i in 0..n {
        if let Op::Fault {
            id,
            fault:
                FaultOp::Flap {
                    link,
                    period_ms,
                    count,
                },
        } = s.ops[i].op
        {
            if count > 1 {
                let mut c = s.clone();
                c.ops[i].op = Op::Fault {
                    id,
                    fault: FaultOp::Flap {
                        link,
                        period_ms,
                        count: 1,
                    },
                };
                out.push(norm(c));
            }
        }
    }
    out.retain(|c| size(c) < size(s));
    out
}

/// Shrinking as a state machine, for callers that run candidates asynchronously: take a
/// candidate with [`Shrinker::next`], run it, give its outcome to [`Shrinker::report`].
pub struct Shrinker {
    best: Schedule,
    target: String,
    spec: Spec,
    limits: ShrinkLimits,
    t0: Instant,
    tried: HashSet<Schedule>,
    queue: VecDeque<Schedule>,
    pending: Option<Schedule>,
    runs: usize,
    accepted: usize,
    stop: Option<StopReason>,
}

impl Shrinker {
    /// Starts shrinking `failing`, which failed with `target`. `hint`: how many operations had
    /// started when the failure was decided (the rest cannot matter).
    pub fn new(
        failing: &Schedule,
        target: &str,
        spec: &Spec,
        limits: ShrinkLimits,
        hint: Option<usize>,
    ) -> Shrinker {
        let best = resolve(failing, spec).schedule(failing.seed);
        let queue = candidates(&best, spec, hint).into();
        let mut tried = HashSet::new();
        tried.insert(best.clone());
        Shrinker {
            best,
            target: target.to_string(),
            spec: spec.clone(),
            limits,
            t0: Instant::now(),
            tried,
            queue,
            pending: None,
            runs: 0,
            accepted: 0,
            stop: None,
        }
    }

    /// The next candidate to run, or `None` when done (see [`Shrinker::finish`]).
    pub fn next_candidate(&mut self) -> Option<Schedule> {
        if self.stop.is_some() {
            return None;
        }
        loop {
            let Some(c) = self.queue.pop_front() else {
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
            self.pending = Some(c.clone());
            return Some(c);
        }
    }

    /// The outcome of the candidate last returned; returns true when it reproduced.
    pub fn report(&mut self, outcome: &Outcome) -> bool {
        let Some(c) = self.pending.take() else {
            return false;
        };
        match outcome {
            Outcome::Fail { signatures } if signatures.contains(&self.target) => {
                self.queue = candidates(&c, &self.spec, None).into();
                self.best = c;
                self.accepted += 1;
                true
            }
            _ => false,
        }
    }

    /// The smallest reproducing schedule so far.
    pub fn best(&self) -> &Schedule {
        &self.best
    }

    /// The result.
    pub fn finish(self) -> Shrunk {
        Shrunk {
            schedule: self.best,
            runs: self.runs,
            accepted: self.accepted,
            stop: self.stop.unwrap_or(StopReason::Minimal),
        }
    }
}

/// Shrinks `failing` (which failed with `target`) by running candidates through `run`.
/// `hint`: how many operations had started when the failure was decided (the rest cannot matter).
pub fn shrink<F: FnMut(&Schedule) -> Outcome>(
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
