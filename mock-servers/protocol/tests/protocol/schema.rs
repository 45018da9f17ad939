//! The committed JSON Schemas match the types. Regenerate with
//! `BC_UPDATE_SCHEMA=1 cargo test -p bc-protocol --test protocol schema::`.

use bc_protocol::schema::{messages_schema, observe_schema, pretty};
use std::path::PathBuf;

fn check(file: &str, v: serde_json::Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    let want = pretty(&v);
    if std::env::var_os("BC_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale; regenerate with BC_UPDATE_SCHEMA=1 cargo test -p bc-protocol --test protocol schema::",
        path.display()
    );
}

#[test]
fn messages_schema_is_current() {
    let v = messages_schema();
    // Every message name appears in the schema.
    let text = v.to_string();
    for n in bc_protocol::Message::NAMES {
        assert!(
            text.contains(&format!("\"{n}\"")),
            "{n} missing from the schema"
        );
    }
    check("messages.schema.json", v);
}

#[test]
fn observe_schema_is_current() {
    check("observe.schema.json", observe_schema());
}
