//! Suite words to engine words, as pure functions of the planned action and data: planned actions
//! become environment faults with their timeline effects (`faults`) and check specs (`checks`).

mod checks;
mod faults;

pub use checks::{default_servers, expectation, invariants, measurements};
pub use faults::{injection, serving_pair, Injection};

use bc_suite::Action;

/// A step in words for the console and the timeline.
pub fn describe(a: &Action) -> String {
    match serde_json::to_value(a) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .next()
            .map(|(k, v)| format!("{k} {}", compact(&v)))
            .unwrap_or_default(),
        _ => format!("{a:?}"),
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", compact(v)))
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
