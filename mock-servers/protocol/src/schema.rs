//! JSON Schemas of the wire messages and of the observation events, generated with schemars.
//! The committed copies live in `schema/`; a test fails when they are stale.

use crate::{Message, ObservedEvent};

/// JSON Schema of every protocol message (`schema/messages.schema.json`).
pub fn messages_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Message)).unwrap_or_default()
}

/// JSON Schema of one line of `GET /events` (`schema/observe.schema.json`).
pub fn observe_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ObservedEvent)).unwrap_or_default()
}

/// Pretty JSON text as committed (with a trailing newline).
pub fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
