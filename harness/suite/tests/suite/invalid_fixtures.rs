//! Every broken suite under fixtures/suites/invalid/ is rejected, at the locations its
//! `# expect: LINE:COL ...` header names, with the rendering pinned in a `.expected` file.
//! Regenerate the renderings with `UPDATE_SNAPSHOTS=1 cargo test -p bc-suite --test suite invalid_fixtures::`.

use crate::common::{files, rel, repo};

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

/// A suite nested 100,000 levels deep on one line (200 KB) is reported at its line and column
/// with a clipped excerpt, not echoed whole; so is an unknown keyword at the end of a long line.
#[test]
fn diagnostics_on_huge_lines_are_bounded() {
    let deep = format!(
        "version: 1\nsuite: deep\nscenarios:\n  - name: a\n    steps: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let wide = format!(
        "version: 1\nsuite: wide\nscenarios:\n  - name: a\n    steps: [{} kill_sitee: A]\n",
        "wait: 1s, ".repeat(20_000)
    );
    for (name, text) in [("deep.yaml", &deep), ("wide.yaml", &wide)] {
        let errors = match bc_suite::load_str(name, text, &repo()) {
            Ok(_) => panic!("{name}: accepted"),
            Err(d) => d.errors,
        };
        let shown = bc_suite::render_plain(&errors);
        assert!(
            shown.len() < 2_000 * errors.len(),
            "{name}: {} bytes for {} errors:\n{}",
            shown.len(),
            errors.len(),
            &shown[..shown.len().min(3_000)]
        );
        let first = &errors[0];
        assert!(
            shown.contains(&format!("{name}:{}:", first.span.line)),
            "{name}: the header keeps the file's line:\n{shown}"
        );
        assert!(shown.contains("bytes]"), "{name}: says what was cut");
    }
}
