//! The INVITE client transaction towards the agent's phone, in steps: offer the call, ring the
//! phone, wait for its answer, then bridge it (2xx) or refuse the gateway's INVITE.

use super::invite::{answered_desktop, reject, release_desktop, Dialog, PhoneLeg, RING_TIMEOUT};
use super::msg::{response, SipMsg};
use super::transport::{send, Flow, Transport};
use super::SipWire;
use bc_protocol::EventKind;
use bytes::Bytes;
use ezk_sip_types::Name;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The gateway's INVITE being served by ringing the phone: what every later step answers to.
struct Ring<'a> {
    w: &'a Arc<SipWire>,
    /// The gateway's INVITE server transaction.
    key: &'a str,
    /// The gateway's INVITE.
    m: &'a SipMsg,
    flow: &'a Flow,
    dn: &'a str,
    /// The call the desktop was offered.
    conn_id: String,
    leg: PhoneLeg,
    /// The branch of the INVITE to the phone (a non-2xx answer is ACKed on it).
    branch: String,
    /// The mock's To tag towards the gateway.
    gw_tag: String,
}

/// Delivers the gateway's INVITE for `dn` to the phone registered for it and relays the outcome;
/// `cancel` is the gateway's CANCEL.
pub(super) async fn ring_phone(
    w: &Arc<SipWire>,
    key: &str,
    m: &SipMsg,
    flow: &Flow,
    dn: &str,
    cancel: CancellationToken,
) {
    let Some((leg, conn_id)) = offer(w, key, m, flow, dn) else {
        return;
    };
    let branch = format!("z9hG4bK{}", w.tag());
    let (tx, rx) = mpsc::unbounded_channel();
    w.dialogs.lock().clients.insert(branch.clone(), tx);
    let ctype = m.raw(&Name::CONTENT_TYPE);
    let extra: Vec<(&str, String)> = ctype.iter().map(|c| ("Content-Type", c.clone())).collect();
    let invite = leg.request(w, "INVITE", 1, &branch, None, &extra, &m.body);
    w.inst.emit(
        None,
        EventKind::SipInviteSent {
            dn: dn.to_string(),
            call_id: m.call_id(),
            contact: leg.contact.clone(),
            conn_id: conn_id.clone(),
        },
    );
    send(w, &leg.flow, invite.clone());
    let ring = Ring {
        w,
        key,
        m,
        flow,
        dn,
        conn_id,
        leg,
        branch,
        gw_tag: w.tag(),
    };
    let outcome = ring.wait(&invite, rx, cancel).await;
    w.dialogs.lock().clients.remove(&ring.branch);
    match outcome {
        None => ring.cancelled(),
        Some(Err(code)) => ring.unanswered(code),
        Some(Ok(resp)) => ring.finished(&resp),
    }
}

/// Finds the phone registered for `dn` and offers the call to the desktop (EventRinging); without
/// either the INVITE is refused (480). Returns the leg to INVITE the phone on and the ConnID.
fn offer(
    w: &Arc<SipWire>,
    key: &str,
    m: &SipMsg,
    flow: &Flow,
    dn: &str,
) -> Option<(PhoneLeg, String)> {
    let binding = w
        .inst
        .lock()
        .sip_bindings
        .lookup(dn, std::time::Instant::now())
        .cloned();
    let Some(b) = binding else {
        reject(
            w,
            key,
            m,
            flow,
            dn,
            480,
            "Temporarily Unavailable",
            "no phone registered for the dn",
        );
        return None;
    };
    let other = m.from_user().unwrap_or_else(|| "unknown".into());
    let Some(conn_id) = crate::sip::deliver_local(&w.inst, dn, &other, "Inbound") else {
        reject(
            w,
            key,
            m,
            flow,
            dn,
            480,
            "Temporarily Unavailable",
            "agent logged out or not Ready",
        );
        return None;
    };
    let leg = PhoneLeg {
        call_id: format!("{}@bc-mock", w.tag()),
        from_user: other,
        from_tag: w.tag(),
        dn: dn.to_string(),
        contact: b.contact.clone(),
        flow: b.flow.clone(),
    };
    Some((leg, conn_id))
}

impl Ring<'_> {
    /// Waits for the phone's final answer, passing a 180 on to the gateway. Over UDP the INVITE is
    /// retransmitted (Timer A) until the phone answers anything. `None` when the gateway
    /// cancelled; `Err` with the code to refuse with when the phone did not answer in time (408)
    /// or its transaction went away (500).
    async fn wait(
        &self,
        invite: &Bytes,
        mut rx: mpsc::UnboundedReceiver<SipMsg>,
        cancel: CancellationToken,
    ) -> Option<Result<SipMsg, u16>> {
        let w = self.w;
        let deadline = tokio::time::Instant::now() + RING_TIMEOUT;
        let mut every = super::txn::T1;
        let mut heard = false;
        loop {
            let wait = if heard || self.leg.flow.transport == Transport::Tcp {
                RING_TIMEOUT
            } else {
                every
            };
            let r = tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep_until(deadline) => return Some(Err(408u16)),
                _ = tokio::time::sleep(wait) => {
                    // Timer A: the INVITE is retransmitted over UDP until the phone answers anything.
                    send(w, &self.leg.flow, invite.clone());
                    every = (every * 2).min(super::txn::T2);
                    continue;
                }
                r = rx.recv() => r,
            };
            let Some(resp) = r else {
                return Some(Err(500));
            };
            heard = true;
            let code = resp.status().unwrap_or(500);
            if code < 200 {
                if code >= 180 {
                    let ringing = response(
                        self.m,
                        self.flow.source,
                        180,
                        "Ringing",
                        Some(&self.gw_tag),
                        &[],
                        b"",
                    );
                    w.txns.provisional(w, self.key, self.flow, ringing);
                }
                continue;
            }
            return Some(Ok(resp));
        }
    }

    /// CANCEL from the gateway: cancel the phone's INVITE too, release the desktop's call and
    /// answer the gateway 487.
    fn cancelled(&self) {
        let w = self.w;
        let c = self
            .leg
            .request(w, "CANCEL", 1, &self.branch, None, &[], b"");
        send(w, &self.leg.flow, c);
        release_desktop(w, &self.conn_id);
        let r = response(
            self.m,
            self.flow.source,
            487,
            "Request Terminated",
            Some(&self.gw_tag),
            &[],
            b"",
        );
        w.txns.final_response(w, self.key.to_string(), self.flow, r);
    }

    /// No final answer from the phone: release the desktop's call and refuse with `code`.
    fn unanswered(&self, code: u16) {
        release_desktop(self.w, &self.conn_id);
        reject(
            self.w,
            self.key,
            self.m,
            self.flow,
            self.dn,
            code,
            "Request Timeout",
            "the phone did not answer",
        );
    }

    /// The phone's final answer: a 2xx bridges the call, anything else refuses the INVITE.
    fn finished(&self, resp: &SipMsg) {
        let code = resp.status().unwrap_or(500);
        let phone_tag = resp.to_tag().unwrap_or_default();
        if code < 300 {
            self.answered(resp, code, phone_tag);
        } else {
            self.declined(resp, code, &phone_tag);
        }
    }

    /// The phone answered 2xx: ACK it (a new transaction), establish the desktop's call, record the
    /// dialog the mock bridges and answer the gateway 200 with the phone's body.
    fn answered(&self, resp: &SipMsg, code: u16, phone_tag: String) {
        let (w, m, dn) = (self.w, self.m, self.dn);
        let ack_branch = format!("z9hG4bK{}", w.tag());
        let ack = self
            .leg
            .request(w, "ACK", 1, &ack_branch, Some(&phone_tag), &[], b"");
        send(w, &self.leg.flow, ack.clone());
        answered_desktop(w, &self.conn_id);
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
            d.by_phone.insert(self.leg.call_id.clone(), m.call_id());
            d.by_gateway.insert(
                m.call_id(),
                Dialog {
                    dn: dn.to_string(),
                    conn_id: self.conn_id.clone(),
                    phone: self.leg.clone(),
                    phone_to_tag: phone_tag,
                    ack,
                },
            );
        }
        let ct = resp.raw(&Name::CONTENT_TYPE);
        let mut extra: Vec<(&str, String)> =
            ct.iter().map(|c| ("Content-Type", c.clone())).collect();
        extra.push(("Contact", format!("<sip:{dn}@{}>", w.local)));
        let ok = response(
            m,
            self.flow.source,
            200,
            "OK",
            Some(&self.gw_tag),
            &extra,
            &resp.body,
        );
        w.txns
            .final_response(w, self.key.to_string(), self.flow, ok);
    }

    /// The phone refused (a non-2xx final answer): ACK it, release the desktop's call and refuse
    /// the gateway's INVITE with the phone's code and phrase.
    fn declined(&self, resp: &SipMsg, code: u16, phone_tag: &str) {
        let w = self.w;
        // A non-2xx final answer is ACKed on the INVITE's own branch (RFC 3261 §17.1.1.3).
        let ack = self
            .leg
            .request(w, "ACK", 1, &self.branch, Some(phone_tag), &[], b"");
        send(w, &self.leg.flow, ack);
        release_desktop(w, &self.conn_id);
        let why = format!("the phone answered {code}");
        let phrase = resp.reason().unwrap_or_else(|| "Declined".into());
        reject(w, self.key, self.m, self.flow, self.dn, code, &phrase, &why);
    }
}
