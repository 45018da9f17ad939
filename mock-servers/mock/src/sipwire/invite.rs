//! INVITE routing: at the peer where the agent is logged in the mock INVITEs the phone's registered
//! contact over the REGISTER's flow and relays the answer; elsewhere one 302 to the peer, or 480.

use super::msg::{response, SipMsg};
use super::transport::{send, Flow, Transport};
use super::SipWire;
use bc_protocol::{EventKind, Message};
use bytes::Bytes;
use ezk_sip_types::Name;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long the phone may take to answer (Timer B / C territory, kept short for scenarios).
pub const RING_TIMEOUT: Duration = Duration::from_secs(32);

/// An established call: the gateway's leg and the phone's leg the mock bridges.
#[derive(Clone)]
struct Dialog {
    dn: String,
    conn_id: String,
    phone: PhoneLeg,
    phone_to_tag: String,
    ack: Bytes,
}

/// The mock's side of the INVITE to the phone.
#[derive(Clone)]
struct PhoneLeg {
    call_id: String,
    from_user: String,
    from_tag: String,
    dn: String,
    contact: String,
    flow: Flow,
}

/// Calls and pending INVITEs the listener knows.
#[derive(Default)]
pub struct Dialogs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Gateway Call-ID -> dialog.
    by_gateway: HashMap<String, Dialog>,
    /// Phone-leg Call-ID -> gateway Call-ID.
    by_phone: HashMap<String, String>,
    /// Client transactions towards phones: branch -> where their responses go.
    clients: HashMap<String, mpsc::UnboundedSender<SipMsg>>,
    /// Pending INVITE server transactions that a CANCEL may end.
    pending: HashMap<String, CancellationToken>,
}

impl Dialogs {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts an INVITE server transaction: 100 Trying at once, then the routing decision.
pub fn on_invite(w: &Arc<SipWire>, key: String, m: SipMsg, flow: Flow) {
    let trying = response(&m, flow.source, 100, "Trying", None, &[], b"");
    w.txns.provisional(w, &key, &flow, trying);
    let cancel = CancellationToken::new();
    w.dialogs.lock().pending.insert(key.clone(), cancel.clone());
    let w = w.clone();
    tokio::spawn(async move {
        route(&w, &key, &m, &flow, cancel).await;
        w.dialogs.lock().pending.remove(&key);
    });
}

async fn route(w: &Arc<SipWire>, key: &str, m: &SipMsg, flow: &Flow, cancel: CancellationToken) {
    let dn = m.ruri_user().unwrap_or_default();
    let call_id = m.call_id();
    let (here, peers, peer_contact) = {
        let st = w.inst.lock();
        (
            st.active && st.agents.contains_key(&dn),
            st.peers.clone(),
            st.sip_peer_contact.clone(),
        )
    };
    if here {
        return ring_phone(w, key, m, flow, &dn, cancel).await;
    }
    let elsewhere = located_at_peer(&peers, &dn).await;
    match (elsewhere, peer_contact) {
        (true, Some(pc)) => {
            let contact = format!("<sip:{dn}@{pc}>");
            w.inst.emit(
                None,
                EventKind::SipRedirected {
                    dn: dn.clone(),
                    call_id,
                    contact: contact.clone(),
                },
            );
            let r = response(
                m,
                flow.source,
                302,
                "Moved Temporarily",
                Some(&w.tag()),
                &[("Contact", contact)],
                b"",
            );
            w.txns.final_response(w, key.to_string(), flow, r);
        }
        (el, _) => {
            // Logged in nowhere (or no peer address known): never a redirect, so two peers
            // cannot bounce a call between them.
            let why = if el {
                "no sip peer contact configured"
            } else {
                "agent logged in at neither peer"
            };
            reject(w, key, m, flow, &dn, 480, "Temporarily Unavailable", why);
        }
    }
}

/// A stopping instance configured to redirect: 302 to the peer contact, if one is known.
pub fn shutdown_redirect(w: &Arc<SipWire>, m: &SipMsg, flow: &Flow) -> Option<Bytes> {
    let pc = w.inst.lock().sip_peer_contact.clone()?;
    let dn = m.ruri_user().unwrap_or_default();
    let contact = format!("<sip:{dn}@{pc}>");
    w.inst.emit(
        None,
        EventKind::SipRedirected {
            dn,
            call_id: m.call_id(),
            contact: contact.clone(),
        },
    );
    let extra = [("Contact", contact)];
    Some(response(
        m,
        flow.source,
        302,
        "Moved Temporarily",
        Some(&w.tag()),
        &extra,
        b"",
    ))
}

#[expect(clippy::too_many_arguments, reason = "one reject, all of its parts")]
fn reject(
    w: &Arc<SipWire>,
    key: &str,
    m: &SipMsg,
    flow: &Flow,
    dn: &str,
    code: u16,
    reason: &str,
    why: &str,
) {
    w.inst.emit(
        None,
        EventKind::SipRejected {
            dn: dn.to_string(),
            call_id: m.call_id(),
            code,
            reason: why.to_string(),
        },
    );
    let r = response(m, flow.source, code, reason, Some(&w.tag()), &[], b"");
    w.txns.final_response(w, key.to_string(), flow, r);
}

/// Asks the peers' control APIs whether the agent on `dn` is logged in there (active instance).
async fn located_at_peer(peers: &[String], dn: &str) -> bool {
    use futures::StreamExt;
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .no_proxy()
        .build()
    else {
        return false;
    };
    let mut all: futures::stream::FuturesUnordered<_> = peers
        .iter()
        .map(|p| {
            let req = client.get(format!("{}/sip/located/{dn}", p.trim_end_matches('/')));
            async move {
                let v: serde_json::Value = req.send().await.ok()?.json().await.ok()?;
                v["logged_in"].as_bool()
            }
        })
        .collect();
    while let Some(r) = all.next().await {
        if r == Some(true) {
            return true;
        }
    }
    false
}

impl PhoneLeg {
    #[expect(
        clippy::too_many_arguments,
        reason = "one request line and its headers, all varying"
    )]
    fn request(
        &self,
        w: &SipWire,
        method: &str,
        cseq: u32,
        branch: &str,
        to_tag: Option<&str>,
        extra: &[(&str, String)],
        body: &[u8],
    ) -> Bytes {
        use std::fmt::Write;
        let local = w.local;
        let t = self.flow.transport;
        let mut s = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/{} {local};branch={branch};rport\r\nMax-Forwards: 70\r\n",
            self.contact,
            t.via()
        );
        let _ = write!(
            s,
            "From: <sip:{}@{local}>;tag={}\r\n",
            self.from_user, self.from_tag
        );
        let _ = match to_tag {
            Some(tag) => write!(s, "To: <sip:{}@{local}>;tag={tag}\r\n", self.dn),
            None => write!(s, "To: <sip:{}@{local}>\r\n", self.dn),
        };
        let _ = write!(s, "Call-ID: {}\r\nCSeq: {cseq} {method}\r\n", self.call_id);
        let _ = write!(
            s,
            "Contact: <sip:bc-mock@{local};transport={}>\r\n",
            t.as_str()
        );
        for (k, v) in extra {
            let _ = write!(s, "{k}: {v}\r\n");
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(body);
        Bytes::from(out)
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one INVITE client transaction, read top to bottom"
)]
async fn ring_phone(
    w: &Arc<SipWire>,
    key: &str,
    m: &SipMsg,
    flow: &Flow,
    dn: &str,
    cancel: CancellationToken,
) {
    let binding = w
        .inst
        .lock()
        .sip_bindings
        .lookup(dn, std::time::Instant::now())
        .cloned();
    let Some(b) = binding else {
        return reject(
            w,
            key,
            m,
            flow,
            dn,
            480,
            "Temporarily Unavailable",
            "no phone registered for the dn",
        );
    };
    let other = m.from_user().unwrap_or_else(|| "unknown".into());
    let Some(conn_id) = crate::sip::deliver_local(&w.inst, dn, &other, "Inbound") else {
        return reject(
            w,
            key,
            m,
            flow,
            dn,
            480,
            "Temporarily Unavailable",
            "agent logged out",
        );
    };
    let leg = PhoneLeg {
        call_id: format!("{}@bc-mock", w.tag()),
        from_user: other,
        from_tag: w.tag(),
        dn: dn.to_string(),
        contact: b.contact.clone(),
        flow: b.flow.clone(),
    };
    let branch = format!("z9hG4bK{}", w.tag());
    let (tx, mut rx) = mpsc::unbounded_channel();
    w.dialogs.lock().clients.insert(branch.clone(), tx);
    let ctype = m.raw(&Name::CONTENT_TYPE);
    let extra: Vec<(&str, String)> = ctype.iter().map(|c| ("Content-Type", c.clone())).collect();
    let invite = leg.request(w, "INVITE", 1, &branch, None, &extra, &m.body);
    w.inst.emit(
        None,
        EventKind::SipInviteSent {
            dn: dn.to_string(),
            call_id: m.call_id(),
            contact: b.contact.clone(),
            conn_id: conn_id.clone(),
        },
    );
    send(w, &leg.flow, invite.clone());
    let gw_tag = w.tag();
    let deadline = tokio::time::Instant::now() + RING_TIMEOUT;
    let mut every = super::txn::T1;
    let mut heard = false;
    let outcome = loop {
        let wait = if heard || leg.flow.transport == Transport::Tcp {
            RING_TIMEOUT
        } else {
            every
        };
        let r = tokio::select! {
            _ = cancel.cancelled() => break None,
            _ = tokio::time::sleep_until(deadline) => break Some(Err(408u16)),
            _ = tokio::time::sleep(wait) => {
                // Timer A: the INVITE is retransmitted over UDP until the phone answers anything.
                send(w, &leg.flow, invite.clone());
                every = (every * 2).min(super::txn::T2);
                continue;
            }
            r = rx.recv() => r,
        };
        let Some(resp) = r else { break Some(Err(500)) };
        heard = true;
        let code = resp.status().unwrap_or(500);
        if code < 200 {
            if code >= 180 {
                let ringing = response(m, flow.source, 180, "Ringing", Some(&gw_tag), &[], b"");
                w.txns.provisional(w, key, flow, ringing);
            }
            continue;
        }
        break Some(Ok(resp));
    };
    w.dialogs.lock().clients.remove(&branch);
    match outcome {
        None => {
            // CANCEL from the gateway: cancel the phone's INVITE too, 487 to the gateway.
            let c = leg.request(w, "CANCEL", 1, &branch, None, &[], b"");
            send(w, &leg.flow, c);
            release_desktop(w, &conn_id);
            let r = response(
                m,
                flow.source,
                487,
                "Request Terminated",
                Some(&gw_tag),
                &[],
                b"",
            );
            w.txns.final_response(w, key.to_string(), flow, r);
        }
        Some(Err(code)) => {
            release_desktop(w, &conn_id);
            reject(
                w,
                key,
                m,
                flow,
                dn,
                code,
                "Request Timeout",
                "the phone did not answer",
            );
        }
        Some(Ok(resp)) => {
            let code = resp.status().unwrap_or(500);
            let phone_tag = resp.to_tag().unwrap_or_default();
            if code < 300 {
                let ack_branch = format!("z9hG4bK{}", w.tag());
                let ack = leg.request(w, "ACK", 1, &ack_branch, Some(&phone_tag), &[], b"");
                send(w, &leg.flow, ack.clone());
                answered_desktop(w, &conn_id);
                w.inst.emit(
                    None,
                    EventKind::SipAnswered {
                        dn: dn.to_string(),
                        call_id: m.call_id(),
                        code,
                    },
                );
                {
                    let mut d = w.dialogs.lock();
                    d.by_phone.insert(leg.call_id.clone(), m.call_id());
                    d.by_gateway.insert(
                        m.call_id(),
                        Dialog {
                            dn: dn.to_string(),
                            conn_id: conn_id.clone(),
                            phone: leg.clone(),
                            phone_to_tag: phone_tag,
                            ack,
                        },
                    );
                }
                let ct = resp.raw(&Name::CONTENT_TYPE);
                let mut extra: Vec<(&str, String)> =
                    ct.iter().map(|c| ("Content-Type", c.clone())).collect();
                extra.push(("Contact", format!("<sip:{dn}@{}>", w.local)));
                let ok = response(m, flow.source, 200, "OK", Some(&gw_tag), &extra, &resp.body);
                w.txns.final_response(w, key.to_string(), flow, ok);
            } else {
                // A non-2xx final answer is ACKed on the INVITE's own branch (RFC 3261 §17.1.1.3).
                let ack = leg.request(w, "ACK", 1, &branch, Some(&phone_tag), &[], b"");
                send(w, &leg.flow, ack);
                release_desktop(w, &conn_id);
                let why = format!("the phone answered {code}");
                let phrase = resp.reason().unwrap_or_else(|| "Declined".into());
                reject(w, key, m, flow, dn, code, &phrase, &why);
            }
        }
    }
}

/// Routes a response from a phone to its client transaction; a retransmitted 2xx is ACKed again.
pub fn on_response(w: &Arc<SipWire>, m: SipMsg, flow: &Flow) {
    let _ = flow;
    let d = w.dialogs.lock();
    if let Some(tx) = d.clients.get(&m.branch()) {
        let _ = tx.send(m);
        return;
    }
    if let Some(gw) = d.by_phone.get(&m.call_id()) {
        if let Some(dl) = d.by_gateway.get(gw) {
            if m.status().is_some_and(|c| (200..300).contains(&c)) {
                send(w, &dl.phone.flow, dl.ack.clone());
            }
        }
    }
}

/// BYE: from the gateway it is passed on to the phone; either way the desktop sees the release.
pub fn on_bye(w: &Arc<SipWire>, m: &SipMsg, flow: &Flow) -> Bytes {
    let cid = m.call_id();
    let dialog = {
        let mut d = w.dialogs.lock();
        let gw = if d.by_gateway.contains_key(&cid) {
            Some(cid.clone())
        } else {
            d.by_phone.get(&cid).cloned()
        };
        let dl = gw.as_ref().and_then(|g| d.by_gateway.remove(g));
        if let Some(dl) = &dl {
            d.by_phone.remove(&dl.phone.call_id);
        }
        dl.map(|dl| (dl, gw.as_deref() == Some(cid.as_str())))
    };
    let Some((dl, from_gateway)) = dialog else {
        return response(
            m,
            flow.source,
            481,
            "Call/Transaction Does Not Exist",
            None,
            &[],
            b"",
        );
    };
    if from_gateway {
        let branch = format!("z9hG4bK{}", w.tag());
        let bye = dl
            .phone
            .request(w, "BYE", 2, &branch, Some(&dl.phone_to_tag), &[], b"");
        send(w, &dl.phone.flow, bye);
    }
    w.inst.emit(
        None,
        EventKind::SipBye {
            dn: dl.dn.clone(),
            call_id: cid,
            from_gateway,
        },
    );
    release_desktop(w, &dl.conn_id);
    response(m, flow.source, 200, "OK", None, &[], b"")
}

/// CANCEL: ends a pending INVITE (487) and is itself answered 200, or 481 when nothing is pending.
pub fn on_cancel(w: &Arc<SipWire>, m: &SipMsg, flow: &Flow) -> Bytes {
    let key = format!("{} INVITE", m.branch());
    let token = w.dialogs.lock().pending.get(&key).cloned();
    match token {
        Some(t) if !w.txns.is_done(&key) => {
            t.cancel();
            response(m, flow.source, 200, "OK", None, &[], b"")
        }
        _ => response(
            m,
            flow.source,
            481,
            "Call/Transaction Does Not Exist",
            None,
            &[],
            b"",
        ),
    }
}

/// The phone answered: the desktop gets EventEstablished for the call.
fn answered_desktop(w: &SipWire, conn_id: &str) {
    let mut st = w.inst.lock();
    let Some(c) = st.calls.get_mut(conn_id) else {
        return;
    };
    c.established = true;
    let (dn, other) = (c.dn.clone(), c.other_dn.clone());
    for c in st.conns.values().filter(|c| c.dns.contains(&dn)) {
        let _ = c.tx.send(crate::state::Outbound::Msg(Box::new(
            Message::EventEstablished {
                reference_id: None,
                this_dn: dn.clone(),
                conn_id: conn_id.to_string(),
                other_dn: Some(other.clone()),
            },
        )));
    }
}

/// The call ended on the wire: the desktop gets EventReleased.
fn release_desktop(w: &SipWire, conn_id: &str) {
    let mut st = w.inst.lock();
    let Some(c) = st.calls.remove(conn_id) else {
        return;
    };
    w.inst.emit(
        None,
        EventKind::CallReleased {
            dn: c.dn.clone(),
            conn_id: conn_id.to_string(),
        },
    );
    for x in st.conns.values().filter(|x| x.dns.contains(&c.dn)) {
        let _ = x.tx.send(crate::state::Outbound::Msg(Box::new(
            Message::EventReleased {
                reference_id: None,
                this_dn: c.dn.clone(),
                conn_id: conn_id.to_string(),
            },
        )));
    }
}
