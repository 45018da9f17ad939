//! docs/suite-format.md is a complete reference: every key of the JSON Schema (hence of the
//! model) and every step keyword is mentioned there as `key`.

use std::collections::BTreeSet;

fn keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            if let Some(serde_json::Value::String(c)) = m.get("const") {
                out.insert(c.clone());
            }
            if let Some(serde_json::Value::Array(e)) = m.get("enum") {
                out.extend(e.iter().filter_map(|x| x.as_str().map(str::to_string)));
            }
            m.values().for_each(|x| keys(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn reference_mentions_every_key_and_value() {
    let doc = std::fs::read_to_string(crate::common::repo().join("docs/suite-format.md")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&bc_suite::schema_json()).unwrap();
    let mut all = BTreeSet::new();
    keys(&schema, &mut all);
    all.extend(bc_suite::Step::KEYWORDS.iter().map(|s| s.to_string()));
    let missing: Vec<&String> = all
        .iter()
        .filter(|k| !doc.contains(&format!("`{k}`")) && !doc.contains(&format!("`{k}` ")))
        .collect();
    assert!(missing.is_empty(), "not documented: {missing:?}");
}
