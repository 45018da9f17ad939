//! HERD-3 as a herd's fleet check, where the overload answers name no agent (a SIP Server's or a
//! Stat Server's registration carries no user): counted by the pigeonhole instead of per agent.
//!
//! An agent that waits the delay it was told is turned away by one instance at most once in any
//! window of that delay. So when one instance gives more overload answers within one such window
//! than the herd has agents, at least the excess came back early, whoever they were. The bound is
//! sound (a pass of the reference cannot be an accident of counting) and one-sided: early retries
//! spread thinner than that are not seen here; the per-agent `honours_overload` judges those where
//! the answers name their agent (the CS Proxy's).

use std::collections::BTreeMap;

use bc_protocol::EventKind;

use crate::check::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// Every `EventError` overload answer, by the instance that gave it; judged at the end.
pub struct Waited {
    agents: usize,
    /// Instance (`A.sip_server.primary`) -> (instant, delay asked for in µs), in arrival order.
    answers: BTreeMap<String, Vec<(i64, i64)>>,
}

impl Waited {
    /// The check for a herd of `agents`.
    pub fn new(agents: u32) -> Waited {
        Waited {
            agents: agents as usize,
            answers: BTreeMap::new(),
        }
    }
}

impl Check for Waited {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        if let EntryKind::Observed { event } = &e.kind {
            // A connection closed without an answer (`refuse`) was told no delay to honour.
            if let EventKind::Overloaded {
                retry_after_ms,
                answer,
                ..
            } = &event.kind
            {
                if answer == "error" {
                    let at = crate::check::overload::instance(
                        &event.site,
                        event.server,
                        event.role,
                        event.group,
                    );
                    let wait = i64::try_from(*retry_after_ms).unwrap_or(i64::MAX / 2) * 1000;
                    self.answers.entry(at).or_default().push((e.ts_us, wait));
                }
            }
        }
        Status::Pending
    }

    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        herd3_by_count(self.agents, &self.answers)
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
