//! The one stream of run events (cargo-nextest style): every report (console, JUnit, journal)
//! is a consumer of it. A scenario's whole result, timeline included, travels in `ScenarioFinished`.

pub mod exit;
pub mod identity;
pub mod repeat;
pub mod timers;
pub mod verdict;

use serde::{Deserialize, Serialize};

use crate::check::{Failure, Measured, Registered, Verdict};
use crate::observe::Timeline;

/// What identifies a scenario run in every report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// `SUITE/SCENARIO[preferred=A]`.
    pub id: String,
    /// The suite id.
    pub suite_id: String,
    /// The suite file.
    pub file: String,
    /// The scenario id within the suite.
    pub scenario_id: String,
    /// Title, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Rules checked (`BC-4`).
    pub rules: Vec<String>,
    /// The preferred site of this run, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_site: Option<String>,
    /// Budget in ms.
    pub budget_ms: u64,
}

impl ScenarioInfo {
    /// Report name: the id followed by its rule ids, e.g. `certification/kill-site [BC-4, BC-5]`.
    pub fn display_name(&self) -> String {
        if self.rules.is_empty() {
            self.id.clone()
        } else {
            format!("{} [{}]", self.id, self.rules.join(", "))
        }
    }
}

/// A finished scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Which run.
    pub info: ScenarioInfo,
    /// The verdict.
    pub verdict: Verdict,
    /// Broken expectations and invariants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// Harness or environment problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Why something could not be decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inconclusive: Vec<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Every check with its final status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Registered>,
    /// Measured durations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measured>,
    /// Wall-clock µs at start.
    pub started_us: i64,
    /// How long it ran, ms.
    pub duration_ms: u64,
    /// The desktop's last output lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
    /// The seed of the run.
    pub seed: u64,
    /// The runtime that ran it (`local`, `docker`).
    pub runtime: String,
    /// The timeline (absent for skipped runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// How late the harness itself was (absent when the scenario did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<HarnessTiming>,
    /// Earlier attempts of this scenario that ended in `error` and were run again (`--retry-errors`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How many times the lateness bound a feed may lag. A feed's delay holds the watermark back, so
/// it delays decisions but never changes them; and on Docker it includes the engine's published
/// ports, which stall for a few hundred ms while the engine kills or starts containers (509-615 ms
/// in CS Proxy HA failovers with other Docker tests beside them, on 2 cores). Past this the machine
/// itself is starved.
pub const FEED_BOUND_FACTOR: i64 = 2;

/// The harness's own lateness in one scenario (worst values): past `bound_us` the scenario is
/// `error` ("harness overloaded"), since its timing says nothing certain about the desktop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HarnessTiming {
    /// A check decided this long after the watermark passed its deciding instant, µs.
    pub decision_lag_us: i64,
    /// The wake loop woke this long after the instant it slept until, µs.
    pub timer_overshoot_us: i64,
    /// An observation reached the evaluator this long after its source stamped it, µs.
    pub feed_delay_us: i64,
    /// Observations waiting in the feed channel, at most.
    pub feed_backlog: usize,
    /// The bound past which the scenario is an error, µs.
    pub bound_us: i64,
}

impl HarnessTiming {
    /// The worst figure and its name.
    pub fn worst(&self) -> (i64, &'static str) {
        [
            (self.decision_lag_us, "decision lag"),
            (self.timer_overshoot_us, "timer overshoot"),
            (self.feed_delay_us, "feed delay"),
        ]
        .into_iter()
        .max_by_key(|(us, _)| *us)
        .unwrap_or((0, "decision lag"))
    }

    /// The bound of the feed's delay, µs: [`FEED_BOUND_FACTOR`] times `bound_us`.
    pub fn feed_bound_us(&self) -> i64 {
        self.bound_us * FEED_BOUND_FACTOR
    }

    /// The harness error when a figure is past its bound: the decision lag and the timer
    /// overshoot past `bound_us`, the feed delay past [`FEED_BOUND_FACTOR`] times it.
    pub fn overloaded(&self) -> Option<String> {
        let over = [
            (self.decision_lag_us, "decision lag", self.bound_us),
            (self.timer_overshoot_us, "timer overshoot", self.bound_us),
            (self.feed_delay_us, "feed delay", self.feed_bound_us()),
        ]
        .into_iter()
        .filter(|(us, _, bound)| us > bound)
        .max_by_key(|(us, _, _)| *us);
        over.map(|(us, what, bound)| {
            format!(
                "{} decided {} ms late ({what}; bound {} ms): its timing says nothing certain about the desktop",
                verdict::LATENESS,
                us / 1000,
                bound / 1000
            )
        })
    }
}

impl ScenarioResult {
    /// A result for a run that was not executed.
    pub fn skipped(info: ScenarioInfo, reason: String, seed: u64) -> ScenarioResult {
        ScenarioResult {
            info,
            verdict: Verdict::Skipped,
            failures: Vec::new(),
            errors: Vec::new(),
            inconclusive: Vec::new(),
            skip_reason: Some(reason),
            checks: Vec::new(),
            measurements: Vec::new(),
            started_us: 0,
            duration_ms: 0,
            log_tail: Vec::new(),
            seed,
            runtime: String::new(),
            timeline: None,
            timing: None,
            retries: 0,
        }
    }

    /// A measurement by name, in ms.
    pub fn measured_ms(&self, name: &str) -> Option<f64> {
        self.measurements
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.micros)
            .map(|us| us as f64 / 1000.0)
    }
}

/// Counts by verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Inconclusive.
    pub inconclusive: usize,
    /// Harness errors.
    pub errors: usize,
    /// Skipped (inapplicable or not run).
    pub skipped: usize,
    /// Interrupted by a signal.
    pub interrupted: bool,
}

impl Summary {
    /// Counts one verdict.
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
            Verdict::Error => self.errors += 1,
            Verdict::Skipped => self.skipped += 1,
        }
    }
    /// Total counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.inconclusive + self.errors + self.skipped
    }
    /// The process exit code for this summary (see [`exit::ExitCode`]).
    pub fn exit_code(&self) -> exit::ExitCode {
        use exit::ExitCode;
        if self.interrupted || self.errors > 0 {
            ExitCode::HarnessError
        } else if self.failed > 0 || self.inconclusive > 0 {
            ExitCode::Failed
        } else {
            ExitCode::Success
        }
    }
}

/// One event of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "RunStarted, the large one, is sent once per run; boxing it would only cost readers"
)]
pub enum RunEvent {
    /// The plan is known.
    RunStarted {
        /// Scenario runs to execute.
        to_run: usize,
        /// Inapplicable ones (reported as skipped).
        skipped: usize,
        /// Parallel environments.
        jobs: usize,
        /// The desktop command.
        desktop: String,
        /// Requested runtime.
        runtime: String,
        /// Seed.
        seed: u64,
        /// Budget override, ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_ms: Option<u64>,
        /// Declared capabilities.
        capabilities: Vec<String>,
        /// Wall-clock µs.
        started_us: i64,
        /// The suite paths as given (files or directories); empty for an exploration. The
        /// run-level facts below default when absent, so journals written before them still load.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        suites: Vec<String>,
        /// The `--filter` pattern, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
        /// The version of the harness that ran (`CARGO_PKG_VERSION`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        harness_version: String,
        /// Scenarios ending in `error` are run again up to this many times (`--retry-errors`).
        #[serde(default)]
        retry_errors: u32,
        /// The desktop's declared timers (`--profile`), which set how long a logged-out gap may last.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timers: Option<Box<timers::DeclaredTimers>>,
        /// The desktop's program file, its hash and reported version (absent for older journals).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desktop_identity: Option<identity::DesktopIdentity>,
        /// SHA-256 over the suite files' paths and contents (empty for an exploration).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        suite_hash: String,
        /// The shard this run is (`hash:1/3`), when partitioned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<String>,
        /// Every run id of the whole plan, when partitioned, so a merge can name missing runs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        plan: Vec<String>,
        /// Repetitions of each run (`--repeat`; 1 when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeat: Option<u32>,
        /// The pass policy of repeated runs (`all`, `most`, `any`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pass_policy: Option<String>,
        /// The harness's own lateness bound, ms, when raised from the default (`--max-lateness`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_lateness_ms: Option<u64>,
    },
    /// An environment is being started (it can take a while).
    EnvironmentStarting {
        /// Worker number.
        job: usize,
    },
    /// A scenario run began.
    ScenarioStarted {
        /// Which.
        info: ScenarioInfo,
        /// Worker number.
        job: usize,
    },
    /// A step of a running scenario began.
    StepStarted {
        /// Scenario id.
        id: String,
        /// Step index.
        index: usize,
        /// Step in words.
        description: String,
    },
    /// A scenario run ended (or was skipped).
    ScenarioFinished {
        /// Its result.
        result: Box<ScenarioResult>,
    },
    /// The run ended.
    RunFinished {
        /// Counts.
        summary: Summary,
        /// Wall-clock duration, ms.
        duration_ms: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::HarnessTiming;

    fn timing(decision_lag_ms: i64, feed_delay_ms: i64) -> HarnessTiming {
        HarnessTiming {
            decision_lag_us: decision_lag_ms * 1000,
            feed_delay_us: feed_delay_ms * 1000,
            bound_us: 500_000,
            ..HarnessTiming::default()
        }
    }

    #[test]
    fn a_feed_may_lag_twice_the_bound_the_harness_itself_only_the_bound() {
        assert_eq!(timing(100, 800).overloaded(), None);
        let feed = timing(100, 1_100).overloaded().expect("a feed starved");
        assert!(
            feed.contains("1100 ms late (feed delay; bound 1000 ms)"),
            "{feed}"
        );
        let own = timing(600, 800).overloaded().expect("the harness was late");
        assert!(
            own.contains("600 ms late (decision lag; bound 500 ms)"),
            "{own}"
        );
    }
}
