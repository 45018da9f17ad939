//! The committed suites/schema.json must equal the schema generated from the model.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test -p bc-suite --test suite schema::`
//! (or `bc-harness schema --write suites/schema.json`).

#[test]
fn committed_schema_is_current() {
    let path = crate::common::repo().join("suites/schema.json");
    let generated = bc_suite::schema_json();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "suites/schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p bc-suite --test suite schema::`"
    );
}

#[test]
fn schema_describes_steps_and_rejects_unknown_keys() {
    let v: serde_json::Value = serde_json::from_str(&bc_suite::schema_json()).unwrap();
    assert_eq!(v["additionalProperties"], serde_json::Value::Bool(false));
    let steps = v["$defs"]["Step"]["oneOf"]
        .as_array()
        .expect("steps are a oneOf");
    assert_eq!(steps.len(), bc_suite::Step::KEYWORDS.len());
    assert_eq!(v["properties"]["version"]["const"], 1);
}
