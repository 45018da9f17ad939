//! The JSON journal: every run event in order, scenario results with their full timelines, so a run
//! can be re-examined (and its timelines replayed by checkers) without re-running it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::event::RunEvent;

/// Format version of the journal file.
pub const JOURNAL_VERSION: u32 = 1;

/// Collects events; written at the end.
#[derive(Default, Serialize)]
pub struct Journal {
    version: u32,
    events: Vec<RunEvent>,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal {
            version: JOURNAL_VERSION,
            events: Vec::new(),
        }
    }

    /// Consumes one event (step events are left out: the timelines hold them).
    pub fn event(&mut self, e: &RunEvent) {
        if !matches!(
            e,
            RunEvent::StepStarted { .. } | RunEvent::EnvironmentStarting { .. }
        ) {
            self.events.push(e.clone());
        }
    }

    /// The events kept, in order.
    pub fn events(&self) -> &[RunEvent] {
        &self.events
    }

    /// The journal as JSON, as [`Journal::write`] writes it.
    pub fn to_json(&self) -> String {
        // Run events are plain data: serialising them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a journal from its JSON text (any version-1 journal, old ones included).
    pub fn from_json(text: &str) -> Result<Journal, String> {
        #[derive(Deserialize)]
        struct File {
            version: u32,
            events: Vec<RunEvent>,
        }
        let f: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if f.version != JOURNAL_VERSION {
            return Err(format!(
                "journal version {} (this harness reads version {JOURNAL_VERSION})",
                f.version
            ));
        }
        Ok(Journal {
            version: f.version,
            events: f.events,
        })
    }

    /// Writes the journal as JSON (parent directories created).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }
}
