//! The control API of holds (docs/control.md, "Holds"): arm, wait until fired (long poll),
//! release or drop, disarm. Generic: a hold names a message and a count, not a test step.

use crate::control::{err, parse};
use crate::holds::HoldSpec;
use crate::state::Instance;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

type Inst = State<Arc<Instance>>;

/// `POST /holds`: arms a hold, answers `{"id": N}`.
pub(crate) async fn arm(State(inst): Inst, body: Bytes) -> Response {
    let spec: HoldSpec = match parse(&body) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match inst.holds.arm(spec) {
        Ok(id) => axum::Json(json!({ "id": id })).into_response(),
        Err(e) => err(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
pub(crate) struct WaitQuery {
    #[serde(default)]
    wait_ms: u64,
}

/// `GET /holds/{id}?wait_ms=N`: `{"id", "fired": {...} | null}` once fired or after N ms.
pub(crate) async fn wait(
    State(inst): Inst,
    Path(id): Path<u64>,
    Query(q): Query<WaitQuery>,
) -> Response {
    match inst
        .holds
        .wait_fired(id, Duration::from_millis(q.wait_ms))
        .await
    {
        Ok(fired) => axum::Json(json!({ "id": id, "fired": fired })).into_response(),
        Err(e) => err(StatusCode::NOT_FOUND, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReleaseReq {
    #[serde(default)]
    drop: bool,
}

/// `POST /holds/{id}/release` `{"drop": false}`: lets the held message go on (or drops it).
pub(crate) async fn release(State(inst): Inst, Path(id): Path<u64>, body: Bytes) -> Response {
    let req: ReleaseReq = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    match inst.holds.release(id, req.drop) {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => err(StatusCode::NOT_FOUND, e),
    }
}

/// `DELETE /holds/{id}`: forgets the hold, letting a held message go on.
pub(crate) async fn disarm(State(inst): Inst, Path(id): Path<u64>) -> Response {
    match inst.holds.release(id, false) {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => err(StatusCode::NOT_FOUND, e),
    }
}
