//! How many workers and in what order: longest first, so the longest scenario does not start last
//! and leave the other jobs idle (the classic longest-processing-time rule).

use std::time::Duration;

use crate::env::RuntimeKind;

/// Environments per core by default on the local runtime: a scenario mostly waits on the desktop,
/// and an idle environment (12 mocks, the proxy, the desktop, the harness's share) costs ~0.17 of
/// a core in a debug build. Four per core (8 here) gave 7 lateness errors in 675 runs over 5
/// repetitions of the certification; two per core is the measured default (docs/benchmarks.md,
/// "Certification wall time").
const LOCAL_JOBS_PER_CORE: usize = 2;

/// The default `--jobs` for a resolved runtime: two environments per core locally; one per core
/// on Docker, where each environment is a dozen containers and every start, kill and restart goes
/// through the engine (not measured higher there yet).
pub fn default_jobs(runtime: RuntimeKind) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match runtime {
        RuntimeKind::Local => cores * LOCAL_JOBS_PER_CORE,
        RuntimeKind::Docker | RuntimeKind::Auto => cores,
    }
}

use bc_suite::{Action, PlannedScenario};

/// The longest a scenario can take by its own steps: its waits, flaps and stay-windows, and each
/// expectation's deadline (an upper bound: an expectation ends as soon as it is met).
pub fn longest_ms(sc: &PlannedScenario) -> u64 {
    let ms = |d: &Duration| d.as_millis() as u64;
    sc.steps
        .iter()
        .map(|s| match &s.action {
            Action::Wait(d) => ms(d),
            Action::Flap { period, count, .. } => ms(period) * u64::from(*count),
            Action::ExpectStaysLoggedIn { duration, .. } => ms(duration),
            Action::ExpectLoggedIn { within, .. }
            | Action::ExpectDisconnected { within, .. }
            | Action::ExpectCallAnswered { within, .. } => ms(within),
            _ => 0,
        })
        .sum()
}

/// Sorts longest first; equal lengths keep their file order (the sort is stable).
pub fn longest_first(runs: &mut [PlannedScenario]) {
    runs.sort_by_key(|sc| std::cmp::Reverse(longest_ms(sc)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_jobs_follow_the_cores_and_the_runtime() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(default_jobs(RuntimeKind::Local), 2 * cores);
        assert_eq!(default_jobs(RuntimeKind::Docker), cores);
    }

    fn plan(text: &str) -> Vec<PlannedScenario> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let loaded = bc_suite::load_str("t.yaml", text, &root).expect("valid suite");
        bc_suite::plan(&loaded, &bc_suite::PlanOptions { budget: None }).expect("plans")
    }

    #[test]
    fn the_longest_scenario_goes_first_and_ties_keep_file_order() {
        let mut runs = plan(
            "version: 1\nid: s\nagent: agent1001\nconfig: fixtures/config/default.yaml\nbudget: 10s\nscenarios:\n  - id: short\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {site: B}\n  - id: flapping\n    rules: [BC-11]\n    steps:\n      - flap: {link: B/sip_server, period: 4s, count: 10, mode: refuse}\n      - expect_logged_in: {within: 20s}\n  - id: short-too\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {site: B}\n",
        );
        assert_eq!(longest_ms(&runs[1]), 60_000);
        longest_first(&mut runs);
        let ids: Vec<&str> = runs.iter().map(|r| r.scenario_id.as_str()).collect();
        assert_eq!(ids, ["flapping", "short", "short-too"]);
    }
}
