//! Infrastructure in a scenario: what the environment reports with no step causing it becomes an
//! `INFRA` timeline entry and stops the scenario; the result names each as an error, not a failure.

use super::driver::{Driver, Stop};
use crate::env::infra::DETECTION_BOUND;
use crate::env::ExitInfo;
use crate::event::exit::ExitCode;
use crate::event::ScenarioResult;
use crate::observe::{EntryKind, InfraCause, Timeline};

impl Driver<'_> {
    /// Records what the environment reported since the last look. `Err` when it reported anything:
    /// the scenario stops, since what follows says nothing about the desktop.
    pub fn on_infra(&mut self) -> Result<(), Stop> {
        let new = self.infra.take_new();
        if new.is_empty() {
            return Ok(());
        }
        for e in new {
            let kind = EntryKind::Infra {
                component: e.component.to_string(),
                cause: e.cause,
            };
            self.push(e.ts_us.max(self.start_us), kind);
        }
        Err(Stop::Harness)
    }

    /// The stand-in of an attached run exits with [`ExitCode::HarnessError`] when the lab's start
    /// hook (or the person asked) did not start the desktop: an `INFRA` entry naming the hook's
    /// failure stops the scenario, so a broken hook is an error, never the desktop's fail.
    pub fn on_hook_failure(&mut self, info: &ExitInfo) -> Result<(), Stop> {
        if !self.attached || info.code != Some(i32::from(ExitCode::HarnessError.code())) {
            return Ok(());
        }
        let reason = self
            .log_tail
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(NOT_STARTED))
            .unwrap_or("the desktop's stand-in gave no reason")
            .to_string();
        self.push(
            info.ts_us.max(self.start_us),
            EntryKind::Infra {
                component: "the desktop's start hook".into(),
                cause: InfraCause::Failed { reason },
            },
        );
        Err(Stop::Harness)
    }

    /// At the end: a component that has missed a probe gets the rest of the detection bound to
    /// answer or be reported, so a failure it caused is not left to blame the desktop; then what
    /// is new is recorded. Costs nothing when every probe was answered.
    pub async fn settle_infra(&mut self) {
        let until = tokio::time::Instant::now() + DETECTION_BOUND;
        while self.infra.suspects() > 0 {
            if tokio::time::timeout_at(until, self.infra.changed())
                .await
                .is_err()
            {
                break;
            }
        }
        // Whatever was reported is in the timeline now; the scenario is over either way.
        let _ = self.on_infra();
    }
}

/// How the stand-in of an attached run (`bc-harness desktop-hooks`) says why it did not start
/// the desktop, on stderr, before it exits.
pub const NOT_STARTED: &str = "desktop not started: ";

/// The result's error for each infrastructure entry, first among its errors, e.g.
/// `infrastructure: the fault proxy exited unexpectedly (signal 9) at +3.2 s`.
/// An API that stopped answering because its process exited is named by the exit alone.
pub(super) fn infra_errors(t: &Timeline) -> Vec<String> {
    let start = t.start_us().unwrap_or(0);
    let exited: Vec<&str> = t
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Infra {
                component,
                cause: InfraCause::Exited { .. },
            } => Some(component.as_str()),
            _ => None,
        })
        .collect();
    t.sorted()
        .into_iter()
        .filter_map(|e| match &e.kind {
            EntryKind::Infra {
                component,
                cause: InfraCause::Unresponsive { .. },
            } if exited.contains(&component.as_str()) => None,
            EntryKind::Infra { component, cause } => {
                let who = if component == "fault proxy" {
                    "the fault proxy"
                } else {
                    component
                };
                let at = (e.ts_us - start) as f64 / 1e6;
                Some(format!("infrastructure: {who} {cause} at +{at:.1} s"))
            }
            _ => None,
        })
        .collect()
}

/// Whether the environment left the plan during this scenario (it is replaced before the next).
pub fn left_the_plan(r: &ScenarioResult) -> bool {
    r.timeline.as_ref().is_some_and(|t| {
        t.entries
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Infra { .. }))
    })
}
