//! A schedule replayed through the model: invalid operations dropped, checkpoints placed, and the
//! bound on DR switchovers (BC-11) a conformant desktop respects.

use bc_suite::{ServerKind, Site};

use super::model::{ActiveFault, Model, Spec, FLAP_MARGIN_MS};
use super::schedule::{FaultOp, Op, Schedule, TimedOp};

/// One resolved operation: valid in order, with where its checkpoint expects the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOp {
    /// The operation.
    pub op: TimedOp,
    /// For checkpoints: the site (`None`: either site).
    pub expect_site: Option<Site>,
    /// Model time when it starts, ms.
    pub at_ms: u64,
    /// For heals: the fault healed, as it was just before.
    pub healed: Option<ActiveFault>,
}

/// A schedule replayed through the model: invalid operations dropped, checkpoints placed, and
/// the switchover bound a conformant desktop respects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The valid operations.
    pub ops: Vec<ResolvedOp>,
    /// Most DR switchovers a conformant desktop makes over the whole run (BC-11).
    pub max_switchovers: u32,
    /// Whether the final heal has something to undo.
    pub needs_final_heal: bool,
    /// Model duration up to the final heal, ms.
    pub duration_ms: u64,
}

impl Resolved {
    /// The surviving operations as a schedule.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule {
            seed,
            ops: self.ops.iter().map(|r| r.op).collect(),
        }
    }
}

fn break_capable(f: &FaultOp, spec: &Spec) -> bool {
    let kind_counts = |k: ServerKind| k != ServerKind::StatServer || spec.stat_loss_dr;
    match f {
        FaultOp::KillSite(_) | FaultOp::StopSite(_) => true,
        FaultOp::KillServer(m) | FaultOp::StopServer(m) | FaultOp::FreezeServer(m) => {
            kind_counts(m.kind)
        }
        FaultOp::Link(l, k) => k.is_blocking() && l.kind.is_none_or(kind_counts),
        FaultOp::RejectLogins(_, k) | FaultOp::Overload(_, k) => kind_counts(*k),
        _ => false,
    }
}

/// Replays a schedule through the model, dropping what is invalid in its new context (after
/// shrinking removed operations) but keeping its pause.
pub fn resolve(s: &Schedule, spec: &Spec) -> Resolved {
    let mut m = Model::new(spec);
    let mut ops = Vec::new();
    // The pauses of dropped operations still pass: the next kept operation waits them out, so
    // dropping an operation never shortens the time a timer had to fire.
    let mut carried = 0;
    for t in &s.ops {
        let mut t = TimedOp {
            wait_ms: t.wait_ms + carried,
            ..*t
        };
        // Validity is judged after the pause (a pause can end a flap).
        let mut probe = m.clone();
        probe.advance(t.wait_ms);
        if !probe.can(&t.op) {
            carried = t.wait_ms;
            continue;
        }
        carried = 0;
        // A trigger whose cause was dropped may never fire: the operation stays, at its time.
        if t.on.is_some_and(|on| !probe.can_trigger(&on, &t.op)) {
            t.on = None;
        }
        let expect_site = match t.op {
            Op::Checkpoint => probe.checkpoint_site().flatten(),
            _ => None,
        };
        let healed = match t.op {
            Op::Heal { id, .. } => probe.active().get(&id).cloned(),
            _ => None,
        };
        let at_ms = probe.now_ms;
        m = probe;
        m.apply(&TimedOp::at(0, t.op));
        ops.push(ResolvedOp {
            op: t,
            expect_site,
            at_ms,
            healed,
        });
    }
    // BC-11 bound: every break-capable fault may cause one switchover; a flap alone causes at
    // most one, unless other breaks happen while it flaps (then each cycle may).
    let mut bound = 0u32;
    for (i, r) in ops.iter().enumerate() {
        let Op::Fault { fault, .. } = r.op.op else {
            if spec.failback && matches!(r.op.op, Op::Heal { .. }) {
                bound += 1;
            }
            continue;
        };
        if let FaultOp::Flap {
            period_ms, count, ..
        } = fault
        {
            let end = r.at_ms + period_ms * count as u64 + FLAP_MARGIN_MS + spec.budget_ms;
            let others = ops.iter().enumerate().any(|(j, o)| {
                j != i
                    && o.at_ms <= end
                    && matches!(o.op.op, Op::Fault { fault, .. } if break_capable(&fault, spec) || matches!(fault, FaultOp::Flap { .. }))
                    && o.at_ms + spec.budget_ms >= r.at_ms
            });
            bound += if others { count } else { 1 };
        } else if break_capable(&fault, spec) {
            bound += 1;
        }
    }
    if spec.failback {
        bound += 1;
    }
    Resolved {
        max_switchovers: bound,
        needs_final_heal: m.needs_heal(),
        duration_ms: m.now_ms,
        ops,
    }
}
