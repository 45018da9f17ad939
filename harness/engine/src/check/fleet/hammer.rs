//! HERD-4 as a herd's fleet check: no agent is turned away by the servers (`overloaded` events)
//! more often than the declared bound in any minute.
//!
//! Agent by agent where the answers name their agent (a desktop that tells every server its
//! UserName): the worst agent's busiest minute. Over the whole floor where they do not (a
//! connection turned away at accept never registered, so it names no agent): the average in the
//! floor's busiest minute, which is what the rule bounds when nobody can be told apart.

use std::collections::HashMap;

use bc_protocol::EventKind;

use crate::check::herd::{busiest_window, herd4_no_hammering, HerdBounds};
use crate::check::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// Every turned-away connection's instant, by agent where named; judged at the end of the scenario.
pub struct Hammer {
    agents: usize,
    per_agent_minute: f64,
    /// Turned away naming nobody.
    attempts: Vec<i64>,
    /// Turned away naming their agent.
    named: HashMap<String, Vec<i64>>,
}

impl Hammer {
    /// The check for a herd of `agents`, at most `per_agent_minute` attempts each.
    pub fn new(agents: u32, per_agent_minute: u32) -> Hammer {
        Hammer {
            agents: agents as usize,
            per_agent_minute: f64::from(per_agent_minute),
            attempts: Vec::new(),
            named: HashMap::new(),
        }
    }

    /// The worst agent's busiest minute against the bound.
    fn by_agent(&self) -> Status {
        if self.named.is_empty() {
            return Status::not_exercised("no overload answer named its agent");
        }
        let bound = self.per_agent_minute;
        let mut over = 0;
        // (attempts in its busiest minute, agent, the minute's start).
        let mut worst: Option<(usize, &str, i64)> = None;
        for (agent, list) in &self.named {
            let (n, start) = busiest_window(list, 60_000_000);
            if n as f64 > bound {
                over += 1;
            }
            if worst.is_none_or(|w| {
                (n, std::cmp::Reverse(agent.as_str())) > (w.0, std::cmp::Reverse(w.1))
            }) {
                worst = Some((n, agent, start));
            }
        }
        let Some((n, agent, start)) = worst.filter(|w| w.0 as f64 > bound) else {
            return Status::Pass;
        };
        let total: usize = self.named.values().map(Vec::len).sum();
        Status::Fail(Failure::new(
            format!("HERD-4 at most {bound:.0} attempts per agent per minute at a down site"),
            start,
            format!(
                "{agent} was turned away {n} times within a minute; {over} of {} agents over {bound:.0} ({total} overload answers named their agent)",
                self.agents
            ),
        ))
    }
}

impl Check for Hammer {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        if let EntryKind::Observed { event } = &e.kind {
            if let EventKind::Overloaded { user_name, .. } = &event.kind {
                match user_name {
                    Some(u) => self.named.entry(u.clone()).or_default().push(e.ts_us),
                    None => self.attempts.push(e.ts_us),
                }
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
        let floor = herd4_no_hammering(self.agents, &self.attempts, &b);
        super::waited::worst(self.by_agent(), floor)
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

    use crate::check::test_told as told;

    #[test]
    fn named_answers_are_counted_agent_by_agent() {
        let st = crate::check::test_state("herd");
        // 2,000 agents: one of them turned away 40 times in 8 s is under the floor's average
        // bound by far, and over its own.
        let mut h = Hammer::new(2000, 30);
        for k in 0..40 {
            h.on_entry(&told(k * 200_000, "a7"), &st);
        }
        for k in 0..30 {
            h.on_entry(&told(k * 1_000_000, "a8"), &st);
        }
        let Status::Fail(f) = h.finish(60_000_000, &st) else {
            panic!("a7 was turned away 40 times within a minute")
        };
        assert_eq!(
            f.observed,
            "a7 was turned away 40 times within a minute; 1 of 2000 agents over 30 (70 overload answers named their agent)"
        );
        let mut h = Hammer::new(2000, 30);
        for k in 0..30 {
            h.on_entry(&told(k * 1_000_000, "a8"), &st);
        }
        assert_eq!(h.finish(60_000_000, &st), Status::Pass);
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
