//! Holds against a real bc-mock process: a message from the client or to it, a reply, a new or
//! ended connection; released, dropped, or let go by the safety limit; bad specs refused.

use crate::common::*;
use bc_protocol::Message;
use serde_json::{json, Value};

/// Registers the client and its DN (the steps before `RequestAgentLogin`).
async fn register_dn(c: &mut Client) {
    assert!(matches!(
        c.register(1, None).await,
        Message::EventClientRegistered { .. }
    ));
    c.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    assert!(matches!(c.next().await, Message::EventRegistered { .. }));
}

fn login(rid: i64) -> Message {
    Message::RequestAgentLogin {
        reference_id: rid,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    }
}

async fn arm(m: &Mock, spec: Value) -> u64 {
    let (s, v) = m.post("/holds", spec).await;
    assert_eq!(s, 200, "{v}");
    v["id"].as_u64().expect("id")
}

/// Waits until the hold fires; returns what the mock says it saw.
async fn fired(m: &Mock, id: u64) -> Value {
    let (s, v) = m.get(&format!("/holds/{id}?wait_ms=5000")).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["fired"].is_object(), "hold {id} did not fire: {v}");
    v["fired"].clone()
}

async fn logged_in_agents(m: &Mock) -> usize {
    let (_, v) = m.get("/sessions").await;
    v.as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["agents"].as_array().map_or(0, Vec::len))
        .sum()
}

#[tokio::test]
async fn a_held_reply_waits_while_the_request_is_handled() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let id = arm(
        &m,
        json!({"point": "from_client", "message": "RequestAgentLogin", "keep": "reply"}),
    )
    .await;
    let mut c = m.client().await;
    register_dn(&mut c).await;
    c.send(&login(3)).await;
    let f = fired(&m, id).await;
    assert_eq!(f["message"], "RequestAgentLogin");
    assert!(f["ts_us"].as_i64().unwrap() > 0);
    // Handled (the agent is logged in at the server), its answer not yet written.
    assert_eq!(logged_in_agents(&m).await, 1);
    let (s, r) = m.post(&format!("/holds/{id}/release"), json!({})).await;
    assert_eq!(
        (s, &r["was_held"], &r["fired"]),
        (200, &json!(true), &json!(true))
    );
    match c.next().await {
        Message::EventAgentLogin { reference_id, .. } => assert_eq!(reference_id, 3),
        other => panic!("{other:?}"),
    }
    // Released holds are forgotten.
    assert_eq!(m.get(&format!("/holds/{id}")).await.0, 404);
}

#[tokio::test]
async fn a_held_request_is_not_handled_and_can_be_dropped() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let id = arm(
        &m,
        json!({"point": "from_client", "message": "RequestAgentLogin"}),
    )
    .await;
    let mut c = m.client().await;
    register_dn(&mut c).await;
    c.send(&login(3)).await;
    fired(&m, id).await;
    assert_eq!(logged_in_agents(&m).await, 0);
    let (_, r) = m
        .post(&format!("/holds/{id}/release"), json!({"drop": true}))
        .await;
    assert_eq!(r["was_held"], true);
    // The dropped request never gets an answer: the next one is answered first.
    c.send(&login(4)).await;
    match c.next().await {
        Message::EventAgentLogin { reference_id, .. } => assert_eq!(reference_id, 4),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_event_to_the_client_is_held_on_its_nth_occurrence() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let id = arm(
        &m,
        json!({"point": "to_client", "message": "EventAgentLogin", "nth": 2}),
    )
    .await;
    let mut c = m.client().await;
    register_dn(&mut c).await;
    c.send(&login(3)).await;
    assert!(matches!(c.next().await, Message::EventAgentLogin { .. }));
    // Logged out in between: a second login of an agent already logged in is refused.
    c.send(&Message::RequestAgentLogout {
        reference_id: 9,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert!(matches!(c.next().await, Message::EventAgentLogout { .. }));
    c.send(&login(4)).await;
    let f = fired(&m, id).await;
    assert_eq!(f["message"], "EventAgentLogin");
    let (_, r) = m.post(&format!("/holds/{id}/release"), json!({})).await;
    assert_eq!(r["was_held"], true);
    match c.next().await {
        Message::EventAgentLogin { reference_id, .. } => assert_eq!(reference_id, 4),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn connections_opened_and_ended_fire_holds() {
    let m = Mock::spawn("config-proxy", "A", "primary", &[]).await;
    let open = arm(&m, json!({"point": "connect", "keep": "none"})).await;
    let end = arm(&m, json!({"point": "disconnect", "keep": "none"})).await;
    let c = m.client().await;
    let f = fired(&m, open).await;
    assert!(f["conn"].as_u64().unwrap() >= 1);
    drop(c);
    assert_eq!(fired(&m, end).await["conn"], f["conn"]);
    // Held connections are served once released.
    let held = arm(&m, json!({"point": "connect"})).await;
    let mut c = m.client().await;
    fired(&m, held).await;
    let (_, r) = m.post(&format!("/holds/{held}/release"), json!({})).await;
    assert_eq!(r["was_held"], true);
    assert!(matches!(
        c.register(1, Some(("agent1001", "pass1001"))).await,
        Message::EventClientRegistered { .. }
    ));
}

#[tokio::test]
async fn the_safety_limit_lets_a_held_message_go_and_release_says_so() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let id = arm(
        &m,
        json!({"point": "from_client", "message": "RequestAgentLogin", "limit_ms": 50}),
    )
    .await;
    let mut c = m.client().await;
    register_dn(&mut c).await;
    c.send(&login(3)).await;
    let seen_us = fired(&m, id).await["ts_us"].as_i64().unwrap();
    // Nobody releases it: it is handled after the limit.
    assert!(matches!(c.next().await, Message::EventAgentLogin { .. }));
    let (_, r) = m.post(&format!("/holds/{id}/release"), json!({})).await;
    assert_eq!(r["was_held"], false);
    assert!(r["expired_us"].as_i64().unwrap() > seen_us, "{r}");
}

#[tokio::test]
async fn bad_hold_specs_are_refused() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    for bad in [
        json!({"point": "from_client"}),
        json!({"point": "connect", "message": "Ping"}),
        json!({"point": "to_client", "message": "EventAgentLogin", "keep": "reply"}),
        json!({"point": "disconnect"}),
        json!({"point": "from_client", "message": "Ping", "nth": 0}),
        json!({"point": "sideways"}),
    ] {
        let (s, v) = m.post("/holds", bad.clone()).await;
        assert_eq!(s, 400, "{bad} accepted: {v}");
        assert!(v["error"].is_string());
    }
    assert_eq!(m.get("/holds/99?wait_ms=0").await.0, 404);
}
