//! docs/coverage.md must equal the table generated from the vocabulary and suites/certification,
//! and every row must have a scenario or a written exemption. Regenerate with
//! `UPDATE_COVERAGE=1 cargo test -p bc-suite --test suite coverage::`.

use bc_suite::coverage::{markdown, parse_exemptions, table};

#[test]
fn committed_coverage_is_current_and_every_row_is_covered() {
    let repo = crate::common::repo();
    let set =
        bc_suite::load_set(&[repo.join("suites/certification")]).expect("certification suites");
    assert!(set.is_valid(), "{}", bc_suite::render_plain(&set.errors));
    let text = std::fs::read_to_string(repo.join("fixtures/coverage/exemptions.yaml"))
        .expect("fixtures/coverage/exemptions.yaml");
    let exemptions = parse_exemptions(&text).expect("exemptions parse");
    let t = table(&set.suites, &exemptions);
    let generated = markdown(&t);
    let path = repo.join("docs/coverage.md");
    if std::env::var_os("UPDATE_COVERAGE").is_some() {
        std::fs::write(&path, &generated).expect("write docs/coverage.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/coverage.md is stale: run `UPDATE_COVERAGE=1 cargo test -p bc-suite --test suite coverage::`"
    );
    if let Err(e) = t.check() {
        panic!("coverage of documented branches:\n{e}");
    }
}
