//! Call delivery: a call to a DN through the given site's active SIP Server: with SIP on the wire
//! a real INVITE from the harness's gateway to the site's SIP link, else `POST /calls`; the answer
//! (delivered via which peer, redirected or not) is the guard's outcome.

use super::guard::{Applied, FaultOutcome};
use super::{Fault, FaultError, CALLER_DN};
use crate::env::gateway::{self, GatewayOptions};
use crate::env::now_us;
use crate::env::shared::Shared;
use crate::env::{CallDelivery, SipLink};
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
    if let Some(link) = shared
        .runtime
        .sip_links()
        .into_iter()
        .find(|l| l.site == site)
    {
        return over_the_wire(shared, name, &link, dn).await;
    }
    let apply_err = |source| FaultError::Apply {
        fault: name.clone(),
        source,
    };
    // The call comes through the peer of the group whose switch holds the DN.
    let group = shared
        .topology
        .agents()
        .iter()
        .find(|a| a.dn == dn)
        .and_then(|a| shared.topology.group_of(a).ok())
        .unwrap_or(1);
    let sip = shared
        .active_instance_in(site, ServerKind::SipServer, group)
        .await
        .map_err(apply_err)?;
    let url = shared.control_url(&sip).map_err(apply_err)?;
    let d = shared
        .control
        .deliver_call(&sip.to_string(), &url, dn, CALLER_DN)
        .await
        .map_err(|e| match e {
            // 404: the servers answered, and had no Ready agent on the DN to offer the call to.
            crate::env::EnvError::Control {
                status: Some(404),
                reason,
                ..
            } => FaultError::CallRefused {
                fault: name.clone(),
                reason,
            },
            e => apply_err(e),
        })?;
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

/// How long the gateway waits for the final answer of its INVITE (the phone rings meanwhile).
const GATEWAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The gateway's INVITE to the site's SIP link, following one 302; a 2xx is the delivery (the
/// call stays up until the fault is healed), anything else is not confirmed, with what was heard.
async fn over_the_wire(
    shared: &Shared,
    name: String,
    link: &SipLink,
    dn: &str,
) -> Result<Applied, FaultError> {
    let opts = GatewayOptions {
        timeout: GATEWAY_TIMEOUT,
        follow_redirects: true,
    };
    let not_confirmed = |reason: String| FaultError::NotConfirmed {
        fault: name.clone(),
        reason,
    };
    let (call, gw) = gateway::deliver(link.listen, dn, CALLER_DN, &opts)
        .await
        .map_err(|e| not_confirmed(format!("the gateway's INVITE via {}: {e}", link.name)))?;
    let links = shared.runtime.sip_links();
    let answered_by = links
        .iter()
        .find(|l| l.listen == call.answered_by)
        .map(|l| l.site.clone())
        .unwrap_or_else(|| call.answered_by.to_string());
    let heard = format!(
        "INVITE {dn} via {}: {}{} {} from {answered_by} (provisional {:?})",
        link.name,
        if call.redirected {
            "302 followed, "
        } else {
            ""
        },
        call.code,
        call.reason,
        call.provisional
    );
    if !(200..300).contains(&call.code) {
        return Err(not_confirmed(heard));
    }
    let mut a = Applied::new(now_us(), vec![heard], Vec::new());
    a.outcome = FaultOutcome::Call(CallDelivery {
        conn_id: call.call_id.clone(),
        delivered_via: answered_by,
        redirected: call.redirected,
    });
    // The call stays established until the heal stops this task (which drops the gateway).
    a.task = Some(tokio::spawn(async move {
        let _call = gw;
        std::future::pending::<()>().await;
    }));
    Ok(a)
}
