//! Reports: consumers of the event stream of a run or an exploration (console progress and
//! summary, JUnit XML, JSON journal); `drive` feeds a stream to them and writes their files.

pub mod certificate;
pub mod console;
pub mod flaky;
pub mod html;
pub mod journal;
pub mod junit;
pub mod merge;
pub mod verify;

pub use console::Console;
pub use html::HtmlReport;
pub use journal::Journal;
pub use junit::JunitReport;

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::event::RunEvent;
use crate::exit::ExitCode;

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
    /// The HTML page, when asked for (it knows its path).
    pub html: Option<HtmlReport>,
}

impl Reporters {
    /// Feeds one event to every consumer.
    pub fn event(&mut self, e: &RunEvent) {
        if let Some(c) = &mut self.console {
            c.event(e);
        }
        self.junit.event(e);
        self.journal.event(e);
        if let Some(h) = &mut self.html {
            h.event(e);
        }
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
        if let Some(h) = &self.html {
            if let Err(e) = h.write() {
                errs.push(format!(
                    "cannot write HTML report {}: {e}",
                    h.path().display()
                ));
            }
        }
        errs
    }
}

/// Feeds every event of `stream` to `reporters` until its producer is done, then writes their
/// files; returns what could not be written. The caller runs the producer beside it. A stream
/// without `RunStarted` (the producer refused its input) writes no files.
pub async fn drive(
    mut stream: mpsc::UnboundedReceiver<RunEvent>,
    mut reporters: Reporters,
) -> Vec<String> {
    let mut started = false;
    while let Some(e) = stream.recv().await {
        started |= matches!(e, RunEvent::RunStarted { .. });
        reporters.event(&e);
    }
    if started {
        reporters.write()
    } else {
        Vec::new()
    }
}

/// The exit code of a reported run: the run's own, unless a report could not be written.
pub fn exit_code(run: ExitCode, problems: &[String]) -> ExitCode {
    if problems.is_empty() {
        run
    } else {
        ExitCode::HarnessError
    }
}
