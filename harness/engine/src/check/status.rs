//! Three-valued check outcomes (plus not exercised and error) and the scenario verdict, which only
//! ever gets worse. A failure says what was expected, its deadline, what was observed by it and after.

use serde::{Deserialize, Serialize};

use super::{CheckSpec, Registered};
use crate::observe::SessionState;

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
    /// What the check is about never happened (no HA failover, no call delivered, its marker never
    /// set): nothing was checked, so it is not a pass (TTCN-3's `none`).
    NotExercised {
        /// What never happened.
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
            // Alone it does not worsen the scenario; a scenario of nothing else is inconclusive
            // (`verdict_of`).
            Status::Pending | Status::Pass | Status::NotExercised { .. } => Verdict::Pass,
            Status::Unknown { .. } => Verdict::Inconclusive,
            Status::Fail(_) => Verdict::Fail,
            Status::Error { .. } => Verdict::Error,
        }
    }
    /// A not-exercised status.
    pub fn not_exercised(reason: impl Into<String>) -> Status {
        Status::NotExercised {
            reason: reason.into(),
        }
    }
    /// An unknown status.
    pub fn unknown(reason: impl Into<String>) -> Status {
        Status::Unknown {
            reason: reason.into(),
        }
    }
    /// `unknown` when observations were lost (nothing can be claimed then), else `None`.
    pub fn if_lost(st: &SessionState) -> Option<Status> {
        (!st.gaps().is_empty())
            .then(|| Status::unknown(format!("observations lost: {}", st.gaps().join("; "))))
    }
    /// The end of a scenario-long check that found nothing wrong: unknown when observations were
    /// lost, not exercised when what it is about never happened (`unexercised` says what), else
    /// a pass.
    pub fn at_end(st: &SessionState, unexercised: Option<&str>) -> Status {
        if let Some(s) = Status::if_lost(st) {
            return s;
        }
        match unexercised {
            Some(reason) => Status::not_exercised(reason),
            None => Status::Pass,
        }
    }
}

/// A broken expectation or invariant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The check, as the suite words it (`expect_logged_in B on config_server, sip_server within 10s from kill`).
    pub check: String,
    /// The rules it breaks: its own (`BC-6`) or, for a check of no rule of its own, those of the
    /// scenario that uses it (filled in by the evaluator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// What was expected, in a sentence (filled in by the evaluator).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expected: String,
    /// The deadline that passed (µs), if the check had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_us: Option<i64>,
    /// When it was decided (µs).
    pub at_us: i64,
    /// What was observed instead, by the deadline (or at the failure, for an invariant).
    pub observed: String,
    /// What happened after the deadline or the failure, until the end of the timeline (filled in
    /// from the whole timeline when the evaluation finishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Timeline lines around the failure (filled in by the evaluator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excerpt: Vec<String>,
    /// A failure no slowness of the machine can produce: it shows the desktop acting earlier than
    /// it was allowed to, timed by a server's stamps taken before the desktop could know and after
    /// it acted. It stands when the harness was late (`event::verdict_with_errors`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub load_proof: bool,
}

impl Failure {
    /// A failure without excerpt.
    pub fn new(check: impl Into<String>, at_us: i64, observed: impl Into<String>) -> Failure {
        Failure {
            check: check.into(),
            rules: Vec::new(),
            expected: String::new(),
            deadline_us: None,
            at_us,
            observed: observed.into(),
            after: None,
            excerpt: Vec::new(),
            load_proof: false,
        }
    }

    /// Marks a failure that slowness cannot produce (see `load_proof`).
    pub fn load_proof(mut self) -> Failure {
        self.load_proof = true;
        self
    }
    /// With a deadline.
    pub fn deadline(mut self, d: i64) -> Failure {
        self.deadline_us = Some(d);
        self
    }
}

/// The scenario verdict of its checks: the worst status, except that a scenario whose every check
/// (the desktop-alive guard aside) was not exercised is inconclusive: it certified nothing.
pub fn verdict_of<'a>(checks: impl IntoIterator<Item = (&'a CheckSpec, &'a Status)>) -> Verdict {
    let mut verdict = Verdict::Pass;
    let (mut rule_checks, mut not_exercised) = (0, 0);
    for (spec, status) in checks {
        verdict = verdict.worsen(status.verdict());
        if !spec.is_guard() {
            rule_checks += 1;
            not_exercised += usize::from(matches!(status, Status::NotExercised { .. }));
        }
    }
    if rule_checks > 0 && not_exercised == rule_checks {
        verdict = verdict.worsen(Verdict::Inconclusive);
    }
    verdict
}

/// Why a finished scenario is inconclusive: its unknown checks, and its not-exercised ones when no
/// check was exercised at all.
pub fn inconclusive_reasons(checks: &[Registered]) -> Vec<String> {
    let mut reasons: Vec<String> = checks
        .iter()
        .filter_map(|c| match &c.status {
            Status::Unknown { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    if verdict_of(checks.iter().map(|c| (&c.spec, &c.status))) == Verdict::Inconclusive {
        for c in checks {
            if let Status::NotExercised { reason } = &c.status {
                reasons.push(format!(
                    "no check was exercised: `{}`: {reason}",
                    c.spec.describe()
                ));
            }
        }
    }
    reasons
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

/// The checks that were not exercised, each with what never happened: reported beside a pass,
/// never as part of it.
pub fn not_exercised(checks: &[Registered]) -> Vec<(String, String)> {
    checks
        .iter()
        .filter_map(|c| match &c.status {
            Status::NotExercised { reason } => Some((c.spec.describe(), reason.clone())),
            _ => None,
        })
        .collect()
}
