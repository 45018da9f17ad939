//! How a SIP Server's agents end: logged out by the disconnect (default), or kept logged in past it
//! (`--keep-agents-on-disconnect`) until a logout or a new connection adopts the DN; and routed
//! calls offered only to a Ready agent.

use crate::common::*;
use bc_protocol::{EventKind, Message};
use serde_json::json;

#[tokio::test]
async fn a_kept_agent_outlives_its_connection_until_it_is_logged_out() {
    let m = Mock::spawn(
        "sip-server",
        "A",
        "primary",
        &["--keep-agents-on-disconnect"],
    )
    .await;
    let mut ev = m.events(0).await;
    let mut c = m.client().await;
    c.sip_login_ready("7001", "1001").await;
    drop(c);
    // Told before the disconnect, so an observer never sees the login lapse in between.
    let kept = ev.wait("agent_kept", |_| true).await;
    assert_eq!(
        kept.kind,
        EventKind::AgentKept {
            dn: "7001".into(),
            agent_id: "1001".into()
        }
    );
    let gone = ev.wait("client_disconnected", |_| true).await;
    assert!(gone.seq > kept.seq);
    // Still logged in and Ready: a routed call reaches the DN.
    let (s, _) = m.post("/calls", json!({"dn": "7001"})).await;
    assert_eq!(s, 200);
    // A new connection finds the agent on the DN and resumes; a second login is refused.
    let mut d = m.client().await;
    assert!(matches!(
        d.register(1, None).await,
        Message::EventClientRegistered { .. }
    ));
    d.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    match d.next().await {
        Message::EventRegistered { agent_id, .. } => assert_eq!(agent_id.as_deref(), Some("1001")),
        other => panic!("{other:?}"),
    }
    d.send(&Message::RequestAgentLogout {
        reference_id: 3,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert!(matches!(d.next().await, Message::EventAgentLogout { .. }));
    let out = ev.wait("agent_logout", |_| true).await;
    assert!(matches!(out.kind, EventKind::AgentLogout { ref reason, .. } if reason == "request"));
    let (s, _) = m.post("/calls", json!({"dn": "7001"})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn by_default_the_disconnect_logs_the_agent_out() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut ev = m.events(0).await;
    let mut c = m.client().await;
    c.sip_login_ready("7001", "1001").await;
    drop(c);
    let out = ev.wait("agent_logout", |_| true).await;
    assert!(
        matches!(out.kind, EventKind::AgentLogout { ref reason, .. } if reason == "disconnect")
    );
    assert!(!ev
        .seen
        .iter()
        .any(|e| matches!(e.kind, EventKind::AgentKept { .. })));
}

#[tokio::test]
async fn a_routed_call_reaches_only_a_ready_agent() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    assert!(matches!(
        c.sip_login("7001", "1001").await,
        Message::EventAgentLogin { .. }
    ));
    let (s, v) = m.post("/calls", json!({"dn": "7001"})).await;
    assert_eq!(s, 404, "{v}");
    c.send(&Message::RequestAgentReady {
        reference_id: 4,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert!(matches!(c.next().await, Message::EventAgentReady { .. }));
    let (s, v) = m.post("/calls", json!({"dn": "7001"})).await;
    assert_eq!(s, 200, "{v}");
}
