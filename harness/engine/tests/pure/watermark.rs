//! Out-of-order feeds (fixtures/timelines/two-feeds-*): judged live at the sources' watermark, a
//! timeline received out of order gets the same outcome as the same story replayed in stamp order.

use crate::load;

use bc_engine::check::{replay, Activation, CheckSpec, Evaluator, Outcome, Verdict};
use bc_engine::env::progress::{watermark, Mark};
use bc_engine::env::InstanceId;
use bc_engine::observe::{EntryKind, Timeline};
use bc_protocol::ServerKind;

fn checks() -> Vec<(Activation, CheckSpec)> {
    vec![
        (Activation::Start, CheckSpec::NeverLoggedInAtBothPeers),
        (
            Activation::Start,
            CheckSpec::MaxSwitchovers {
                count: 1,
                per_ms: 30_000,
            },
        ),
        (
            Activation::Step(2),
            CheckSpec::LoggedIn {
                site: Some("B".into()),
                servers: ServerKind::ALL.to_vec(),
                within_ms: 5_000,
                from: "switch".into(),
                measure: None,
            },
        ),
    ]
}

/// The feed delay of the site an entry comes from (what `make_fixtures.py` used for the order).
fn delay_us(kind: &EntryKind, late_site: &str, delay_us: i64) -> i64 {
    match kind {
        EntryKind::Observed { event } if event.site == late_site => delay_us,
        _ => 0,
    }
}

/// Evaluates entries in the order they are listed (the order the harness received them),
/// advancing after each to the watermark of 12 heart-beating feeds, `late_site`'s behind by
/// `delay_us`; the harness's own entries are complete up to the arrival time.
fn live(t: &Timeline, late_site: &str, delay: i64) -> Outcome {
    let mut ev = Evaluator::new(t.subject.clone(), 0);
    for (a, spec) in checks() {
        ev.add(spec, a);
    }
    for e in &t.entries {
        let arrived = e.ts_us + delay_us(&e.kind, late_site, delay);
        ev.push(e.ts_us, e.kind.clone());
        let mut marks = Vec::new();
        for site in ["A", "B"] {
            let behind = if site == late_site { delay } else { 0 };
            for kind in ServerKind::ALL {
                for role in bc_protocol::Role::ALL {
                    let mark = Mark {
                        seen_us: arrived - behind - 1,
                        heard_at_us: arrived,
                        live: true,
                    };
                    marks.push((InstanceId::new(site, kind, role), mark));
                }
            }
        }
        let w = watermark(&marks, arrived, i64::MAX);
        ev.advance(w.upto_us.unwrap_or(arrived).min(arrived));
    }
    ev.finish(t.end_us().unwrap_or(0))
}

/// The same entries judged the moment each arrives (advanced to its own stamp): no watermark.
fn on_arrival(t: &Timeline) -> Outcome {
    let mut ev = Evaluator::new(t.subject.clone(), 0);
    for (a, spec) in checks() {
        ev.add(spec, a);
    }
    for e in &t.entries {
        ev.push(e.ts_us, e.kind.clone());
        ev.advance(e.ts_us);
    }
    ev.finish(t.end_us().unwrap_or(0))
}

fn is_out_of_order(t: &Timeline) -> bool {
    t.entries.windows(2).any(|w| w[1].ts_us < w[0].ts_us)
}

fn same_story(name: &str, late_site: &str, delay: i64) -> (Outcome, Outcome) {
    let in_order = load(&format!("{name}-in-order"));
    let received = load(&format!("{name}-out-of-order"));
    assert!(!is_out_of_order(&in_order));
    assert!(
        is_out_of_order(&received),
        "the fixture must arrive out of order"
    );
    let reference = replay(&in_order, &checks(), &[]);
    let watermarked = live(&received, late_site, delay);
    assert_eq!(watermarked.verdict, reference.verdict);
    let statuses = |o: &Outcome| {
        o.checks
            .iter()
            .map(|c| c.status.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&watermarked), statuses(&reference));
    // Judged in stamp order, in-order arrival gives the same outcome live too.
    assert_eq!(live(&in_order, late_site, 0).verdict, reference.verdict);
    (reference, on_arrival(&received))
}

#[test]
fn a_clean_switch_received_out_of_order_passes_as_in_order() {
    let (reference, naive) = same_story("two-feeds-switch", "A", 400_000);
    assert_eq!(reference.verdict, Verdict::Pass, "{:#?}", reference.checks);
    // Judged on arrival, B's login comes before A's logout: a false BC-6 failure.
    assert_eq!(naive.verdict, Verdict::Fail);
}

#[test]
fn a_dual_login_received_out_of_order_fails_as_in_order() {
    let (reference, naive) = same_story("two-feeds-dual-login", "B", 1_000_000);
    assert_eq!(reference.verdict, Verdict::Fail, "{:#?}", reference.checks);
    // Judged on arrival, A's logout comes before B's login: the dual login would go unseen.
    assert_eq!(naive.verdict, Verdict::Pass);
}
