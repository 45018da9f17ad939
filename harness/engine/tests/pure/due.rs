//! A wake asks only the checks whose deadline has come (or every one when a grace period ends):
//! the same outcome, to the microsecond, as asking every pending check at every wake; and the
//! runner's stop test, kept as checks decide, agrees with the verdict.

use crate::load;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bc_engine::check::{Activation, Check, CheckSpec, Evaluator, Status, Verdict};
use bc_engine::observe::{Entry, EntryKind, SessionState, Timeline};
use bc_protocol::ServerKind;

/// A checker asked at every wake, whatever its deadline: the evaluation before the skipping.
struct Always(Box<dyn Check>);

impl Check for Always {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.0.start(at_us, st)
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.0.on_entry(e, st)
    }
    fn on_time(&mut self, now_us: i64, st: &SessionState) -> Status {
        self.0.on_time(now_us, st)
    }
    fn deadline_us(&self) -> Option<i64> {
        Some(i64::MIN)
    }
    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status {
        self.0.finish(end_us, st)
    }
    fn measurement(&self) -> Option<(String, Option<i64>)> {
        self.0.measurement()
    }
}

/// Every kind of check with a time-dependent decision, aimed at each step of the timeline.
fn checks(t: &Timeline) -> Vec<(Activation, CheckSpec)> {
    let mut v = vec![
        (Activation::Start, CheckSpec::NeverLoggedInAtBothPeers),
        (
            Activation::Start,
            CheckSpec::NeverSplit {
                longer_than_ms: 1_000,
            },
        ),
        (
            Activation::Start,
            CheckSpec::PhoneRegistered {
                within_ms: 3_000,
                return_within_ms: 3_000,
            },
        ),
    ];
    let mut step = None;
    for e in &t.entries {
        match &e.kind {
            EntryKind::Step { index, .. } => step = Some(*index),
            EntryKind::Marker { name } => {
                let Some(k) = step else { continue };
                for site in &t.subject.sites {
                    v.push((
                        Activation::Step(k),
                        CheckSpec::LoggedIn {
                            site: Some(site.clone()),
                            servers: ServerKind::ALL.to_vec(),
                            within_ms: 3_000,
                            from: name.clone(),
                            measure: None,
                        },
                    ));
                    v.push((
                        Activation::Step(k),
                        CheckSpec::StaysLoggedIn {
                            site: site.clone(),
                            servers: vec![ServerKind::SipServer],
                            duration_ms: 4_000,
                            grace_ms: 1_000,
                            max_gaps: 1,
                        },
                    ));
                    v.push((
                        Activation::Step(k),
                        CheckSpec::Disconnected {
                            site: site.clone(),
                            within_ms: 2_000,
                            from: name.clone(),
                        },
                    ));
                }
            }
            _ => {}
        }
    }
    v
}

/// Follows the timeline live, waking every 20 ms, with the checks asked at every wake or not;
/// the outcome as JSON and how many checks were decided by a wake (not an entry or the end).
fn live(t: &Timeline, always: bool) -> (String, usize) {
    let mut ev = Evaluator::new(t.subject.clone(), 0);
    let mut handles = Vec::new();
    for (a, spec) in checks(t) {
        handles.push(if always {
            ev.add_boxed(spec.clone(), Box::new(Always(spec.build())), a)
        } else {
            ev.add(spec, a)
        });
    }
    let (start, end) = (t.start_us().unwrap(), t.end_us().unwrap());
    let mut next = 0;
    let mut now = start;
    let mut by_time = 0;
    while now <= end + 3_000_000 {
        while next < t.entries.len() && t.entries[next].ts_us <= now {
            let e = &t.entries[next];
            ev.push(e.ts_us, e.kind.clone());
            next += 1;
        }
        ev.advance(now);
        // The runner's stop test, kept as checks decide, agrees with the fold over every check.
        assert_eq!(ev.decided_bad(), ev.verdict() >= Verdict::Fail);
        for h in &handles {
            assert_eq!(ev.decided(*h), ev.status(*h).is_decided());
        }
        by_time += ev
            .take_decided()
            .iter()
            .filter(|at| !t.entries.iter().any(|e| e.ts_us == **at))
            .count();
        now += 20_000;
    }
    let out = ev.finish(end + 3_000_000);
    (serde_json::to_string_pretty(&out.checks).unwrap(), by_time)
}

#[test]
fn skipping_checks_not_due_changes_no_outcome() {
    let mut by_time = 0;
    for name in [
        "kill-site-switchover",
        "black-hole-dual-login",
        "slow-switch",
        "flap-thrash",
        "ha-failover-stays",
        "phone-not-registered-again",
        "late-logout-after-disconnect",
    ] {
        let t = load(name);
        let (skipping, n) = live(&t, false);
        let (asking, _) = live(&t, true);
        assert_eq!(skipping, asking, "{name}: outcomes differ");
        by_time += n;
    }
    // The comparison is about decisions taken at a wake: some must have been.
    assert!(by_time > 0, "no check was decided by time alone");
}

/// Counts its `on_time` calls; due at `deadline`.
struct Counting {
    deadline: Option<i64>,
    calls: Arc<AtomicUsize>,
}

impl Check for Counting {
    fn start(&mut self, _: i64, _: &SessionState) -> Status {
        Status::Pending
    }
    fn on_entry(&mut self, _: &Entry, _: &SessionState) -> Status {
        Status::Pending
    }
    fn on_time(&mut self, _: i64, _: &SessionState) -> Status {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        self.deadline
    }
    fn finish(&mut self, _: i64, _: &SessionState) -> Status {
        Status::Pass
    }
}

#[test]
fn a_wake_before_the_deadline_does_not_ask_the_check() {
    let t = load("quiet");
    let start = t.start_us().unwrap();
    let calls = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let mut ev = Evaluator::new(t.subject.clone(), 0);
    for (c, deadline) in calls.iter().zip([Some(start + 1_000_000), None]) {
        let check = Counting {
            deadline,
            calls: c.clone(),
        };
        ev.add_boxed(CheckSpec::DesktopAlive, Box::new(check), Activation::Start);
    }
    ev.push(start, t.entries[0].kind.clone());
    for ms in (0..1_000).step_by(10) {
        ev.advance(start + ms * 1_000);
    }
    assert_eq!(
        calls[0].load(Ordering::SeqCst),
        0,
        "asked before its deadline"
    );
    assert_eq!(ev.next_wakeup_us(), Some(start + 1_000_001));
    ev.advance(start + 1_000_000);
    ev.advance(start + 1_010_000);
    assert_eq!(calls[0].load(Ordering::SeqCst), 2, "asked once due");
    assert_eq!(
        calls[1].load(Ordering::SeqCst),
        0,
        "no deadline: never asked"
    );
    ev.finish(start + 2_000_000);
    assert_eq!(calls[1].load(Ordering::SeqCst), 1, "asked before finishing");
}
