//! Three-valued check outcomes (plus error) and the scenario verdict, which only ever gets worse.
//! A failure names the check, its deadline, what was observed instead, and a timeline excerpt.

use serde::{Deserialize, Serialize};

/// What one check says so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Not decided yet.
    Pending,
    /// Satisfied.
    Pass,
    /// Broken.
    Fail(Failure),
    /// Cannot be decided from what was observed (e.g. observations lost, session behind a partition).
    Unknown {
        /// Why.
        reason: String,
    },
    /// The check itself failed (panicked): never counts as a pass.
    Error {
        /// What went wrong.
        reason: String,
    },
}

impl Status {
    /// True once the status can no longer change.
    pub fn is_decided(&self) -> bool {
        !matches!(self, Status::Pending)
    }
    /// The verdict this status contributes.
    pub fn verdict(&self) -> Verdict {
        match self {
            Status::Pending | Status::Pass => Verdict::Pass,
            Status::Unknown { .. } => Verdict::Inconclusive,
            Status::Fail(_) => Verdict::Fail,
            Status::Error { .. } => Verdict::Error,
        }
    }
    /// An unknown status.
    pub fn unknown(reason: impl Into<String>) -> Status {
        Status::Unknown {
            reason: reason.into(),
        }
    }
}

/// A broken expectation or invariant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The check, as the suite words it (`expect_logged_in B on config_server, sip_server within 10s from kill`).
    pub check: String,
    /// Rule ids the check enforces (`BC-6`), when it enforces one by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// The deadline that passed (µs), if the check had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_us: Option<i64>,
    /// When it was decided (µs).
    pub at_us: i64,
    /// What was observed instead.
    pub observed: String,
    /// Timeline lines around the failure (filled in by the evaluator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excerpt: Vec<String>,
}

impl Failure {
    /// A failure without excerpt.
    pub fn new(check: impl Into<String>, at_us: i64, observed: impl Into<String>) -> Failure {
        Failure {
            check: check.into(),
            rules: Vec::new(),
            deadline_us: None,
            at_us,
            observed: observed.into(),
            excerpt: Vec::new(),
        }
    }
    /// With a deadline.
    pub fn deadline(mut self, d: i64) -> Failure {
        self.deadline_us = Some(d);
        self
    }
    /// With a rule id.
    pub fn rule(mut self, r: &str) -> Failure {
        self.rules.push(r.to_string());
        self
    }
}

/// A scenario's verdict. Ordered from best to worst; a scenario's verdict only moves right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// Not applicable to this desktop (declared capabilities); never worsened by checks.
    Skipped,
    /// Some check could not be decided.
    Inconclusive,
    /// A rule was broken.
    Fail,
    /// The harness or environment failed: the result says nothing about the desktop.
    Error,
}

impl Verdict {
    /// The worse of two verdicts.
    pub fn worsen(self, other: Verdict) -> Verdict {
        self.max(other)
    }
    /// Lowercase word for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skipped => "skipped",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
