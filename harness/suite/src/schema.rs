//! JSON Schema of the suite format, generated from the model (committed as suites/schema.json).
//! Editors use it through `# yaml-language-server: $schema=...` for completion and checks.

use crate::model::Suite;

/// The schema as pretty-printed JSON with a trailing newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Suite);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
