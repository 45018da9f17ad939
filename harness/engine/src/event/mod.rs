//! The one stream of run events (cargo-nextest style): every report (console, JUnit, journal)
//! is a consumer of it. A scenario's whole result, timeline included, travels in `ScenarioFinished`.

pub mod exit;

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
