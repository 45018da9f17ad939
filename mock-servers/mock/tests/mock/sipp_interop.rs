//! Interop with sipp (Debian `sip-tester`): a phone dual-registering at both peers and answering,
//! a gateway that follows the 302 to the peer where the agent is logged in, and a 480 gateway.
//! Each run is asserted on sipp's exit code and on the mocks' timelines, directly and through the
//! fault proxy's udp proxies (one per site). Skipped loudly without sipp.

use crate::sip::*;
use bc_protocol::{EventKind, Message};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

fn sipp_missing() -> bool {
    let found = std::process::Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIPPED: sipp is not installed (Debian package sip-tester)");
    }
    !found
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/sipp/{name}"))
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// `sipp <to> -sf <scenario> -m 1 ...` in a scratch directory (its logs go there).
fn sipp(dir: &std::path::Path, to: std::net::SocketAddr, sf: &str, args: &[&str]) -> Command {
    let mut c = Command::new("sipp");
    c.arg(to.to_string())
        .arg("-sf")
        .arg(scenario(sf))
        .args(["-m", "1", "-i", "127.0.0.1", "-nostdin", "-trace_err"])
        .args(["-timeout", "20s", "-timeout_error"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    c
}

async fn exit_code(c: &mut tokio::process::Child, dir: &std::path::Path) -> i32 {
    let st = tokio::time::timeout(Duration::from_secs(25), c.wait())
        .await
        .expect("sipp ends in time")
        .expect("wait sipp");
    let code = st.code().unwrap_or(-1);
    if code != 0 {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(t) = std::fs::read_to_string(e.path()) {
                eprintln!("--- {}\n{t}", e.path().display());
            }
        }
    }
    code
}

/// Reads a timeline up to a heartbeat stamped after now: every event so far is then in `seen`.
async fn idle(ev: &mut crate::common::Events) {
    let now = bc_mock::observer::now_us();
    loop {
        if let bc_protocol::StreamLine::Heartbeat(h) = ev.next_line().await {
            if h.heartbeat >= now {
                return;
            }
        }
    }
}

fn of_kind(evs: &[bc_protocol::ObservedEvent], kind: &str, dn: &str) -> Vec<Value> {
    evs.iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|v| v["kind"] == kind && (v["dn"] == dn || v["aor"] == dn))
        .collect()
}

#[tokio::test]
async fn sipp_phone_and_gateway_follow_the_302_to_the_logged_in_peer() {
    if sipp_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ((a, a_sip), (b, b_sip)) = two_sites().await;
    let mut desk = b.client().await;
    desk.sip_login_ready("7001", "1001").await;
    let (mut a_ev, mut b_ev) = (a.events(0).await, b.events(0).await);

    let phone_port = free_udp_port().to_string();
    let b_port = b_sip.port().to_string();
    let mut phone = sipp(dir.path(), a_sip, "dual_register.xml", &[])
        .args(["-oocsf"])
        .arg(scenario("phone_answer.xml"))
        .args(["-key", "dn", "7001", "-key", "peer_b_host", "127.0.0.1"])
        .args([
            "-key",
            "peer_b_port",
            &b_port,
            "-d",
            "4000",
            "-p",
            &phone_port,
        ])
        .spawn()
        .expect("spawn sipp phone");
    a_ev.wait("sip_registered", |v| v["aor"] == "7001").await;
    b_ev.wait("sip_registered", |v| v["aor"] == "7001").await;

    let gw_port = free_udp_port().to_string();
    let mut gw = sipp(dir.path(), a_sip, "gateway_follow_302.xml", &["-s", "7001"])
        .args(["-p", &gw_port])
        .spawn()
        .expect("spawn sipp gateway");
    assert_eq!(exit_code(&mut gw, dir.path()).await, 0, "the gateway call");
    b_ev.wait("sip_bye", |v| v["dn"] == "7001").await;
    assert_eq!(exit_code(&mut phone, dir.path()).await, 0, "the phone");

    // Exactly one 302 transaction at A; the re-INVITE landed at B, which rang the phone.
    idle(&mut a_ev).await;
    idle(&mut b_ev).await;
    let redirected = of_kind(&a_ev.seen, "sip_redirected", "7001");
    assert_eq!(redirected.len(), 1, "{redirected:?}");
    assert_eq!(redirected[0]["contact"], format!("<sip:7001@{b_sip}>"));
    assert!(of_kind(&a_ev.seen, "sip_invite_sent", "7001").is_empty());
    assert_eq!(of_kind(&b_ev.seen, "sip_invite_sent", "7001").len(), 1);
    assert_eq!(of_kind(&b_ev.seen, "sip_answered", "7001").len(), 1);
    assert!(of_kind(&b_ev.seen, "sip_redirected", "7001").is_empty());
    // The desktop saw the call that rang the phone.
    assert!(matches!(desk.next().await, Message::EventRinging { .. }));
    assert!(matches!(
        desk.next().await,
        Message::EventEstablished { .. }
    ));
    assert!(matches!(desk.next().await, Message::EventReleased { .. }));
}

#[tokio::test]
async fn sipp_gateway_gets_480_for_an_agent_logged_in_nowhere() {
    if sipp_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, a_sip) = sip_mock("A", "primary", &[]).await;
    let (b, b_sip) = sip_mock("B", "primary", &["--peer", &a.control]).await;
    assert_eq!(a.post("/peers", json!({"peers": [b.control]})).await.0, 200);
    let body = json!({"contact": b_sip.to_string()});
    assert_eq!(a.post("/sip/peer", body).await.0, 200);
    let mut a_ev = a.events(0).await;
    let port = free_udp_port().to_string();
    let mut gw = sipp(dir.path(), a_sip, "gateway_480.xml", &["-s", "7999"])
        .args(["-p", &port])
        .spawn()
        .expect("spawn sipp");
    assert_eq!(exit_code(&mut gw, dir.path()).await, 0, "480 expected");
    a_ev.wait("sip_rejected", |v| v["dn"] == "7999" && v["code"] == 480)
        .await;
    idle(&mut a_ev).await;
    assert!(of_kind(&a_ev.seen, "sip_redirected", "7999").is_empty());
}

#[tokio::test]
async fn sipp_through_the_udp_fault_proxy_survives_the_loss_of_site_a() {
    if sipp_missing() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_fp, api) = fault_proxy().await;
    // Each peer names the other as clients reach it: through the proxy.
    let (a, b, pa, pb) = two_sites_behind(&api).await;
    let mut desk = b.client().await;
    desk.sip_login_ready("7001", "1001").await;
    let (mut a_ev, mut b_ev) = (a.events(0).await, b.events(0).await);

    let phone_port = free_udp_port();
    let (pp, pbp) = (phone_port.to_string(), pb.port().to_string());
    let mut phone = sipp(dir.path(), pa, "dual_register.xml", &[])
        .args(["-oocsf"])
        .arg(scenario("phone_answer.xml"))
        .args(["-key", "dn", "7001", "-key", "peer_b_host", "127.0.0.1"])
        .args(["-key", "peer_b_port", &pbp, "-d", "6000", "-p", &pp])
        .spawn()
        .expect("spawn sipp phone");
    let reg_a = a_ev.wait("sip_registered", |v| v["aor"] == "7001").await;
    b_ev.wait("sip_registered", |v| v["aor"] == "7001").await;
    // The registrar sees the proxy's flow, not the phone: everything crosses the proxy.
    let EventKind::SipRegistered { source, .. } = reg_a.kind else {
        unreachable!()
    };
    assert_ne!(source, format!("127.0.0.1:{phone_port}"));

    let port = free_udp_port().to_string();
    let mut gw = sipp(dir.path(), pa, "gateway_follow_302.xml", &["-s", "7001"])
        .args(["-p", &port])
        .spawn()
        .expect("spawn gateway");
    assert_eq!(
        exit_code(&mut gw, dir.path()).await,
        0,
        "call via A, 302 to B"
    );
    b_ev.wait("sip_bye", |v| v["dn"] == "7001").await;

    // Site A lost (its proxy refuses); the binding at B stays and a call via B rings the phone.
    let (s, _) =
        crate::common::http_post(&format!("{api}/proxies/sip_a"), json!({"enabled": false})).await;
    assert_eq!(s, 200);
    let port = free_udp_port().to_string();
    let mut gw = sipp(dir.path(), pb, "gateway_direct.xml", &["-s", "7001"])
        .args(["-p", &port])
        .spawn()
        .expect("spawn gateway");
    assert_eq!(
        exit_code(&mut gw, dir.path()).await,
        0,
        "call via B after A is gone"
    );
    assert_eq!(exit_code(&mut phone, dir.path()).await, 0, "the phone");

    idle(&mut a_ev).await;
    idle(&mut b_ev).await;
    let redirected = of_kind(&a_ev.seen, "sip_redirected", "7001");
    assert_eq!(redirected.len(), 1, "{redirected:?}");
    assert_eq!(redirected[0]["contact"], format!("<sip:7001@{pb}>"));
    assert_eq!(of_kind(&b_ev.seen, "sip_answered", "7001").len(), 2);
    assert!(of_kind(&b_ev.seen, "sip_expired", "7001").is_empty());
}
