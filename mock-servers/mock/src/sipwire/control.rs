//! The SIP listener's control endpoints: where an agent is logged in (asked by the peer before a
//! 302), the binding table, and the peer's SIP address for 302 Contacts.

use crate::control::{err, parse};
use crate::state::Instance;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Inst = State<Arc<Instance>>;

/// `GET /sip/located/{dn}`: `{"logged_in": true}` when an agent is logged in on the DN here and
/// this instance is active (a standby's mirror does not count: it takes no calls).
pub async fn located(State(inst): Inst, Path(dn): Path<String>) -> Response {
    let st = inst.lock();
    let logged_in = st.active && st.agents.contains_key(&dn);
    axum::Json(json!({ "dn": dn, "logged_in": logged_in, "site": inst.opts.site })).into_response()
}

/// `GET /sip/bindings`: every binding with its remaining lifetime.
pub async fn bindings(State(inst): Inst) -> Response {
    let st = inst.lock();
    let all = st.sip_bindings.mirrored(std::time::Instant::now());
    axum::Json(json!({ "bindings": all, "peer_contact": st.sip_peer_contact })).into_response()
}

#[derive(Deserialize)]
struct PeerContact {
    contact: Option<String>,
}

/// `POST /sip/peer {"contact": "HOST:PORT"|null}`: the peer site's SIP address for 302 Contacts.
pub async fn set_peer(State(inst): Inst, body: Bytes) -> Response {
    let b: PeerContact = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(c) = &b.contact {
        if c.parse::<std::net::SocketAddr>().is_err() {
            return err(
                StatusCode::BAD_REQUEST,
                format!("contact {c:?} is not HOST:PORT"),
            );
        }
    }
    inst.lock().sip_peer_contact = b.contact.clone();
    axum::Json(json!({ "contact": b.contact })).into_response()
}
