//! Call delivery (local, through the peer site with call_redirected, none), answering, releasing,
//! making calls; CS Proxy configuration updates pushed to clients; event stream replay from seq N.

use crate::common::*;
use bc_protocol::{EventKind, Message, ObjectType, StreamLine};
use serde_json::json;

#[tokio::test]
async fn calls_are_delivered_locally_or_redirected_through_the_peer() {
    let a = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let b = Mock::spawn("sip-server", "B", "primary", &["--peer", &a.control]).await;
    // A learns its peers at run time; a dead peer (B's backup, down) does not get in the way.
    let (s, _) = a
        .post(
            "/peers",
            json!({"peers": ["http://127.0.0.1:1", b.control]}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, p) = a.get("/peers").await;
    assert_eq!(p["peers"][1].as_str(), Some(b.control.as_str()));
    let mut agent = b.client().await;
    agent.sip_login_ready("7001", "1001").await;

    // Local delivery at B.
    let (s, v) = b
        .post(
            "/calls",
            json!({"dn": "7001", "other_dn": "5001", "call_type": "Inbound"}),
        )
        .await;
    assert_eq!(
        (s, v["delivered_via"].as_str(), v["redirected"].as_bool()),
        (200, Some("B"), Some(false))
    );
    let conn_id = v["conn_id"].as_str().unwrap().to_string();
    assert_eq!(
        agent.next().await,
        Message::EventRinging {
            this_dn: "7001".into(),
            conn_id: conn_id.clone(),
            other_dn: "5001".into(),
            call_type: "Inbound".into()
        }
    );
    agent
        .send(&Message::RequestAnswerCall {
            reference_id: 10,
            this_dn: "7001".into(),
            conn_id: conn_id.clone(),
        })
        .await;
    assert!(matches!(
        agent.next().await,
        Message::EventEstablished {
            reference_id: Some(10),
            ..
        }
    ));
    agent
        .send(&Message::RequestReleaseCall {
            reference_id: 11,
            this_dn: "7001".into(),
            conn_id: conn_id.clone(),
        })
        .await;
    assert!(matches!(
        agent.next().await,
        Message::EventReleased {
            reference_id: Some(11),
            ..
        }
    ));

    // Injected at A, where the agent is not logged in: redirected to B.
    let mut aev = a.events(0).await;
    let (s, v) = a
        .post("/calls", json!({"dn": "7001", "other_dn": "5002"}))
        .await;
    assert_eq!(
        (s, v["delivered_via"].as_str(), v["redirected"].as_bool()),
        (200, Some("B"), Some(true))
    );
    assert!(
        matches!(agent.next().await, Message::EventRinging { ref other_dn, .. } if other_dn == "5002")
    );
    let e = aev.wait("call_redirected", |_| true).await;
    assert!(matches!(e.kind, EventKind::CallRedirected { ref to_site, .. } if to_site == "B"));

    // Nobody logged in on 7002 anywhere.
    let (s, v) = a.post("/calls", json!({"dn": "7002"})).await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().is_some());

    // 1PCC outbound call.
    agent
        .send(&Message::RequestMakeCall {
            reference_id: 12,
            this_dn: "7001".into(),
            other_dn: "5555".into(),
        })
        .await;
    assert!(matches!(
        agent.next().await,
        Message::EventDialing {
            reference_id: 12,
            ..
        }
    ));
    assert!(matches!(
        agent.next().await,
        Message::EventEstablished {
            reference_id: None,
            ..
        }
    ));

    // Calls are SIP only.
    let cs = Mock::spawn("config-proxy", "A", "primary", &[]).await;
    assert_eq!(cs.post("/calls", json!({"dn": "7001"})).await.0, 404);
}

#[tokio::test]
async fn config_updates_are_pushed_to_registered_clients() {
    let m = Mock::spawn("config-proxy", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.register(1, Some(("agent1001", "pass1001"))).await;
    let mut unregistered = m.client().await;
    let (s, obj) = m
        .post(
            "/objects/update",
            json!({"object_type": "CfgPerson", "dbid": 1001,
                   "annex": {"business-continuity": {"preferred-site": "A"}}}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(obj["Annex"]["business-continuity"]["preferred-site"], "A");
    match c.next().await {
        Message::EventObjectUpdated {
            object_type,
            object,
        } => {
            assert_eq!(object_type, ObjectType::CfgPerson);
            assert_eq!(object.dbid, 1001);
            assert_eq!(object.annex["business-continuity"]["preferred-site"], "A");
        }
        other => panic!("{other:?}"),
    }
    // A later read sees the change; removal with null.
    let (_, obj) = m
        .post(
            "/objects/update",
            json!({"object_type": "CfgPerson", "dbid": 1001,
                   "annex": {"business-continuity": {"preferred-site": null}}}),
        )
        .await;
    assert!(obj["Annex"].get("business-continuity").is_none());
    assert!(matches!(c.next().await, Message::EventObjectUpdated { .. }));
    // The unregistered connection got nothing: its first message is the answer to its ping.
    unregistered.send(&Message::Ping { seq: 1 }).await;
    assert_eq!(unregistered.next().await, Message::Pong { seq: 1 });
    let (s, v) = m
        .post(
            "/objects/update",
            json!({"object_type": "CfgPerson", "dbid": 99, "annex": {}}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("99"));
    // Reset reloads the file.
    m.post(
        "/objects/update",
        json!({"object_type": "CfgTenant", "dbid": 1, "annex": {"business-continuity": {"preferred-site": "B"}}}),
    )
    .await;
    m.post("/reset", json!({})).await;
    let mut c = m.client().await;
    c.register(1, Some(("agent1001", "pass1001"))).await;
    c.send(&Message::RequestReadObjects {
        reference_id: 2,
        object_type: ObjectType::CfgTenant,
        filter: [("DBID".to_string(), json!(1))].into_iter().collect(),
    })
    .await;
    match c.next().await {
        Message::EventObjectsRead { objects, .. } => {
            assert_eq!(
                objects[0].annex["business-continuity"]["preferred-site"],
                "A"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn event_stream_replays_from_seq_and_follows_live() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.sip_login_ready("7001", "1001").await;
    let mut ev = m.events(0).await;
    let first = ev.next().await;
    assert_eq!(first.seq, 0);
    assert!(matches!(
        first.kind,
        EventKind::Started { active: true, .. }
    ));
    let login = ev.wait("agent_login", |_| true).await;
    // Seq without gaps, timestamps monotonic, everything stamped with server/site/role.
    for w in ev.seen.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1);
        assert!(w[1].ts_us >= w[0].ts_us);
    }
    let names: Vec<String> = ev
        .seen
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "started",
            "client_connected",
            "request",
            "client_registered",
            "request",
            "dn_registered",
            "request",
            "agent_login"
        ]
    );
    // Replay from the login's seq, then a live event arrives on the same stream.
    let mut ev2 = m.events(login.seq).await;
    assert_eq!(ev2.next().await.seq, login.seq);
    c.send(&Message::Ping { seq: 7 }).await;
    let p = ev2
        .wait("ping", |v| v["ping_seq"] == 7 && v["inbound"] == true)
        .await;
    assert!(p.conn.is_some());
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64;
    assert!((now_us - p.ts_us).abs() < 5_000_000);
}

#[tokio::test]
async fn idle_event_stream_heartbeats_after_every_earlier_event() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.sip_login_ready("7001", "1001").await;
    let mut ev = m.events(0).await;
    // The history comes first; the first heartbeat follows it and covers every event so far.
    let mut events = Vec::new();
    let hb = loop {
        match ev.next_line().await {
            StreamLine::Event(e) => events.push(e),
            StreamLine::Heartbeat(hb) => break hb,
        }
    };
    let last = events.last().expect("history before the heartbeat");
    assert_eq!(hb.next_seq, last.seq + 1);
    assert!(hb.heartbeat >= last.ts_us);
    // A live event comes after an earlier heartbeat and is not stamped before it.
    c.send(&Message::Ping { seq: 9 }).await;
    let p = ev.wait("ping", |v| v["ping_seq"] == 9).await;
    let before = ev.heartbeats.last().copied().unwrap_or(hb);
    assert!(p.ts_us >= before.heartbeat);
    assert!(p.seq >= before.next_seq);
    // Heartbeats go on while idle and follow every event before them (the ping's answer too).
    let next = loop {
        if let StreamLine::Heartbeat(h) = ev.next_line().await {
            break h;
        }
    };
    let last = ev.seen.last().expect("events seen");
    assert_eq!(next.next_seq, last.seq + 1);
    assert!(next.heartbeat >= last.ts_us);
    let (s, v) = m.get("/events?heartbeat_ms=x").await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("heartbeat_ms"));
}

#[tokio::test]
async fn an_asked_for_mark_is_a_heartbeat_after_every_earlier_event() {
    let m = Mock::spawn("sip-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.sip_login_ready("7001", "1001").await;
    // Heartbeats off: the only heartbeat on this stream is the one asked for.
    let mut ev = m.events_with("from=0&heartbeat_ms=0").await;
    ev.wait("agent_login", |_| true).await;
    let (s, _) = m.post("/events/mark", serde_json::json!({})).await;
    assert_eq!(s, 204);
    let hb = loop {
        if let StreamLine::Heartbeat(h) = ev.next_line().await {
            break h;
        }
    };
    let last = ev.seen.last().expect("events before the mark");
    assert_eq!(
        hb.next_seq,
        last.seq + 1,
        "the mark follows every earlier event"
    );
    assert!(hb.heartbeat >= last.ts_us);
    // A second ask gives a second mark, not stamped before the first.
    m.post("/events/mark", serde_json::json!({})).await;
    let again = loop {
        if let StreamLine::Heartbeat(h) = ev.next_line().await {
            break h;
        }
    };
    assert!(again.heartbeat >= hb.heartbeat);
}

#[tokio::test]
async fn control_api_errors_are_json() {
    let m = Mock::spawn("stat-server", "A", "primary", &[]).await;
    let (s, v) = m.get("/events?from=abc").await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("abc"));
    let (s, v) = m.get("/promote").await;
    assert_eq!(s, 405);
    assert!(v["error"].is_string());
    let (s, v) = m.get("/nope").await;
    assert_eq!(s, 404);
    assert!(v["error"].is_string());
    let (s, v) = m
        .post(
            "/objects/update",
            json!({"object_type": "CfgPerson", "dbid": 1001}),
        )
        .await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("config_server"));
    let (s, h) = m.get("/health").await;
    assert_eq!(s, 200);
    for k in ["server", "site", "role", "active", "listen"] {
        assert!(h.get(k).is_some(), "{k} missing in {h}");
    }
    assert_eq!(h["server"], "stat_server");
    assert_eq!(h["listen"].as_str(), Some(m.listen.as_str()));
}
