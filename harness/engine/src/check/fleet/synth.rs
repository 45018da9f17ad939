//! A herd synthesised from one desktop's repeated runs (`run --repeat K --herd-of N`): vendors
//! cannot start 2,000 copies of a GUI desktop, so what one copy does after a site loss, measured K
//! times, stands for a floor of N, and HERD-1 and HERD-2 are judged on that floor.
//!
//! Each repetition gives one sample: how long after its first fault the desktop first registered at
//! a CS Proxy of a site the fault left alone (its first contact), and how long until its SIP login
//! there. A floor of N agents losing the site at the same instant, each drawing its delays like
//! the desktop, puts in any window the share of the runs that fell there (`judge`). What it can
//! and cannot say: a desktop whose delays do not vary (no jitter) gives K nearly equal samples, a
//! floor in lock-step; one whose delays vary gives a spread floor. It says nothing about load (no
//! synthetic client meets a server here; `run::replay` replays the samples against the servers),
//! and with fewer than [`MIN_RUNS`] samples nothing at all.

use crate::check::herd::{busiest_window, HerdBounds};
use crate::check::{Failure, Status};
use crate::observe::{EntryKind, Timeline};
use bc_protocol::{EventKind, ServerKind};

/// Fewest measured repetitions a synthesised herd is judged on.
pub const MIN_RUNS: usize = 10;

/// One repetition's sample: µs after its first fault (`None`: never seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub contact_us: Option<i64>,
    pub login_us: Option<i64>,
}

/// The sample of one repetition's timeline; `None` when it injected no fault.
pub fn sample(t: &Timeline) -> Option<Sample> {
    let mut fault: Option<(i64, Vec<String>)> = None;
    let mut s = Sample {
        contact_us: None,
        login_us: None,
    };
    for e in &t.entries {
        match (&e.kind, &fault) {
            (EntryKind::Fault { effects, .. }, None) => {
                let sites = effects.iter().map(|f| f.target.site.clone()).collect();
                fault = Some((e.ts_us, sites));
            }
            (EntryKind::Observed { event }, Some((at, hit))) if !hit.contains(&event.site) => {
                let after = e.ts_us - at;
                match (event.server, &event.kind) {
                    (ServerKind::ConfigServer, EventKind::ClientRegistered { .. }) => {
                        s.contact_us.get_or_insert(after);
                    }
                    (ServerKind::SipServer, EventKind::AgentLogin { .. }) => {
                        s.login_us.get_or_insert(after);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    fault.map(|_| s)
}

/// HERD-1 (every measured run logged in within `budget_us` of the loss) and HERD-2 (the measured
/// first contacts dispersed) for a floor of `agents` whose delays are drawn like the `samples`.
///
/// The floor's share in its busiest 100 ms is estimated by the runs' share there (an estimate that
/// errs high, being the busiest of many windows, so a pass is safe). A failure must be as safe: it
/// needs the 95 % lower confidence bound of that share (Wilson) above HERD-2's 20 %; between the
/// two the runs cannot tell, and HERD-2 is not exercised ("more runs"). HERD-1 fails when any run
/// missed the budget: a floor drawing from such runs leaves agents out.
pub fn judge(samples: &[Sample], agents: usize, budget_us: i64) -> [Status; 2] {
    let k = samples.len();
    if k < MIN_RUNS {
        let why =
            format!("{k} measured repetition(s); a synthesised herd needs at least {MIN_RUNS}");
        return [Status::not_exercised(&why), Status::not_exercised(why)];
    }
    let b = HerdBounds::default();
    let in_time = samples
        .iter()
        .filter(|s| s.login_us.is_some_and(|l| l <= budget_us))
        .count();
    let herd1 = if in_time == k {
        Status::Pass
    } else {
        let mut f = Failure::new(
            format!(
                "HERD-1 100 % of {agents} agents logged in at the survivor within {:.3}s",
                budget_us as f64 / 1e6
            ),
            budget_us,
            format!(
                "{in_time} of {k} measured runs logged in at the survivor within the budget: a floor of {agents} drawing from them leaves about {} agents out",
                (agents * (k - in_time)).div_ceil(k)
            ),
        );
        f.deadline_us = Some(budget_us);
        Status::Fail(f)
    };
    let contacts: Vec<i64> = samples.iter().filter_map(|s| s.contact_us).collect();
    let herd2 = if contacts.len() < MIN_RUNS {
        Status::not_exercised(format!(
            "{} of {k} runs contacted the survivor; a synthesised herd needs at least {MIN_RUNS}",
            contacts.len()
        ))
    } else {
        let n = contacts.len();
        let (most, at) = busiest_window(&contacts, b.window_us);
        let share = most as f64 / n as f64;
        let told = format!(
            "{most} of {n} measured runs' first contacts ({:.1} %) fell in the {} ms from {:.3}s after the fault: a floor of {agents} drawing from them puts about {} agents there",
            share * 100.0,
            b.window_us / 1000,
            at as f64 / 1e6,
            (share * agents as f64).round()
        );
        if share <= b.max_window_share + 1e-9 {
            Status::Pass
        } else if wilson_lower(most, n) > b.max_window_share {
            Status::Fail(Failure::new(
                format!(
                    "HERD-2 no {} ms window holds more than {:.0} % of {agents} agents' first contacts",
                    b.window_us / 1000,
                    b.max_window_share * 100.0
                ),
                at,
                told,
            ))
        } else {
            Status::not_exercised(format!(
                "{told}; above {:.0} %, but {n} runs cannot tell it from a spread floor at 95 % confidence: more runs",
                b.max_window_share * 100.0
            ))
        }
    };
    [herd1, herd2]
}

/// The 95 % (one-sided) Wilson lower bound of a proportion `x / n`.
fn wilson_lower(x: usize, n: usize) -> f64 {
    let (x, n, z) = (x as f64, n as f64, 1.645_f64);
    let p = x / n;
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    (centre - spread) / (1.0 + z * z / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(contact_ms: i64) -> Sample {
        Sample {
            contact_us: Some(contact_ms * 1000),
            login_us: Some(contact_ms * 1000 + 20_000),
        }
    }

    #[test]
    fn spread_runs_pass_equal_ones_fail_and_the_middle_needs_more_runs() {
        let spread: Vec<Sample> = (0..30).map(|k| at(2_000 + k * 67)).collect();
        assert_eq!(
            judge(&spread, 2_000, 10_000_000),
            [Status::Pass, Status::Pass]
        );
        let lock_step: Vec<Sample> = (0..30).map(|k| at(2_000 + k % 3)).collect();
        let [h1, h2] = judge(&lock_step, 2_000, 10_000_000);
        assert_eq!(h1, Status::Pass);
        let Status::Fail(f) = h2 else {
            panic!("30 runs within 3 ms")
        };
        assert!(
            f.observed.starts_with("30 of 30 measured runs"),
            "{}",
            f.observed
        );
        assert!(
            f.observed.ends_with("puts about 2000 agents there"),
            "{}",
            f.observed
        );
        // 3 of 10 in one window: 30 %, but 10 runs cannot exclude 20 %.
        let mut few: Vec<Sample> = (0..7).map(|k| at(2_000 + k * 300)).collect();
        few.extend([at(5_000), at(5_010), at(5_020)]);
        let [_, h2] = judge(&few, 100, 10_000_000);
        assert!(matches!(h2, Status::NotExercised { .. }), "{h2:?}");
    }

    #[test]
    fn a_run_late_misses_herd1_and_too_few_runs_decide_nothing() {
        let slow: Vec<Sample> = (0..12).map(|k| at(2_000 + k * 500)).collect();
        let [h1, _] = judge(&slow, 120, 5_000_000);
        let Status::Fail(f) = h1 else {
            panic!("5 of 12 runs after 5 s")
        };
        assert!(
            f.observed.starts_with("6 of 12 measured runs"),
            "{}",
            f.observed
        );
        let [h1, h2] = judge(&slow[..5], 100, 5_000_000);
        assert!(matches!(h1, Status::NotExercised { .. }));
        assert!(matches!(h2, Status::NotExercised { .. }));
        assert!(
            (wilson_lower(30, 30) - 0.917).abs() < 0.01,
            "{}",
            wilson_lower(30, 30)
        );
    }
}
