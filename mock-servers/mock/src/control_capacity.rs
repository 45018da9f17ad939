//! The control API of capacity (docs/control.md, "Capacity"): read the limits and counters, and
//! declare new limits at run time (a suite's or the configuration DB's, handed over by the harness).

use crate::capacity::Limits;
use crate::control::{err, parse};
use crate::state::Instance;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

type Inst = State<Arc<Instance>>;

fn body(inst: &Instance) -> serde_json::Value {
    json!({ "limits": inst.capacity.limits(), "counters": inst.capacity.counters() })
}

/// `GET /capacity`: `{"limits": {...}, "counters": {"admitted", "rejected_max_clients", "rejected_login_rate"}}`.
pub(crate) async fn get(State(inst): Inst) -> Response {
    axum::Json(body(&inst)).into_response()
}

/// `POST /capacity` with the limits (`{}` lifts them all); answers like `GET`.
pub(crate) async fn set(State(inst): Inst, b: Bytes) -> Response {
    let limits: Limits = match parse(&b) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    if let Err(e) = limits.validate() {
        return err(StatusCode::BAD_REQUEST, e);
    }
    inst.capacity.set(limits);
    axum::Json(body(&inst)).into_response()
}
