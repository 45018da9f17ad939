//! Shrinking a failing schedule (delta debugging): drop the tail after the failure, then chunks of
//! operations, then pauses, keeping a candidate only when a real run fails the same way.
//! Every candidate is a real run, so runs and time are capped; the closure does the running.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::model::{resolve, Spec};
use super::schedule::{FaultOp, Op, Schedule};

/// What one run of a candidate said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check passed.
    Pass,
    /// A check failed; `signature` names the broken check (kind and rules, no parameters).
    Fail {
        /// The broken check, e.g. `invariant never_logged_in_at_both_peers [BC-6]`.
        signature: String,
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
            out.push(norm(Schedule { seed: s.seed, ops }));
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
    let t0 = Instant::now();
    let mut best = resolve(failing, spec).schedule(failing.seed);
    let mut tried: HashSet<Schedule> = HashSet::new();
    tried.insert(best.clone());
    let mut runs = 0;
    let mut accepted = 0;
    let mut hint = hint;
    'outer: loop {
        for c in candidates(&best, spec, hint.take()) {
            if !tried.insert(c.clone()) {
                continue;
            }
            if runs >= limits.max_runs {
                return Shrunk {
                    schedule: best,
                    runs,
                    accepted,
                    stop: StopReason::Runs,
                };
            }
            if t0.elapsed() >= limits.max_time {
                return Shrunk {
                    schedule: best,
                    runs,
                    accepted,
                    stop: StopReason::Time,
                };
            }
            runs += 1;
            if let Outcome::Fail { signature } = run(&c) {
                if signature == target {
                    best = c;
                    accepted += 1;
                    continue 'outer;
                }
            }
        }
        return Shrunk {
            schedule: best,
            runs,
            accepted,
            stop: StopReason::Minimal,
        };
    }
}
