//! The SIP Server's SIP listener (UDP and TCP, an RFC 3261 subset): registrar, OPTIONS, and INVITEs
//! redirected to the peer (302), refused (480) or delivered to the agent's registered phone.

pub mod control;
pub mod invite;
pub mod msg;
pub mod registrar;
mod ring;
pub mod transport;
pub mod txn;

use crate::state::Instance;
use bc_protocol::EventKind;
use bytes::Bytes;
use msg::{response, SipMsg};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
pub use transport::{Flow, Transport};

/// The listener's settings (`--sip-listen`, `--sip-expires-secs`, `--sip-peer-contact`,
/// `--sip-shutdown-reject`).
#[derive(Debug, Clone)]
pub struct SipOptions {
    pub listen: SocketAddr,
    /// The longest registration the registrar grants, in seconds.
    pub expires_secs: u32,
    /// The peer site's SIP address as clients reach it (the fault proxy's listen address for it):
    /// the Contact of a 302. Changeable through `POST /sip/peer`.
    pub peer_contact: Option<String>,
    /// What a graceful shutdown answers new INVITEs: 503, or 302 to the peer contact (other
    /// requests always get 503).
    pub shutdown_reject: u16,
}

/// Default for `--sip-expires-secs`: short, so scenarios need not wait out a phone's 300 s.
pub const DEFAULT_EXPIRES_SECS: u32 = 30;

/// The running listener of one instance.
pub struct SipWire {
    pub inst: Arc<Instance>,
    pub cfg: SipOptions,
    /// The bound address (Via and Contact of requests the mock starts).
    pub local: SocketAddr,
    pub udp: UdpSocket,
    tcp: Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>,
    pub txns: txn::Table,
    pub dialogs: invite::Dialogs,
    next_tag: AtomicU64,
}

impl SipWire {
    pub fn tcp_writers(&self) -> MutexGuard<'_, HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>> {
        self.tcp.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh tag / branch suffix, unique within this instance.
    pub fn tag(&self) -> String {
        let n = self.next_tag.fetch_add(1, Ordering::Relaxed);
        format!("bc{}{}{n:x}", self.inst.opts.site, self.local.port())
    }

    pub fn malformed(&self, source: SocketAddr, reason: &str) {
        self.inst.emit(
            None,
            EventKind::SipMalformed {
                source: source.to_string(),
                reason: reason.to_string(),
            },
        );
    }

    pub fn emit_expired(&self, aor: &str, b: &registrar::Binding, reason: &str) {
        self.inst.emit(
            None,
            EventKind::SipExpired {
                aor: aor.to_string(),
                contact: b.contact.clone(),
                reason: reason.to_string(),
            },
        );
    }

    /// Handles one whole message from a flow.
    pub fn handle(self: &Arc<Self>, data: Bytes, flow: Flow) {
        let m = match msg::parse(data) {
            Ok(m) => m,
            Err(e) => return self.malformed(flow.source, &e.reason),
        };
        if m.status().is_some() {
            if m.short_body {
                return self.malformed(flow.source, "response shorter than its Content-Length");
            }
            return invite::on_response(self, m, &flow);
        }
        if let Err(e) = m.check_request() {
            self.malformed(flow.source, &e.reason);
            // A 400 needs a Via to go back on; without one the request is dropped.
            if m.top_via().is_some() && m.method() != Some(&ezk_sip_types::Method::ACK) {
                transport::send(
                    self,
                    &flow,
                    response(&m, flow.source, 400, "Bad Request", None, &[], b""),
                );
            }
            return;
        }
        self.request(m, flow);
    }

    fn request(self: &Arc<Self>, m: SipMsg, flow: Flow) {
        use ezk_sip_types::Method;
        let method = m.method().cloned().unwrap_or(Method::OPTIONS);
        if method == Method::ACK {
            return self.txns.ack(&m);
        }
        let key = txn::key(&m);
        if self.txns.absorb(self, &key, &m.call_id(), &flow) {
            return;
        }
        let (active, shutting) = {
            let st = self.inst.lock();
            (st.active, st.shutting_down)
        };
        if active && shutting && method == Method::INVITE && self.cfg.shutdown_reject == 302 {
            if let Some(r) = invite::shutdown_redirect(self, &m, &flow) {
                return self.txns.final_response(self, key, &flow, r);
            }
        }
        if !active || shutting {
            // A standby or stopping SIP Server takes no new requests.
            let r = response(
                &m,
                flow.source,
                503,
                "Service Unavailable",
                Some(&self.tag()),
                &[],
                b"",
            );
            return self.txns.final_response(self, key, &flow, r);
        }
        let reply = if method == Method::REGISTER {
            registrar::register(self, &m, &flow)
        } else if method == Method::OPTIONS {
            let allow = (
                "Allow",
                "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER".to_string(),
            );
            response(&m, flow.source, 200, "OK", Some(&self.tag()), &[allow], b"")
        } else if method == Method::INVITE {
            return invite::on_invite(self, key, m, flow);
        } else if method == Method::BYE {
            invite::on_bye(self, &m, &flow)
        } else if method == Method::CANCEL {
            invite::on_cancel(self, &m, &flow)
        } else {
            let allow = (
                "Allow",
                "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER".to_string(),
            );
            response(
                &m,
                flow.source,
                405,
                "Method Not Allowed",
                Some(&self.tag()),
                &[allow],
                b"",
            )
        };
        self.txns.final_response(self, key, &flow, reply);
    }
}

/// Binds the listener and starts its tasks. Returns the bound address.
pub async fn start(inst: Arc<Instance>, cfg: SipOptions) -> std::io::Result<Arc<SipWire>> {
    let (udp, tcp) = transport::bind(cfg.listen).await?;
    let local = udp.local_addr()?;
    inst.lock().sip_peer_contact = cfg.peer_contact.clone();
    let w = Arc::new(SipWire {
        inst,
        cfg,
        local,
        udp,
        tcp: Mutex::new(HashMap::new()),
        txns: txn::Table::default(),
        dialogs: invite::Dialogs::default(),
        next_tag: AtomicU64::new(1),
    });
    tokio::spawn(transport::run_udp(w.clone()));
    tokio::spawn(transport::run_tcp(w.clone(), tcp));
    tokio::spawn(registrar::sweep(w.clone()));
    Ok(w)
}
