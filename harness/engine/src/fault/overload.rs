//! Overload: both instances of a pair turn every new client away with `EventError 429 overloaded,
//! retry after N ms`, or by closing it at once (`POST /capacity`, max_clients 0), confirmed by the
//! limits they report back.

use super::guard::{Applied, HealAction};
use super::select::resolve_servers;
use super::{Fault, FaultError, ServerSelector};
use crate::env::shared::Shared;
use crate::env::{now_us, InstanceId, InstanceState};
use bc_protocol::ServerKind;

/// The delay an overloaded server asks for (docs/suite-format.md, `overload`).
pub const OVERLOAD_RETRY_MS: u64 = 3000;

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    server: ServerKind,
    refuse: bool,
) -> Result<Applied, FaultError> {
    let selector = ServerSelector {
        site: site.to_string(),
        server,
        role: None,
        group: None,
    };
    let ids =
        resolve_servers(&shared.topology, &selector).map_err(|reason| FaultError::Invalid {
            fault: fault.to_string(),
            reason,
        })?;
    let answer = if refuse {
        Answer::Refuse
    } else {
        Answer::Error
    };
    let actions =
        set(shared, &ids, Some(answer))
            .await
            .map_err(|reason| FaultError::NotConfirmed {
                fault: fault.to_string(),
                reason,
            })?;
    Ok(Applied::new(
        now_us(),
        actions,
        vec![HealAction::Overload(ids)],
    ))
}

/// How the overloaded instances turn a new client away.
#[derive(Clone, Copy)]
pub(crate) enum Answer {
    /// `EventError 429`, retry after [`OVERLOAD_RETRY_MS`].
    Error,
    /// The connection closed at once, no answer.
    Refuse,
}

/// Sets the overload on (`Some`, answered that way) or back to the declared capacity (`None`:
/// the suite's `topology.capacity` for the instance's kind, else no limit) on each running
/// instance among `ids`.
pub(crate) async fn set(
    shared: &Shared,
    ids: &[InstanceId],
    answer: Option<Answer>,
) -> Result<Vec<String>, String> {
    let on = answer.is_some();
    let limits = match answer {
        Some(Answer::Error) => {
            serde_json::json!({"max_clients": 0, "answer": "error", "retry_after_ms": OVERLOAD_RETRY_MS})
        }
        Some(Answer::Refuse) => serde_json::json!({"max_clients": 0, "answer": "refuse"}),
        None => serde_json::json!({}),
    };
    let mut out = Vec::new();
    for id in ids {
        let declared = shared
            .topology
            .capacity()
            .iter()
            .find(|c| c.server == id.server);
        let limits = match (on, declared) {
            (false, Some(c)) => c.json(),
            _ => limits.clone(),
        };
        if shared.runtime.status(id).map_err(|e| e.to_string())?.state != InstanceState::Running {
            out.push(format!("{id} not running: skipped"));
            continue;
        }
        let url = shared.control_url(id).map_err(|e| e.to_string())?;
        let got = shared
            .control
            .set_capacity(&id.to_string(), &url, &limits)
            .await
            .map_err(|e| e.to_string())?;
        let max = got["limits"]["max_clients"].as_u64();
        if on != (max == Some(0)) {
            return Err(format!("{id} reports limits {}", got["limits"]));
        }
        out.push(format!("{id}: overload {}", if on { "on" } else { "off" }));
    }
    Ok(out)
}
