//! The control endpoint of an `env up` process (HTTP, loopback by default): `GET /status`,
//! `POST /faults`, `DELETE /faults[/ID]`, `POST /down`; what `env status/fault/heal/down` call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::watch;

use super::owner::{Lab, LabError};

/// The body of `POST /faults`: the words after `env fault`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRequest {
    pub words: Vec<String>,
}

struct Ctx {
    lab: Arc<Lab>,
    down: watch::Sender<bool>,
}

impl IntoResponse for LabError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, Json(self)).into_response()
    }
}

/// The routes; `down` turns true when `POST /down` asks the owner to tear down and exit.
pub fn router(lab: Arc<Lab>, down: watch::Sender<bool>) -> Router {
    let ctx = Arc::new(Ctx { lab, down });
    Router::new()
        .route("/status", get(status))
        .route("/faults", post(fault).delete(heal_all))
        .route("/faults/{id}", delete(heal))
        .route("/down", post(down_now))
        .route("/watch", get(watch))
        .route("/runtime", get(runtime))
        .route("/runtime/watch", get(runtime_watch))
        .route("/runtime/{id}/{op}", post(runtime_op))
        .with_state(ctx)
}

async fn status(State(c): State<Arc<Ctx>>) -> Response {
    c.lab.status().await.map(Json).into_response()
}

async fn fault(State(c): State<Arc<Ctx>>, Json(r): Json<FaultRequest>) -> Response {
    c.lab.fault(&r.words).await.map(Json).into_response()
}

async fn heal(State(c): State<Arc<Ctx>>, Path(id): Path<u64>) -> Response {
    c.lab.heal(id).await.map(|h| Json(vec![h])).into_response()
}

async fn heal_all(State(c): State<Arc<Ctx>>) -> Response {
    c.lab.heal_all().await.map(Json).into_response()
}

/// Tears down before answering, so the caller knows nothing is left when the answer comes.
async fn down_now(State(c): State<Arc<Ctx>>) -> Response {
    let r = c.lab.shutdown().await;
    let _ = c.down.send(true);
    r.map(|_| Json(serde_json::json!({"down": true})))
        .into_response()
}

async fn runtime(State(c): State<Arc<Ctx>>) -> Response {
    c.lab.runtime().await.map(Json).into_response()
}

async fn runtime_op(State(c): State<Arc<Ctx>>, Path((id, op)): Path<(String, String)>) -> Response {
    c.lab.runtime_op(&id, &op).await.map(Json).into_response()
}

/// NDJSON: the runtime now, then again after every change of an instance or the fault proxy,
/// until the environment goes down.
async fn runtime_watch(State(c): State<Arc<Ctx>>) -> Response {
    let Some(w) = c.lab.watches().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let stream =
        futures::stream::unfold((w, c.lab.clone(), true), |(mut w, lab, first)| async move {
            if !first {
                type Change<'a> = std::pin::Pin<
                    Box<
                        dyn std::future::Future<
                                Output = Result<(), tokio::sync::watch::error::RecvError>,
                            > + Send
                            + 'a,
                    >,
                >;
                let mut changes: Vec<Change<'_>> = w
                    .instances
                    .iter_mut()
                    .map(|r| Box::pin(r.changed()) as Change<'_>)
                    .collect();
                changes.push(Box::pin(w.proxy.changed()));
                let (r, _, _) = futures::future::select_all(changes).await;
                r.ok()?;
            }
            let snap = lab.runtime().await.ok()?;
            let mut line = serde_json::to_vec(&snap).ok()?;
            line.push(b'\n');
            Some((Ok::<_, std::convert::Infallible>(line), (w, lab, false)))
        });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Plain text, one line per observation from now on (`+1.234s  B/sip_server/primary conn 4:
/// agent_login 1001 on 7001`), times from the request; until the client or the environment goes.
async fn watch(State(c): State<Arc<Ctx>>) -> Response {
    let rx = c.lab.watch();
    let down = c.down.subscribe();
    let start = crate::env::now_us();
    // Ends when the environment goes down, so the server's graceful shutdown is not held up.
    // The first line says the watch is live: whoever starts something next (a person, a test)
    // knows it will be seen, since the watch shows only what happens after it started.
    use futures::StreamExt;
    let first = futures::stream::once(async {
        Ok::<_, std::convert::Infallible>(
            "+0.000s  watch started: every observation from here on\n".to_string(),
        )
    });
    let stream = futures::stream::unfold((rx, down), move |(mut rx, mut down)| async move {
        let got = tokio::select! {
            r = rx.recv() => r,
            _ = down.wait_for(|d| *d) => return None,
        };
        let line = match got {
            Ok((ts, what)) => {
                let t = (ts - start) as f64 / 1e6;
                format!("+{t:.3}s  {what}\n")
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                format!("({n} observations skipped: the watcher was too slow)\n")
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(line), (rx, down)))
    });
    Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(axum::body::Body::from_stream(first.chain(stream)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
