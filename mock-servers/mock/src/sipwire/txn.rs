//! Server transactions: a retransmitted request gets the last answer again (so one request is one
//! transaction), and over UDP an INVITE's final answer is retransmitted until the ACK (RFC 3261 §17.2.1).

use super::msg::SipMsg;
use super::transport::{send, Flow, Transport};
use super::SipWire;
use bc_protocol::EventKind;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// RFC 3261 T1 (round-trip estimate) and T2 (longest retransmit interval).
pub const T1: Duration = Duration::from_millis(500);
pub const T2: Duration = Duration::from_secs(4);
/// How long a finished transaction is kept to absorb retransmissions (Timer J / H: 64·T1).
pub const LINGER: Duration = Duration::from_secs(32);

struct Txn {
    call_id: String,
    invite: bool,
    last: Option<Bytes>,
    done_at: Option<Instant>,
    acked: CancellationToken,
}

#[derive(Default)]
pub struct Table {
    map: Mutex<HashMap<String, Txn>>,
}

/// The transaction key: top Via branch and method (RFC 3261 §17.2.3); Call-ID and CSeq for
/// clients without a magic-cookie branch.
pub fn key(m: &SipMsg) -> String {
    let method = m.method().map(|x| x.to_string()).unwrap_or_default();
    let b = m.branch();
    if b.starts_with("z9hG4bK") {
        format!("{b} {method}")
    } else {
        let cseq = m.cseq().map(|c| c.cseq).unwrap_or(0);
        format!("{}/{cseq} {method}", m.call_id())
    }
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Txn>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when `key` is a known transaction (a retransmission): its last answer is sent again.
    /// Otherwise the transaction is opened and false returned.
    pub fn absorb(&self, w: &SipWire, key: &str, call_id: &str, flow: &Flow) -> bool {
        let mut map = self.lock();
        if let Some(t) = map.get(key) {
            if let Some(last) = &t.last {
                send(w, flow, last.clone());
            }
            return true;
        }
        map.insert(
            key.to_string(),
            Txn {
                call_id: call_id.to_string(),
                invite: key.ends_with(" INVITE"),
                last: None,
                done_at: None,
                acked: CancellationToken::new(),
            },
        );
        false
    }

    /// Sends a provisional answer and keeps it for retransmissions of the request.
    pub fn provisional(&self, w: &SipWire, key: &str, flow: &Flow, r: Bytes) {
        if let Some(t) = self.lock().get_mut(key) {
            if t.done_at.is_some() {
                return;
            }
            t.last = Some(r.clone());
        }
        send(w, flow, r);
    }

    /// Sends the final answer; over UDP an INVITE's is retransmitted (T1 doubling up to T2) until
    /// the ACK or 64·T1.
    pub fn final_response(&self, w: &Arc<SipWire>, key: String, flow: &Flow, r: Bytes) {
        let mut map = self.lock();
        let Some(t) = map.get_mut(&key) else {
            drop(map);
            send(w, flow, r);
            return;
        };
        if t.done_at.is_some() {
            return;
        }
        t.last = Some(r.clone());
        t.done_at = Some(Instant::now());
        let invite = t.invite;
        let acked = t.acked.clone();
        let call_id = t.call_id.clone();
        if !invite && flow.transport == Transport::Tcp {
            // A reliable transport retransmits nothing: Timer J is zero.
            map.remove(&key);
        }
        drop(map);
        send(w, flow, r.clone());
        if invite && flow.transport == Transport::Udp {
            tokio::spawn(retransmit(w.clone(), flow.clone(), r, acked, call_id));
        }
    }

    /// An ACK ends its INVITE transaction's retransmissions: a non-2xx ACK shares the INVITE's
    /// branch; a 2xx ACK is a new transaction and is matched by Call-ID.
    pub fn ack(&self, m: &SipMsg) {
        let b = m.branch();
        let by_branch = format!("{b} INVITE");
        let map = self.lock();
        if let Some(t) = map.get(&by_branch) {
            t.acked.cancel();
            return;
        }
        let cid = m.call_id();
        for t in map.values().filter(|t| t.invite && t.call_id == cid) {
            t.acked.cancel();
        }
    }

    /// Whether the INVITE transaction `key` has its final answer.
    pub fn is_done(&self, key: &str) -> bool {
        self.lock().get(key).is_none_or(|t| t.done_at.is_some())
    }

    /// Forgets transactions finished longer than 64·T1 ago.
    pub fn sweep(&self, now: Instant) {
        self.lock()
            .retain(|_, t| t.done_at.is_none_or(|d| now.duration_since(d) < LINGER));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn retransmit(
    w: Arc<SipWire>,
    flow: Flow,
    r: Bytes,
    acked: CancellationToken,
    call_id: String,
) {
    let deadline = tokio::time::Instant::now() + 64 * T1;
    let mut every = T1;
    let code = std::str::from_utf8(&r[8..r.len().min(11)])
        .ok()
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    loop {
        tokio::select! {
            _ = acked.cancelled() => return,
            _ = w.inst.stopping.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        send(&w, &flow, r.clone());
        w.inst.emit(
            None,
            EventKind::SipRetransmitted {
                call_id: call_id.clone(),
                code,
            },
        );
        every = (every * 2).min(T2);
    }
}
