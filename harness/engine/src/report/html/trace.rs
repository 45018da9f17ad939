//! When each timed expectation started, its deadline and the entry that decided it, found by
//! replaying the timeline through a fresh checker (the recorded status only says pass or fail).

use crate::check::{Activation, CheckSpec, Registered, Status};
use crate::observe::{SessionState, Timeline};

/// How a timed check was decided in the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// By this entry (index into the timeline's entries), at its time.
    Entry(usize, i64),
    /// By time passing (a deadline or a window end), at this instant.
    Time(i64),
    /// Not within the timeline.
    Never,
}

/// One timed check's course.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    /// Index into the result's checks.
    pub check: usize,
    /// When it became active, µs.
    pub start_us: i64,
    /// Where its window starts: the marker it counts from (its activation for a window check).
    pub from_us: i64,
    /// Its deadline (or window end), µs.
    pub deadline_us: i64,
    /// What decided it in the replay.
    pub decided: Decided,
}

/// True for checks with a deadline (expectations); invariants have none.
pub fn is_timed(spec: &CheckSpec) -> bool {
    matches!(
        spec,
        CheckSpec::LoggedIn { .. }
            | CheckSpec::StaysLoggedIn { .. }
            | CheckSpec::Disconnected { .. }
            | CheckSpec::CallAnswered { .. }
    )
}

/// The course of every timed check that became active, in check order.
pub fn trace(t: &Timeline, checks: &[Registered]) -> Vec<Traced> {
    checks
        .iter()
        .enumerate()
        .filter(|(_, c)| is_timed(&c.spec))
        .filter_map(|(i, c)| trace_one(t, i, c))
        .collect()
}

/// "Within D from marker M" counts from M (deadline minus D), which may precede the step.
fn window_start(spec: &CheckSpec, active_us: i64, deadline_us: i64) -> i64 {
    match spec {
        CheckSpec::LoggedIn { within_ms, .. }
        | CheckSpec::Disconnected { within_ms, .. }
        | CheckSpec::CallAnswered { within_ms, .. } => deadline_us - *within_ms as i64 * 1000,
        _ => active_us,
    }
}

/// Folds entries in timestamp order like the evaluator does (state first, then the check).
fn trace_one(t: &Timeline, index: usize, reg: &Registered) -> Option<Traced> {
    let mut check = reg.spec.build();
    let mut st = SessionState::new(t.subject.clone());
    let mut order: Vec<usize> = (0..t.entries.len()).collect();
    order.sort_by_key(|i| (t.entries[*i].ts_us, *i));
    let mut course: Option<Traced> = None;
    for i in order {
        let e = &t.entries[i];
        if let Some(c) = &mut course {
            st.tick(e.ts_us);
            if check.on_time(e.ts_us, &st).is_decided() {
                c.decided = Decided::Time(c.deadline_us.min(e.ts_us));
                break;
            }
        }
        st.apply(e);
        let starts = match (reg.activation, &e.kind, &course) {
            (_, _, Some(_)) => false,
            (Activation::Start, _, None) => true,
            (Activation::Step(s), crate::observe::EntryKind::Step { index, .. }, None) => {
                *index == s
            }
            _ => false,
        };
        let status: Status = if starts {
            let s = check.start(e.ts_us, &st);
            let deadline_us = check.deadline_us().unwrap_or(e.ts_us);
            course = Some(Traced {
                check: index,
                start_us: e.ts_us,
                from_us: window_start(&reg.spec, e.ts_us, deadline_us),
                deadline_us,
                decided: Decided::Never,
            });
            s
        } else if course.is_some() {
            check.on_entry(e, &st)
        } else {
            continue;
        };
        if status.is_decided() {
            if let Some(c) = &mut course {
                c.decided = Decided::Entry(i, e.ts_us);
            }
            break;
        }
    }
    course
}
