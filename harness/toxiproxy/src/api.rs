//! The Toxiproxy 2.x HTTP API (axum): routes, handlers and Toxiproxy-compatible errors.
//! Handlers never wait on the data path, so calls return promptly whatever flows.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::collection::ToxicEntry;
use crate::model::{
    ErrorBody, PopulateBody, Protocol, ProxyInput, ProxyJson, ProxyPatch, Stream, ToxicInput,
    ToxicPatch,
};
use crate::proxy::{Proxy, Shared};
use crate::toxics::{KindError, ToxicKind};

/// The Toxiproxy version whose API this server speaks.
pub const API_VERSION: &str = "2.12.0";

/// Server state behind the API.
pub struct AppState {
    pub proxies: Mutex<BTreeMap<String, Proxy>>,
    pub shared: Arc<Shared>,
    next_toxic: AtomicU64,
}

impl AppState {
    pub fn new(seed: u64) -> Arc<Self> {
        Arc::new(AppState {
            proxies: Mutex::new(BTreeMap::new()),
            shared: Arc::new(Shared::new(seed)),
            next_toxic: AtomicU64::new(1),
        })
    }

    /// Creates or replaces proxies like POST /populate; returns the proxies in input order.
    pub async fn populate(&self, input: Vec<ProxyInput>) -> (Vec<ProxyJson>, Option<ApiError>) {
        for (i, p) in input.iter().enumerate() {
            if p.name.is_empty() {
                return (
                    Vec::new(),
                    Some(ApiError::bad(format!(
                        "missing required field: name at proxy {}",
                        i + 1
                    ))),
                );
            }
            if p.upstream.is_empty() {
                return (
                    Vec::new(),
                    Some(ApiError::bad(format!(
                        "missing required field: upstream at proxy {}",
                        i + 1
                    ))),
                );
            }
        }
        let mut map = self.proxies.lock().await;
        let mut out = Vec::new();
        for p in input {
            let enabled = p.enabled.unwrap_or(true);
            let listen = default_listen(p.listen);
            if let Some(existing) = map.get_mut(&p.name) {
                if existing.listen == listen
                    && existing.upstream == p.upstream
                    && existing.protocol == p.protocol
                {
                    out.push(existing.to_json());
                    continue;
                }
                existing.stop().await;
            }
            let mut proxy = Proxy::new(p.name.clone(), listen, p.upstream);
            proxy.protocol = p.protocol;
            if enabled {
                if let Err(e) = proxy.start(&self.shared) {
                    return (out, Some(ApiError::internal(e)));
                }
            }
            out.push(proxy.to_json());
            map.insert(p.name, proxy);
        }
        (out, None)
    }

    /// Stops every proxy (server shutdown).
    pub async fn stop_all(&self) {
        let mut map = self.proxies.lock().await;
        for p in map.values_mut() {
            p.stop().await;
        }
    }
}

fn default_listen(listen: String) -> String {
    if listen.is_empty() {
        // Toxiproxy would listen on all interfaces; loopback is the safe default here.
        "127.0.0.1:0".to_string()
    } else {
        listen
    }
}

/// An error answer: `{"error": message, "status": code}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    fn proxy_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "proxy not found")
    }
    fn toxic_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "toxic not found")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            status: self.status.as_u16(),
        };
        json(self.status, &body)
    }
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("bad request body: {e}")))
}

type ApiResult = Result<Response, ApiError>;

/// The API router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/reset", post(reset))
        .route("/populate", post(populate))
        .route("/proxies", get(list_proxies).post(create_proxy))
        .route(
            "/proxies/{proxy}",
            get(get_proxy)
                .post(update_proxy)
                .patch(update_proxy)
                .delete(delete_proxy),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(list_toxics).post(create_toxic),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(get_toxic)
                .post(update_toxic)
                .patch(update_toxic)
                .delete(delete_toxic),
        )
        .route("/proxies/{proxy}/flows/forget", post(forget_flows))
        .fallback(not_found)
        .layer(axum::middleware::map_response(server_header))
        .with_state(state)
}

async fn server_header(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::SERVER,
        HeaderValue::from_static(concat!("bc-toxiproxy/", env!("CARGO_PKG_VERSION"))),
    );
    res
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        "404 page not found\n",
    )
        .into_response()
}

async fn version() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        )],
        format!("{{\"version\": \"{API_VERSION}\"}}\n"),
    )
        .into_response()
}

async fn reset(State(st): State<Arc<AppState>>) -> ApiResult {
    let mut map = st.proxies.lock().await;
    for p in map.values_mut() {
        if let Err(e) = p.start(&st.shared) {
            return Err(ApiError::internal(e));
        }
        p.toxics.clear();
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn populate(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let input: Vec<ProxyInput> = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => {
            let b = PopulateBody {
                error: Some(&e.message),
                status: Some(400),
                proxies: None,
            };
            return json(StatusCode::BAD_REQUEST, &b);
        }
    };
    let (proxies, err) = st.populate(input).await;
    let proxies = (!proxies.is_empty()).then_some(proxies);
    match err {
        None => json(
            StatusCode::CREATED,
            &PopulateBody {
                error: None,
                status: None,
                proxies,
            },
        ),
        Some(e) => {
            let b = PopulateBody {
                error: Some(&e.message),
                status: Some(e.status.as_u16()),
                proxies,
            };
            json(e.status, &b)
        }
    }
}

async fn list_proxies(State(st): State<Arc<AppState>>) -> Response {
    let map = st.proxies.lock().await;
    let all: BTreeMap<&String, ProxyJson> = map.iter().map(|(k, p)| (k, p.to_json())).collect();
    json(StatusCode::OK, &all)
}

async fn create_proxy(State(st): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let input: ProxyInput = parse_body(&body)?;
    if input.name.is_empty() {
        return Err(ApiError::bad("missing required field: name"));
    }
    if input.upstream.is_empty() {
        return Err(ApiError::bad("missing required field: upstream"));
    }
    let mut map = st.proxies.lock().await;
    if map.contains_key(&input.name) {
        return Err(ApiError::new(StatusCode::CONFLICT, "proxy already exists"));
    }
    let mut proxy = Proxy::new(
        input.name.clone(),
        default_listen(input.listen),
        input.upstream,
    );
    proxy.protocol = input.protocol;
    if input.enabled.unwrap_or(true) {
        proxy.start(&st.shared).map_err(ApiError::internal)?;
    }
    let out = proxy.to_json();
    map.insert(input.name, proxy);
    Ok(json(StatusCode::CREATED, &out))
}

async fn get_proxy(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    Ok(json(StatusCode::OK, &p.to_json()))
}

async fn update_proxy(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let mut map = st.proxies.lock().await;
    let p = map.get_mut(&name).ok_or_else(ApiError::proxy_not_found)?;
    let patch: ProxyPatch = parse_body(&body)?;
    let listen = patch
        .listen
        .map(default_listen)
        .unwrap_or_else(|| p.listen.clone());
    let upstream = patch.upstream.unwrap_or_else(|| p.upstream.clone());
    let enabled = patch.enabled.unwrap_or(p.enabled());
    if listen == p.listen && upstream != p.upstream {
        // A udp proxy re-points its flows without closing them (an HA virtual IP moving): the
        // new server sees the same source address per client.
        if let Some(udp) = p.udp() {
            udp.set_upstream(&upstream).map_err(ApiError::bad)?;
            p.upstream = upstream.clone();
        }
    }
    if listen != p.listen || upstream != p.upstream {
        // As Toxiproxy: a new address means a restart (live connections close).
        let was = p.enabled();
        p.stop().await;
        p.listen = listen;
        p.upstream = upstream;
        if was && enabled {
            p.start(&st.shared).map_err(ApiError::internal)?;
        }
    }
    if enabled != p.enabled() {
        if enabled {
            p.start(&st.shared).map_err(ApiError::internal)?;
        } else {
            p.stop().await;
        }
    }
    Ok(json(StatusCode::OK, &p.to_json()))
}

async fn delete_proxy(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> ApiResult {
    let mut map = st.proxies.lock().await;
    let mut p = map.remove(&name).ok_or_else(ApiError::proxy_not_found)?;
    p.stop().await;
    p.toxics.clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_toxics(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    Ok(json(StatusCode::OK, &p.toxics.to_json()))
}

/// The `clients` extension: IP addresses (a port would change at every reconnect, so it is no
/// key); an empty list means every client, as without the field.
fn check_clients(list: &[String]) -> Result<Option<Vec<std::net::IpAddr>>, ApiError> {
    let ips = list
        .iter()
        .map(|s| {
            s.parse().map_err(|_| {
                ApiError::bad(format!(
                    "clients: `{s}` is not an IP address (a client is keyed by address, not port)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!ips.is_empty()).then_some(ips))
}

fn check_toxicity(t: f32) -> Result<f32, ApiError> {
    if t.is_finite() && (0.0..=1.0).contains(&t) {
        Ok(t)
    } else {
        Err(ApiError::bad("toxicity must be between 0 and 1"))
    }
}

fn kind_error(e: KindError) -> ApiError {
    match e {
        KindError::UnknownType => ApiError::bad("invalid toxic type"),
        KindError::BadAttributes(m) => ApiError::bad(format!("bad request body: {m}")),
    }
}

async fn create_toxic(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    let input: ToxicInput = parse_body(&body)?;
    let kind = ToxicKind::new(&input.kind, input.attributes.as_ref()).map_err(kind_error)?;
    check_kind(p.protocol, &kind)?;
    let stream = if input.stream.is_empty() {
        Stream::Downstream
    } else {
        Stream::parse(&input.stream).ok_or_else(|| {
            ApiError::bad("stream was invalid, can be either upstream or downstream")
        })?
    };
    let toxicity = check_toxicity(input.toxicity.unwrap_or(1.0))?;
    let clients = input
        .clients
        .as_deref()
        .map(check_clients)
        .transpose()?
        .flatten();
    let toxic_name = if input.name.is_empty() {
        format!("{}_{}", kind.type_name(), stream.as_str())
    } else {
        input.name
    };
    let entry = ToxicEntry {
        id: st.next_toxic.fetch_add(1, Ordering::Relaxed),
        generation: 0,
        name: toxic_name,
        stream,
        toxicity,
        kind,
        clients,
    };
    let out = entry.to_json();
    if !p.toxics.add(entry) {
        return Err(ApiError::new(StatusCode::CONFLICT, "toxic already exists"));
    }
    Ok(json(StatusCode::OK, &out))
}

/// Toxics must mean something for the proxy's transport: datagrams have no stream to slice,
/// pace or reset, and a byte stream has no datagrams to lose.
fn check_kind(protocol: Protocol, kind: &ToxicKind) -> Result<(), ApiError> {
    match (protocol, kind) {
        (Protocol::Udp, ToxicKind::ResetPeer(_)) => Err(ApiError::bad(
            "reset_peer has no meaning on a udp proxy: there is no connection to reset \
             (timeout drops datagrams; disabling the proxy refuses them)",
        )),
        (
            Protocol::Udp,
            ToxicKind::Latency(_) | ToxicKind::Timeout(_) | ToxicKind::Loss(_) | ToxicKind::Noop(_),
        ) => check_loss(kind),
        (Protocol::Udp, k) => Err(ApiError::bad(format!(
            "toxic type {} has no meaning on a udp proxy (it takes latency, timeout, loss, noop)",
            k.type_name()
        ))),
        (Protocol::Tcp, ToxicKind::Loss(_)) => Err(ApiError::bad(
            "toxic type loss works on udp proxies only (a byte stream has no datagrams to lose)",
        )),
        _ => Ok(()),
    }
}

fn check_loss(kind: &ToxicKind) -> Result<(), ApiError> {
    match kind {
        ToxicKind::Loss(l) if !(0.0..=1.0).contains(&l.probability) => {
            Err(ApiError::bad("loss probability must be between 0 and 1"))
        }
        _ => Ok(()),
    }
}

/// `POST /proxies/{name}/flows/forget` (extension): a udp proxy forgets its flows.
async fn forget_flows(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    if p.protocol != Protocol::Udp {
        return Err(ApiError::bad("only udp proxies have flows to forget"));
    }
    let n = p.udp().map_or(0, |u| u.forget_flows());
    Ok(json(StatusCode::OK, &serde_json::json!({ "forgotten": n })))
}

async fn get_toxic(
    State(st): State<Arc<AppState>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    let t = p.toxics.get(&toxic).ok_or_else(ApiError::toxic_not_found)?;
    Ok(json(StatusCode::OK, &t.to_json()))
}

async fn update_toxic(
    State(st): State<Arc<AppState>>,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    if p.toxics.get(&toxic).is_none() {
        return Err(ApiError::toxic_not_found());
    }
    let patch: ToxicPatch = parse_body(&body)?;
    let toxicity = patch.toxicity.map(check_toxicity).transpose()?;
    let clients = patch.clients.as_deref().map(check_clients).transpose()?;
    let res = p.toxics.update(&toxic, |old| {
        let kind = old
            .kind
            .merged(patch.attributes.as_ref())
            .map_err(|e| e.to_string())?;
        Ok(ToxicEntry {
            kind,
            toxicity: toxicity.unwrap_or(old.toxicity),
            clients: clients.clone().unwrap_or_else(|| old.clients.clone()),
            ..old.clone()
        })
    });
    match res {
        None => Err(ApiError::toxic_not_found()),
        Some(Err(m)) => Err(ApiError::bad(format!("bad request body: {m}"))),
        Some(Ok(t)) => Ok(json(StatusCode::OK, &t.to_json())),
    }
}

async fn delete_toxic(
    State(st): State<Arc<AppState>>,
    Path((name, toxic)): Path<(String, String)>,
) -> ApiResult {
    let map = st.proxies.lock().await;
    let p = map.get(&name).ok_or_else(ApiError::proxy_not_found)?;
    if !p.toxics.remove(&toxic) {
        return Err(ApiError::toxic_not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
