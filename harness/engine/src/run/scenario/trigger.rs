//! `on:` steps: the trigger is armed in the mock that sees the message, the scenario waits until it
//! fires (else `inconclusive`, naming it), and the held message is released once the next step's
//! fault is applied; the timeline records each instant and whether the fault landed in its window.

use bc_suite::{HoldMode, PlannedTrigger, ReleaseMode, TriggerKind};

use super::driver::{Driver, Stop};
use crate::env::{now_us, EnvError, HoldSpec, InstanceId, InstanceState};
use crate::event::verdict::LATENESS;

/// A trigger that fired and waits for the next step.
pub(super) struct Fired {
    instance: InstanceId,
    hold: u64,
    what: String,
    /// The mock's clock when it saw the message.
    seen_us: i64,
    held: bool,
    then: ReleaseMode,
    /// The suite's own wait before the next step (`after`), µs: not the harness's lateness.
    after_us: i64,
}

fn spec(t: &PlannedTrigger) -> HoldSpec {
    let (point, message) = match &t.kind {
        TriggerKind::DesktopSends(m) => ("from_client", Some(m.clone())),
        TriggerKind::Event(m) => ("to_client", Some(m.clone())),
        TriggerKind::Connects => ("connect", None),
        TriggerKind::Disconnects => ("disconnect", None),
    };
    HoldSpec {
        point,
        message,
        nth: t.nth,
        keep: t.hold.as_str(),
    }
}

fn ms(us: i64) -> String {
    format!("{:.3} ms", us as f64 / 1000.0)
}

/// A trigger armed in its mock, not yet fired.
pub(super) struct Armed {
    instance: InstanceId,
    hold: u64,
    what: String,
}

/// Arms the trigger in the mock that sees the message. The steps loop does it when the step
/// before `on` begins, so what that step causes (the desktop's first login) counts.
pub(super) async fn arm(d: &mut Driver<'_>, t: &PlannedTrigger) -> Result<Armed, Stop> {
    let env = d.env;
    let what = format!("on {}", t.describe());
    let instance = async {
        match t.at.role {
            Some(role) => Ok(InstanceId::new(t.at.site.as_str(), t.at.server, role)),
            None => env.active_instance(t.at.site.as_str(), t.at.server).await,
        }
    };
    let instance = match d.drive(instance, |_| false).await? {
        Some(Ok(i)) => i,
        Some(Err(e)) => return Err(d.harness_error(format!("`{what}`: {e}"))),
        None => return Err(Stop::Decided),
    };
    let hold = match d
        .drive(env.arm_hold(&instance, &spec(t)), |_| false)
        .await?
    {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(d.harness_error(format!("`{what}` not armed: {e}"))),
        None => return Err(Stop::Decided),
    };
    d.note(format!("trigger armed at {instance}: {what}"));
    Ok(Armed {
        instance,
        hold,
        what,
    })
}

/// Waits until the armed trigger fires, records its marker and the instant the mock saw the
/// message, then waits `after`. A trigger that never fires stops the scenario as inconclusive.
pub(super) async fn wait(
    d: &mut Driver<'_>,
    armed: Armed,
    t: &PlannedTrigger,
    marker: Option<&str>,
) -> Result<Fired, Stop> {
    let env = d.env;
    let Armed {
        instance,
        hold,
        what,
    } = armed;
    let fired = match d
        .drive(env.wait_hold(&instance, hold, t.timeout), |_| false)
        .await?
    {
        Some(Ok(Some(f))) => f,
        Some(Ok(None)) => {
            // Forget the hold so a late message is not held by a trigger nobody waits for.
            let _ = d
                .drive(env.release_hold(&instance, hold, false), |_| false)
                .await;
            let reason = format!("trigger `{what}` never fired within {:?}", t.timeout);
            d.note(reason.clone());
            d.inconclusive.push(reason);
            return Err(Stop::Inconclusive);
        }
        Some(Err(e)) => {
            let reason = format!("trigger `{what}`: its server stopped answering: {e}");
            d.note(reason.clone());
            d.inconclusive.push(reason);
            return Err(Stop::Inconclusive);
        }
        None => return Err(Stop::Decided),
    };
    let heard = now_us();
    // Stamped when heard: an entry stamped at the mock's earlier instant could reach the evaluator
    // after later ones it has already judged.
    d.record_marker(heard, marker);
    d.note(format!(
        "trigger fired: {what} at {instance} (conn {}); the harness heard {} later{}",
        fired.conn,
        ms(heard - fired.ts_us),
        if t.hold == HoldMode::None {
            ""
        } else {
            "; held"
        }
    ));
    if !t.after.is_zero() {
        d.wait(t.after).await?;
    }
    Ok(Fired {
        instance,
        hold,
        what,
        seen_us: fired.ts_us,
        held: t.hold != HoldMode::None,
        then: t.then,
        after_us: t.after.as_micros() as i64,
    })
}

/// After the next step applied its fault: records the trigger latency, releases (or drops) the
/// held message, and checks the fault landed while it was still held (else `inconclusive`).
pub(super) async fn release(d: &mut Driver<'_>, f: Fired) -> Result<(), Stop> {
    let applied = now_us();
    d.note(format!(
        "trigger latency: {} from the message seen at {} to the fault applied",
        ms(applied - f.seen_us),
        f.instance
    ));
    if f.held {
        late_for_the_desktop(d, &f, applied);
    }
    let env = d.env;
    let drop = f.then == ReleaseMode::Drop;
    let r = d
        .drive(env.release_hold(&f.instance, f.hold, drop), |_| false)
        .await?;
    if !f.held {
        return Ok(());
    }
    match r {
        Some(Ok(rel)) if rel.was_held => d.note(format!(
            "trigger {}: the held message went on only after the fault (inside its window)",
            if drop { "dropped" } else { "released" }
        )),
        Some(Ok(rel)) => {
            let late = rel
                .expired_us
                .map_or(String::new(), |e| format!(" +{}", ms(applied - e)));
            let reason = format!(
                "`{}`: the fault landed{late} after the held message went on (outside its window)",
                f.what
            );
            d.note(reason.clone());
            d.inconclusive.push(reason);
        }
        Some(Err(e)) => died_with_the_instance(d, &f, e),
        None => {}
    }
    Ok(())
}

/// A held message's race is the desktop's only while it still waits for the answer. A fault that
/// took effect more than the feed's bound (1 s by default, the reference's request timeout; twice
/// `--max-lateness`) after the mock saw the message, the step's own `after` aside, may land after
/// the desktop gave up on it: the scenario is the harness's error (`harness overloaded`), retried.
fn late_for_the_desktop(d: &mut Driver<'_>, f: &Fired, applied: i64) {
    let effect = d
        .last_fault_us
        .filter(|t| *t >= f.seen_us)
        .unwrap_or(applied);
    let bound = d.pace.timing.feed_bound_us();
    let late = effect - f.seen_us - f.after_us;
    if late > bound {
        let reason = format!(
            "{LATENESS} `{}`: the fault took effect {} after the mock saw the message{} (bound {}): the desktop may have stopped waiting for its answer first",
            f.what,
            ms(late),
            if f.after_us > 0 { " and the step's `after`" } else { "" },
            ms(bound)
        );
        d.note(reason.clone());
        d.errors.push(reason);
    }
}

/// A release that finds its instance gone: the fault killed or stopped it while it held the
/// message (inside the window); anything else is the harness's problem.
fn died_with_the_instance(d: &mut Driver<'_>, f: &Fired, e: EnvError) {
    let down = d
        .env
        .instance_status(&f.instance)
        .map(|s| s.state == InstanceState::Down)
        .unwrap_or(false);
    if down {
        d.note(format!(
            "trigger: {} went down holding the message (inside its window)",
            f.instance
        ));
    } else {
        d.errors.push(format!(
            "`{}`: the held message was not released: {e}",
            f.what
        ));
    }
}
