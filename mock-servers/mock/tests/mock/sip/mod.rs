//! Test helpers for the SIP listener: a bare UDP/TCP user agent that writes requests by hand and
//! reads raw answers (so the tests check the wire, not a SIP library's view of it).

use super::common::{Mock, T};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Stdio;
use tokio::net::UdpSocket;
use tokio::process::Command;

/// Spawns a SIP Server with its SIP listener on a free port; returns it and the SIP address.
pub async fn sip_mock(site: &str, role: &str, extra: &[&str]) -> (Mock, SocketAddr) {
    let mut args = vec!["--sip-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let m = Mock::spawn("sip-server", site, role, &args).await;
    let sip = m
        .ready
        .split(' ')
        .find_map(|kv| kv.strip_prefix("sip="))
        .expect("sip= in the ready line")
        .parse()
        .expect("sip address");
    (m, sip)
}

/// A UDP user agent (phone or gateway) on its own socket.
pub struct Ua {
    pub sock: UdpSocket,
    pub local: SocketAddr,
}

impl Ua {
    pub async fn new() -> Ua {
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let local = sock.local_addr().expect("local");
        Ua { sock, local }
    }

    pub async fn send(&self, to: SocketAddr, msg: &str) {
        self.sock.send_to(msg.as_bytes(), to).await.expect("send");
    }

    /// The next datagram as text, with where it came from (panics after the timeout).
    pub async fn recv(&self) -> (String, SocketAddr) {
        let mut buf = vec![0u8; 65536];
        let (n, from) = tokio::time::timeout(T, self.sock.recv_from(&mut buf))
            .await
            .expect("a datagram in time")
            .expect("recv");
        (String::from_utf8_lossy(&buf[..n]).into_owned(), from)
    }

    /// The next datagram within `d`, if any.
    pub async fn recv_within(&self, d: std::time::Duration) -> Option<String> {
        let mut buf = vec![0u8; 65536];
        let (n, _) = tokio::time::timeout(d, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Reads until a response with a final status (>= 200) arrives; returns it.
    pub async fn final_response(&self) -> String {
        loop {
            let (m, _) = self.recv().await;
            if status(&m).is_some_and(|c| c >= 200) {
                return m;
            }
        }
    }

    /// REGISTER `dn` at `to` with this socket as contact.
    pub async fn register(&self, to: SocketAddr, dn: &str, call_id: &str, cseq: u32) -> String {
        let l = self.local;
        self.send(
            to,
            &format!(
                "REGISTER sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKr{call_id}{cseq};rport\r\n\
                 From: <sip:{dn}@{to}>;tag=ph{cseq}\r\nTo: <sip:{dn}@{to}>\r\nCall-ID: {call_id}\r\n\
                 CSeq: {cseq} REGISTER\r\nContact: <sip:{dn}@{l}>\r\nExpires: 300\r\nMax-Forwards: 70\r\n\
                 Content-Length: 0\r\n\r\n"
            ),
        )
        .await;
        self.final_response().await
    }
}

/// The gateway's offer: a minimal valid SDP (a real phone refuses anything less with 400).
pub const SDP: &str = "v=0\r\no=gw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// An INVITE for `dn` at `to` from `from` with the given branch and Call-ID.
pub fn invite(to: SocketAddr, from: SocketAddr, dn: &str, branch: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:{dn}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={branch};rport\r\n\
         From: <sip:5000@{from}>;tag=gw1\r\nTo: <sip:{dn}@{to}>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:5000@{from}>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

/// The ACK of a non-2xx final answer: same branch as the INVITE, To (with tag) from the answer.
pub fn ack_for(resp: &str, to: SocketAddr, from: SocketAddr, dn: &str, branch: &str) -> String {
    let to_h = header(resp, "To").unwrap_or_default();
    let cid = header(resp, "Call-ID").unwrap_or_default();
    format!(
        "ACK sip:{dn}@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch={branch};rport\r\n\
         From: <sip:5000@{from}>;tag=gw1\r\nTo: {to_h}\r\nCall-ID: {cid}\r\nCSeq: 1 ACK\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A response to a request received by a UA (the phone): echoes Via, From, To (+tag), Call-ID, CSeq.
pub fn answer(req: &str, code: u16, reason: &str, body: &str) -> String {
    let vias: String = req
        .lines()
        .filter(|l| l.starts_with("Via:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    format!(
        "SIP/2.0 {code} {reason}\r\n{vias}From: {}\r\nTo: {};tag=phone1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Contact: <sip:phone@127.0.0.1>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        header(req, "From").unwrap_or_default(),
        header(req, "To").unwrap_or_default(),
        header(req, "Call-ID").unwrap_or_default(),
        header(req, "CSeq").unwrap_or_default(),
        body.len()
    )
}

pub fn status(m: &str) -> Option<u16> {
    m.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

pub fn header<'a>(m: &'a str, name: &str) -> Option<&'a str> {
    m.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The fault proxy binary (bc-toxiproxy) on a free port; returns it and its API URL.
pub async fn fault_proxy() -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let dir = bc_test_support::ensure_built(&["bc-toxiproxy"], &["bc-toxiproxy"]);
    let mut child = Command::new(dir.join("bc-toxiproxy"))
        .args(["--host", "127.0.0.1", "--port", "0", "--seed", "18"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bc-toxiproxy");
    let out = child.stdout.take().expect("stdout");
    let line = tokio::time::timeout(T, tokio::io::BufReader::new(out).lines().next_line())
        .await
        .expect("ready in time")
        .expect("read")
        .expect("a line");
    let addr = line.rsplit(' ').next().expect("address").to_string();
    (child, format!("http://{addr}"))
}

/// A udp proxy in front of a SIP listener; returns its listen address.
pub async fn udp_proxy(
    api: &str,
    name: &str,
    upstream: std::net::SocketAddr,
) -> std::net::SocketAddr {
    let body = json!({"name": name, "listen": "127.0.0.1:0",
        "upstream": upstream.to_string(), "protocol": "udp"});
    let (s, v) = super::common::http_post(&format!("{api}/proxies"), body).await;
    assert_eq!(s, 201, "{v}");
    v["listen"]
        .as_str()
        .expect("listen")
        .parse()
        .expect("address")
}

/// Two sites, each SIP listener knowing the other's SIP address and control URL (no proxy).
pub async fn two_sites() -> ((Mock, SocketAddr), (Mock, SocketAddr)) {
    let (a, a_sip) = sip_mock("A", "primary", &[]).await;
    let a_sip_s = a_sip.to_string();
    let (b, b_sip) = sip_mock(
        "B",
        "primary",
        &["--peer", &a.control, "--sip-peer-contact", &a_sip_s],
    )
    .await;
    assert_eq!(a.post("/peers", json!({"peers": [b.control]})).await.0, 200);
    let (s, _) = a
        .post("/sip/peer", json!({"contact": b_sip.to_string()}))
        .await;
    assert_eq!(s, 200);
    ((a, a_sip), (b, b_sip))
}

/// Two sites behind udp proxies of the fault proxy at `api`: each peer names the other as
/// clients reach it, through the proxy. Returns the mocks and the proxies' addresses (A, B).
pub async fn two_sites_behind(api: &str) -> (Mock, Mock, SocketAddr, SocketAddr) {
    let (a, a_sip) = sip_mock("A", "primary", &[]).await;
    let (b, b_sip) = sip_mock("B", "primary", &["--peer", &a.control]).await;
    let (pa, pb) = (
        udp_proxy(api, "sip_a", a_sip).await,
        udp_proxy(api, "sip_b", b_sip).await,
    );
    assert_eq!(a.post("/peers", json!({"peers": [b.control]})).await.0, 200);
    for (m, other) in [(&a, pb), (&b, pa)] {
        let (s, _) = m
            .post("/sip/peer", json!({"contact": other.to_string()}))
            .await;
        assert_eq!(s, 200);
    }
    (a, b, pa, pb)
}
