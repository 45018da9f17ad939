//! Checks: expectations, invariants and measurements as pure, incremental functions over a timeline
//! (Jepsen-style), three-valued, with an evaluator that replays or follows a timeline live.

pub mod after;
pub mod alive;
pub mod attempts;
pub mod backoff;
pub mod eval;
pub mod expect;
pub mod fleet;
pub mod herd;
pub mod invariant;
pub mod measure;
pub mod overload;
pub mod phone;
pub mod rules;
pub mod spec;
pub mod status;
pub mod text;

/// An observation for checker unit tests: `kind` seen at `site`'s primary CS Proxy on conn 1.
#[cfg(test)]
pub(crate) fn test_observed(ts_us: i64, site: &str, kind: bc_protocol::EventKind) -> Entry {
    let event = bc_protocol::ObservedEvent {
        seq: 0,
        ts_us,
        site: site.into(),
        server: bc_protocol::ServerKind::ConfigServer,
        role: bc_protocol::Role::Primary,
        group: None,
        conn: Some(1),
        kind,
    };
    Entry {
        ts_us,
        kind: crate::observe::EntryKind::Observed { event },
    }
}

/// A connection turned away without an answer (`overload` with `answer: refuse`) at `site`, for
/// the unit tests of the checkers that count or time such attempts.
#[cfg(test)]
pub(crate) fn test_turned_away(ts_us: i64, site: &str) -> Entry {
    let kind = bc_protocol::EventKind::Overloaded {
        limit: "max_clients".into(),
        retry_after_ms: 0,
        answer: "refuse".into(),
        user_name: None,
    };
    test_observed(ts_us, site, kind)
}

/// An overload answer (`error`, `retry after 1000 ms`) naming agent `user`, at site B, for the
/// unit tests of the checkers that judge overload answers agent by agent.
#[cfg(test)]
pub(crate) fn test_told(ts_us: i64, user: &str) -> Entry {
    let kind = bc_protocol::EventKind::Overloaded {
        limit: "login_rate".into(),
        retry_after_ms: 1000,
        answer: "error".into(),
        user_name: Some(user.into()),
    };
    test_observed(ts_us, "B", kind)
}

/// A session state for checker unit tests: one subject (`username`) at the two sites A and B.
#[cfg(test)]
pub(crate) fn test_state(username: &str) -> SessionState {
    SessionState::new(crate::observe::Subject {
        scenario: "s".into(),
        username: username.into(),
        agent_id: String::new(),
        dn: String::new(),
        sites: vec!["A".into(), "B".into()],
        uses_stat_server: false,
        client_timeout_ms: 2_000,
        rules: Vec::new(),
    })
}

use crate::observe::{Entry, SessionState};

pub use eval::{replay, Activation, Evaluator, Outcome, Registered};
pub use measure::{MeasureSpec, Measured, Until};
pub use spec::CheckSpec;
pub use status::{inconclusive_reasons, not_exercised, verdict_of, Failure, Status, Verdict};

/// An incremental checker. The evaluator folds each entry into the [`SessionState`] first, then calls
/// the checker; checkers keep only what they need and never look at processes or sockets.
pub trait Check: Send {
    /// Activation at `at_us` with the state at that instant.
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status;
    /// After an entry was folded into the state.
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status;
    /// Time moved to `now_us` (all entries up to it are folded in). Called only once
    /// [`Check::deadline_us`] has come, when a grace period ended (the state shows a change
    /// without an entry), and before `finish`: time alone must decide nothing else. By default
    /// it decides nothing (checks without a deadline).
    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    /// The next instant at which `on_time` may decide, if any (by default none): the evaluator
    /// does not ask before it.
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    /// The scenario ended at `end_us` while still pending.
    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status;
    /// A duration the check measured (name, µs), if any.
    fn measurement(&self) -> Option<(String, Option<i64>)> {
        None
    }
}
