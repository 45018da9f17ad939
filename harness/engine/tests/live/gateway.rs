//! env/gateway on the wire against real SIP Servers: two `bc-mock sip-server` sites, an agent logged
//! in at one of them and a hand-written UDP phone registered there. The gateway's INVITE is
//! redirected once (302) and answered, answered directly, refused (480), or finds nobody listening;
//! two fake peers redirecting to each other show a second 302 is never followed.

use bc_engine::env::gateway::{deliver, GatewayError, GatewayOptions};
use bc_protocol::{decode_line, encode_line, Message, PROTOCOL_VERSION};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Longest wait for anything expected.
const T: Duration = Duration::from_secs(5);
const DN: &str = "7001";
const AGENT: &str = "1001";
const CALLER: &str = "5000";
/// The phone's answer: null audio.
const SDP: &str = "v=0\r\no=ph 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";

fn opts() -> GatewayOptions {
    GatewayOptions {
        timeout: T,
        follow_redirects: true,
    }
}

/// A `bc-mock sip-server` process (killed on drop).
struct Mock {
    _child: Child,
    listen: String,
    control: String,
    sip: SocketAddr,
}

async fn mock(site: &str, extra: &[&str]) -> Mock {
    let bin = bc_test_support::ensure_built(&["bc-mock"], &["bc-mock"]).join("bc-mock");
    let config = bc_test_support::workspace_root().join("fixtures/config/default.yaml");
    let mut child = Command::new(bin)
        .args([
            "sip-server",
            "--site",
            site,
            "--role",
            "primary",
            "--config",
        ])
        .arg(config)
        .args(["--sip-listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bc-mock");
    let out = child.stdout.take().expect("stdout");
    let ready = tokio::time::timeout(T, BufReader::new(out).lines().next_line())
        .await
        .expect("ready line in time")
        .expect("read stdout")
        .expect("a ready line");
    let field = |k: &str| {
        let f = ready.split(' ').find_map(|kv| kv.strip_prefix(k));
        f.unwrap_or_else(|| panic!("{k} in {ready:?}")).to_string()
    };
    Mock {
        listen: field("listen="),
        control: format!("http://{}", field("control=")),
        sip: field("sip=").parse().expect("sip address"),
        _child: child,
    }
}

impl Mock {
    async fn post(&self, path: &str, body: serde_json::Value) {
        let http = reqwest::Client::builder().timeout(T).no_proxy().build();
        let r = http
            .expect("client")
            .post(format!("{}{path}", self.control));
        let r = r.json(&body).send().await.expect("post");
        assert_eq!(r.status().as_u16(), 200, "POST {path}");
    }

    /// A desktop: registers the client and the DN, logs the agent in and makes it Ready; keep it
    /// to stay logged in.
    async fn login(&self, dn: &str, agent: &str) -> BufReader<TcpStream> {
        let mut s = BufReader::new(TcpStream::connect(&self.listen).await.expect("connect"));
        let requests = [
            Message::RequestRegisterClient {
                reference_id: 1,
                client_name: "gateway-test".into(),
                protocol_version: PROTOCOL_VERSION,
                user_name: None,
                password: None,
            },
            Message::RequestRegisterAddress {
                reference_id: 2,
                this_dn: dn.into(),
            },
            Message::RequestAgentLogin {
                reference_id: 3,
                this_dn: dn.into(),
                agent_id: agent.into(),
            },
            // Routed calls reach only a Ready agent.
            Message::RequestAgentReady {
                reference_id: 4,
                this_dn: dn.into(),
                agent_id: agent.into(),
            },
        ];
        let mut last = None;
        for m in &requests {
            let line = encode_line(m);
            s.get_mut().write_all(line.as_bytes()).await.expect("write");
            let mut answer = String::new();
            tokio::time::timeout(T, s.read_line(&mut answer))
                .await
                .expect("an answer in time")
                .expect("read");
            last = Some(decode_line(&answer).expect("a protocol line"));
        }
        assert!(
            matches!(last, Some(Message::EventAgentReady { .. })),
            "{last:?}"
        );
        s
    }
}

/// Sites A and B, each knowing the other's control URL and SIP address.
async fn two_sites() -> (Mock, Mock) {
    let a = mock("A", &[]).await;
    let b = mock("B", &["--peer", &a.control]).await;
    a.post("/peers", json!({"peers": [b.control]})).await;
    for (m, other) in [(&a, b.sip), (&b, a.sip)] {
        m.post("/sip/peer", json!({"contact": other.to_string()}))
            .await;
    }
    (a, b)
}

fn header<'a>(m: &'a str, name: &str) -> &'a str {
    let v = m.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    });
    v.unwrap_or_default()
}

/// An answer to `req` echoing its Via, From, To (tagged), Call-ID and CSeq.
fn answer(req: &str, code: u16, reason: &str, extra: &str, body: &str) -> String {
    let vias: String = req
        .lines()
        .filter(|l| l.starts_with("Via:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let to = header(req, "To");
    let tag = if to.contains("tag=") { "" } else { ";tag=ph1" };
    format!(
        "SIP/2.0 {code} {reason}\r\n{vias}From: {}\r\nTo: {to}{tag}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        header(req, "From"),
        header(req, "Call-ID"),
        header(req, "CSeq"),
        body.len()
    )
}

/// A phone registered for a DN: answers INVITE 180 then 200, BYE 200; reports every request.
struct Phone {
    requests: mpsc::UnboundedReceiver<String>,
}

impl Phone {
    async fn register(at: SocketAddr, dn: &str) -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let l = sock.local_addr().expect("local");
        let reg = format!(
            "REGISTER sip:{at} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKreg1;rport\r\n\
             From: <sip:{dn}@{at}>;tag=reg\r\nTo: <sip:{dn}@{at}>\r\nCall-ID: reg-{dn}\r\n\
             CSeq: 1 REGISTER\r\nContact: <sip:{dn}@{l}>\r\nExpires: 300\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        sock.send_to(reg.as_bytes(), at).await.expect("send");
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, _) = tokio::time::timeout(T, sock.recv_from(&mut buf))
                .await
                .expect("the REGISTER answered in time")
                .expect("recv");
            let r = String::from_utf8_lossy(&buf[..n]).into_owned();
            if r.starts_with("SIP/2.0 200 ") {
                break;
            }
            assert!(r.starts_with("SIP/2.0 1"), "REGISTER refused: {r}");
        }
        let (tx, requests) = mpsc::unbounded_channel();
        let contact = format!("Contact: <sip:{dn}@{l}>\r\nContent-Type: application/sdp\r\n");
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let ok = if req.starts_with("INVITE ") {
                    let ring = answer(&req, 180, "Ringing", "", "");
                    let _ = sock.send_to(ring.as_bytes(), from).await;
                    Some(answer(&req, 200, "OK", &contact, SDP))
                } else if req.starts_with("BYE ") {
                    Some(answer(&req, 200, "OK", "", ""))
                } else {
                    None
                };
                if let Some(ok) = ok {
                    let _ = sock.send_to(ok.as_bytes(), from).await;
                }
                if !req.starts_with("SIP/2.0") && tx.send(req).is_err() {
                    return;
                }
            }
        });
        Phone { requests }
    }

    /// The next request of `method` the phone got (earlier other ones are skipped).
    async fn next(&mut self, method: &str) -> String {
        loop {
            let r = tokio::time::timeout(T, self.requests.recv())
                .await
                .unwrap_or_else(|_| panic!("a {method} at the phone in time"))
                .expect("phone running");
            if r.starts_with(&format!("{method} ")) {
                return r;
            }
        }
    }
}

#[tokio::test]
async fn at_the_wrong_peer_one_302_is_followed_to_the_answer() {
    let (a, b) = two_sites().await;
    let mut phone = Phone::register(b.sip, DN).await;
    let _desk = b.login(DN, AGENT).await;

    // Not following: the 302 itself is the outcome.
    let stay = GatewayOptions {
        follow_redirects: false,
        ..opts()
    };
    let (c, _) = deliver(a.sip, DN, CALLER, &stay).await.expect("an answer");
    assert_eq!((c.code, c.redirected, c.answered_by), (302, false, a.sip));

    let (call, gw) = deliver(a.sip, DN, CALLER, &opts())
        .await
        .expect("an answer");
    assert_eq!(call.code, 200, "{call:?}");
    assert!(call.redirected, "{call:?}");
    assert_eq!((call.first_target, call.answered_by), (a.sip, b.sip));
    assert!(call.provisional.contains(&180), "{call:?}");
    assert!(call.body.starts_with("v=0"), "the phone's SDP: {call:?}");
    let inv = phone.next("INVITE").await;
    assert!(inv.starts_with(&format!("INVITE sip:{DN}@")), "{inv}");
    phone.next("ACK").await;
    assert!(gw.in_dialog());
    assert_eq!(gw.hangup().await.expect("BYE answered"), Some(200));
    phone.next("BYE").await;
}

#[tokio::test]
async fn at_the_peer_where_the_agent_is_logged_in_the_call_is_answered_directly() {
    let (_a, b) = two_sites().await;
    let mut phone = Phone::register(b.sip, DN).await;
    let _desk = b.login(DN, AGENT).await;
    let (call, gw) = deliver(b.sip, DN, CALLER, &opts())
        .await
        .expect("an answer");
    assert_eq!((call.code, call.redirected), (200, false), "{call:?}");
    assert_eq!((call.first_target, call.answered_by), (b.sip, b.sip));
    let inv = phone.next("INVITE").await;
    assert!(header(&inv, "From").contains(CALLER), "{inv}");
    assert_eq!(gw.hangup().await.expect("BYE answered"), Some(200));
}

#[tokio::test]
async fn an_agent_logged_in_nowhere_gets_480_and_no_redirect() {
    let (a, b) = two_sites().await;
    for at in [a.sip, b.sip] {
        let (call, gw) = deliver(at, DN, CALLER, &opts()).await.expect("an answer");
        assert_eq!((call.code, call.redirected), (480, false), "{call:?}");
        assert_eq!(call.answered_by, at);
        assert!(!gw.in_dialog());
        assert_eq!(gw.hangup().await.expect("nothing to end"), None);
    }
}

#[tokio::test]
async fn nobody_listening_is_an_error_within_the_timeout() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port");
    let short = GatewayOptions {
        timeout: Duration::from_secs(2),
        ..opts()
    };
    let t0 = Instant::now();
    let r = deliver(port, DN, CALLER, &short).await;
    assert!(
        matches!(
            r,
            Err(GatewayError::Refused { .. } | GatewayError::Timeout { .. })
        ),
        "{:?}",
        r.map(|(c, _)| c)
    );
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// A fake peer answering every INVITE with `code`, its Contact `contact`; counts INVITEs.
async fn fake_peer(
    code: u16,
    contact: Option<SocketAddr>,
) -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("local");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !req.starts_with("INVITE ") {
                continue;
            }
            let _ = tx.send(());
            let extra = contact.map(|c| format!("Contact: <sip:{DN}@{c}>\r\n"));
            let mut r = answer(
                &req,
                code,
                "Moved Temporarily",
                &extra.unwrap_or_default(),
                "",
            );
            if contact.is_none() {
                r = r.replace(&format!("CSeq: {}\r\n", header(&req, "CSeq")), "");
            }
            let _ = sock.send_to(r.as_bytes(), from).await;
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_second_302_is_not_followed_and_a_broken_answer_is_malformed() {
    let (second, mut second_invites) = fake_peer(302, Some("127.0.0.1:9".parse().unwrap())).await;
    let (first, mut first_invites) = fake_peer(302, Some(second)).await;
    let (call, _gw) = deliver(first, DN, CALLER, &opts())
        .await
        .expect("an answer");
    assert_eq!((call.code, call.redirected), (302, true), "{call:?}");
    assert_eq!((call.first_target, call.answered_by), (first, second));
    assert!(first_invites.try_recv().is_ok() && first_invites.try_recv().is_err());
    assert!(second_invites.try_recv().is_ok() && second_invites.try_recv().is_err());

    // An answer without a CSeq.
    let (broken, _) = fake_peer(200, None).await;
    let r = deliver(broken, DN, CALLER, &opts()).await;
    assert!(
        matches!(&r, Err(GatewayError::Malformed { from, .. }) if *from == broken),
        "{:?}",
        r.map(|(c, _)| c)
    );
}
