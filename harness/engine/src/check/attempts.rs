//! HERD-4 for one desktop: servers that turn every new client away (`overload`) see at most
//! `count` of the desktop's connections in any window of `per`: it backs off, it does not hammer.

use std::collections::{BTreeMap, VecDeque};

use bc_protocol::EventKind;

use super::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// The connections turned away so far, in a sliding window; fails at the first window too full.
pub struct MaxAttempts {
    name: String,
    count: u32,
    per_us: i64,
    /// Instant and instance (`A.config_server.primary`) of each turned-away connection in the window.
    window: VecDeque<(i64, String)>,
    /// How many were turned away in the whole run (zero: the check was never exercised).
    total: usize,
}

impl MaxAttempts {
    /// At most `count` turned-away connections in any `per_ms`.
    pub fn new(name: String, count: u32, per_ms: u64) -> MaxAttempts {
        MaxAttempts {
            name,
            count,
            per_us: per_ms as i64 * 1000,
            window: VecDeque::new(),
            total: 0,
        }
    }

    /// The window's attempts per instance, in order of name: bounded text however many there are.
    fn by_instance(&self) -> String {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, at) in &self.window {
            *n.entry(at.as_str()).or_default() += 1;
        }
        n.iter()
            .map(|(at, k)| format!("{at} x{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Check for MaxAttempts {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        let EntryKind::Observed { event: o } = &e.kind else {
            return Status::Pending;
        };
        if !matches!(o.kind, EventKind::Overloaded { .. }) {
            return Status::Pending;
        }
        self.total += 1;
        let at = super::overload::instance(&o.site, o.server, o.role, o.group);
        self.window.push_back((e.ts_us, at));
        while let Some((t, _)) = self.window.front() {
            if *t > e.ts_us - self.per_us {
                break;
            }
            self.window.pop_front();
        }
        if self.window.len() <= self.count as usize {
            return Status::Pending;
        }
        let first = self.window.front().map_or(e.ts_us, |(t, _)| *t);
        Status::Fail(Failure::new(
            self.name.clone(),
            e.ts_us,
            format!(
                "{} connections turned away within {:.3}s ({})",
                self.window.len(),
                (e.ts_us - first) as f64 / 1e6,
                self.by_instance()
            ),
        ))
    }

    /// No server turned the desktop away: nothing was counted (never a pass).
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        let nothing = "no server turned the desktop away: nothing to count";
        Status::at_end(st, (self.total == 0).then_some(nothing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::check::test_turned_away as turned_away;

    #[test]
    fn a_window_too_full_fails_and_a_paced_desktop_passes() {
        let st = crate::check::test_state("agent1001");
        let mut c = MaxAttempts::new("invariant max_attempts 3 per 1s".into(), 3, 1000);
        for k in 0..10 {
            // One every 400 ms: at most 3 in any second.
            let s = c.on_entry(&turned_away(k * 400_000, "A"), &st);
            assert_eq!(s, Status::Pending, "attempt {k}");
        }
        assert_eq!(c.finish(5_000_000, &st), Status::Pass);
        let mut c = MaxAttempts::new("n".into(), 3, 1000);
        let mut last = Status::Pending;
        for k in 0..4 {
            last = c.on_entry(&turned_away(k * 100_000, ["A", "B"][k as usize % 2]), &st);
        }
        let Status::Fail(f) = last else {
            panic!("{last:?}")
        };
        assert_eq!(
            f.observed,
            "4 connections turned away within 0.300s (A.config_server.primary x2, B.config_server.primary x2)"
        );
    }

    #[test]
    fn nothing_turned_away_is_not_exercised() {
        let st = crate::check::test_state("agent1001");
        let mut c = MaxAttempts::new("n".into(), 3, 1000);
        assert!(matches!(c.finish(1, &st), Status::NotExercised { .. }));
    }
}
