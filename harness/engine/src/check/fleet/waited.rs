//! HERD-3 as a herd's fleet check: agent by agent where the overload answers name their agent (a
//! desktop that tells every server its UserName), by the pigeonhole where they do not.
//!
//! Named: an answer to agent X from instance I is honoured when X's next registration attempt at
//! I (its next overload answer or its registration there) comes at or after the delay it was
//! told. The attempt is timed at its registration request, which follows its connect: a retry is
//! never taken for earlier than it was, so an agent that waited cannot fail.
//!
//! Unnamed: an agent that waits the delay it was told is turned away by one instance at most once
//! in any window of that delay. So when one instance gives more overload answers within one such
//! window than the herd has agents, at least the excess came back early, whoever they were. The
//! bound is sound (a pass of the reference cannot be an accident of counting) and one-sided: early
//! retries spread thinner than that are not seen by it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bc_protocol::EventKind;

use crate::check::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// Every `EventError` overload answer: the named ones judged as they come, the others at the end.
pub struct Waited {
    agents: usize,
    /// Unnamed answers: instance (`A.sip_server.primary`) -> (instant, delay asked for in µs).
    answers: BTreeMap<String, Vec<(i64, i64)>>,
    /// Named answers still waiting for their agent's next attempt: (agent, instance) -> (instant
    /// of the answer, instant the delay ends).
    pending: HashMap<(String, String), (i64, i64)>,
    named: usize,
    early: Early,
}

/// The named answers retried before their delay.
#[derive(Default)]
struct Early {
    count: usize,
    agents: BTreeSet<String>,
    /// The first: (retry instant, agent, instance, answer instant, delay end).
    first: Option<(i64, String, String, i64, i64)>,
}

impl Waited {
    /// The check for a herd of `agents`.
    pub fn new(agents: u32) -> Waited {
        Waited {
            agents: agents as usize,
            answers: BTreeMap::new(),
            pending: HashMap::new(),
            named: 0,
            early: Early::default(),
        }
    }

    /// Agent `user` tried `at` again at `ts`: early if an answer there told it to wait longer.
    fn attempt(&mut self, user: &str, at: &str, ts: i64) {
        let Some((told, due)) = self.pending.remove(&(user.to_string(), at.to_string())) else {
            return;
        };
        if ts < due {
            self.early.count += 1;
            self.early.agents.insert(user.to_string());
            if self.early.first.is_none() {
                self.early.first = Some((ts, user.to_string(), at.to_string(), told, due));
            }
        }
    }

    /// The per-agent judgement of the named answers.
    fn by_agent(&self) -> Status {
        if self.named == 0 {
            return Status::not_exercised("no overload answer named its agent");
        }
        let Some((t, agent, at, told, due)) = &self.early.first else {
            return Status::Pass;
        };
        let n = self.early.agents.len();
        // Stamped by the server before the agent was told and after it retried: a starved machine
        // only widens the gap (the pigeonhole count below has no such proof: a starved server
        // stamps a backlog close together).
        Status::Fail(Failure::new(
            "HERD-3 no retry of an overloaded server before its advertised delay".to_string(),
            *t,
            format!(
                "{} of {} overload answers retried early by {n} agent{}; first: {agent} tried {at} again {:.3}s after being told to wait {:.3}s ({:.3}s early)",
                self.early.count,
                self.named,
                if n == 1 { "" } else { "s" },
                (t - told) as f64 / 1e6,
                (due - told) as f64 / 1e6,
                (due - t) as f64 / 1e6,
            ),
        ).load_proof())
    }
}

impl Check for Waited {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        let EntryKind::Observed { event } = &e.kind else {
            return Status::Pending;
        };
        let instance =
            || crate::check::overload::instance(&event.site, event.server, event.role, event.group);
        match &event.kind {
            EventKind::Overloaded {
                retry_after_ms,
                answer,
                user_name,
                ..
            } => {
                let at = instance();
                if let Some(u) = user_name {
                    self.attempt(u, &at, e.ts_us);
                }
                // A connection closed without an answer (`refuse`) was told no delay to honour.
                if answer != "error" {
                    return Status::Pending;
                }
                let wait = i64::try_from(*retry_after_ms).unwrap_or(i64::MAX / 2) * 1000;
                match user_name {
                    Some(u) => {
                        self.named += 1;
                        self.pending
                            .insert((u.clone(), at), (e.ts_us, e.ts_us.saturating_add(wait)));
                    }
                    None => self.answers.entry(at).or_default().push((e.ts_us, wait)),
                }
            }
            EventKind::ClientRegistered {
                user_name: Some(u), ..
            } => self.attempt(u, &instance(), e.ts_us),
            _ => {}
        }
        Status::Pending
    }

    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        worst(self.by_agent(), herd3_by_count(self.agents, &self.answers))
    }
}

/// Two judgements of one rule as one: a failure of either, else an error, else an unknown, else a
/// pass of either, else not exercised (the first's reason).
pub(super) fn worst(a: Status, b: Status) -> Status {
    let rank = |s: &Status| match s {
        Status::Fail(_) => 5,
        Status::Error { .. } => 4,
        Status::Unknown { .. } => 3,
        Status::Pending => 2,
        Status::Pass => 1,
        Status::NotExercised { .. } => 0,
    };
    if rank(&b) > rank(&a) {
        b
    } else {
        a
    }
}

/// The pigeonhole judgement over each instance's overload answers (sorted by instant).
pub fn herd3_by_count(agents: usize, answers: &BTreeMap<String, Vec<(i64, i64)>>) -> Status {
    if answers.is_empty() {
        return Status::not_exercised("no server gave an overload answer");
    }
    // The worst window over every instance: (answers in it, instance, start, delay).
    let mut worst: Option<(usize, &str, i64, i64)> = None;
    for (at, list) in answers {
        let mut end = 0;
        for (i, &(start, wait)) in list.iter().enumerate() {
            end = end.max(i);
            while end + 1 < list.len() && list[end + 1].0 < start + wait {
                end += 1;
            }
            let n = end - i + 1;
            if worst.is_none_or(|w| n > w.0) {
                worst = Some((n, at, start, wait));
            }
        }
    }
    let Some((n, at, start, wait)) = worst else {
        return Status::not_exercised("no server gave an overload answer");
    };
    if n <= agents {
        return Status::Pass;
    }
    Status::Fail(Failure::new(
        "HERD-3 no retry of an overloaded server before its advertised delay".to_string(),
        start,
        format!(
            "{at} gave {n} overload answers within {:.3}s, the delay it asked for: more than the {agents} agents could get if each waited, so at least {} retries came early",
            wait as f64 / 1e6,
            n - agents
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(instants_ms: &[i64]) -> BTreeMap<String, Vec<(i64, i64)>> {
        let list = instants_ms.iter().map(|t| (t * 1000, 1_000_000)).collect();
        BTreeMap::from([("B.sip_server.primary".to_string(), list)])
    }

    #[test]
    fn more_answers_in_one_delay_than_agents_means_early_retries() {
        // 4 agents, each told to wait 1 s, each back after 1 s: at most 4 in any second.
        let honest: Vec<i64> = (0..4)
            .flat_map(|r| (0..4).map(move |a| r * 1000 + a * 10))
            .collect();
        assert_eq!(herd3_by_count(4, &answers(&honest)), Status::Pass);
        // The same 4 agents back every 100 ms: 40 answers in a second.
        let eager: Vec<i64> = (0..40).map(|k| k * 25).collect();
        let Status::Fail(f) = herd3_by_count(4, &answers(&eager)) else {
            panic!("40 answers in 1 s to 4 agents")
        };
        assert!(
            f.observed
                .contains("gave 40 overload answers within 1.000s"),
            "{}",
            f.observed
        );
        assert!(
            f.observed.contains("at least 36 retries came early"),
            "{}",
            f.observed
        );
        assert!(matches!(
            herd3_by_count(4, &BTreeMap::new()),
            Status::NotExercised { .. }
        ));
    }

    fn told(ts_ms: i64, user: &str) -> Entry {
        crate::check::test_told(ts_ms * 1000, user)
    }

    fn registered(ts_ms: i64, user: &str) -> Entry {
        crate::check::test_observed(
            ts_ms * 1000,
            "B",
            EventKind::ClientRegistered {
                client_name: "desk".into(),
                user_name: Some(user.into()),
            },
        )
    }

    #[test]
    fn named_answers_are_judged_agent_by_agent() {
        let st = crate::check::test_state("herd");
        // 1,000 agents: the pigeonhole would need 1,000 answers in a second to see anything.
        let mut w = Waited::new(1000);
        for e in [
            told(0, "a1"),
            told(10, "a2"),
            told(1_000, "a1"),
            registered(1_012, "a2"),
            registered(2_100, "a1"),
        ] {
            w.on_entry(&e, &st);
        }
        assert_eq!(w.finish(3_000_000, &st), Status::Pass);
        let mut w = Waited::new(1000);
        for e in [
            told(0, "a1"),
            told(0, "a2"),
            told(300, "a2"),
            registered(350, "a2"),
        ] {
            w.on_entry(&e, &st);
        }
        let Status::Fail(f) = w.finish(1_000_000, &st) else {
            panic!("a2 came back after 0.3 s of the 1 s it was told")
        };
        assert_eq!(f.at_us, 300_000);
        assert!(
            f.observed.starts_with(
                "2 of 3 overload answers retried early by 1 agent; first: a2 tried B.config_server.primary again 0.300s after being told to wait 1.000s (0.700s early)"
            ),
            "{}",
            f.observed
        );
    }

    #[test]
    fn only_answers_that_named_a_delay_count() {
        let st = crate::check::test_state("herd");
        let mut w = Waited::new(1);
        for k in 0..5 {
            w.on_entry(&crate::check::test_turned_away(k * 1000, "A"), &st);
        }
        assert!(matches!(w.finish(10_000, &st), Status::NotExercised { .. }));
    }
}
