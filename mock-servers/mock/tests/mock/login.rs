//! Login flows on each server kind against real bc-mock processes, plus the protocol gates
//! (wrong kind, unregistered, backup, rejection, bad credentials) and server keep-alive.

use crate::common::*;
use bc_protocol::{error_code, Message, Notification, NotificationMode, Role, StatObject};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn code(m: &Message) -> i64 {
    match m {
        Message::EventError { error_code, .. } => *error_code,
        other => panic!("expected EventError, got {other:?}"),
    }
}

#[tokio::test]
async fn sip_login_flow_and_gates() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    assert!(m
        .ready
        .starts_with("bc-mock ready server=sip_server site=A role=primary listen=127.0.0.1:"));
    let mut c = m.client().await;
    // Before registering, requests get 401; requests of another kind 404.
    c.send(&Message::RequestRegisterAddress {
        reference_id: 9,
        this_dn: "7001".into(),
    })
    .await;
    let e = c.next().await;
    assert_eq!(
        (code(&e), e.reference_id()),
        (error_code::UNAUTHORIZED, Some(9))
    );
    c.send(&Message::RequestReadObjects {
        reference_id: 10,
        object_type: bc_protocol::ObjectType::CfgPerson,
        filter: BTreeMap::new(),
    })
    .await;
    assert_eq!(code(&c.next().await), error_code::UNKNOWN_MESSAGE);
    match c.sip_login("7001", "1001").await {
        Message::EventAgentLogin {
            reference_id,
            agent_state,
            ..
        } => assert_eq!(
            (reference_id, agent_state),
            (3, bc_protocol::AgentState::NotReady)
        ),
        other => panic!("{other:?}"),
    }
    // A repeated login of an agent already logged in is refused, as a SIP Server refuses it.
    c.send(&Message::RequestAgentLogin {
        reference_id: 4,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert_eq!(code(&c.next().await), error_code::CONFLICT);
    c.send(&Message::RequestAgentReady {
        reference_id: 5,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert!(matches!(
        c.next().await,
        Message::EventAgentReady {
            reference_id: 5,
            ..
        }
    ));
    // Another agent on the same DN conflicts.
    let mut c2 = m.client().await;
    c2.register(1, None).await;
    c2.send(&Message::RequestAgentLogin {
        reference_id: 6,
        this_dn: "7001".into(),
        agent_id: "1002".into(),
    })
    .await;
    assert_eq!(code(&c2.next().await), error_code::CONFLICT);
    let (_, sessions) = m.get("/sessions").await;
    let s = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dns"] == json!(["7001"]))
        .expect("session with the dn");
    assert_eq!(s["agents"][0]["state"], "Ready");
    c.send(&Message::RequestAgentLogout {
        reference_id: 7,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert!(matches!(
        c.next().await,
        Message::EventAgentLogout {
            reference_id: Some(7),
            ..
        }
    ));
    // Client Ping answered with the same Seq.
    c.send(&Message::Ping { seq: 42 }).await;
    assert_eq!(c.next().await, Message::Pong { seq: 42 });
}

#[tokio::test]
async fn config_proxy_credentials_and_reads() {
    let m = Mock::spawn("config-proxy", "B", "primary", &[]).await;
    let mut c = m.client().await;
    assert_eq!(
        code(&c.register(1, None).await),
        error_code::INVALID_ATTRIBUTE
    );
    assert_eq!(
        code(&c.register(2, Some(("agent1001", "wrong"))).await),
        error_code::UNAUTHORIZED
    );
    match c.register(3, Some(("agent1001", "pass1001"))).await {
        Message::EventClientRegistered {
            reference_id,
            site,
            role,
            protocol_version,
            ..
        } => assert_eq!(
            (reference_id, site.as_str(), role, protocol_version),
            (3, "B", Role::Primary, 1)
        ),
        other => panic!("{other:?}"),
    }
    let mut filter = BTreeMap::new();
    filter.insert("UserName".to_string(), json!("agent1002"));
    c.send(&Message::RequestReadObjects {
        reference_id: 4,
        object_type: bc_protocol::ObjectType::CfgPerson,
        filter,
    })
    .await;
    match c.next().await {
        Message::EventObjectsRead {
            reference_id,
            objects,
            ..
        } => {
            assert_eq!(reference_id, 4);
            assert_eq!(objects.len(), 1);
            assert_eq!(objects[0].agent_group_dbids, Some(vec![102, 101]));
            assert_eq!(objects[0].dn.as_deref(), Some("7002"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.next().await,
        Message::EventObjectsSent { reference_id: 4 }
    );
    c.send(&Message::RequestReadObjects {
        reference_id: 5,
        object_type: bc_protocol::ObjectType::CfgAgentGroup,
        filter: BTreeMap::new(),
    })
    .await;
    match c.next().await {
        Message::EventObjectsRead { objects, .. } => assert_eq!(objects.len(), 4),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.next().await,
        Message::EventObjectsSent { reference_id: 5 }
    );
}

#[tokio::test]
async fn stat_server_open_periodical_and_close() {
    let m = Mock::spawn("stat-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    assert!(matches!(
        c.register(1, None).await,
        Message::EventClientRegistered { .. }
    ));
    let open = |rid, id, mode, frequency| Message::RequestOpenStatistic {
        reference_id: rid,
        statistic_id: id,
        object: StatObject {
            object_type: "Agent".into(),
            id: "1001".into(),
        },
        statistic_type: "CurrentAgentState".into(),
        notification: Notification { mode, frequency },
    };
    c.send(&open(2, 1, NotificationMode::Periodical, None))
        .await;
    assert_eq!(code(&c.next().await), error_code::INVALID_ATTRIBUTE);
    c.send(&open(3, 1, NotificationMode::Periodical, Some(1)))
        .await;
    assert_eq!(
        c.next().await,
        Message::EventStatisticOpened {
            reference_id: 3,
            statistic_id: 1
        }
    );
    assert!(matches!(
        c.next().await,
        Message::EventInfo {
            statistic_id: 1,
            ..
        }
    ));
    // The periodic report arrives about a second later.
    let t0 = std::time::Instant::now();
    assert!(matches!(
        c.next().await,
        Message::EventInfo {
            statistic_id: 1,
            ..
        }
    ));
    assert!(t0.elapsed() >= Duration::from_millis(500));
    c.send(&Message::RequestCloseStatistic {
        reference_id: 4,
        statistic_id: 1,
    })
    .await;
    assert_eq!(
        c.next().await,
        Message::EventStatisticClosed {
            reference_id: 4,
            statistic_id: 1
        }
    );
    c.send(&Message::RequestCloseStatistic {
        reference_id: 5,
        statistic_id: 1,
    })
    .await;
    assert_eq!(code(&c.next().await), error_code::PRECONDITION_FAILED);
    c.send(&open(6, 2, NotificationMode::Changes, None)).await;
    assert!(matches!(
        c.next().await,
        Message::EventStatisticOpened {
            reference_id: 6,
            ..
        }
    ));
}

#[tokio::test]
async fn backup_answers_503_until_promoted() {
    let m = Mock::spawn("stat-server", "A", "backup", &[]).await;
    let (_, h) = m.get("/health").await;
    assert_eq!(
        (h["role"].as_str(), h["active"].as_bool()),
        (Some("backup"), Some(false))
    );
    let mut c = m.client().await;
    let e = c.register(1, None).await;
    assert_eq!(code(&e), error_code::NOT_PRIMARY);
    let (s, h) = m.post("/promote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(true)));
    match c.register(2, None).await {
        Message::EventClientRegistered { role, .. } => assert_eq!(role, Role::Primary),
        other => panic!("{other:?}"),
    }
    // Demotion closes client connections.
    let (s, h) = m.post("/demote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(false)));
    assert!(c.closed_within(T).await);
}

#[tokio::test]
async fn login_rejection_mode() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.register(1, None).await;
    let (s, v) = m.post("/reject-logins", json!({"enabled": true})).await;
    assert_eq!((s, v), (200, json!({"enabled": true})));
    assert_eq!(code(&c.register(2, None).await), error_code::LOGIN_REJECTED);
    c.send(&Message::RequestAgentLogin {
        reference_id: 3,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    assert_eq!(code(&c.next().await), error_code::LOGIN_REJECTED);
    m.post("/reject-logins", json!({"enabled": false})).await;
    assert!(matches!(
        c.register(4, None).await,
        Message::EventClientRegistered { .. }
    ));
    let (s, v) = m.post("/reject-logins", json!({"enabled": "yes"})).await;
    assert_eq!(s, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("invalid request body"));
}

#[tokio::test]
async fn server_keepalive_pings_and_times_out_silent_clients() {
    let m = Mock::spawn(
        "config-proxy",
        "A",
        "primary",
        &["--ping-interval-ms", "100", "--client-timeout-ms", "400"],
    )
    .await;
    let mut ev = m.events(0).await;
    let mut c = m.client().await;
    let seq = match c.next().await {
        Message::Ping { seq } => seq,
        other => panic!("{other:?}"),
    };
    c.send(&Message::Pong { seq }).await;
    // Then stay silent: the server gives up.
    assert!(c.closed_within(T).await);
    let e = ev.wait("client_disconnected", |_| true).await;
    assert_eq!(serde_json::to_value(&e).unwrap()["how"], json!("timeout"));
    assert!(ev
        .seen
        .iter()
        .any(|e| matches!(e.kind, bc_protocol::EventKind::Pong { inbound: true, .. })));
}

#[tokio::test]
async fn unsupported_protocol_version_is_refused() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.send(&Message::RequestRegisterClient {
        reference_id: 1,
        client_name: "x".into(),
        protocol_version: 2,
        user_name: None,
        password: None,
    })
    .await;
    assert_eq!(code(&c.next().await), error_code::UNSUPPORTED_VERSION);
}

/// A SIP Server of group 2 serves only group 2's DNs: the default database puts 7001 on group
/// 1's switch (no `group` on the DN), so registering it is refused with an error answer and the
/// connection stays usable; a DN the database does not list is served by any group, and a
/// server of group 1 serves 7001. Every event names the instance's group.
#[tokio::test]
async fn a_sip_server_of_one_group_refuses_the_dn_of_another() {
    let g2 = Mock::spawn("sip-server", "A", "primary", &["--group", "2"]).await;
    let mut events = g2.events(0).await;
    let mut c = g2.client().await;
    assert!(matches!(
        c.register(1, None).await,
        Message::EventClientRegistered { .. }
    ));
    c.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    let e = c.next().await;
    assert_eq!(
        (code(&e), e.reference_id()),
        (error_code::CONFLICT, Some(2))
    );
    match &e {
        Message::EventError { error_message, .. } => {
            assert!(error_message.contains("group 1"), "{error_message}")
        }
        other => panic!("{other:?}"),
    }
    c.send(&Message::RequestRegisterAddress {
        reference_id: 3,
        this_dn: "9999".into(),
    })
    .await;
    assert!(matches!(c.next().await, Message::EventRegistered { .. }));
    let started = events.next().await;
    assert_eq!(started.group, Some(2), "{started:?}");

    let g1 = Mock::spawn("sip-server", "A", "primary", &["--group", "1"]).await;
    let mut c = g1.client().await;
    assert!(matches!(
        c.sip_login("7001", "1001").await,
        Message::EventAgentLogin { .. }
    ));
    // Without --group the mock knows no groups: events carry none.
    let plain = Mock::spawn("sip-server", "A", "primary", &[]).await;
    assert_eq!(plain.events(0).await.next().await.group, None);
}
