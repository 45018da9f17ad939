//! Login rejection: both instances of a pair answer login requests with EventError 403 while on
//! (`POST /reject-logins`), confirmed by the state each instance reports back.

use super::guard::{Applied, HealAction};
use super::select::resolve_servers;
use super::{Fault, FaultError, ServerSelector};
use crate::env::shared::Shared;
use crate::env::{now_us, InstanceId, InstanceState};
use bc_protocol::ServerKind;

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    server: ServerKind,
    on: bool,
) -> Result<Applied, FaultError> {
    let ids = resolve_servers(
        &shared.topology,
        &ServerSelector {
            site: site.to_string(),
            server,
            role: None,
            group: None,
        },
    )
    .map_err(|reason| FaultError::Invalid {
        fault: fault.to_string(),
        reason,
    })?;
    let actions = set(shared, &ids, on)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: fault.to_string(),
            reason,
        })?;
    let at = now_us();
    let heal = if on {
        vec![HealAction::RejectLogins {
            instances: ids,
            on: false,
        }]
    } else {
        Vec::new()
    };
    Ok(Applied::new(at, actions, heal))
}

/// Sets rejection on every running instance among `ids` (a down one starts with it off anyway).
pub(crate) async fn set(
    shared: &Shared,
    ids: &[InstanceId],
    on: bool,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for id in ids {
        if shared.runtime.status(id).map_err(|e| e.to_string())?.state != InstanceState::Running {
            out.push(format!("{id} not running: skipped"));
            continue;
        }
        let url = shared.control_url(id).map_err(|e| e.to_string())?;
        let got = shared
            .control
            .reject_logins(&id.to_string(), &url, on)
            .await
            .map_err(|e| e.to_string())?;
        if got != on {
            return Err(format!("{id} reports rejection {got}"));
        }
        out.push(format!(
            "{id}: login rejection {}",
            if on { "on" } else { "off" }
        ));
    }
    Ok(out)
}
