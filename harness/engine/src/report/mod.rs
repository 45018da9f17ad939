//! Reports: consumers of the runner's event stream (console progress and summary, JUnit XML,
//! JSON journal).

pub mod console;
pub mod journal;
pub mod junit;

pub use console::Console;
pub use journal::Journal;
pub use junit::JunitReport;

use std::path::PathBuf;

use crate::event::RunEvent;

/// Every consumer of one run: console, and the files written at the end.
pub struct Reporters {
    /// Console output.
    pub console: Option<Console>,
    /// JUnit, written to `junit_path`.
    pub junit: JunitReport,
    /// Journal, written to `journal_path`.
    pub journal: Journal,
    /// Where the JUnit XML goes.
    pub junit_path: Option<PathBuf>,
    /// Where the journal goes.
    pub journal_path: Option<PathBuf>,
}

impl Reporters {
    /// Feeds one event to every consumer.
    pub fn event(&mut self, e: &RunEvent) {
        if let Some(c) = &mut self.console {
            c.event(e);
        }
        self.junit.event(e);
        self.journal.event(e);
    }

    /// Writes the files; returns what could not be written.
    pub fn write(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if let Some(p) = &self.junit_path {
            if let Err(e) = self.junit.write(p) {
                errs.push(format!("cannot write JUnit report {}: {e}", p.display()));
            }
        }
        if let Some(p) = &self.journal_path {
            if let Err(e) = self.journal.write(p) {
                errs.push(format!("cannot write journal {}: {e}", p.display()));
            }
        }
        errs
    }
}
