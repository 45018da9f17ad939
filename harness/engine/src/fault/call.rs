//! Call delivery: a call to a DN through the given site's active SIP Server (`POST /calls`);
//! the answer (delivered via which peer, redirected or not) is the guard's outcome.

use super::guard::{Applied, FaultOutcome};
use super::{Fault, FaultError, CALLER_DN};
use crate::env::now_us;
use crate::env::shared::Shared;
use bc_protocol::ServerKind;

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    site: &str,
    dn: &str,
) -> Result<Applied, FaultError> {
    let name = fault.to_string();
    if !shared.topology.has_site(site) {
        return Err(FaultError::Invalid {
            fault: name,
            reason: format!("unknown site `{site}`"),
        });
    }
    if dn.is_empty() {
        return Err(FaultError::Invalid {
            fault: name,
            reason: "the dn is empty".into(),
        });
    }
    let apply_err = |source| FaultError::Apply {
        fault: name.clone(),
        source,
    };
    let sip = shared
        .active_instance(site, ServerKind::SipServer)
        .await
        .map_err(apply_err)?;
    let url = shared.control_url(&sip).map_err(apply_err)?;
    let d = shared
        .control
        .deliver_call(&sip.to_string(), &url, dn, CALLER_DN)
        .await
        .map_err(apply_err)?;
    let at = now_us();
    let mut a = Applied::new(
        at,
        vec![format!(
            "call {CALLER_DN} -> {dn} through {sip}: delivered via {} (redirected: {}, conn {})",
            d.delivered_via, d.redirected, d.conn_id
        )],
        Vec::new(),
    );
    a.outcome = FaultOutcome::Call(d);
    Ok(a)
}
