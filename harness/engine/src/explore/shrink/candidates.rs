//! The smaller schedules one shrink step tries: chunks of operations (with and without their
//! pauses), pauses zeroed and halved, triggers dropped, simpler flaps, and the prefix; each
//! replayed through the model.

use crate::explore::model::Spec;
use crate::explore::resolve::resolve;
use crate::explore::schedule::{FaultOp, Op, Schedule};

/// Pauses shorter than this are only ever dropped, not halved: below it, halving costs runs and
/// saves nothing a reader would notice.
const MIN_HALVED_MS: u64 = 500;

/// The size order shrinking minimises: operations first, then triggers (an operation at a time
/// is simpler to read than one set off by the desktop), then total pause.
pub(super) fn size(s: &Schedule) -> (usize, usize, u64) {
    (
        s.ops.len(),
        s.triggers(),
        s.ops.iter().map(|o| o.wait_ms).sum(),
    )
}

/// The first `hint` operations of `s` (those started when the failure was decided), when smaller.
pub(super) fn prefix(s: &Schedule, spec: &Spec, hint: Option<usize>) -> Option<Schedule> {
    let h = hint.filter(|h| *h < s.ops.len())?;
    let p = resolve(
        &Schedule {
            seed: s.seed,
            ops: s.ops[..h].to_vec(),
        },
        spec,
    )
    .schedule(s.seed);
    (size(&p) < size(s)).then_some(p)
}

/// The smaller schedules tried after `s` reproduced, in order, all resolved with `spec`.
pub(super) fn candidates(s: &Schedule, spec: &Spec) -> Vec<Schedule> {
    let norm = |c: Schedule| resolve(&c, spec).schedule(c.seed);
    let mut out = Vec::new();
    let n = s.ops.len();
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
    // Operations at a time instead of on their trigger (the race may not matter).
    for i in 0..n {
        if s.ops[i].on.is_some() {
            let mut c = s.clone();
            c.ops[i].on = None;
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
