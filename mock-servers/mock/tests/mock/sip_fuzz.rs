//! Hostile SIP: the parser never panics on random or mutated input (proptest), and a real mock
//! flooded with 10,000 seeded random datagrams keeps answering; malformed ones are counted.

use crate::sip::*;
use bc_mock::sipwire::msg;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const VALID: &str = "INVITE sip:7001@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfz;rport\r\n\
From: <sip:5000@127.0.0.1>;tag=1\r\nTo: <sip:7001@127.0.0.1>\r\nCall-ID: fz\r\n\
CSeq: 1 INVITE\r\nContact: <sip:5000@127.0.0.1:5070>\r\nExpires: 30\r\n\
Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";

/// Random bytes, or the valid message truncated, with bytes replaced, or with a line repeated.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1500),
        (0..VALID.len()).prop_map(|n| VALID.as_bytes()[..n].to_vec()),
        proptest::collection::vec((0..VALID.len(), any::<u8>()), 1..8).prop_map(|flips| {
            let mut v = VALID.as_bytes().to_vec();
            for (i, b) in flips {
                v[i] = b;
            }
            v
        }),
        (0..VALID.len(), 1..200usize).prop_map(|(i, k)| {
            let mut v = VALID.as_bytes()[..i].to_vec();
            for _ in 0..k {
                v.extend_from_slice(b"Via: SIP/2.0/UDP 1.1.1.1;branch=z9hG4bKx\r\n");
            }
            v.extend_from_slice(&VALID.as_bytes()[i..]);
            v
        }),
    ]
}

proptest! {
    #![proptest_config(Config { cases: 2_000, rng_algorithm: RngAlgorithm::ChaCha, failure_persistence: None, ..Config::default() })]
    #[test]
    fn the_parser_never_panics(d in datagram()) {
        if let Ok(m) = msg::parse(bytes::Bytes::from(d.clone())) {
            let _ = m.check_request();
            let _ = m.contacts();
            let _ = (m.branch(), m.call_id(), m.to_tag(), m.ruri_user());
        }
        let _ = msg::frame_len(&d);
    }
}

#[tokio::test]
async fn a_flood_of_random_datagrams_neither_crashes_nor_stalls_the_mock() {
    let (mut m, sip_addr) = sip_mock("A", "primary", &[]).await;
    let ua = Ua::new().await;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[18; 32]),
    );
    let strat = datagram();
    let mut sent = 0usize;
    let mut answers = 0usize;
    for batch in 0..200 {
        for _ in 0..50 {
            let d = strat.new_tree(&mut runner).expect("value").current();
            let _ = ua.sock.send_to(&d, sip_addr).await;
            sent += 1;
        }
        // A probe after each batch: datagrams on one socket are handled in order, so its answer
        // means the batch was handled (closed loop: the kernel's buffer drops none) and the mock
        // still serves.
        let probe = format!("alive-{batch}");
        let opts = format!(
            "OPTIONS sip:{sip_addr} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{probe}\r\n\
             From: <sip:t@x>;tag=1\r\nTo: <sip:t@x>\r\nCall-ID: {probe}\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            ua.local
        );
        // Like any UDP client, the probe is sent again when unanswered (a full socket buffer
        // drops datagrams); 20 tries at 500 ms without an answer mean the mock stalled.
        let mut answered = false;
        for _ in 0..20 {
            ua.send(sip_addr, &opts).await;
            while let Some(r) = ua.recv_within(std::time::Duration::from_millis(500)).await {
                if header(&r, "Call-ID") == Some(probe.as_str()) {
                    assert_eq!(status(&r), Some(200), "after batch {batch}: {r}");
                    answered = true;
                    break;
                }
                answers += 1;
            }
            if answered {
                break;
            }
        }
        assert!(answered, "the mock stopped answering after batch {batch}");
    }
    assert!(
        m.child.try_wait().expect("wait").is_none(),
        "the mock is alive"
    );
    let (_, h) = m.get("/health").await;
    assert_eq!(h["active"], true);
    // Count the malformed ones: the replay ends with the first heartbeat.
    let mut ev = m.events(0).await;
    let mut malformed = 0usize;
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    while let bc_protocol::StreamLine::Event(e) = ev.next_line().await {
        malformed += usize::from(matches!(
            e.kind,
            bc_protocol::EventKind::SipMalformed { .. }
        ));
        let v = serde_json::to_value(&e).unwrap_or_default();
        *kinds
            .entry(v["kind"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    eprintln!("{kinds:?}");
    eprintln!("flood: {sent} datagrams sent, {malformed} counted malformed, {answers} answers");
    assert!(
        malformed > sent / 2,
        "most random datagrams are malformed: {malformed}"
    );
}
