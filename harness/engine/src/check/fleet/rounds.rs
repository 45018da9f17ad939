//! HERD-5 as a herd's fleet check: while every site turns the floor away, its agents do not come
//! back round after round in step; from round 4 on, no 250 ms slot holds most of their intervals.

use std::collections::BTreeMap;

use bc_protocol::EventKind;

use crate::check::herd::busiest_window;
use crate::check::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// The slot the intervals are counted in. Each site's HA window of the reference ends on the first
/// 100 ms tick past 2 s, so equal pauses still give intervals up to ~200 ms apart: a finer slot
/// would measure that noise, not the pause (docs/rules.md, "Retry rounds").
pub const SLOT_US: i64 = 250_000;

/// The first round judged. The pauses before rounds 2 and 3 may be drawn from short ranges (below
/// 250 and 500 ms for the reference, whose busiest 250 ms then holds 78 % and 58 % of its floor's
/// intervals on average); before round 4, below 1 s (37 %), while equal pauses keep nearly all of
/// them in one slot. Rounds before it are listed, not judged.
pub const FIRST_JUDGED: usize = 4;

/// One agent's rounds: the sites tried in its current round, and its first attempt of each round.
#[derive(Default)]
struct Agent {
    visited: Vec<String>,
    starts: Vec<i64>,
}

impl Agent {
    /// Consecutive attempts at one site are one run; coming back to a site already tried in the
    /// round, after another site, begins the next round (A, B, then A again), as `backs_off` reads
    /// them: the HA pacing inside a site and the move to the other site are not rounds.
    fn attempt(&mut self, site: &str, ts_us: i64) {
        if self.visited.last().is_some_and(|s| s == site) {
            return;
        }
        if self.starts.is_empty() || self.visited.iter().any(|s| s == site) {
            self.visited.clear();
            self.starts.push(ts_us);
        }
        self.visited.push(site.to_string());
    }
}

/// Every overload answer that names its agent, folded into that agent's rounds; judged at the end.
pub struct Rounds {
    agents: usize,
    max_share: f64,
    by_agent: BTreeMap<String, Agent>,
    /// Turned-away connections that named no agent, for the not-exercised text.
    unnamed: usize,
}

impl Rounds {
    /// The check for a herd of `agents`, at most `max_percent` of a round's agents in one slot.
    pub fn new(agents: u32, max_percent: u32) -> Rounds {
        Rounds {
            agents: agents as usize,
            max_share: f64::from(max_percent) / 100.0,
            by_agent: BTreeMap::new(),
            unnamed: 0,
        }
    }
}

impl Check for Rounds {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        if let EntryKind::Observed { event } = &e.kind {
            if let EventKind::Overloaded { user_name, .. } = &event.kind {
                // Only a CS Proxy registration names its user: an attempt refused at accept, or a
                // SIP Server's answer, cannot be put in any agent's rounds.
                match user_name {
                    Some(u) => {
                        let agent = self.by_agent.entry(u.clone()).or_default();
                        agent.attempt(&event.site, e.ts_us);
                    }
                    None => self.unnamed += 1,
                }
            }
        }
        Status::Pending
    }

    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        if self.by_agent.is_empty() {
            return Status::not_exercised(format!(
                "no overload answer named its agent ({} turned-away connections named none: refused at accept, or not at a CS Proxy): no rounds to number",
                self.unnamed
            ));
        };
        let starts: Vec<Vec<i64>> = self.by_agent.values().map(|a| a.starts.clone()).collect();
        herd5_rounds(self.agents, &starts, self.max_share)
    }
}

/// One round over the floor: its number (from 2), the agents in it, the most of their intervals
/// from the round before in one slot, where that slot starts, and when the round's first agent
/// began it.
struct Round {
    k: usize,
    agents: usize,
    most: usize,
    from_us: i64,
    began_us: i64,
}

impl Round {
    fn share(&self) -> f64 {
        self.most as f64 / self.agents as f64
    }
}

/// HERD-5 over each agent's round starts (`starts[i][k - 1]`: agent i's first attempt of round k).
/// Round k's measure is each agent's interval from beginning round k - 1 to beginning round k: its
/// HA windows plus its pause. Agents that pause alike have equal intervals, however far apart the
/// environment's own noise has already pushed their rounds; those are what re-align a floor. A
/// round is measured when at least half the herd's `agents` took part (a handful of stragglers line
/// up by chance); the measured rounds from [`FIRST_JUDGED`] on must each have at most `max_share`
/// of their agents' intervals in one [`SLOT_US`] slot.
pub fn herd5_rounds(agents: usize, starts: &[Vec<i64>], max_share: f64) -> Status {
    let deepest = starts.iter().map(Vec::len).max().unwrap_or(0);
    let rounds: Vec<Round> = (2..=deepest)
        .filter_map(|k| {
            let reached: Vec<&Vec<i64>> = starts.iter().filter(|s| s.len() >= k).collect();
            let intervals: Vec<i64> = reached.iter().map(|s| s[k - 1] - s[k - 2]).collect();
            let (most, from_us) = busiest_window(&intervals, SLOT_US);
            let began_us = reached.iter().map(|s| s[k - 1]).min()?;
            (reached.len() * 2 >= agents.max(1)).then_some(Round {
                k,
                agents: reached.len(),
                most,
                from_us,
                began_us,
            })
        })
        .collect();
    let listed = rounds
        .iter()
        .map(|r| {
            format!(
                "{}: {}/{} ({:.1} %) from {}",
                r.k,
                r.most,
                r.agents,
                r.share() * 100.0,
                secs(r.from_us)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let judged: Vec<&Round> = rounds.iter().filter(|r| r.k >= FIRST_JUDGED).collect();
    if judged.is_empty() {
        return Status::not_exercised(format!(
            "{} round(s) after the first with half the herd or more ({}), none from round {FIRST_JUDGED} on, where the rule judges",
            rounds.len(),
            if listed.is_empty() { "none" } else { &listed }
        ));
    }
    let Some(worst) = judged.iter().find(|r| r.share() > max_share + 1e-9) else {
        return Status::Pass;
    };
    Status::Fail(Failure::new(
        format!(
            "HERD-5 from round {FIRST_JUDGED} on, no {} ms slot holds more than {:.0} % of a retry round's agents' intervals from the round before ({agents} agents)",
            SLOT_US / 1000,
            max_share * 100.0
        ),
        worst.began_us,
        format!(
            "round {}: {} of {} agents ({:.1} %) began it {} to {} after beginning round {}; the most agents whose interval from the round before fell in one {} ms, per round: {listed}",
            worst.k,
            worst.most,
            worst.agents,
            worst.share() * 100.0,
            secs(worst.from_us),
            secs(worst.from_us + SLOT_US),
            worst.k - 1,
            SLOT_US / 1000,
        ),
    ))
}

fn secs(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An overload answer to `user` at `site` (a CS Proxy's, which names its agent).
    fn answered(ts_ms: i64, site: &str, user: &str) -> Entry {
        let kind = EventKind::Overloaded {
            limit: "max_clients".into(),
            retry_after_ms: 3_000,
            answer: "error".into(),
            user_name: Some(user.into()),
        };
        crate::check::test_observed(ts_ms * 1000, site, kind)
    }

    /// Four agents, five rounds of the reference's shape (A then B 2 s later, each pair's two
    /// members), each agent's k-th round starting `offset(agent, k)` ms after 4 s per round.
    fn judge(offset: impl Fn(i64, i64) -> i64) -> Status {
        let st = crate::check::test_state("herd");
        let mut entries = Vec::new();
        for a in 0..4 {
            let user = format!("herd{a:04}");
            let mut t = 0;
            for k in 0..5 {
                t += offset(a, k);
                for (site, dt) in [("A", 0), ("A", 3), ("B", 2_000), ("B", 2_003)] {
                    entries.push(answered(t + dt, site, &user));
                }
                t += 4_000;
            }
        }
        entries.sort_by_key(|e| e.ts_us);
        let mut c = Rounds::new(4, 50);
        for e in &entries {
            assert_eq!(c.on_entry(e, &st), Status::Pending);
        }
        c.finish(100_000_000, &st)
    }

    #[test]
    fn rounds_that_spread_pass_and_rounds_in_lock_step_fail() {
        // Each agent's pauses differ by 300 ms: no two of its intervals share a slot.
        assert_eq!(judge(|a, k| if k == 0 { 0 } else { a * 300 }), Status::Pass);
        let Status::Fail(f) = judge(|_, k| if k == 0 { 0 } else { 250 }) else {
            panic!("four agents pausing alike every round")
        };
        assert!(f.check.starts_with("HERD-5"), "{}", f.check);
        assert!(
            f.observed.starts_with(
                "round 4: 4 of 4 agents (100.0 %) began it 4.250s to 4.500s after beginning round 3"
            ),
            "{}",
            f.observed
        );
        assert!(
            f.observed.ends_with("5: 4/4 (100.0 %) from 4.250s"),
            "{}",
            f.observed
        );
    }

    #[test]
    fn a_floor_that_pauses_alike_from_some_round_on_fails_there() {
        // Pauses 300 ms apart before rounds 2 to 4, the same pause before round 5: the floor is
        // spread by then, but nothing spreads it further.
        let Status::Fail(f) = judge(|a, k| match k {
            0 => 0,
            1..=3 => 100 + a * 300,
            _ => 250,
        }) else {
            panic!("round 5's pauses are equal")
        };
        assert!(f.observed.starts_with("round 5: 4 of 4"), "{}", f.observed);
    }

    #[test]
    fn fewer_than_four_rounds_or_unnamed_attempts_are_not_exercised() {
        let st = crate::check::test_state("herd");
        let mut c = Rounds::new(2, 50);
        for (t, site) in [(0, "A"), (2_000, "B"), (4_000, "A"), (6_000, "B")] {
            c.on_entry(&answered(t, site, "herd0000"), &st);
            c.on_entry(&answered(t + 1, site, "herd0001"), &st);
        }
        let Status::NotExercised { reason } = c.finish(10_000_000, &st) else {
            panic!("two rounds judge nothing")
        };
        assert!(reason.starts_with("1 round(s) after the first"), "{reason}");
        assert!(
            reason.ends_with("none from round 4 on, where the rule judges"),
            "{reason}"
        );
        let mut refused = Rounds::new(2, 50);
        for k in 0..40 {
            refused.on_entry(&crate::check::test_turned_away(k * 100_000, "A"), &st);
        }
        assert!(matches!(
            refused.finish(10_000_000, &st),
            Status::NotExercised { .. }
        ));
    }

    #[test]
    fn a_round_too_few_agents_reached_is_not_measured() {
        // Ten agents spread from round 2 on, two of which go on to a fifth round together.
        let mut starts: Vec<Vec<i64>> = (0..10)
            .map(|a| {
                let spread = |k: i64| k * 4_000_000 + a * k * 110_000;
                vec![0, spread(1), spread(2), spread(3)]
            })
            .collect();
        starts[0].push(16_000_000);
        starts[1].push(16_000_000);
        assert_eq!(herd5_rounds(10, &starts, 0.5), Status::Pass);
    }
}
