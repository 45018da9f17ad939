//! The SIP listener on the wire: one 302 transaction per wrong-peer INVITE (retransmissions
//! absorbed), 480 when the agent is logged in nowhere, calls bridged to the registered phone's flow,
//! bindings mirrored to the HA standby, TCP framing, and bad input answered 400 or dropped.

use crate::common::*;
use crate::sip::*;
use bc_protocol::Message;
use serde_json::json;
use std::time::Duration;

fn kinds(evs: &[bc_protocol::ObservedEvent], kind: &str) -> Vec<serde_json::Value> {
    evs.iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|v| v["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn a_wrong_peer_invite_is_one_302_transaction_and_nowhere_is_480() {
    let ((a, a_sip), (b, b_sip)) = two_sites().await;
    let mut desk = b.client().await;
    desk.sip_login_ready("7001", "1001").await;
    let mut a_ev = a.events(0).await;

    let gw = Ua::new().await;
    let inv = invite(a_sip, gw.local, "7001", "z9hG4bKgw1", "call-302");
    gw.send(a_sip, &inv).await;
    let first = gw.final_response().await;
    assert_eq!(status(&first), Some(302), "{first}");
    let contact = header(&first, "Contact").unwrap();
    assert_eq!(contact, format!("<sip:7001@{b_sip}>"));
    // The INVITE sent again (same branch) is the same transaction: the same 302 comes back.
    gw.send(a_sip, &inv).await;
    let again = gw.final_response().await;
    assert_eq!(header(&again, "To"), header(&first, "To"));
    // Without an ACK the mock retransmits the 302 itself (T1 = 500 ms).
    let re = gw.final_response().await;
    assert_eq!(status(&re), Some(302));
    gw.send(
        a_sip,
        &ack_for(&first, a_sip, gw.local, "7001", "z9hG4bKgw1"),
    )
    .await;
    a_ev.wait("sip_retransmitted", |v| v["call_id"] == "call-302")
        .await;

    // Logged in nowhere: 480 at either peer, never a redirect.
    for (site, to) in [("A", a_sip), ("B", b_sip)] {
        let cid = format!("call-480-{site}");
        let br = format!("z9hG4bK480{site}");
        gw.send(to, &invite(to, gw.local, "7999", &br, &cid)).await;
        let r = gw.final_response().await;
        assert_eq!(status(&r), Some(480), "at {site}: {r}");
        gw.send(to, &ack_for(&r, to, gw.local, "7999", &br)).await;
    }
    a_ev.wait("sip_rejected", |v| {
        v["call_id"] == "call-480-A" && v["code"] == 480
    })
    .await;
    let redirected = kinds(&a_ev.seen, "sip_redirected");
    assert_eq!(redirected.len(), 1, "one 302 transaction: {redirected:?}");
    assert_eq!(redirected[0]["call_id"], "call-302");
}

#[tokio::test]
async fn an_invite_where_the_agent_is_logged_in_rings_the_phone_over_its_registration_flow() {
    let ((_a, a_sip), (b, b_sip)) = two_sites().await;
    let phone = Ua::new().await;
    for (i, to) in [a_sip, b_sip].into_iter().enumerate() {
        let r = phone.register(to, "7001", &format!("reg{i}"), 1).await;
        assert_eq!(status(&r), Some(200), "{r}");
        assert!(header(&r, "Contact").unwrap().contains("expires="), "{r}");
    }
    let mut desk = b.client().await;
    desk.sip_login_ready("7001", "1001").await;

    let gw = Ua::new().await;
    gw.send(
        b_sip,
        &invite(b_sip, gw.local, "7001", "z9hG4bKgw2", "call-ring"),
    )
    .await;
    // The INVITE reaches the phone from the SIP listener's own address (the registration's flow).
    let (inv, from) = phone.recv().await;
    assert!(inv.starts_with("INVITE sip:7001@"), "{inv}");
    assert_eq!(from, b_sip);
    assert!(
        matches!(desk.next().await, Message::EventRinging { this_dn, .. } if this_dn == "7001")
    );
    phone.send(from, &answer(&inv, 180, "Ringing", "")).await;
    phone.send(from, &answer(&inv, 200, "OK", "v=0\n")).await;
    let ok = gw.final_response().await;
    assert_eq!(status(&ok), Some(200), "{ok}");
    assert!(ok.ends_with("v=0\n"), "the phone's SDP is relayed: {ok}");
    let (ack, _) = phone.recv().await;
    assert!(ack.starts_with("ACK "), "{ack}");
    assert!(matches!(
        desk.next().await,
        Message::EventEstablished { .. }
    ));
}

#[tokio::test]
async fn the_standby_mirrors_bindings_and_rings_the_phone_after_a_failover() {
    let (backup, backup_sip) = sip_mock("B", "backup", &["--sync-listen", "127.0.0.1:0"]).await;
    let sync = backup.sync.clone().expect("sync address");
    let (primary, primary_sip) = sip_mock("B", "primary", &["--sync-to", &sync]).await;
    let mut bev = backup.events(0).await;
    let phone = Ua::new().await;
    assert_eq!(
        status(&phone.register(primary_sip, "7001", "regha", 1).await),
        Some(200)
    );
    bev.wait("sip_binding_mirrored", |v| {
        v["aor"] == "7001" && v["present"] == true
    })
    .await;
    let (_, bl) = backup.get("/sip/bindings").await;
    assert_eq!(bl["bindings"][0]["aor"], "7001");
    // A standby takes no SIP requests.
    let gw = Ua::new().await;
    gw.send(
        backup_sip,
        &invite(backup_sip, gw.local, "7001", "z9hG4bKsb", "call-sb"),
    )
    .await;
    assert_eq!(status(&gw.final_response().await), Some(503));

    drop(primary);
    let (s, _) = backup.post("/promote", json!({})).await;
    assert_eq!(s, 200);
    let mut desk = backup.client().await;
    desk.sip_login_ready("7001", "1001").await;
    gw.send(
        backup_sip,
        &invite(backup_sip, gw.local, "7001", "z9hG4bKfo", "call-fo"),
    )
    .await;
    let (inv, from) = phone.recv().await;
    assert!(inv.starts_with("INVITE "), "{inv}");
    assert_eq!(from, backup_sip);
    phone.send(from, &answer(&inv, 486, "Busy Here", "")).await;
    let r = gw.final_response().await;
    assert_eq!(status(&r), Some(486), "the phone's refusal is relayed: {r}");
}

#[tokio::test]
async fn tcp_messages_are_framed_by_content_length() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_m, sip_addr) = sip_mock("A", "primary", &[]).await;
    let mut s = tokio::net::TcpStream::connect(sip_addr).await.unwrap();
    let l = s.local_addr().unwrap();
    let reg = format!(
        "REGISTER sip:{sip_addr} SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKt1\r\n\
         From: <sip:7001@x>;tag=1\r\nTo: <sip:7001@x>\r\nCall-ID: tcp1\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:7001@{l};transport=tcp>\r\nContent-Length: 0\r\n\r\n"
    );
    let opt = format!(
        "OPTIONS sip:{sip_addr} SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKt2\r\n\
         From: <sip:t@x>;tag=1\r\nTo: <sip:t@x>\r\nCall-ID: tcp2\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    // Both requests in one write, the second split across writes: framing, not reads, counts.
    let both = format!("{reg}{opt}");
    let (x, y) = both.split_at(reg.len() + 20);
    s.write_all(x.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.write_all(y.as_bytes()).await.unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while got.matches("SIP/2.0 200 OK").count() < 2 {
        let n = tokio::time::timeout(T, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        got.contains("CSeq: 1 REGISTER") && got.contains("CSeq: 1 OPTIONS"),
        "{got}"
    );
}

#[tokio::test]
async fn bad_requests_get_400_or_are_dropped() {
    let (m, sip_addr) = sip_mock("A", "primary", &[]).await;
    let ua = Ua::new().await;
    let l = ua.local;
    let base = |extra: &str, cl: &str| {
        format!(
            "OPTIONS sip:{sip_addr} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKb{}\r\n\
             From: <sip:t@x>;tag=1\r\nTo: <sip:t@x>\r\n{extra}CSeq: 1 OPTIONS\r\n\
             Content-Length: {cl}\r\n\r\n",
            extra.len() + cl.len()
        )
    };
    // Missing Call-ID, then a Content-Length larger than the body: 400.
    ua.send(sip_addr, &base("", "0")).await;
    assert_eq!(status(&ua.final_response().await), Some(400));
    ua.send(sip_addr, &base("Call-ID: x1\r\n", "10")).await;
    assert_eq!(status(&ua.final_response().await), Some(400));
    // No start line, or a truncated head: nothing to answer, dropped.
    ua.send(sip_addr, "\u{1}\u{2}garbage").await;
    ua.send(
        sip_addr,
        "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4",
    )
    .await;
    assert_eq!(ua.recv_within(Duration::from_millis(300)).await, None);
    // Still serving.
    ua.send(sip_addr, &base("Call-ID: x2\r\n", "0")).await;
    assert_eq!(status(&ua.final_response().await), Some(200));
    let mut ev = m.events(0).await;
    ev.wait("sip_malformed", |_| true).await;
}

#[tokio::test]
async fn an_ha_failover_behind_the_udp_proxy_is_invisible_to_the_phone() {
    let (_fp, api) = fault_proxy().await;
    let (backup, backup_sip) = sip_mock("B", "backup", &["--sync-listen", "127.0.0.1:0"]).await;
    let sync = backup.sync.clone().expect("sync address");
    let (primary, primary_sip) = sip_mock("B", "primary", &["--sync-to", &sync]).await;
    // The phone knows one address for site B: the proxy (a virtual IP in front of the pair).
    let pb = udp_proxy(&api, "sip_b", primary_sip).await;
    let mut bev = backup.events(0).await;
    let phone = Ua::new().await;
    assert_eq!(
        status(&phone.register(pb, "7001", "regvip", 1).await),
        Some(200)
    );
    bev.wait("sip_binding_mirrored", |v| v["aor"] == "7001")
        .await;

    // Failover: the primary dies, the backup is promoted, the site address moves to it.
    drop(primary);
    assert_eq!(backup.post("/promote", json!({})).await.0, 200);
    let moved = json!({"upstream": backup_sip.to_string()});
    let (s, v) = crate::common::http_post(&format!("{api}/proxies/sip_b"), moved).await;
    assert_eq!(s, 200, "{v}");
    let mut desk = backup.client().await;
    desk.sip_login_ready("7001", "1001").await;

    // The next call via B rings the phone over its mirrored binding, without a new REGISTER.
    let gw = Ua::new().await;
    gw.send(pb, &invite(pb, gw.local, "7001", "z9hG4bKvip", "call-vip"))
        .await;
    let (inv, from) = phone.recv().await;
    assert!(inv.starts_with("INVITE "), "{inv}");
    assert_eq!(
        from, pb,
        "the INVITE comes from the site address the phone registered at"
    );
    phone.send(from, &answer(&inv, 200, "OK", "v=0\n")).await;
    assert_eq!(status(&gw.final_response().await), Some(200));
    assert!(matches!(desk.next().await, Message::EventRinging { .. }));
}

#[tokio::test]
async fn bindings_are_granted_the_short_expires_and_lapse_or_are_removed() {
    let (m, sip_addr) = sip_mock("A", "primary", &["--sip-expires-secs", "1"]).await;
    let mut ev = m.events(0).await;
    let phone = Ua::new().await;
    let r = phone.register(sip_addr, "7001", "regexp", 1).await;
    // Asked 300 s, granted the registrar's 1 s.
    assert!(header(&r, "Contact").unwrap().ends_with("expires=1"), "{r}");
    ev.wait("sip_registered", |v| {
        v["aor"] == "7001" && v["expires"] == 1
    })
    .await;
    ev.wait("sip_expired", |v| {
        v["aor"] == "7001" && v["reason"] == "expired"
    })
    .await;
    let (_, b) = m.get("/sip/bindings").await;
    assert_eq!(b["bindings"].as_array().map(Vec::len), Some(0));

    // Contact: * with Expires: 0 removes every binding of the AOR at once.
    phone.register(sip_addr, "7002", "regstar", 1).await;
    let l = phone.local;
    phone
        .send(
            sip_addr,
            &format!(
                "REGISTER sip:{sip_addr} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKstar;rport\r\n\
                 From: <sip:7002@x>;tag=s\r\nTo: <sip:7002@x>\r\nCall-ID: regstar\r\nCSeq: 2 REGISTER\r\n\
                 Contact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n"
            ),
        )
        .await;
    assert_eq!(status(&phone.final_response().await), Some(200));
    ev.wait("sip_expired", |v| {
        v["aor"] == "7002" && v["reason"] == "unregistered"
    })
    .await;
}

/// An in-process SIP Server in the state a graceful shutdown holds until it has finished.
async fn stopping(reject: u16) -> (bc_mock::Running, std::net::SocketAddr) {
    let mut opts = bc_mock::Options::new(
        bc_protocol::ServerKind::SipServer,
        "A",
        bc_protocol::Role::Primary,
    );
    opts.sip = Some(bc_mock::sipwire::SipOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        expires_secs: 30,
        peer_contact: Some("127.0.0.1:45999".into()),
        shutdown_reject: reject,
    });
    let running = bc_mock::start(opts).await.expect("starts");
    let sip = running.sip.expect("sip listener");
    running.instance.lock().shutting_down = true;
    (running, sip)
}

#[tokio::test]
async fn a_stopping_sip_server_answers_new_invites_with_its_configured_reject() {
    let gw = Ua::new().await;
    let (_r302, sip302) = stopping(302).await;
    gw.send(
        sip302,
        &invite(sip302, gw.local, "7001", "z9hG4bKsd1", "call-sd1"),
    )
    .await;
    let r = gw.final_response().await;
    assert_eq!(status(&r), Some(302), "{r}");
    assert_eq!(header(&r, "Contact"), Some("<sip:7001@127.0.0.1:45999>"));
    let (_r503, sip503) = stopping(503).await;
    gw.send(
        sip503,
        &invite(sip503, gw.local, "7001", "z9hG4bKsd2", "call-sd2"),
    )
    .await;
    assert_eq!(status(&gw.final_response().await), Some(503));
}
