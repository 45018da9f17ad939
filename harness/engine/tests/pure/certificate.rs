//! The certificate policy (docs/certification.md) on pages made from recorded timelines: a filtered
//! or non-standard-budget run, or one with an inconclusive run, is headed NOT A CERTIFICATE.

use crate::html_support;

use bc_engine::event::RunEvent;
use bc_engine::report::certificate::Policy;
use bc_engine::report::{html, Journal};
use html_support::{invariants, journal, logged_in, result};

/// The recorded run with its `run_started` changed by `edit`.
fn with_start(j: &Journal, edit: impl Fn(&mut Option<u64>, &mut Option<String>)) -> Journal {
    let mut out = Journal::new();
    for e in j.events() {
        let mut e = e.clone();
        if let RunEvent::RunStarted {
            budget_ms, filter, ..
        } = &mut e
        {
            edit(budget_ms, filter);
        }
        out.event(&e);
    }
    out
}

fn passing() -> Journal {
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, 2));
    journal(vec![result(
        "kill-site-switchover",
        &["BC-4", "BC-5"],
        &checks,
    )])
}

#[test]
fn standard_unfiltered_conclusive_run_is_a_certificate() {
    let j = with_start(&passing(), |b, _| *b = None);
    assert_eq!(Policy::of(j.events()), Vec::<String>::new());
    let page = html::render(&j).unwrap();
    assert!(!page.contains("NOT A CERTIFICATE"), "certificate page");
    assert!(page.contains("bc-harness certificate:"));
    assert!(
        page.contains("sha256:abab"),
        "the desktop's identity is shown"
    );
}

#[test]
fn filter_or_budget_make_it_not_a_certificate_with_reasons() {
    let j = with_start(&passing(), |b, f| {
        *b = Some(10_000);
        *f = Some("kill*".into());
    });
    let reasons = Policy::of(j.events());
    assert!(
        reasons.iter().any(|r| r.starts_with("--filter kill*")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("--budget 10000ms")),
        "{reasons:?}"
    );
    let page = html::render(&j).unwrap();
    assert!(page.contains("<h1>NOT A CERTIFICATE"), "headed");
    assert!(page.contains("--filter kill*: only some of the mandatory runs"));
}

#[test]
fn an_inconclusive_run_left_is_not_a_certificate() {
    let r = result("lost-events", &["BC-1"], &invariants());
    assert_eq!(r.verdict.as_str(), "inconclusive");
    let j = with_start(&journal(vec![r]), |b, _| *b = None);
    let reasons = Policy::of(j.events());
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("1 run(s) inconclusive"), "{reasons:?}");
}
