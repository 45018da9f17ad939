//! HA faults, the harness playing the Management Layer: failover (kill the active instance, promote
//! its partner) and graceful switchover (promote the standby, demote the active one).

use super::guard::{Applied, ApplyTiming, HealAction};
use super::select::resolve_servers;
use super::{Fault, FaultError, ServerSelector};
use crate::env::shared::Shared;
use crate::env::{now_us, InstanceId, InstanceState};
use bc_protocol::ServerKind;
use std::time::Duration;

/// The longest the harness may take from sending the active member SIGKILL to its partner's
/// promotion (confirmed): the desktop contract promises it, and a desktop that retries the pair
/// for 2 s (the reference's HA window, rounds of up to ~1.1 s) always tries the backup again after
/// it. A slower failover (a starved Docker engine) makes the scenario `error`, never a failure.
pub const PROMOTION_BOUND_MS: u64 = 1000;

/// Resolves once `id` stops answering for good (`ControlClient::is_gone`); never when its address
/// is unknown (the runtime's kill decides then).
async fn gone(shared: &Shared, id: &InstanceId) {
    let Ok(url) = shared.control_url(id) else {
        return std::future::pending().await;
    };
    while !shared.control.is_gone(&url).await {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Validates the pair and finds (active, standby); the standby must be running.
async fn pair(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    server: ServerKind,
    group: Option<u32>,
) -> Result<(InstanceId, InstanceId), FaultError> {
    let invalid = |reason: String| FaultError::Invalid {
        fault: fault.to_string(),
        reason,
    };
    resolve_servers(
        &shared.topology,
        &ServerSelector {
            site: site.to_string(),
            server,
            role: None,
            group,
        },
    )
    .map_err(invalid)?;
    let active = shared
        .active_instance_in(site, server, group.unwrap_or(1))
        .await
        .map_err(|source| FaultError::Apply {
            fault: fault.to_string(),
            source,
        })?;
    let standby = active.partner();
    let st = shared
        .runtime
        .status(&standby)
        .map_err(|source| FaultError::Apply {
            fault: fault.to_string(),
            source,
        })?;
    if st.state != InstanceState::Running {
        return Err(invalid(format!(
            "the standby {standby} is {:?}; there is nothing to fail over to",
            st.state
        )));
    }
    Ok((active, standby))
}

async fn set_active(shared: &Shared, id: &InstanceId, active: bool) -> Result<(), String> {
    let url = shared.control_url(id).map_err(|e| e.to_string())?;
    let h = if active {
        shared.control.promote(&id.to_string(), &url).await
    } else {
        shared.control.demote(&id.to_string(), &url).await
    }
    .map_err(|e| e.to_string())?;
    // Read it back rather than trusting the answer alone.
    let h2 = shared.health(id).await.map_err(|e| e.to_string())?;
    if h.active != active || h2.active != active {
        return Err(format!(
            "{id} reports active={} after the change",
            h2.active
        ));
    }
    Ok(())
}

pub(super) async fn failover(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    server: ServerKind,
    group: Option<u32>,
) -> Result<Applied, FaultError> {
    let (active, standby) = pair(shared, fault, site, server, group).await?;
    let name = fault.to_string();
    let sent = now_us();
    let kill = shared.runtime.kill(&active);
    tokio::pin!(kill);
    // A runtime's kill returns once the instance is down and cleaned up (a Docker engine takes
    // 0.2-0.9 s for that, more when starved); the process itself dies within tens of ms. The
    // promotion follows whichever is seen first, so the HA window a desktop sees is the one a
    // Management Layer would give it, not the engine's bookkeeping.
    let applying = |source| FaultError::Apply {
        fault: name.clone(),
        source,
    };
    let killed_first = tokio::select! {
        r = &mut kill => {
            r.map_err(applying)?;
            true
        }
        () = gone(shared, &active) => false,
    };
    let at = now_us();
    if killed_first {
        confirm_dead(shared, &active, &name).await?;
    }
    let down = now_us();
    set_active(shared, &standby, true)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: name.clone(),
            reason,
        })?;
    let promoted = now_us();
    if !killed_first {
        // Promoted on the instance's silence: the kill must still complete, and hold.
        kill.await.map_err(applying)?;
        confirm_dead(shared, &active, &name).await?;
    }
    let mut applied = Applied::new(
        at,
        vec![format!("SIGKILL {active}"), format!("promoted {standby}")],
        vec![HealAction::Revive(vec![active.clone()])],
    );
    applied.timing = Some(promotion_timing(
        &active,
        &standby,
        [at - sent, down - sent, promoted - sent],
    ));
    Ok(applied)
}

/// After SIGKILL: the instance must no longer answer its control API.
async fn confirm_dead(shared: &Shared, id: &InstanceId, fault: &str) -> Result<(), FaultError> {
    if shared.health(id).await.is_ok() {
        return Err(FaultError::NotConfirmed {
            fault: fault.to_string(),
            reason: format!("{id} still answers after SIGKILL"),
        });
    }
    Ok(())
}

/// The failover's own timing, µs after SIGKILL was sent: the member was seen dead (its kill
/// returned or its control port closed), its death confirmed, the partner promoted (confirmed).
fn promotion_timing(
    active: &InstanceId,
    standby: &InstanceId,
    [killed, down, promoted]: [i64; 3],
) -> ApplyTiming {
    let ms = |us: i64| us / 1000;
    let late = promoted > PROMOTION_BOUND_MS as i64 * 1000;
    let mut note = format!(
        "ha failover: {standby} promoted {} ms after SIGKILL was sent to {active} (seen dead +{} ms, down confirmed +{} ms; bound {PROMOTION_BOUND_MS} ms)",
        ms(promoted),
        ms(killed),
        ms(down)
    );
    if late {
        note.push_str(": the desktop's HA window may have closed before the backup could answer");
    }
    ApplyTiming { note, late }
}

pub(super) async fn switchover(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    server: ServerKind,
    group: Option<u32>,
) -> Result<Applied, FaultError> {
    let (active, standby) = pair(shared, fault, site, server, group).await?;
    let not_confirmed = |reason| FaultError::NotConfirmed {
        fault: fault.to_string(),
        reason,
    };
    set_active(shared, &standby, true)
        .await
        .map_err(not_confirmed)?;
    set_active(shared, &active, false)
        .await
        .map_err(not_confirmed)?;
    // The desktop notices when the old active one closes its connections (the demotion).
    let at = now_us();
    Ok(Applied::new(
        at,
        vec![format!("promoted {standby}"), format!("demoted {active}")],
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bc_protocol::Role;

    fn id(role: Role) -> InstanceId {
        InstanceId::new("A", ServerKind::SipServer, role)
    }

    #[test]
    fn a_promotion_past_the_bound_is_late_and_says_where_the_time_went() {
        let bound = PROMOTION_BOUND_MS as i64 * 1000;
        let on_time = promotion_timing(
            &id(Role::Primary),
            &id(Role::Backup),
            [200_000, 210_000, bound],
        );
        assert!(!on_time.late, "{}", on_time.note);
        let late = promotion_timing(
            &id(Role::Primary),
            &id(Role::Backup),
            [1_500_000, 1_600_000, bound + 1],
        );
        assert!(late.late);
        assert!(
            late.note.contains("promoted 1000 ms after SIGKILL")
                && late.note.contains("seen dead +1500 ms")
                && late.note.contains("HA window"),
            "{}",
            late.note
        );
    }
}
