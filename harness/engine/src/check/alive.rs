//! The desktop must stay up for the whole scenario: an early exit fails with the tail of its output,
//! and a desktop that never started is not exercised rather than passed.

use std::collections::VecDeque;

use super::{Check, Failure, Status};
use crate::observe::{DesktopEvent, Entry, EntryKind, SessionState};

/// Lines of desktop output kept for an early-exit failure.
const LOG_TAIL: usize = 20;

/// The desktop must not exit before the harness stops it; an early exit fails with its log tail.
pub struct DesktopAlive {
    name: String,
    tail: VecDeque<String>,
    started: bool,
}

impl DesktopAlive {
    /// New checker.
    pub fn new(name: String) -> Self {
        DesktopAlive {
            name,
            tail: VecDeque::new(),
            started: false,
        }
    }
}

impl Check for DesktopAlive {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        match &e.kind {
            EntryKind::Desktop(DesktopEvent::Started { .. }) => self.started = true,
            EntryKind::Desktop(DesktopEvent::Log { line, .. }) => {
                if self.tail.len() == LOG_TAIL {
                    self.tail.pop_front();
                }
                self.tail.push_back(line.clone());
            }
            EntryKind::Desktop(DesktopEvent::Exited {
                code,
                expected: false,
            }) => {
                let code = code
                    .map(|c| format!("code {c}"))
                    .unwrap_or_else(|| "a signal".into());
                let mut observed = format!("desktop exited early with {code}; last output:");
                for l in &self.tail {
                    observed.push_str("\n  | ");
                    observed.push_str(l);
                }
                return Status::Fail(Failure::new(self.name.clone(), e.ts_us, observed));
            }
            _ => {}
        }
        Status::Pending
    }
    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        if self.started {
            Status::Pass
        } else {
            Status::not_exercised("the desktop was never started")
        }
    }
}
