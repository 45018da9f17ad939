//! Fleet rules HERD-1..HERD-4 (docs/rules.md) as pure functions over a herd's observations: each
//! gets what the servers saw per agent and gives a three-valued status whose failure text has numbers.

use std::collections::BTreeMap;

use super::{Failure, Status};

/// The declared bounds of a herd scenario; defaults are the documented suggestions.
#[derive(Debug, Clone, PartialEq)]
pub struct HerdBounds {
    /// HERD-1: the share of agents that must be logged in at the survivor by the deadline.
    pub logged_in_share: f64,
    /// HERD-2/HERD-7: the window in which first contacts are counted (µs).
    pub window_us: i64,
    /// HERD-2/HERD-7: the largest share of the agents' first contacts one window may hold.
    pub max_window_share: f64,
    /// HERD-4: the most attempts per agent in any minute while a site is down.
    pub max_attempts_per_agent_minute: f64,
}

impl Default for HerdBounds {
    fn default() -> Self {
        Self {
            logged_in_share: 1.0,
            window_us: 100_000,
            max_window_share: 0.20,
            max_attempts_per_agent_minute: f64::from(
                bc_suite::HerdPlan::DEFAULT_MAX_ATTEMPTS_PER_MINUTE,
            ),
        }
    }
}

fn secs(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// The `p`-th percentile (0..=100, nearest rank) of sorted values.
pub(super) fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// HERD-1: every agent is logged in at the survivor by `deadline_us`. `logins` holds each agent's
/// first login at the survivor after the fault at `fault_us`; `stayed` counts the agents that were
/// at the survivor all along (made it, with no switchover); `agents` is the herd's size.
pub fn herd1_logged_in(
    agents: usize,
    logins: &BTreeMap<String, i64>,
    stayed: usize,
    fault_us: i64,
    deadline_us: i64,
    b: &HerdBounds,
) -> Status {
    if agents == 0 {
        return Status::not_exercised("the herd has no agents");
    }
    let mut took: Vec<i64> = logins
        .values()
        .filter(|&&t| t <= deadline_us)
        .map(|&t| t - fault_us)
        .collect();
    took.sort_unstable();
    let made_it = took.len() + stayed;
    let share = made_it as f64 / agents as f64;
    if share + 1e-9 >= b.logged_in_share {
        return Status::Pass;
    }
    let observed = format!(
        "{made_it}/{agents} agents ({:.1} %) logged in at the survivor by the deadline (declared {:.1} %); \
         switchover p50 {} p95 {} max {} of the {} that moved there in time",
        share * 100.0,
        b.logged_in_share * 100.0,
        secs(percentile(&took, 50)),
        secs(percentile(&took, 95)),
        secs(took.last().copied().unwrap_or(0)),
        took.len(),
    );
    Status::Fail(
        Failure::new(
            format!(
                "HERD-1 {:.0} % of {agents} agents logged in at the survivor within {}",
                b.logged_in_share * 100.0,
                secs(deadline_us - fault_us)
            ),
            deadline_us,
            observed,
        )
        .deadline(deadline_us),
    )
}

/// The switchover distribution (p50, p95, max, µs from the fault) of the agents that logged in.
pub fn switchover_percentiles(logins: &BTreeMap<String, i64>, fault_us: i64) -> [i64; 3] {
    let mut took: Vec<i64> = logins.values().map(|&t| t - fault_us).collect();
    took.sort_unstable();
    [
        percentile(&took, 50),
        percentile(&took, 95),
        took.last().copied().unwrap_or(0),
    ]
}

/// The most first contacts in one window of `window_us` (any start), and where it starts.
pub fn busiest_window(first_contacts: &[i64], window_us: i64) -> (usize, i64) {
    let mut t = first_contacts.to_vec();
    t.sort_unstable();
    let (mut best, mut at, mut lo) = (0, 0, 0);
    for hi in 0..t.len() {
        while t[hi] - t[lo] >= window_us {
            lo += 1;
        }
        if hi + 1 - lo > best {
            best = hi + 1 - lo;
            at = t[lo];
        }
    }
    (best, at)
}

/// HERD-2 (and HERD-7 for a return of the preferred site): the agents' first contacts at the
/// survivor after the fault disperse: no window of `window_us` holds more than the declared share
/// of the `agents`. `first_contacts`: one instant per agent.
pub fn herd2_dispersed(
    rule: &str,
    agents: usize,
    first_contacts: &[i64],
    fault_us: i64,
    b: &HerdBounds,
) -> Status {
    if agents == 0 || first_contacts.is_empty() {
        return Status::not_exercised("no agent contacted the survivor after the fault");
    }
    let (most, at) = busiest_window(first_contacts, b.window_us);
    let (what, after) = if rule == "HERD-7" {
        ("returns", "the site's return")
    } else {
        ("first contacts", "the fault")
    };
    let share = most as f64 / agents as f64;
    if share <= b.max_window_share + 1e-9 {
        return Status::Pass;
    }
    Status::Fail(Failure::new(
        format!(
            "{rule} no {} ms window holds more than {:.0} % of {agents} agents' {what}",
            b.window_us / 1000,
            b.max_window_share * 100.0
        ),
        at,
        format!(
            "{most} of {agents} {what} ({:.1} %) fell in the {} ms from {} after {after}",
            share * 100.0,
            b.window_us / 1000,
            secs(at - fault_us)
        ),
    ))
}

/// One overload answer a server gave an agent, and the delay it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadAnswer {
    pub agent: String,
    pub server: String,
    pub at_us: i64,
    pub retry_after_us: i64,
}

/// HERD-3: after an overload answer, the agent does not try that server again before the delay
/// it was given. `attempts`: (agent, server, µs) of every attempt the servers saw.
pub fn herd3_overload_honoured(
    answers: &[OverloadAnswer],
    attempts: &[(String, String, i64)],
) -> Status {
    if answers.is_empty() {
        return Status::not_exercised("no server gave an overload answer");
    }
    let mut early: Vec<(i64, &OverloadAnswer, i64)> = Vec::new();
    for a in answers {
        let due = a.at_us + a.retry_after_us;
        if let Some(t) = attempts
            .iter()
            .filter(|(ag, sv, t)| *ag == a.agent && *sv == a.server && *t > a.at_us && *t < due)
            .map(|(_, _, t)| *t)
            .min()
        {
            early.push((t, a, due - t));
        }
    }
    let Some(&(t, first, short)) = early.iter().min_by_key(|(t, ..)| *t) else {
        return Status::Pass;
    };
    let agents: std::collections::BTreeSet<&str> =
        early.iter().map(|(_, a, _)| a.agent.as_str()).collect();
    // The answer is stamped before the desktop reads it and the retry after the desktop made it:
    // a starved machine only widens the gap, so an early retry is the desktop's.
    Status::Fail(
        Failure::new(
            "HERD-3 no retry of an overloaded server before its advertised delay",
            t,
            format!(
            "{} of {} overload answers retried early by {} agent{}; first: {} tried {} again {} \
             after being told to wait {} ({} early)",
            early.len(),
            answers.len(),
            agents.len(),
            if agents.len() == 1 { "" } else { "s" },
            first.agent,
            first.server,
            secs(t - first.at_us),
            secs(first.retry_after_us),
            secs(short)
        ),
        )
        .load_proof(),
    )
}

/// The most attempts in any 60 s window, per agent on average: `attempts` are the instants at which
/// the down site saw an attempt from any of the `agents` (identity is not needed for the average).
pub fn attempts_per_agent_minute(attempts: &[i64], agents: usize) -> f64 {
    if agents == 0 {
        return 0.0;
    }
    let (most, _) = busiest_window(attempts, 60_000_000);
    most as f64 / agents as f64
}

/// HERD-4: while a site is down no desktop hammers it: at most the declared attempts per agent
/// in any minute. Counts attempts, not the shortest gap (full jitter may legally draw ~0).
pub fn herd4_no_hammering(agents: usize, attempts: &[i64], b: &HerdBounds) -> Status {
    if attempts.is_empty() {
        return Status::not_exercised("no attempt at the down site was seen");
    }
    let rate = attempts_per_agent_minute(attempts, agents);
    if rate <= b.max_attempts_per_agent_minute {
        return Status::Pass;
    }
    let (_, at) = busiest_window(attempts, 60_000_000);
    Status::Fail(Failure::new(
        format!(
            "HERD-4 at most {:.0} attempts per agent per minute at a down site",
            b.max_attempts_per_agent_minute
        ),
        at,
        format!(
            "{} attempts from {agents} agents: {rate:.1} per agent in the busiest minute",
            attempts.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(s: &Status) -> String {
        match s {
            Status::Fail(f) => format!("{} | {}", f.check, f.observed),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn herd1_counts_the_share_logged_in_by_the_deadline() {
        let b = HerdBounds::default();
        let logins: BTreeMap<String, i64> = (0..10)
            .map(|i| (format!("a{i}"), 1_000_000 + i * 500_000))
            .collect();
        assert_eq!(
            herd1_logged_in(10, &logins, 0, 0, 6_000_000, &b),
            Status::Pass
        );
        let text = failed(&herd1_logged_in(12, &logins, 0, 0, 3_000_000, &b));
        assert!(text.contains("5/12 agents (41.7 %)"), "{text}");
        assert!(text.contains("max 3.000s"), "{text}");
        assert_eq!(
            switchover_percentiles(&logins, 0),
            [3_000_000, 5_500_000, 5_500_000]
        );
    }

    #[test]
    fn herd2_catches_a_lock_step_herd_and_passes_a_spread_one() {
        let b = HerdBounds::default();
        let spread: Vec<i64> = (0..100).map(|i| i * 20_000).collect();
        assert_eq!(herd2_dispersed("HERD-2", 100, &spread, 0, &b), Status::Pass);
        let lock_step: Vec<i64> = (0..100).map(|i| 2_000_000 + i * 300).collect();
        let text = failed(&herd2_dispersed("HERD-2", 100, &lock_step, 0, &b));
        assert!(
            text.contains("100 of 100 first contacts (100.0 %)"),
            "{text}"
        );
        assert!(text.contains("from 2.000s after the fault"), "{text}");
        assert!(matches!(
            herd2_dispersed("HERD-2", 100, &[], 0, &b),
            Status::NotExercised { .. }
        ));
    }

    #[test]
    fn herd3_flags_a_retry_inside_the_delay() {
        let answer = |agent: &str, at| OverloadAnswer {
            agent: agent.into(),
            server: "sip_server@B".into(),
            at_us: at,
            retry_after_us: 1_000_000,
        };
        let attempt = |agent: &str, t| (agent.to_string(), "sip_server@B".to_string(), t);
        let patient = [attempt("a", 0), attempt("a", 1_200_000)];
        assert_eq!(
            herd3_overload_honoured(&[answer("a", 0)], &patient),
            Status::Pass
        );
        let eager = [attempt("a", 0), attempt("a", 300_000), attempt("b", 50_000)];
        let text = failed(&herd3_overload_honoured(
            &[answer("a", 0), answer("b", 0)],
            &eager,
        ));
        assert!(
            text.contains("2 of 2 overload answers retried early by 2 agents"),
            "{text}"
        );
        assert!(text.contains("b tried sip_server@B again 0.050s"), "{text}");
    }

    #[test]
    fn herd4_counts_attempts_per_agent_in_the_busiest_minute() {
        let b = HerdBounds::default();
        let calm: Vec<i64> = (0..400).map(|i| i * 10_000).collect();
        assert_eq!(herd4_no_hammering(10, &calm, &b), Status::Pass);
        let storm: Vec<i64> = (0..5000).map(|i| i * 100).collect();
        let text = failed(&herd4_no_hammering(10, &storm, &b));
        assert!(
            text.contains("5000 attempts from 10 agents: 500.0 per agent"),
            "{text}"
        );
        // Only the busiest minute counts: 400 attempts spread over ten minutes are 40 a minute.
        let slow: Vec<i64> = (0..400).map(|i| i * 1_500_000).collect();
        assert!((attempts_per_agent_minute(&slow, 1) - 40.0).abs() < 1.0);
    }
}
