//! The HTTP control and observation API of one instance (axum), as documented in docs/control.md:
//! health, event stream, sessions, promote/demote, login rejection, shutdown, calls, config updates,
//! reset; holds in `control_holds`.

use crate::config_proxy;
use crate::sip;
use crate::state::Instance;
use crate::stream;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bc_protocol::{EventKind, ObjectType, Role, ServerKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

type Inst = State<Arc<Instance>>;

/// Builds the router for an instance.
pub fn router(inst: Arc<Instance>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/events", get(stream::events))
        .route("/events/mark", post(stream::mark))
        .route("/sessions", get(sessions))
        .route("/promote", post(promote))
        .route("/demote", post(demote))
        .route("/reject-logins", post(reject_logins))
        .route("/shutdown", post(shutdown))
        .route("/calls", post(calls))
        .route("/peers", get(get_peers).post(set_peers))
        .route("/objects/update", post(update_object))
        .route("/reset", post(reset))
        .route("/holds", post(crate::control_holds::arm))
        .route(
            "/capacity",
            get(crate::control_capacity::get).post(crate::control_capacity::set),
        )
        .route(
            "/holds/{id}",
            get(crate::control_holds::wait).delete(crate::control_holds::disarm),
        )
        .route("/holds/{id}/release", post(crate::control_holds::release))
        .route("/sip/located/{dn}", get(crate::sipwire::control::located))
        .route("/sip/bindings", get(crate::sipwire::control::bindings))
        .route("/sip/peer", post(crate::sipwire::control::set_peer))
        .fallback(|| async { err(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            err(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .with_state(inst)
}

pub(crate) fn err(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, axum::Json(json!({ "error": msg.into() }))).into_response()
}

pub(crate) fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    let body: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        Box::new(err(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
        ))
    })
}

/// The health body (also the answer of promote / demote).
pub fn health_value(inst: &Instance) -> Value {
    let st = inst.lock();
    json!({
        "server": inst.kind().as_str(),
        "site": inst.opts.site,
        "role": match inst.opts.role { Role::Primary => "primary", Role::Backup => "backup" },
        "active": st.active,
        "listen": *inst.listen.lock().unwrap_or_else(|e| e.into_inner()),
        "reject_logins": st.reject_logins,
        "sessions": st.conns.len(),
    })
}

async fn health(State(inst): Inst) -> Response {
    axum::Json(health_value(&inst)).into_response()
}

#[derive(Serialize)]
struct AgentView {
    agent_id: String,
    dn: String,
    state: bc_protocol::AgentState,
}

#[derive(Serialize)]
struct SessionView {
    conn: u64,
    peer: String,
    client_name: Option<String>,
    registered: bool,
    dns: Vec<String>,
    agents: Vec<AgentView>,
    statistics: Vec<i64>,
}

async fn sessions(State(inst): Inst) -> Response {
    let st = inst.lock();
    let mut out: Vec<SessionView> = st
        .conns
        .iter()
        .map(|(id, c)| {
            let mut agents: Vec<AgentView> = c
                .owned
                .iter()
                .filter_map(|dn| st.agents.get(dn).map(|a| (dn, a)))
                .filter(|(_, a)| a.owner == Some(*id))
                .map(|(dn, a)| AgentView {
                    agent_id: a.agent_id.clone(),
                    dn: dn.clone(),
                    state: a.state,
                })
                .collect();
            agents.sort_by(|a, b| a.dn.cmp(&b.dn));
            SessionView {
                conn: *id,
                peer: c.peer.clone(),
                client_name: c.client_name.clone(),
                registered: c.registered,
                dns: c.dns.iter().cloned().collect(),
                agents,
                statistics: c.stats.keys().copied().collect(),
            }
        })
        .collect();
    out.sort_by_key(|s| s.conn);
    axum::Json(out).into_response()
}

async fn promote(State(inst): Inst) -> Response {
    inst.promote();
    axum::Json(health_value(&inst)).into_response()
}

async fn demote(State(inst): Inst) -> Response {
    inst.demote();
    axum::Json(health_value(&inst)).into_response()
}

#[derive(Deserialize)]
struct Enabled {
    enabled: bool,
}

async fn reject_logins(State(inst): Inst, body: Bytes) -> Response {
    let b: Enabled = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    inst.set_reject_logins(b.enabled);
    axum::Json(json!({ "enabled": b.enabled })).into_response()
}

async fn shutdown(State(inst): Inst) -> Response {
    let i = inst.clone();
    tokio::spawn(async move {
        // Let the 202 reach the caller before connections start closing.
        tokio::time::sleep(Duration::from_millis(1)).await;
        i.graceful_shutdown().await;
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "shutting_down": true })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CallReq {
    dn: String,
    #[serde(default = "default_other")]
    other_dn: String,
    #[serde(default = "default_type")]
    call_type: String,
    /// Set when a peer forwards the call: do not redirect again.
    #[serde(default)]
    no_redirect: bool,
}

fn default_other() -> String {
    "5000".into()
}
fn default_type() -> String {
    "Inbound".into()
}

async fn calls(State(inst): Inst, body: Bytes) -> Response {
    if inst.kind() != ServerKind::SipServer {
        return err(
            StatusCode::NOT_FOUND,
            "calls are delivered by a sip_server only",
        );
    }
    let req: CallReq = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(conn_id) = sip::deliver_local(&inst, &req.dn, &req.other_dn, &req.call_type) {
        return axum::Json(json!({
            "conn_id": conn_id, "delivered_via": inst.opts.site, "redirected": false
        }))
        .into_response();
    }
    if !req.no_redirect {
        let peers = inst.lock().peers.clone();
        let body = json!({
            "dn": req.dn, "other_dn": req.other_dn, "call_type": req.call_type,
            "no_redirect": true
        });
        if let Some(v) = forward_to_peers(&peers, &body).await {
            let to_site = v["delivered_via"].as_str().unwrap_or("?").to_string();
            inst.emit(
                None,
                EventKind::CallRedirected {
                    dn: req.dn.clone(),
                    to_site: to_site.clone(),
                },
            );
            return axum::Json(json!({
                "conn_id": v["conn_id"], "delivered_via": to_site, "redirected": true
            }))
            .into_response();
        }
    }
    err(
        StatusCode::NOT_FOUND,
        format!(
            "no Ready agent is logged in on dn {} here or at a peer",
            req.dn
        ),
    )
}

/// Offers a call to every peer at once; the first that delivers wins. Asking all at once keeps a
/// frozen or black-holed peer (2 s timeout) from delaying delivery through a healthy one.
async fn forward_to_peers(peers: &[String], body: &Value) -> Option<Value> {
    use futures::StreamExt;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .ok()?;
    let mut pending: futures::stream::FuturesUnordered<_> = peers
        .iter()
        .map(|p| {
            let req = client
                .post(format!("{}/calls", p.trim_end_matches('/')))
                .json(body);
            async move {
                let resp = req.send().await.ok()?;
                if !resp.status().is_success() {
                    return None;
                }
                resp.json::<Value>().await.ok()
            }
        })
        .collect();
    while let Some(r) = pending.next().await {
        if r.is_some() {
            return r;
        }
    }
    None
}

#[derive(Deserialize)]
struct Peers {
    peers: Vec<String>,
}

async fn get_peers(State(inst): Inst) -> Response {
    axum::Json(json!({ "peers": inst.lock().peers })).into_response()
}

async fn set_peers(State(inst): Inst, body: Bytes) -> Response {
    let b: Peers = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    inst.lock().peers = b.peers.clone();
    axum::Json(json!({ "peers": b.peers })).into_response()
}

#[derive(Deserialize)]
struct UpdateReq {
    object_type: ObjectType,
    dbid: i64,
    #[serde(default)]
    annex: BTreeMap<String, BTreeMap<String, Option<String>>>,
}

async fn update_object(State(inst): Inst, body: Bytes) -> Response {
    if inst.kind() != ServerKind::ConfigServer {
        return err(
            StatusCode::NOT_FOUND,
            "objects are updated on a config_server only",
        );
    }
    let req: UpdateReq = match parse(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    match config_proxy::update_object(&inst, req.object_type, req.dbid, &req.annex) {
        Ok(o) => axum::Json(o).into_response(),
        Err(e) => err(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn reset(State(inst): Inst) -> Response {
    match inst.load_db() {
        Ok(db) => {
            inst.reset(db);
            axum::Json(health_value(&inst)).into_response()
        }
        Err(e) => err(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}
