//! Hot-standby mirror and promotion (agent stays logged in), demotion (agents of the closed
//! connections logged out, mirrored), graceful shutdown sequence via the
//! control API and via SIGTERM, and reset.

use crate::common::*;
use bc_protocol::{AgentState, EventKind, Message};
use serde_json::json;
use std::time::{Duration, Instant};

/// Starts a SIP HA pair with a sync link; returns (primary, backup).
async fn sip_pair() -> (Mock, Mock) {
    let backup = Mock::spawn(
        "sip-server",
        "A",
        "backup",
        &["--sync-listen", "127.0.0.1:0"],
    )
    .await;
    let sync = backup.sync.clone().expect("backup prints sync=");
    let primary = Mock::spawn("sip-server", "A", "primary", &["--sync-to", &sync]).await;
    (primary, backup)
}

#[tokio::test]
async fn ha_mirror_and_promotion_keep_the_agent_logged_in() {
    let (mut primary, backup) = sip_pair().await;
    let mut bev = backup.events(0).await;
    let mut c = primary.client().await;
    assert!(matches!(
        c.sip_login("7001", "1001").await,
        Message::EventAgentLogin { .. }
    ));
    c.send(&Message::RequestAgentReady {
        reference_id: 4,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    c.next().await;
    bev.wait("agent_mirrored", |v| v["state"] == "Ready").await;

    // The primary dies (SIGKILL); the harness promotes the backup.
    primary.child.start_kill().unwrap();
    primary.child.wait().await.unwrap();
    let (s, h) = backup.post("/promote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(true)));

    let mut c = backup.client().await;
    assert!(matches!(
        c.register(1, None).await,
        Message::EventClientRegistered { .. }
    ));
    c.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    assert_eq!(
        c.next().await,
        Message::EventRegistered {
            reference_id: 2,
            this_dn: "7001".into(),
            agent_id: Some("1001".into()),
            agent_state: Some(AgentState::Ready),
        }
    );
    let e = bev.wait("dn_registered", |_| true).await;
    assert!(matches!(
        e.kind,
        EventKind::DnRegistered {
            agent_state: Some(AgentState::Ready),
            ..
        }
    ));
    // A second login after the failover is refused: the agent is logged in already, and a
    // desktop resumes that login (EventRegistered told it) instead of logging in again.
    c.send(&Message::RequestAgentLogin {
        reference_id: 3,
        this_dn: "7001".into(),
        agent_id: "1001".into(),
    })
    .await;
    match c.next().await {
        Message::EventError {
            reference_id: 3,
            error_code,
            error_message,
        } => assert_eq!(
            (error_code, error_message.as_str()),
            (
                bc_protocol::error_code::CONFLICT,
                "agent 1001 is already logged in on dn 7001"
            )
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn mirror_follows_logout_and_survives_a_backup_restart() {
    let backup = Mock::spawn(
        "sip-server",
        "A",
        "backup",
        &["--sync-listen", "127.0.0.1:0"],
    )
    .await;
    let sync = backup.sync.clone().unwrap();
    let primary = Mock::spawn("sip-server", "A", "primary", &["--sync-to", &sync]).await;
    let mut c = primary.client().await;
    c.sip_login("7002", "1002").await;
    let mut bev = backup.events(0).await;
    bev.wait("agent_mirrored", |v| v["agent_id"] == "1002")
        .await;
    // The client disconnecting logs the agent out on the primary and on the mirror.
    drop(c);
    bev.wait("agent_mirrored", |v| {
        v["dn"] == "7002" && v.get("agent_id").is_none()
    })
    .await;
    // Restart the backup on the same sync port: the primary reconnects and sends a snapshot.
    let mut c = primary.client().await;
    c.sip_login("7003", "1003").await;
    drop(bev);
    drop(backup);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let backup2 = Mock::spawn("sip-server", "A", "backup", &["--sync-listen", &sync]).await;
    let mut bev = backup2.events(0).await;
    bev.wait("agent_mirrored", |v| v["agent_id"] == "1003")
        .await;
}

#[tokio::test]
async fn graceful_shutdown_logs_out_then_disconnects_then_exits_0() {
    let mut m = Mock::spawn("sip-server", "B", "primary", &[]).await;
    let mut ev = m.events(0).await;
    let mut c = m.client().await;
    c.sip_login("7004", "1004").await;
    let t0 = Instant::now();
    let (s, _) = m.post("/shutdown", json!({})).await;
    assert_eq!(s, 202);
    let got = c.until_eof().await;
    assert_eq!(
        got,
        vec![
            Message::EventAgentLogout {
                reference_id: None,
                this_dn: "7004".into(),
                agent_id: "1004".into()
            },
            Message::EventLinkDisconnected {
                reason: Some("server shutting down".into())
            }
        ]
    );
    assert_eq!(m.wait_exit(T).await, Some(0));
    // Generous bound only to catch a hang; the benchmark-free target is well under 1 s.
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    ev.wait("shutting_down", |_| true).await;
    let lo = ev.wait("agent_logout", |_| true).await;
    assert!(matches!(lo.kind, EventKind::AgentLogout { ref reason, .. } if reason == "shutdown"));
    ev.wait("client_disconnected", |v| v["how"] == "server_closed")
        .await;
}

#[tokio::test]
async fn sigterm_is_a_graceful_shutdown() {
    let mut m = Mock::spawn("stat-server", "A", "primary", &[]).await;
    let mut c = m.client().await;
    c.register(1, None).await;
    let pid = m.child.id().unwrap() as i32;
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(
        c.until_eof().await,
        vec![Message::EventLinkDisconnected {
            reason: Some("server shutting down".into())
        }]
    );
    assert_eq!(m.wait_exit(T).await, Some(0));
}

#[tokio::test]
async fn reset_returns_to_the_start_state() {
    let m = Mock::spawn("sip-server", "A", "backup", &[]).await;
    m.post("/promote", json!({})).await;
    m.post("/reject-logins", json!({"enabled": true})).await;
    let (s, h) = m.post("/reset", json!({})).await;
    assert_eq!(
        (s, h["active"].as_bool(), h["reject_logins"].as_bool()),
        (200, Some(false), Some(false))
    );
    m.post("/promote", json!({})).await;
    let mut c = m.client().await;
    c.sip_login("7001", "1001").await;
    m.post("/reset", json!({})).await;
    assert!(c.closed_within(T).await);
    m.post("/promote", json!({})).await;
    let mut c = m.client().await;
    c.register(1, None).await;
    c.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    // Agent state was cleared by the reset.
    assert!(matches!(
        c.next().await,
        Message::EventRegistered { agent_id: None, .. }
    ));
    let (_, s) = m.get("/sessions").await;
    assert_eq!(s.as_array().unwrap().len(), 1);
}

/// Asks for the agent on DN 7001 through a new connection; returns the connection (closing it would
/// log out an agent it adopted) and the AgentID in EventRegistered.
async fn registered_agent(m: &Mock) -> (Client, Option<String>) {
    let mut c = m.client().await;
    c.register(1, None).await;
    c.send(&Message::RequestRegisterAddress {
        reference_id: 2,
        this_dn: "7001".into(),
    })
    .await;
    match c.next().await {
        Message::EventRegistered { agent_id, .. } => (c, agent_id),
        other => panic!("expected EventRegistered, got {other:?}"),
    }
}

#[tokio::test]
async fn graceful_ha_switchover_promote_then_demote_keeps_the_agent() {
    // The harness's order: promote the standby first, then demote the active one.
    let (primary, backup) = sip_pair().await;
    let mut pev = primary.events(0).await;
    let mut bev = backup.events(0).await;
    let mut c = primary.client().await;
    c.sip_login("7001", "1001").await;
    bev.wait("agent_mirrored", |v| v["agent_id"] == "1001")
        .await;
    backup.post("/promote", json!({})).await;
    bev.wait("role_changed", |v| v["active"] == true).await;
    let (s, h) = primary.post("/demote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(false)));
    assert!(c.closed_within(T).await);
    // The closed connection logged its agent out at the demoted primary ...
    pev.wait("agent_logout", |v| {
        v["agent_id"] == "1001" && v["reason"] == "disconnect"
    })
    .await;
    pev.wait("client_disconnected", |v| v["how"] == "server_closed")
        .await;
    // ... but the already active backup owns the truth and keeps the mirrored login.
    let (_c, agent) = registered_agent(&backup).await;
    assert_eq!(agent.as_deref(), Some("1001"));
    assert!(!bev
        .seen
        .iter()
        .any(|e| matches!(e.kind, EventKind::AgentMirrored { agent_id: None, .. })));
    let (_, sessions) = backup.get("/sessions").await;
    assert_eq!(sessions[0]["agents"][0]["agent_id"], "1001");
}

#[tokio::test]
async fn demote_logs_out_agents_of_closed_connections_and_mirrors_it() {
    let (primary, backup) = sip_pair().await;
    let mut pev = primary.events(0).await;
    let mut bev = backup.events(0).await;
    let mut c = primary.client().await;
    c.sip_login("7001", "1001").await;
    bev.wait("agent_mirrored", |v| v["agent_id"] == "1001")
        .await;
    let (s, h) = primary.post("/demote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(false)));
    assert!(c.closed_within(T).await);
    let e = pev.wait("agent_logout", |v| v["agent_id"] == "1001").await;
    assert!(matches!(
        e.kind,
        EventKind::AgentLogout { ref dn, ref reason, .. } if dn == "7001" && reason == "disconnect"
    ));
    pev.wait("client_disconnected", |v| v["how"] == "server_closed")
        .await;
    // The standby partner mirrors the logout.
    bev.wait("agent_mirrored", |v| {
        v["dn"] == "7001" && v["agent_id"].is_null()
    })
    .await;
    // Re-promoted, the old primary no longer reports the agent logged in; nor does the backup.
    let (s, h) = primary.post("/promote", json!({})).await;
    assert_eq!((s, h["active"].as_bool()), (200, Some(true)));
    assert_eq!(registered_agent(&primary).await.1, None);
    backup.post("/promote", json!({})).await;
    assert_eq!(registered_agent(&backup).await.1, None);
}

#[tokio::test]
async fn start_errors_exit_1_with_a_message() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bc-mock"))
        .args(["config-proxy", "--site", "A"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_bc-mock"))
        .args([
            "config-proxy",
            "--site",
            "A",
            "--config",
            "/nonexistent.yaml",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.yaml"));
}
