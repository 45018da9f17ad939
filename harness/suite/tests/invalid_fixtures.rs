//! Every broken suite under fixtures/suites/invalid/ is rejected, at the locations its
//! `# expect: LINE:COL ...` header names, with the rendering pinned in a `.expected` file.
//! Regenerate the renderings with `UPDATE_SNAPSHOTS=1 cargo test -p bc-suite --test invalid_fixtures`.

mod common;

use common::{files, rel, repo};

fn expected_locations(text: &str) -> Vec<String> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# expect:"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn invalid_fixtures_are_rejected_at_the_right_place() {
    let dir = repo().join("fixtures/suites/invalid");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let fixtures = files(&dir, &["yaml"]);
    assert!(
        fixtures.len() >= 30,
        "only {} invalid fixtures",
        fixtures.len()
    );
    let mut failures = Vec::new();
    for path in &fixtures {
        let name = rel(path);
        let text = std::fs::read_to_string(path).expect("fixture readable");
        let want = expected_locations(&text);
        if want.is_empty() {
            failures.push(format!("{name}: no `# expect: LINE:COL` header"));
            continue;
        }
        let errors = match bc_suite::load_str(&name, &text, &dir) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, but it is broken"));
                continue;
            }
            Err(d) => d.errors,
        };
        let got: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{}", e.span.line, e.span.column))
            .collect();
        if got != want {
            let msgs: Vec<String> = errors.iter().map(|e| e.one_line()).collect();
            failures.push(format!(
                "{name}: errors at {got:?}, expected {want:?}\n    {}",
                msgs.join("\n    ")
            ));
        }
        let rendered = bc_suite::render_plain(&errors);
        let snap = path.with_extension("expected");
        if update {
            std::fs::write(&snap, &rendered).expect("write snapshot");
        } else {
            match std::fs::read_to_string(&snap) {
                Ok(s) if s == rendered => {}
                Ok(s) => failures.push(format!(
                    "{name}: rendering differs from {}\n--- expected\n{s}\n--- got\n{rendered}",
                    rel(&snap)
                )),
                Err(_) => failures.push(format!(
                    "{name}: no snapshot {} (run with UPDATE_SNAPSHOTS=1)",
                    rel(&snap)
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn renderings_name_the_file_line_and_column() {
    let dir = repo().join("fixtures/suites/invalid");
    let path = dir.join("unknown-step-typo.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let errors = bc_suite::load_str(&rel(&path), &text, &dir)
        .unwrap_err()
        .errors;
    let out = bc_suite::render_plain(&errors);
    assert!(
        out.contains("fixtures/suites/invalid/unknown-step-typo.yaml:11:9"),
        "{out}"
    );
    assert!(out.contains("did you mean `kill_site`?"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "plain rendering must have no colour codes"
    );
}
