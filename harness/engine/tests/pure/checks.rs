//! Checker unit tests on recorded timelines (fixtures/timelines/*.json): no processes, no sockets.
//! Each test replays one story and asserts the verdict, the failure details and the measurements.

use crate::load;

use bc_engine::check::{
    replay, Activation, Check, CheckSpec, Evaluator, MeasureSpec, Outcome, Status, Until, Verdict,
};
use bc_engine::observe::{Entry, EntryKind, SessionState, Timeline};
use bc_protocol::ServerKind;

fn logged_in(site: &str, within_ms: u64, from: &str, step: usize) -> (Activation, CheckSpec) {
    (
        Activation::Step(step),
        CheckSpec::LoggedIn {
            site: Some(site.into()),
            servers: ServerKind::ALL.to_vec(),
            within_ms,
            from: from.into(),
            measure: Some("to_b".into()),
        },
    )
}

fn invariants() -> Vec<(Activation, CheckSpec)> {
    vec![
        (Activation::Start, CheckSpec::NeverLoggedInAtBothPeers),
        (
            Activation::Start,
            CheckSpec::NeverSplit {
                longer_than_ms: 5_000,
            },
        ),
        (
            Activation::Start,
            CheckSpec::MaxSwitchovers {
                count: 1,
                per_ms: 30_000,
            },
        ),
        (Activation::Start, CheckSpec::NoSwitchoverOnHaFailover),
        (Activation::Start, CheckSpec::DesktopAlive),
    ]
}

fn measured(o: &Outcome, name: &str) -> Option<i64> {
    o.measurements
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.micros)
}

fn failure_of<'a>(o: &'a Outcome, prefix: &str) -> &'a bc_engine::check::Failure {
    o.checks
        .iter()
        .find_map(|c| match &c.status {
            Status::Fail(f) if f.check.starts_with(prefix) => Some(f),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no failure of {prefix}: {:#?}", o.checks))
}

#[test]
fn kill_site_switchover_passes_and_measures() {
    let t = load("kill-site-switchover");
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, "kill_site", 2));
    checks.push((
        Activation::Step(3),
        CheckSpec::Disconnected {
            site: "A".into(),
            within_ms: 1_000,
            from: "kill_site".into(),
        },
    ));
    let o = replay(
        &t,
        &checks,
        &[MeasureSpec::Switchover, MeasureSpec::Detection],
    );
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
    assert_eq!(measured(&o, "detection"), Some(1_000_000));
    // The last required login (statistic opened at B) comes 0.4 s after the first contact.
    assert_eq!(measured(&o, "switchover"), Some(1_400_000));
    assert_eq!(measured(&o, "to_b"), Some(1_400_000));
}

#[test]
fn kill_site_with_tight_deadline_fails_naming_deadline_and_state() {
    let t = load("kill-site-switchover");
    let o = replay(&t, &[logged_in("B", 1_000, "kill_site", 1)], &[]);
    assert_eq!(o.verdict, Verdict::Fail);
    let f = failure_of(&o, "expect_logged_in B");
    let kill = t
        .entries
        .iter()
        .find(|e| {
            matches!(e.kind, EntryKind::Marker { .. })
                && e.ts_us > t.start_us().unwrap() + 5_000_000
        })
        .unwrap()
        .ts_us;
    assert_eq!(f.deadline_us, Some(kill + 1_000_000));
    assert!(f.observed.contains("not logged in at B"), "{}", f.observed);
    assert!(
        f.excerpt.iter().any(|l| l.contains("FAULT #1 kill_site A")),
        "{:?}",
        f.excerpt
    );
}

#[test]
fn desktop_that_never_switches_fails_at_the_deadline() {
    let t = load("never-switches");
    let mut checks = invariants();
    checks.push(logged_in("B", 10_000, "kill_site", 2));
    let o = replay(
        &t,
        &checks,
        &[MeasureSpec::Switchover, MeasureSpec::Detection],
    );
    assert_eq!(o.verdict, Verdict::Fail);
    let f = failure_of(&o, "expect_logged_in B");
    assert!(
        f.observed.contains("A: nothing"),
        "killed site's sessions end with the fault: {}",
        f.observed
    );
    assert_eq!(measured(&o, "switchover"), None);
    assert_eq!(measured(&o, "detection"), None);
}

#[test]
fn dual_login_behind_black_hole_fails_after_grace() {
    let t = load("black-hole-dual-login");
    let o = replay(&t, &invariants(), &[]);
    assert_eq!(o.verdict, Verdict::Fail);
    let f = failure_of(&o, "invariant never_logged_in_at_both_peers");
    assert_eq!(f.rules, vec!["BC-6".to_string()]);
    // Healed at +20 s with a 3 s client timeout: the overlap is tolerated until +23 s.
    let heal = first_heal_us(&t);
    assert!(
        f.at_us >= heal + 3_000_000,
        "failed too early: {} vs heal {}",
        f.at_us,
        heal
    );
}

#[test]
fn old_session_dropped_after_heal_passes_bc6() {
    let t = load("black-hole-old-session-dropped");
    let o = replay(&t, &invariants(), &[]);
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
}

#[test]
fn ha_failover_reconnect_to_backup_stays_logged_in() {
    let t = load("ha-failover-stays");
    let mut checks = invariants();
    checks.push((
        Activation::Step(2),
        CheckSpec::StaysLoggedIn {
            site: "A".into(),
            servers: vec![ServerKind::ConfigServer, ServerKind::SipServer],
            duration_ms: 10_000,
            grace_ms: 5_000,
            max_gaps: 1,
        },
    ));
    let o = replay(&t, &checks, &[]);
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
}

#[test]
fn ha_failover_with_short_grace_fails() {
    let t = load("ha-failover-stays");
    let checks = vec![(
        Activation::Step(2),
        CheckSpec::StaysLoggedIn {
            site: "A".into(),
            servers: vec![ServerKind::ConfigServer, ServerKind::SipServer],
            duration_ms: 10_000,
            grace_ms: 500,
            max_gaps: 1,
        },
    )];
    let o = replay(&t, &checks, &[]);
    let f = failure_of(&o, "expect_stays_logged_in A");
    assert!(f.observed.contains("logged out at A"), "{}", f.observed);
}

#[test]
fn a_gap_beyond_the_tolerated_count_fails_even_when_short() {
    let t = load("ha-failover-stays");
    let checks = vec![(
        Activation::Step(2),
        CheckSpec::StaysLoggedIn {
            site: "A".into(),
            servers: vec![ServerKind::ConfigServer, ServerKind::SipServer],
            duration_ms: 10_000,
            grace_ms: 5_000,
            max_gaps: 0,
        },
    )];
    let o = replay(&t, &checks, &[]);
    let f = failure_of(&o, "expect_stays_logged_in A");
    assert!(
        f.observed.contains("logged out at A 1 time(s)") && f.observed.contains("at most 0"),
        "{}",
        f.observed
    );
}

#[test]
fn a_reconnection_at_the_same_site_is_counted() {
    let t = load("ha-failover-stays");
    let max = |count| {
        vec![(
            Activation::Start,
            CheckSpec::MaxReconnects {
                count,
                per_ms: 10_000,
            },
        )]
    };
    let o = replay(&t, &max(0), &[]);
    let f = failure_of(&o, "invariant max_reconnects 0");
    assert!(
        f.observed.contains("re-opened at the same site"),
        "{}",
        f.observed
    );
    assert!(f.observed.contains("A sip_server"), "{}", f.observed);
    let o = replay(&t, &max(3), &[]);
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
}

#[test]
fn switchover_on_ha_failover_breaks_bc7() {
    let t = load("ha-failover-switches-site");
    let mut checks = invariants();
    checks.push((
        Activation::Step(2),
        CheckSpec::StaysLoggedIn {
            site: "A".into(),
            servers: vec![ServerKind::ConfigServer, ServerKind::SipServer],
            duration_ms: 10_000,
            grace_ms: 5_000,
            max_gaps: 1,
        },
    ));
    let o = replay(&t, &checks, &[]);
    assert_eq!(o.verdict, Verdict::Fail);
    assert_eq!(
        failure_of(&o, "invariant no_switchover_on_ha").rules,
        vec!["BC-7".to_string()]
    );
    assert!(failure_of(&o, "expect_stays_logged_in")
        .observed
        .contains("at B"));
}

#[test]
fn thrashing_breaks_bc11() {
    let t = load("flap-thrash");
    let o = replay(&t, &invariants(), &[]);
    let f = failure_of(&o, "invariant max_switchovers");
    assert!(f.observed.starts_with("2 switchover(s)"), "{}", f.observed);
    // One switchover per window is allowed.
    let o = replay(
        &t,
        &[(
            Activation::Start,
            CheckSpec::MaxSwitchovers {
                count: 3,
                per_ms: 30_000,
            },
        )],
        &[],
    );
    assert_eq!(o.verdict, Verdict::Pass);
}

#[test]
fn config_server_left_behind_breaks_bc5() {
    let t = load("leave-config-server");
    let o = replay(&t, &invariants(), &[]);
    let f = failure_of(&o, "invariant never_split");
    assert_eq!(f.rules, vec!["BC-5".to_string()]);
    assert!(f.observed.contains("A and B"), "{}", f.observed);
    // Tolerance longer than the story: nothing to blame.
    let o = replay(
        &t,
        &[(
            Activation::Start,
            CheckSpec::NeverSplit {
                longer_than_ms: 60_000,
            },
        )],
        &[],
    );
    assert_eq!(o.verdict, Verdict::Pass);
}

#[test]
fn early_exit_fails_with_log_tail() {
    let t = load("early-exit");
    let o = replay(&t, &invariants(), &[]);
    let f = failure_of(&o, "desktop keeps running");
    assert!(f.observed.contains("code 101"), "{}", f.observed);
    assert!(
        f.observed.contains("panicked at src/main.rs"),
        "{}",
        f.observed
    );
}

#[test]
fn call_answered_passes_and_measures() {
    let t = load("call-answered");
    let checks = vec![(
        Activation::Step(2),
        CheckSpec::CallAnswered {
            within_ms: 2_000,
            from: "deliver_call".into(),
            measure: Some("answer".into()),
        },
    )];
    let o = replay(
        &t,
        &checks,
        &[MeasureSpec::Named {
            name: "answer2".into(),
            from: "deliver_call".into(),
            until: Until::CallAnswered,
        }],
    );
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
    assert_eq!(measured(&o, "answer"), Some(300_000));
    assert_eq!(measured(&o, "answer2"), Some(300_000));
    let checks = vec![(
        Activation::Step(2),
        CheckSpec::CallAnswered {
            within_ms: 100,
            from: "deliver_call".into(),
            measure: None,
        },
    )];
    assert_eq!(replay(&t, &checks, &[]).verdict, Verdict::Fail);
}

/// A call the servers refused (no Ready agent to offer it to) was offered: the check is exercised
/// and fails, saying why; with no call at all it is not exercised.
#[test]
fn a_refused_call_fails_call_answered_and_no_call_leaves_it_not_exercised() {
    let delivered = load("call-answered");
    let check = vec![(
        Activation::Step(2),
        CheckSpec::CallAnswered {
            within_ms: 100,
            from: "deliver_call".into(),
            measure: None,
        },
    )];
    let mut refused = delivered.clone();
    refused.entries.retain(|e| {
        !matches!(&e.kind, EntryKind::Observed { event } if matches!(event.kind, bc_protocol::EventKind::CallAnswered { .. }))
    });
    let mut none = refused.clone();
    for e in &mut refused.entries {
        if let EntryKind::Fault { effects, .. } = &mut e.kind {
            for x in effects {
                x.change = bc_engine::observe::Change::CallRefused;
            }
        }
    }
    let o = replay(&refused, &check, &[]);
    assert_eq!(o.verdict, Verdict::Fail, "{:#?}", o.checks);
    let f = failure_of(&o, "expect_call_answered");
    assert!(
        f.observed
            .contains("the servers refused it, no Ready agent"),
        "{}",
        f.observed
    );
    none.entries
        .retain(|e| !matches!(e.kind, EntryKind::Fault { .. }));
    let o = replay(&none, &check, &[]);
    assert_eq!(o.verdict, Verdict::Inconclusive, "{:#?}", o.checks);
}

/// PH-1 owed at B (its SIP Server came back) when the scenario ends before the deadline: the
/// registration was neither made nor missed, so the check is undecided, never a pass.
#[test]
fn a_registration_still_owed_at_the_end_is_undecided_not_a_pass() {
    let full = load("phone-not-registered-again");
    let check = vec![(
        Activation::Start,
        CheckSpec::PhoneRegistered {
            within_ms: 5_000,
            return_within_ms: 11_000,
        },
    )];
    assert_eq!(replay(&full, &check, &[]).verdict, Verdict::Fail);
    let mut cut = full.clone();
    let end = full.start_us().unwrap() + 12_000_000;
    cut.entries.retain(|e| e.ts_us < end);
    let o = replay(&cut, &check, &[]);
    assert_eq!(o.verdict, Verdict::Inconclusive, "{:#?}", o.checks);
}

#[test]
fn lost_observations_make_invariants_inconclusive() {
    let t = load("lost-events");
    let o = replay(&t, &invariants(), &[]);
    assert_eq!(o.verdict, Verdict::Inconclusive, "{:#?}", o.checks);
}

#[test]
fn expectation_cut_short_is_unknown_not_pass() {
    let t = load("kill-site-switchover");
    let mut short = t.clone();
    short
        .entries
        .retain(|e| e.ts_us < t.start_us().unwrap() + 10_500_000);
    let o = replay(&short, &[logged_in("B", 5_000, "kill_site", 1)], &[]);
    assert_eq!(o.verdict, Verdict::Inconclusive, "{:#?}", o.checks);
}

struct Panics;
impl Check for Panics {
    fn start(&mut self, _: i64, _: &SessionState) -> Status {
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, _: &SessionState) -> Status {
        if matches!(e.kind, EntryKind::Fault { .. }) {
            panic!("boom");
        }
        Status::Pending
    }
    fn on_time(&mut self, _: i64, _: &SessionState) -> Status {
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _: i64, _: &SessionState) -> Status {
        Status::Pass
    }
}

#[test]
fn panicking_checker_is_an_error_never_a_pass() {
    let t = load("kill-site-switchover");
    let mut ev = Evaluator::new(t.subject.clone(), 0);
    let h = ev.add_boxed(CheckSpec::DesktopAlive, Box::new(Panics), Activation::Start);
    for e in &t.entries {
        ev.push(e.ts_us, e.kind.clone());
    }
    let o = ev.finish(t.end_us().unwrap());
    assert!(matches!(ev.status(h), Status::Error { reason } if reason.contains("boom")));
    assert_eq!(o.verdict, Verdict::Error);
}

#[test]
fn live_evaluation_waits_for_the_reorder_slack_and_reports_wakeups() {
    let t = load("kill-site-switchover");
    let mut ev = Evaluator::new(t.subject.clone(), 200);
    let h = ev.add(
        CheckSpec::LoggedIn {
            site: Some("B".into()),
            servers: ServerKind::ALL.to_vec(),
            within_ms: 5_000,
            from: "kill_site".into(),
            measure: None,
        },
        Activation::Step(2),
    );
    // Entries up to the expectation's step arrive in reverse order: still folded in timestamp order.
    let step2 = t
        .entries
        .iter()
        .find(|e| matches!(e.kind, EntryKind::Step { index: 2, .. }))
        .unwrap()
        .ts_us;
    let mut es: Vec<_> = t
        .entries
        .iter()
        .filter(|e| e.ts_us <= step2)
        .cloned()
        .collect();
    es.sort_by_key(|e| std::cmp::Reverse(e.ts_us));
    for e in &es {
        ev.push(e.ts_us, e.kind.clone());
    }
    let last = step2;
    ev.advance(last); // nothing after last - 200 ms is released yet
    assert_eq!(ev.status(h), &Status::Pending);
    assert!(ev.next_wakeup_us().unwrap() <= last + 200_000);
    ev.advance(last + 200_000);
    assert_eq!(ev.status(h), &Status::Pass);
}

#[test]
fn timeline_round_trips_through_json() {
    let t = load("ha-failover-stays");
    let text = serde_json::to_string(&t).unwrap();
    let back: Timeline = serde_json::from_str(&text).unwrap();
    assert_eq!(t, back);
}

#[test]
fn events_after_a_disconnect_do_not_reopen_the_connection() {
    let t = load("late-logout-after-disconnect");
    let checks = vec![(
        Activation::Step(2),
        CheckSpec::Disconnected {
            site: "A".into(),
            within_ms: 1_000,
            from: "reset".into(),
        },
    )];
    let o = replay(&t, &checks, &[]);
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
}

/// The black-hole dual-login story with the cut declared as a one-way partition instead.
fn as_one_way(change: bc_engine::observe::Change) -> Timeline {
    let mut t = load("black-hole-dual-login");
    for e in &mut t.entries {
        if let EntryKind::Fault { effects, .. } = &mut e.kind {
            for x in effects.iter_mut() {
                if x.change == bc_engine::observe::Change::BlackHoled {
                    x.change = change;
                }
            }
        }
    }
    t
}

/// When the timeline's first heal took effect.
fn first_heal_us(t: &Timeline) -> i64 {
    t.entries
        .iter()
        .find(|e| matches!(e.kind, EntryKind::Heal { .. }))
        .expect("the story heals its fault")
        .ts_us
}

#[test]
fn one_way_cut_to_server_hides_the_old_session_like_a_black_hole() {
    let t = as_one_way(bc_engine::observe::Change::CutToServer);
    let o = replay(&t, &invariants(), &[]);
    let f = failure_of(&o, "invariant never_logged_in_at_both_peers");
    let heal = first_heal_us(&t);
    assert!(
        f.at_us >= heal + 3_000_000,
        "tolerated until the grace ends"
    );
}

#[test]
fn one_way_cut_to_desktop_leaves_the_old_session_visible() {
    let t = as_one_way(bc_engine::observe::Change::CutToDesktop);
    let o = replay(&t, &invariants(), &[]);
    let f = failure_of(&o, "invariant never_logged_in_at_both_peers");
    let heal = first_heal_us(&t);
    assert!(
        f.at_us < heal,
        "the server still hears the desktop: the overlap counts at once ({} vs heal {heal})",
        f.at_us
    );
}

#[test]
fn a_check_whose_antecedent_never_happened_is_not_exercised_never_a_pass() {
    // No HA failover in a site-kill story: BC-7's invariant checked nothing, the others passed.
    let t = load("kill-site-switchover");
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, "kill_site", 2));
    let o = replay(&t, &checks, &[]);
    assert_eq!(o.verdict, Verdict::Pass, "{:#?}", o.checks);
    let ha = o
        .checks
        .iter()
        .find(|c| c.spec == CheckSpec::NoSwitchoverOnHaFailover)
        .unwrap();
    assert!(
        matches!(&ha.status, Status::NotExercised { reason } if reason.contains("no HA failover")),
        "{:?}",
        ha.status
    );
    // A call the harness could not deliver: the only check says nothing, so the run is inconclusive.
    let t = load("call-not-delivered");
    let call = CheckSpec::CallAnswered {
        within_ms: 2_000,
        from: "deliver_call".into(),
        measure: None,
    };
    let o = replay(&t, &[(Activation::Step(2), call)], &[]);
    assert_eq!(o.verdict, Verdict::Inconclusive, "{:#?}", o.checks);
    let reasons = bc_engine::check::inconclusive_reasons(&o.checks);
    assert!(reasons[0].contains("no call was delivered"), "{reasons:?}");
}
