//! `verify` on pages made from recorded timelines replayed through the checkers: an untouched page
//! is accepted; a verdict edited on the page, or in the journal (hash recomputed), is rejected.

use crate::html_support;

use bc_engine::event::RunEvent;
use bc_engine::report::html::{self, embed};
use bc_engine::report::verify::verify;
use bc_engine::report::Journal;
use html_support::{invariants, journal, logged_in, result};

fn recorded() -> Journal {
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, 2));
    let pass = result("kill-site-switchover", &["BC-4", "BC-5"], &checks);
    let fail = result("never-switches", &["BC-4"], &checks);
    assert_eq!(
        (pass.verdict.as_str(), fail.verdict.as_str()),
        ("pass", "fail")
    );
    journal(vec![pass, fail])
}

#[test]
fn an_untouched_certificate_is_accepted() {
    let page = html::render(&recorded()).unwrap();
    let v = verify(&page).unwrap_or_else(|e| panic!("rejected: {e}"));
    assert_eq!(v.rederived, 2);
    assert_eq!(v.not_compared, None);
}

#[test]
fn a_verdict_edited_on_the_page_is_rejected() {
    let page = html::render(&recorded()).unwrap();
    // The failed run's matrix cell says F; make it say P, as a hand edit would.
    let cell = r#"title="fixtures/never-switches"#;
    assert!(page.contains(cell), "the run has a matrix cell");
    let edited = page.replacen(">F</a>", ">P</a>", 1);
    assert_ne!(edited, page);
    let e = verify(&edited).unwrap_err();
    assert!(e.contains("not what its journal renders to"), "{e}");
}

#[test]
fn a_verdict_edited_in_the_journal_is_rejected() {
    let mut forged = Journal::new();
    for e in recorded().events() {
        let mut e = e.clone();
        if let RunEvent::ScenarioFinished { result } = &mut e {
            if result.info.scenario_id == "never-switches" {
                result.verdict = bc_engine::check::Verdict::Pass;
                result.failures.clear();
            }
        }
        forged.event(&e);
    }
    // Re-rendered, so the page and the hash agree with the forged journal: the checkers do not.
    let page = html::render(&forged).unwrap();
    assert_eq!(
        embed::claimed_sha256(&page),
        Some(embed::sha256(&embed::extract(&page).unwrap()))
    );
    let e = verify(&page).unwrap_err();
    assert!(
        e.contains("fixtures/never-switches: the journal says pass, the checkers over its timeline say fail"),
        "{e}"
    );
}

#[test]
fn a_journal_that_does_not_match_its_hash_is_rejected() {
    let page = html::render(&recorded()).unwrap();
    let hash = embed::claimed_sha256(&page).unwrap();
    let edited = page.replacen(&hash, &"0".repeat(64), 1);
    let e = verify(&edited).unwrap_err();
    assert!(e.contains("does not match its hash"), "{e}");
}
