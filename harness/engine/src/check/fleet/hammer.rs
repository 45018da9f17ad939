//! HERD-4 as a herd's fleet check: the connections servers turned away (`overloaded` events) in
//! the busiest minute, per agent of the floor, stay under the declared bound.
//!
//! Counted over the whole floor, not agent by agent: a connection turned away at accept never
//! registered, so it names no agent; the average is what the rule bounds.

use bc_protocol::EventKind;

use crate::check::herd::{herd4_no_hammering, HerdBounds};
use crate::check::{Check, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// Every turned-away connection's instant; judged at the end of the scenario.
pub struct Hammer {
    agents: usize,
    per_agent_minute: f64,
    attempts: Vec<i64>,
}

impl Hammer {
    /// The check for a herd of `agents`, at most `per_agent_minute` attempts each.
    pub fn new(agents: u32, per_agent_minute: u32) -> Hammer {
        Hammer {
            agents: agents as usize,
            per_agent_minute: f64::from(per_agent_minute),
            attempts: Vec::new(),
        }
    }
}

impl Check for Hammer {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        if let EntryKind::Observed { event } = &e.kind {
            if matches!(event.kind, EventKind::Overloaded { .. }) {
                self.attempts.push(e.ts_us);
            }
        }
        Status::Pending
    }

    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        let b = HerdBounds {
            max_attempts_per_agent_minute: self.per_agent_minute,
            ..HerdBounds::default()
        };
        herd4_no_hammering(self.agents, &self.attempts, &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turned_away(ts_us: i64) -> Entry {
        crate::check::test_observed(
            ts_us,
            "A",
            EventKind::Overloaded {
                limit: "max_clients".into(),
                retry_after_ms: 1000,
                answer: "refuse".into(),
                user_name: None,
            },
        )
    }

    fn judge(n: i64, every_us: i64) -> Status {
        let st = crate::check::test_state("herd");
        let mut h = Hammer::new(4, 120);
        for k in 0..n {
            h.on_entry(&turned_away(k * every_us), &st);
        }
        h.finish(n * every_us, &st)
    }

    #[test]
    fn counts_the_floor_s_attempts_per_agent_in_the_busiest_minute() {
        // 400 in a minute from 4 agents is 100 each: under 120.
        assert_eq!(judge(400, 150_000), Status::Pass);
        let Status::Fail(f) = judge(2_000, 10_000) else {
            panic!("2,000 attempts from 4 agents in 20 s is 500 each")
        };
        assert!(f.observed.contains("500.0 per agent"), "{}", f.observed);
        assert!(matches!(judge(0, 1), Status::NotExercised { .. }));
    }
}
