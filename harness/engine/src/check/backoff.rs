//! HERD-4 for one desktop, between retry rounds: after a round in which servers of every site
//! turned the desktop away (`overload`), it pauses before the next round. `max_attempts` counts
//! attempts, which a desktop's own HA pacing inside a site dominates; this check looks only at the
//! pause between rounds, which full-jitter backoff makes random (it may draw ~0 once), so it judges
//! the mean pause over several rounds, never a single one.
//!
//! Rounds are read from what the servers saw: each turned-away connection (`overloaded` event) is
//! an attempt at its site. Consecutive attempts at one site form a run; a new round begins when the
//! desktop comes back to a site it already tried in the current round after attempts at another
//! site (A, B, then A again). The pause at that boundary is the time from the last attempt before
//! it to the first attempt after it. Attempts the servers cannot see (a killed or `refuse`d site)
//! show no round, so rounds over such sites are not counted.

use bc_protocol::EventKind;

use super::{Check, Failure, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// The pauses listed in a failure text at most; the rest are counted.
const LISTED: usize = 20;

/// Rounds of turned-away attempts and the pauses between them; decided when the scenario ends.
pub struct BacksOff {
    name: String,
    min_mean_us: i64,
    rounds: u32,
    /// The site of the current run of attempts and the instant of its latest attempt.
    run: Option<(String, i64)>,
    /// The sites tried in the current round, in order.
    visited: Vec<String>,
    /// The pause at each round boundary seen so far, µs.
    pauses: Vec<i64>,
    /// The first attempt of the latest round: when the last pause was complete.
    last_round_us: i64,
    /// Turned-away connections in the whole run (zero: never exercised).
    total: usize,
}

impl BacksOff {
    /// A mean pause of at least `min_mean_pause_ms`, judged once `rounds` rounds were seen.
    pub fn new(name: String, min_mean_pause_ms: u64, rounds: u32) -> BacksOff {
        BacksOff {
            name,
            min_mean_us: min_mean_pause_ms as i64 * 1000,
            rounds,
            run: None,
            visited: Vec::new(),
            pauses: Vec::new(),
            last_round_us: 0,
            total: 0,
        }
    }

    /// Rounds seen: the first one and one more per pause.
    fn rounds_seen(&self) -> usize {
        if self.total == 0 {
            0
        } else {
            self.pauses.len() + 1
        }
    }

    /// Folds one turned-away attempt at `site`, at `ts_us`, into the runs and rounds.
    fn attempt(&mut self, site: &str, ts_us: i64) {
        self.total += 1;
        if let Some((at, last)) = &mut self.run {
            if at == site {
                *last = (*last).max(ts_us);
                return;
            }
            if self.visited.iter().any(|s| s == site) {
                self.pauses.push((ts_us - *last).max(0));
                self.visited.clear();
                self.last_round_us = ts_us;
            }
        }
        self.visited.push(site.to_string());
        self.run = Some((site.to_string(), ts_us));
    }

    /// The pauses in ms, the first [`LISTED`] of them, then how many more.
    fn listed(&self) -> String {
        let mut s = self
            .pauses
            .iter()
            .take(LISTED)
            .map(|p| format!("{}", (p + 500) / 1000))
            .collect::<Vec<_>>()
            .join(", ");
        if self.pauses.len() > LISTED {
            s.push_str(&format!(", ... ({} more)", self.pauses.len() - LISTED));
        }
        s
    }
}

/// The `expected:` line of the check, `min_mean_pause` already written as a duration.
pub fn expected(min_mean_pause: &str, rounds: u32) -> String {
    format!(
        "after each round in which servers of every site turned the desktop away, a pause before the next round: at least {min_mean_pause} on average, judged over {rounds} rounds or more"
    )
}

fn ms(us: i64) -> String {
    let v = us as f64 / 1000.0;
    if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

impl Check for BacksOff {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        if let EntryKind::Observed { event: o } = &e.kind {
            if matches!(o.kind, EventKind::Overloaded { .. }) {
                self.attempt(&o.site, e.ts_us);
            }
        }
        Status::Pending
    }

    /// The mean over every pause seen; fewer rounds than asked: not exercised (never a pass).
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        let nothing = "no server turned the desktop away: no round to time";
        // Lost observations or nothing turned away decide it; otherwise the rounds do.
        match Status::at_end(st, (self.total == 0).then_some(nothing)) {
            Status::Pass => {}
            other => return other,
        }
        let seen = self.rounds_seen();
        if seen < self.rounds.max(2) as usize {
            let pauses = if self.pauses.is_empty() {
                String::new()
            } else {
                format!(" (pauses {} ms)", self.listed())
            };
            return Status::not_exercised(format!(
                "{seen} round(s) of attempts turned away at every site{pauses}, fewer than the {} needed to judge the mean pause",
                self.rounds
            ));
        }
        let mean = self.pauses.iter().sum::<i64>() / self.pauses.len() as i64;
        if mean >= self.min_mean_us {
            return Status::Pass;
        }
        Status::Fail(Failure::new(
            self.name.clone(),
            self.last_round_us,
            format!(
                "mean pause between retry rounds {} over {seen} rounds (bound {}): {} ms",
                ms(mean),
                ms(self.min_mean_us),
                self.listed()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turned_away(ts_ms: i64, site: &str) -> Entry {
        crate::check::test_turned_away(ts_ms * 1000, site)
    }

    /// Rounds of the reference's shape: 2 s at A then 2 s at B, an attempt every 100 ms, and the
    /// given pause (ms) after each round; returns the checker's status at the end.
    fn rounds(c: &mut BacksOff, pauses: &[i64]) -> Status {
        let st = crate::check::test_state("agent1001");
        let mut t = 0;
        for k in 0..=pauses.len() {
            for site in ["A", "B"] {
                for i in 0..=20 {
                    assert_eq!(
                        c.on_entry(&turned_away(t + i * 100, site), &st),
                        Status::Pending
                    );
                }
                // On to B 1 ms after the last attempt at A; back to A after the pause.
                t += 2_000 + if site == "A" { 1 } else { 0 };
            }
            t += pauses.get(k).copied().unwrap_or(0);
        }
        c.finish(t + 10_000, &st)
    }

    fn backs_off(min_ms: u64, rounds: u32) -> BacksOff {
        BacksOff::new("invariant backs_off".into(), min_ms, rounds)
    }

    #[test]
    fn a_round_begins_when_the_desktop_comes_back_to_a_site() {
        let mut c = backs_off(100, 2);
        let st = crate::check::test_state("agent1001");
        // A, A, B, B, (pause 700) A, B, (pause 40) A: three rounds, two pauses; the gaps inside a
        // site (100 ms) and the switch from A to B within a round are no pauses.
        for (t, s) in [
            (0, "A"),
            (100, "A"),
            (101, "B"),
            (201, "B"),
            (901, "A"),
            (1_001, "B"),
            (1_041, "A"),
        ] {
            c.on_entry(&turned_away(t, s), &st);
        }
        assert_eq!(c.pauses, vec![700_000, 40_000]);
        assert_eq!(c.rounds_seen(), 3);
        assert_eq!(c.last_round_us, 1_041_000);
    }

    #[test]
    fn the_mean_pause_decides() {
        assert_eq!(
            rounds(&mut backs_off(100, 4), &[90, 150, 120]),
            Status::Pass
        );
        let Status::Fail(f) = rounds(&mut backs_off(100, 4), &[3, 4, 2, 5]) else {
            panic!("no pause between rounds passed")
        };
        assert_eq!(
            f.observed,
            "mean pause between retry rounds 3.5 ms over 5 rounds (bound 100 ms): 3, 4, 2, 5 ms"
        );
        // The last round's first attempt: four rounds of 4001 ms and their pauses before it.
        assert_eq!(f.at_us, (4 * 4_001 + 3 + 4 + 2 + 5) * 1000);
    }

    #[test]
    fn fewer_rounds_than_asked_are_not_exercised() {
        let s = rounds(&mut backs_off(100, 4), &[3, 4]);
        let Status::NotExercised { reason } = s else {
            panic!("{s:?}")
        };
        assert_eq!(
            reason,
            "3 round(s) of attempts turned away at every site (pauses 3, 4 ms), fewer than the 4 needed to judge the mean pause"
        );
        let st = crate::check::test_state("agent1001");
        let mut c = backs_off(100, 2);
        assert!(matches!(c.finish(1, &st), Status::NotExercised { .. }));
        // Turned away at one site only (the other killed: its attempts unseen): no round boundary.
        for t in 0..50 {
            c.on_entry(&turned_away(t * 100, "A"), &st);
        }
        assert!(matches!(c.finish(6_000, &st), Status::NotExercised { .. }));
    }

    #[test]
    fn full_jitter_may_draw_zero_once() {
        // One pause of ~0 among the reference's other draws: the mean is what counts.
        assert_eq!(
            rounds(&mut backs_off(100, 7), &[0, 310, 640, 1_500, 20, 1_200]),
            Status::Pass
        );
    }

    #[test]
    fn a_long_failure_lists_the_first_pauses_and_counts_the_rest() {
        let Status::Fail(f) = rounds(&mut backs_off(100, 2), &[1; 25]) else {
            panic!("a spin passed")
        };
        assert!(
            f.observed.ends_with("1, 1, 1, ... (5 more) ms"),
            "{}",
            f.observed
        );
        assert!(f
            .observed
            .starts_with("mean pause between retry rounds 1.0 ms over 26 rounds (bound 100 ms): "));
    }
}
