//! HA faults, the harness playing the Management Layer: failover (kill the active instance, promote
//! its partner) and graceful switchover (promote the standby, demote the active one).

use super::guard::{Applied, HealAction};
use super::select::resolve_servers;
use super::{Fault, FaultError, ServerSelector};
use crate::env::shared::Shared;
use crate::env::{now_us, InstanceId, InstanceState};
use bc_protocol::ServerKind;

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
    shared
        .runtime
        .kill(&active)
        .await
        .map_err(|source| FaultError::Apply {
            fault: name.clone(),
            source,
        })?;
    let at = now_us();
    if shared.health(&active).await.is_ok() {
        return Err(FaultError::NotConfirmed {
            fault: name,
            reason: format!("{active} still answers after SIGKILL"),
        });
    }
    set_active(shared, &standby, true)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: name.clone(),
            reason,
        })?;
    Ok(Applied::new(
        at,
        vec![format!("SIGKILL {active}"), format!("promoted {standby}")],
        vec![HealAction::Revive(vec![active])],
    ))
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
