//! The registrar's binding table (AOR -> contacts, each with the flow its REGISTER came in on) and
//! the REGISTER transaction; bindings are mirrored to the HA partner like agent logins.

use super::msg::{response, SipMsg};
use super::transport::Flow;
use super::SipWire;
use crate::state::mirror;
use crate::sync_msg::SyncMsg;
use bc_protocol::EventKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One registered contact of an address of record (the DN a phone registers).
#[derive(Debug, Clone)]
pub struct Binding {
    pub contact: String,
    pub flow: Flow,
    pub call_id: String,
    pub expires_at: Instant,
}

/// A binding as the HA sync link carries it (remaining lifetime instead of an instant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirroredBinding {
    pub aor: String,
    pub contact: String,
    pub flow: Flow,
    pub call_id: String,
    pub expires_ms: u64,
}

/// AOR -> its bindings (a phone may register more than one contact).
#[derive(Debug, Default)]
pub struct Bindings {
    by_aor: BTreeMap<String, Vec<Binding>>,
}

impl Bindings {
    /// The freshest live binding of an AOR (the one an INVITE goes to).
    pub fn lookup(&self, aor: &str, now: Instant) -> Option<&Binding> {
        self.by_aor
            .get(aor)?
            .iter()
            .filter(|b| b.expires_at > now)
            .max_by_key(|b| b.expires_at)
    }

    pub fn upsert(&mut self, aor: &str, b: Binding) {
        let v = self.by_aor.entry(aor.to_string()).or_default();
        v.retain(|o| o.contact != b.contact);
        v.push(b);
    }

    pub fn remove(&mut self, aor: &str, contact: Option<&str>) -> Vec<Binding> {
        let Some(v) = self.by_aor.get_mut(aor) else {
            return Vec::new();
        };
        let (gone, keep): (Vec<Binding>, Vec<Binding>) = std::mem::take(v)
            .into_iter()
            .partition(|b| contact.is_none_or(|c| c == b.contact));
        *v = keep;
        if v.is_empty() {
            self.by_aor.remove(aor);
        }
        gone
    }

    /// Removes and returns the bindings past their expiry.
    pub fn take_expired(&mut self, now: Instant) -> Vec<(String, Binding)> {
        let mut out = Vec::new();
        for (aor, v) in self.by_aor.iter_mut() {
            let (gone, keep): (Vec<Binding>, Vec<Binding>) = std::mem::take(v)
                .into_iter()
                .partition(|b| b.expires_at <= now);
            *v = keep;
            out.extend(gone.into_iter().map(|b| (aor.clone(), b)));
        }
        self.by_aor.retain(|_, v| !v.is_empty());
        out
    }

    pub fn clear(&mut self) {
        self.by_aor.clear();
    }

    pub fn len(&self) -> usize {
        self.by_aor.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_aor.is_empty()
    }

    /// Every binding for the sync link's snapshot, or for `GET /sip/bindings`.
    pub fn mirrored(&self, now: Instant) -> Vec<MirroredBinding> {
        self.by_aor
            .iter()
            .flat_map(|(aor, v)| v.iter().map(move |b| mirrored(aor, b, now)))
            .collect()
    }

    /// Applies a binding from the partner.
    pub fn apply(&mut self, m: MirroredBinding, now: Instant) {
        let b = Binding {
            contact: m.contact,
            flow: m.flow,
            call_id: m.call_id,
            expires_at: now + Duration::from_millis(m.expires_ms),
        };
        self.upsert(&m.aor, b);
    }
}

pub fn mirrored(aor: &str, b: &Binding, now: Instant) -> MirroredBinding {
    MirroredBinding {
        aor: aor.to_string(),
        contact: b.contact.clone(),
        flow: b.flow.clone(),
        call_id: b.call_id.clone(),
        expires_ms: b.expires_at.saturating_duration_since(now).as_millis() as u64,
    }
}

/// Handles a REGISTER: adds, refreshes or removes bindings; answers 200 with the bindings held.
pub fn register(w: &SipWire, req: &SipMsg, flow: &Flow) -> bytes::Bytes {
    let src = flow.source;
    let Some(aor) = req.to_user() else {
        return response(req, src, 400, "Bad Request", None, &[], b"");
    };
    let contacts = match req.contacts() {
        Ok(c) => c,
        Err(e) => {
            w.malformed(src, &e.reason);
            return response(req, src, 400, "Bad Request", None, &[], b"");
        }
    };
    let default_exp = req.expires();
    let call_id = req.call_id();
    let now = Instant::now();
    let inst = &w.inst;
    let mut st = inst.lock();
    match contacts {
        None => {
            for b in st.sip_bindings.remove(&aor, None) {
                w.emit_expired(&aor, &b, "unregistered");
                mirror(
                    &st,
                    SyncMsg::BindingRemove {
                        aor: aor.clone(),
                        contact: b.contact,
                    },
                );
            }
        }
        Some(list) => {
            for (contact, exp) in list {
                let asked = exp.or(default_exp).unwrap_or(w.cfg.expires_secs);
                if asked == 0 {
                    for b in st.sip_bindings.remove(&aor, Some(&contact)) {
                        w.emit_expired(&aor, &b, "unregistered");
                        mirror(
                            &st,
                            SyncMsg::BindingRemove {
                                aor: aor.clone(),
                                contact: b.contact,
                            },
                        );
                    }
                    continue;
                }
                // The registrar grants at most its configured Expires, so bindings lapse quickly.
                let granted = asked.min(w.cfg.expires_secs);
                let b = Binding {
                    contact: contact.clone(),
                    flow: flow.clone(),
                    call_id: call_id.clone(),
                    expires_at: now + Duration::from_secs(u64::from(granted)),
                };
                inst.emit(
                    None,
                    EventKind::SipRegistered {
                        aor: aor.clone(),
                        contact: contact.clone(),
                        transport: flow.transport.as_str().into(),
                        source: src.to_string(),
                        expires: granted,
                    },
                );
                mirror(&st, SyncMsg::BindingUpsert(mirrored(&aor, &b, now)));
                st.sip_bindings.upsert(&aor, b);
            }
        }
    }
    let held: Vec<(&str, String)> = st
        .sip_bindings
        .by_aor
        .get(&aor)
        .map(|v| {
            v.iter()
                .map(|b| {
                    let left = b.expires_at.saturating_duration_since(now).as_secs();
                    ("Contact", format!("<{}>;expires={left}", b.contact))
                })
                .collect()
        })
        .unwrap_or_default();
    drop(st);
    response(req, src, 200, "OK", Some(&w.tag()), &held, b"")
}

/// Expires bindings whose time is up, every 200 ms while the instance runs.
pub async fn sweep(w: std::sync::Arc<SipWire>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = w.inst.stopping.cancelled() => return,
            _ = tick.tick() => {}
        }
        let mut st = w.inst.lock();
        for (aor, b) in st.sip_bindings.take_expired(Instant::now()) {
            w.emit_expired(&aor, &b, "expired");
        }
    }
}
