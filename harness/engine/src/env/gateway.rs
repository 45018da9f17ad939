//! The harness as a media gateway (a SIP UAC over UDP): one INVITE for an agent's DN to a chosen SIP
//! Server peer, following one 302 as a real gateway does, so a call reaches the agent over the wire.

use bytes::Bytes;
use ezk_sip_types::header::typed::{CSeq, CallID, Contact, ContentLength, Via};
use ezk_sip_types::host::{Host, HostPort};
use ezk_sip_types::msg::{Line, MessageLine, PullParser};
use ezk_sip_types::parse::Parse;
use ezk_sip_types::{Headers, Method, Name};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// RFC 3261 T1 (first retransmission interval) and T2 (the cap for non-INVITE requests).
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
/// The largest datagram read; a longer one arrives truncated and fails to parse.
const MAX_DATAGRAM: usize = 64 * 1024;
/// How long [`Gateway::hangup`] waits for the answer to its BYE.
pub const HANGUP_WAIT: Duration = Duration::from_secs(2);

/// What a delivered call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCall {
    pub call_id: String,
    /// The final answer's status code (200, 302 when not followed, 480, ...).
    pub code: u16,
    pub reason: String,
    /// The peer the first INVITE went to.
    pub first_target: SocketAddr,
    /// The peer that gave the final answer (after a redirect: the 302's Contact).
    pub answered_by: SocketAddr,
    /// A 302 Contact was followed (at most one is).
    pub redirected: bool,
    /// The provisional codes heard (100, 180, ...), in order, over every INVITE.
    pub provisional: Vec<u16>,
    /// The final answer's body (the answerer's SDP for a 200).
    pub body: String,
}

/// How [`deliver`] behaves.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The longest `deliver` waits for a final answer, over every INVITE it sends (Timer B-like).
    pub timeout: Duration,
    /// Follow the first 3xx to its Contact (a second one is returned, never followed).
    pub follow_redirects: bool,
}

impl Default for GatewayOptions {
    /// Timer B (64·T1 = 32 s), following redirects.
    fn default() -> Self {
        GatewayOptions {
            timeout: 64 * T1,
            follow_redirects: true,
        }
    }
}

/// Why a call could not be delivered (a SIP refusal is an outcome, not an error).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("no final SIP answer from {target} within {waited_ms} ms")]
    Timeout { target: SocketAddr, waited_ms: u64 },
    #[error("{target} refused the INVITE's datagram (ICMP port unreachable: nothing listens)")]
    Refused { target: SocketAddr },
    #[error("unparsable SIP answer from {from}: {reason}")]
    Malformed { from: SocketAddr, reason: String },
}

/// The gateway side of a delivered call: its socket, and the dialog when the answer was 2xx.
/// While it lives, a retransmitted 2xx is ACKed again; dropping it stops that (no BYE is sent).
pub struct Gateway {
    sock: Arc<UdpSocket>,
    local: SocketAddr,
    peer: SocketAddr,
    dn: String,
    caller: String,
    call_id: String,
    from_tag: String,
    /// The INVITE's CSeq number (a BYE takes the next).
    cseq: u32,
    /// The 2xx's To (with the answerer's tag), when a dialog was established.
    dialog_to: Option<String>,
    reacker: Option<AbortHandle>,
}

/// A response, as much of it as the gateway needs.
struct Resp {
    code: u16,
    reason: String,
    branch: String,
    method: Method,
    call_id: String,
    to: String,
    contact: Option<HostPort>,
    body: Bytes,
}

/// Sends an INVITE for `dn` (from `caller`) to the SIP Server peer at `target` and waits for the
/// final answer, following one 3xx when `opts.follow_redirects`; the answer is ACKed.
///
/// The socket is connected to the peer of the current transaction (the target, then the 302's
/// Contact), so an ICMP port unreachable surfaces as [`GatewayError::Refused`] instead of a silent
/// timeout. In-dialog requests (the 2xx ACK, BYE) go to the peer that answered, not to the 200's
/// Contact: the mock names its own listener there, which would bypass a fault proxy in front of it.
pub async fn deliver(
    target: SocketAddr,
    dn: &str,
    caller: &str,
    opts: &GatewayOptions,
) -> Result<(GatewayCall, Gateway), GatewayError> {
    let started = Instant::now();
    // At most a year: an absurd timeout must not overflow the clock.
    let deadline = started + opts.timeout.min(Duration::from_secs(365 * 86_400));
    let any = match target {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let host = Some(target.ip()).filter(IpAddr::is_loopback).unwrap_or(any);
    let sock = UdpSocket::bind(SocketAddr::new(host, 0)).await?;
    let mut gw = Gateway {
        local: sock.local_addr()?,
        sock: Arc::new(sock),
        peer: target,
        dn: dn.to_string(),
        caller: caller.to_string(),
        call_id: format!("{}@bc-gateway", token()),
        from_tag: token(),
        cseq: 0,
        dialog_to: None,
        reacker: None,
    };
    let (mut peer, mut redirected, mut provisional) = (target, false, Vec::new());
    let window = (started, deadline);
    loop {
        gw.aim(peer).await?;
        gw.cseq += 1;
        let branch = format!("z9hG4bK{}", token());
        let to = format!("<sip:{dn}@{}>", gw.peer);
        let invite = gw.request("INVITE", &branch, gw.cseq, &to, &sdp(gw.local.ip()));
        let r = gw
            .transact(&invite, &branch, true, window, &mut provisional)
            .await?;
        if r.code >= 300 {
            // A non-2xx final answer is ACKed on the INVITE's branch (RFC 3261 §17.1.1.3).
            let ack = gw.request("ACK", &branch, gw.cseq, &r.to, "");
            gw.send(&ack).await?;
        } else {
            gw.established(&r).await?;
        }
        if (300..400).contains(&r.code) && opts.follow_redirects && !redirected {
            if let Some(next) = resolve(r.contact.as_ref()).await {
                (peer, redirected) = (next, true);
                continue;
            }
        }
        let call = GatewayCall {
            call_id: gw.call_id.clone(),
            code: r.code,
            reason: r.reason,
            first_target: target,
            answered_by: peer,
            redirected,
            provisional,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        };
        return Ok((call, gw));
    }
}

impl Gateway {
    /// Whether the call was answered 2xx and not hung up yet.
    pub fn in_dialog(&self) -> bool {
        self.dialog_to.is_some()
    }

    /// Ends the call: BYE to the peer that answered, retransmitted until its answer or
    /// [`HANGUP_WAIT`]. Returns the BYE's status code; `None` when there was no dialog to end.
    pub async fn hangup(mut self) -> Result<Option<u16>, GatewayError> {
        let Some(to) = self.dialog_to.take() else {
            return Ok(None);
        };
        if let Some(r) = self.reacker.take() {
            r.abort();
        }
        let branch = format!("z9hG4bK{}", token());
        let bye = self.request("BYE", &branch, self.cseq + 1, &to, "");
        let window = (Instant::now(), Instant::now() + HANGUP_WAIT);
        let mut heard = Vec::new();
        let r = self
            .transact(&bye, &branch, false, window, &mut heard)
            .await?;
        Ok(Some(r.code))
    }

    /// Connects the socket to `peer` (responses from elsewhere are dropped by the kernel).
    async fn aim(&mut self, peer: SocketAddr) -> Result<(), GatewayError> {
        self.sock.connect(peer).await?;
        self.peer = peer;
        self.local = self.sock.local_addr()?;
        Ok(())
    }

    async fn send(&self, msg: &Bytes) -> Result<(), GatewayError> {
        self.sock.send(msg).await.map(drop).map_err(|e| self.io(e))
    }

    fn io(&self, e: std::io::Error) -> GatewayError {
        match e.kind() {
            ErrorKind::ConnectionRefused => GatewayError::Refused { target: self.peer },
            _ => GatewayError::Io(e),
        }
    }

    /// The 2xx: ACK on a new branch to the peer that answered; later 2xx retransmissions get the
    /// same ACK from a task that lives as long as the dialog.
    async fn established(&mut self, r: &Resp) -> Result<(), GatewayError> {
        let ack = self.request("ACK", &format!("z9hG4bK{}", token()), self.cseq, &r.to, "");
        self.send(&ack).await?;
        self.dialog_to = Some(r.to.clone());
        let (sock, call_id) = (self.sock.clone(), self.call_id.clone());
        self.reacker = Some(tokio::spawn(reack(sock, ack, call_id)).abort_handle());
        Ok(())
    }

    /// A request of the call: `to` is the To header (with the answerer's tag in a dialog).
    fn request(&self, method: &str, branch: &str, cseq: u32, to: &str, sdp: &str) -> Bytes {
        let (l, dn, peer) = (self.local, &self.dn, self.peer);
        let ctype = match sdp {
            "" => "",
            _ => "Content-Type: application/sdp\r\n",
        };
        let s = format!(
            "{method} sip:{dn}@{peer} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{c}@{l}>;tag={tag}\r\nTo: {to}\r\nCall-ID: {cid}\r\n\
             CSeq: {cseq} {method}\r\nContact: <sip:{c}@{l}>\r\n{ctype}Content-Length: {n}\r\n\r\n{sdp}",
            c = self.caller,
            tag = self.from_tag,
            cid = self.call_id,
            n = sdp.len(),
        );
        Bytes::from(s)
    }

    /// One client transaction: sends `req`, retransmits it (T1 doubling; an INVITE until anything
    /// is heard, another request capped at T2), and returns the final answer on `branch`; gives up
    /// at the deadline of `(started, deadline)`.
    async fn transact(
        &self,
        req: &Bytes,
        branch: &str,
        invite: bool,
        (started, deadline): (Instant, Instant),
        provisional: &mut Vec<u16>,
    ) -> Result<Resp, GatewayError> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut every = T1;
        let mut next = Instant::now();
        let mut heard = false;
        let cap = if invite { Duration::MAX } else { T2 };
        loop {
            if next <= Instant::now() && !(invite && heard) {
                self.send(req).await?;
                next = Instant::now() + every;
                every = every.saturating_mul(2).min(cap);
            }
            let retransmit = if invite && heard { deadline } else { next };
            let n = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Err(GatewayError::Timeout {
                    target: self.peer,
                    waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                }),
                _ = tokio::time::sleep_until(retransmit) => continue,
                r = self.sock.recv(&mut buf) => r.map_err(|e| self.io(e))?,
            };
            let r = match parse(Bytes::copy_from_slice(buf.get(..n).unwrap_or_default())) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(reason) => {
                    return Err(GatewayError::Malformed {
                        from: self.peer,
                        reason,
                    })
                }
            };
            if r.branch != branch || r.call_id != self.call_id {
                continue; // a late answer of an earlier transaction
            }
            heard = true;
            if r.code >= 200 {
                return Ok(r);
            }
            provisional.push(r.code);
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(r) = self.reacker.take() {
            r.abort();
        }
    }
}

/// ACKs every retransmission of the call's 2xx until aborted.
async fn reack(sock: Arc<UdpSocket>, ack: Bytes, call_id: String) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = match sock.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
            Err(_) => return,
        };
        if let Ok(Some(r)) = parse(Bytes::copy_from_slice(buf.get(..n).unwrap_or_default())) {
            if r.call_id == call_id && r.method == Method::INVITE && (200..300).contains(&r.code) {
                let _ = sock.send(&ack).await;
            }
        }
    }
}

/// Where a 3xx's Contact points (port 5060 when it names none; a host name is looked up).
async fn resolve(hp: Option<&HostPort>) -> Option<SocketAddr> {
    let hp = hp?;
    let port = hp.port.unwrap_or(5060);
    match &hp.host {
        Host::IP4(ip) => Some(SocketAddr::new(IpAddr::V4(*ip), port)),
        Host::IP6(ip) => Some(SocketAddr::new(IpAddr::V6(*ip), port)),
        Host::Name(n) => tokio::net::lookup_host((n.as_str(), port))
            .await
            .ok()?
            .next(),
    }
}

/// A fresh random token for tags, branches and Call-IDs.
fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The gateway's offer: null audio, never sent.
fn sdp(ip: IpAddr) -> String {
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=bc-gateway 1 1 IN {fam} {ip}\r\ns=-\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )
}

/// Parses a datagram: `Ok(None)` for a request (the gateway serves none), `Err` for anything
/// that is not a SIP response with a Via branch, a Call-ID and a CSeq.
fn parse(buf: Bytes) -> Result<Option<Resp>, String> {
    let mut p = PullParser::new(&buf, 0);
    let first = p.next().and_then(Result::ok).ok_or("no start line")?;
    let first = std::str::from_utf8(first).map_err(|_| "start line is not UTF-8")?;
    let (_, line) = MessageLine::parse(&buf)(first).map_err(|_| "bad start line")?;
    let MessageLine::Response(status) = line else {
        return Ok(None);
    };
    let mut headers = Headers::new();
    for l in p.by_ref() {
        let l = l.map_err(|_| "incomplete head")?;
        let s = std::str::from_utf8(l).map_err(|_| "header is not UTF-8")?;
        let (_, h) = Line::parse(&buf, s).map_err(|_| format!("bad header line {s:?}"))?;
        headers.insert(h.name, h.value);
    }
    let rest = buf.slice(p.head_end().min(buf.len())..);
    let body = match headers.try_get_named::<ContentLength>() {
        Some(Ok(ContentLength(n))) if n <= rest.len() => rest.slice(..n),
        Some(Ok(_)) => return Err("body shorter than its Content-Length".into()),
        Some(Err(_)) => return Err("bad Content-Length".into()),
        None => rest,
    };
    let via = headers.get_named::<Vec<Via>>().map_err(|_| "bad Via")?;
    let branch = via.first().and_then(|v| v.params.get_val("branch"));
    let branch = branch.ok_or("no Via branch")?.to_string();
    let cseq = headers.get_named::<CSeq>().map_err(|_| "bad CSeq")?;
    let call_id = headers.get_named::<CallID>().map_err(|_| "bad Call-ID")?;
    let to = headers.get_raw(&Name::TO).next().ok_or("no To")?;
    let contact = headers.get_named::<Vec<Contact>>().ok();
    Ok(Some(Resp {
        code: status.code.into_u16(),
        reason: status.reason.map(|r| r.to_string()).unwrap_or_default(),
        branch,
        method: cseq.method,
        call_id: call_id.0.to_string(),
        to: to.to_string(),
        contact: contact.and_then(|c| c.into_iter().next().map(|c| c.uri.uri.host_port)),
        body,
    }))
}
