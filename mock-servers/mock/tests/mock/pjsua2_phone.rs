//! A real softphone stack (pjsua2, PyPI `pjsua2-python`) as the agent's phone: two accounts, one per
//! peer, registered through the fault proxy's udp proxies; after site A is lost (proxy refusing,
//! mock killed) a call delivered via B still rings and is answered. Skipped loudly without pjsua2.

use crate::sip::*;
use bc_protocol::Message;
use serde_json::json;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn pjsua2_missing() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import pjsua2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: pjsua2 is not installed (pip install pjsua2-python)");
    }
    !ok
}

/// Reads the phone's stdout until a line starting with `prefix` (panics after the timeout).
async fn expect_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
) -> String {
    let wait = async {
        while let Some(l) = lines.next_line().await.expect("phone stdout") {
            if l.starts_with(prefix) {
                return l;
            }
        }
        panic!("the phone ended before {prefix:?}");
    };
    tokio::time::timeout(std::time::Duration::from_secs(15), wait)
        .await
        .unwrap_or_else(|_| panic!("no {prefix:?} from the phone in time"))
}

#[tokio::test]
async fn a_pjsua2_phone_registers_at_both_peers_and_answers_via_the_survivor() {
    if pjsua2_missing() {
        return;
    }
    let (_fp, api) = fault_proxy().await;
    let (a, b, pa, pb) = two_sites_behind(&api).await;
    let mut desk = b.client().await;
    desk.sip_login_ready("7001", "1001").await;
    let mut b_ev = b.events(0).await;

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/phones/pjsua2_phone.py");
    let mut phone = Command::new("python3")
        .arg(script)
        .args([
            "--dn",
            "7001",
            "--peer-a",
            &pa.to_string(),
            "--peer-b",
            &pb.to_string(),
        ])
        .args(["--seconds", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the pjsua2 phone");
    let mut lines = BufReader::new(phone.stdout.take().expect("stdout")).lines();
    let mut registered = vec![
        expect_line(&mut lines, "registered").await,
        expect_line(&mut lines, "registered").await,
    ];
    registered.sort();
    assert_eq!(registered, ["registered A 200", "registered B 200"]);
    b_ev.wait("sip_registered", |v| v["aor"] == "7001").await;

    // kill_site A: its proxy refuses and its SIP Server is gone.
    let (s, _) =
        crate::common::http_post(&format!("{api}/proxies/sip_a"), json!({"enabled": false})).await;
    assert_eq!(s, 200);
    drop(a);

    // A gateway delivers the call via B, where the agent is logged in.
    let gw = Ua::new().await;
    gw.send(pb, &invite(pb, gw.local, "7001", "z9hG4bKpj1", "call-pj"))
        .await;
    let ok = gw.final_response().await;
    assert_eq!(status(&ok), Some(200), "{ok}");
    gw.send(pb, &ack_for(&ok, pb, gw.local, "7001", "z9hG4bKpjack"))
        .await;
    assert!(expect_line(&mut lines, "incoming")
        .await
        .starts_with("incoming"));
    expect_line(&mut lines, "answered").await;
    assert!(matches!(desk.next().await, Message::EventRinging { .. }));
    assert!(matches!(
        desk.next().await,
        Message::EventEstablished { .. }
    ));
    b_ev.wait("sip_answered", |v| v["call_id"] == "call-pj")
        .await;
    drop(phone.stdin.take());
}
