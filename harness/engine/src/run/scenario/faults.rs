//! The fault and heal steps of a scenario: inject (the serving member is asked of the environment
//! here, not in translate), heal by marker, heal all; a flap is injected and healed like any fault.

use bc_suite::PlannedStep;

use super::driver::{Driver, Stop};
use super::record::Injected;
use crate::env::now_us;
use crate::event::verdict::LATENESS;
use crate::fault::{Fault, FaultError, Faults};
use crate::observe::{Change, Effect};
use crate::run::translate;

/// A fault-like step: plans its injection, applies and confirms it, records it.
pub(super) async fn inject(
    d: &mut Driver<'_>,
    step: &PlannedStep,
    step_ts: i64,
    description: &str,
    dn: &str,
) -> Result<(), Stop> {
    let env = d.env;
    let action = &step.action;
    let planned = async {
        let serving = match translate::serving_pair(action) {
            Some((site, server, group)) => Some(
                env.active_instance_in(site.as_str(), server, group)
                    .await
                    .map_err(|e| e.to_string())?
                    .role,
            ),
            None => None,
        };
        translate::injection(action, dn, serving)
    };
    let inj = match d.drive(planned, |_| false).await? {
        Some(Ok(Some(inj))) => inj,
        Some(Ok(None)) => {
            d.record_marker(step_ts, step.marker.as_deref());
            d.note(format!("step `{description}` does nothing here"));
            return Ok(());
        }
        Some(Err(e)) => return Err(d.harness_error(format!("step `{description}`: {e}"))),
        None => return Ok(()),
    };
    let mut inj = inj;
    // Only `share`/`agents` aim a fault by source address; a group's fault reaches its agents
    // through that group's servers alone.
    if let Some(chosen) = d.aims.get(&step.index).filter(|_| step.aim.is_some()) {
        if let Err(e) = super::herd::aimed(&mut inj, chosen, d.herd_agents) {
            return Err(d.harness_error(format!("step `{description}`: {e}")));
        }
    }
    let is_call = matches!(inj.fault, Fault::DeliverCall { .. });
    d.hold_step(Some(step_ts));
    let r = d.drive(env.inject(&inj.fault), |_| false).await;
    d.hold_step(None);
    match r? {
        Some(Ok(guard)) => {
            let timing = guard.timing().cloned();
            d.record_injected(step, step_ts, inj, guard);
            if let Some(t) = timing {
                d.note(t.note.clone());
                if t.late {
                    // Too slow a failover can send a conformant desktop to the other site: not
                    // a verdict about it (retried with --retry-errors).
                    d.errors.push(format!("{LATENESS} {}", t.note));
                }
            }
        }
        Some(Err(e @ FaultError::CallRefused { .. })) => {
            // Offered and refused: the timeline holds it, so expect_call_answered fails on it.
            let effects = inj
                .effects
                .iter()
                .map(|x| Effect {
                    target: x.target.clone(),
                    change: Change::CallRefused,
                })
                .collect();
            d.record_call_refused(step_ts, step.marker.as_deref(), e.to_string(), effects);
        }
        Some(Err(e)) if is_call => {
            // A call nobody can take is the desktop's problem: expect_call_answered judges it.
            d.record_marker(step_ts, step.marker.as_deref());
            d.note(format!("call not delivered: {e}"));
        }
        Some(Err(e)) => return Err(d.harness_error(format!("fault not applied: {e}"))),
        None => {}
    }
    Ok(())
}

/// `heal: MARKER`: heals the fault the marked step injected.
pub(super) async fn heal_marker(
    d: &mut Driver<'_>,
    step_ts: i64,
    marker: &str,
    step: usize,
) -> Result<(), Stop> {
    let Some(mut i) = d.injected.remove(&step) else {
        d.note(format!("heal {marker}: nothing to heal"));
        return Ok(());
    };
    if i.is_over() {
        // Its links are up already; the heal only forgets the guard.
        let _ = d.drive(i.guard.heal(), |_| false).await?;
        d.note(format!("heal {marker}: nothing to heal"));
        return Ok(());
    }
    heal(d, &mut i, step_ts, &format!("heal {marker}")).await
}

/// `heal: all`: stops the flaps recorded phase by phase (each with the heal of a down phase), then
/// heals every fault but configuration changes.
pub(super) async fn heal_all(d: &mut Driver<'_>) -> Result<(), Stop> {
    let mut flaps: Vec<usize> = d
        .injected
        .iter()
        .filter(|(_, i)| i.is_per_phase())
        .map(|(s, _)| *s)
        .collect();
    flaps.sort_unstable();
    for s in flaps {
        let mut i = d.injected.remove(&s).expect("listed above");
        heal(d, &mut i, now_us(), "flapping heal").await?;
    }
    let env = d.env;
    if let Some(Err(e)) = d.drive(env.heal_faults(), |_| false).await? {
        return Err(d.harness_error(format!("heal all failed: {e}")));
    }
    d.record_heal(now_us(), None, "all".into());
    Ok(())
}

/// Heals one injected fault through its guard and records it; a flap's phases reported until the
/// heal stopped it are recorded first.
async fn heal(d: &mut Driver<'_>, i: &mut Injected, from: i64, what: &str) -> Result<(), Stop> {
    d.drain_phases(i)?;
    d.hold_step(Some(from));
    let r = d.drive(i.guard.heal(), |_| false).await;
    d.hold_step(None);
    let r = r?;
    d.drain_phases(i)?;
    match r {
        Some(Ok(report)) => d.record_healed(i, &report),
        Some(Err(e)) => return Err(d.harness_error(format!("{what} failed: {e}"))),
        None => {}
    }
    Ok(())
}
