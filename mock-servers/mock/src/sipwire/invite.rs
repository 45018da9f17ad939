//! INVITE routing: at the peer where the agent is logged in the mock INVITEs the phone's registered
//! contact over the REGISTER's flow and relays the answer; elsewhere one 302 to the peer, or 480.

use super::msg::{response, SipMsg};
use super::transport::{send, Flow};
use super::SipWire;
use bc_protocol::{EventKind, Message};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long the phone may take to answer (Timer B / C territory, kept short for scenarios).
pub const RING_TIMEOUT: Duration = Duration::from_secs(32);

/// An established call: the gateway's leg and the phone's leg the mock bridges.
#[derive(Clone)]
pub(super) struct Dialog {
    pub(super) dn: String,
    pub(super) conn_id: String,
    pub(super) phone: PhoneLeg,
    pub(super) phone_to_tag: String,
    pub(super) ack: Bytes,
}

/// The mock's side of the INVITE to the phone.
#[derive(Clone)]
pub(super) struct PhoneLeg {
    pub(super) call_id: String,
    pub(super) from_user: String,
    pub(super) from_tag: String,
    pub(super) dn: String,
    pub(super) contact: String,
    pub(super) flow: Flow,
}

/// Calls and pending INVITEs the listener knows.
#[derive(Default)]
pub struct Dialogs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(super) struct Inner {
    /// Gateway Call-ID -> dialog.
    pub(super) by_gateway: HashMap<String, Dialog>,
    /// Phone-leg Call-ID -> gateway Call-ID.
    pub(super) by_phone: HashMap<String, String>,
    /// Client transactions towards phones: branch -> where their responses go.
    pub(super) clients: HashMap<String, mpsc::UnboundedSender<SipMsg>>,
    /// Pending INVITE server transactions that a CANCEL may end.
    pending: HashMap<String, CancellationToken>,
}

impl Dialogs {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
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
        return super::ring::ring_phone(w, key, m, flow, &dn, cancel).await;
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

/// Refuses the INVITE with a final `code` and records why.
#[expect(clippy::too_many_arguments, reason = "one reject, all of its parts")]
pub(super) fn reject(
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
    pub(super) fn request(
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
pub(super) fn answered_desktop(w: &SipWire, conn_id: &str) {
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
pub(super) fn release_desktop(w: &SipWire, conn_id: &str) {
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
