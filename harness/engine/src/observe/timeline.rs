//! The append-only timeline of one scenario: a header naming the subject plus entries in arrival order.
//! Saved as JSON (fixtures/timelines/*.json, the journal); checkers replay it sorted by timestamp.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::entry::{Entry, EntryKind};

/// What the timeline is about: who the agent is and how the deployment behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The scenario run id.
    #[serde(default)]
    pub scenario: String,
    /// The agent's username (CS Proxy `user_name`).
    pub username: String,
    /// The agent id (SIP `agent_id`).
    pub agent_id: String,
    /// The agent's DN.
    pub dn: String,
    /// Sites of the deployment.
    #[serde(default = "default_sites")]
    pub sites: Vec<String>,
    /// Whether Stat Server sessions are part of "logged in" (topology has it and the desktop uses it).
    #[serde(default)]
    pub uses_stat_server: bool,
    /// The servers' client keep-alive timeout: how long a partitioned session may linger after healing.
    #[serde(default = "default_client_timeout")]
    pub client_timeout_ms: u64,
    /// The rules the scenario checks (`BC-4`): a failing check names the one it breaks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

fn default_sites() -> Vec<String> {
    vec!["A".into(), "B".into()]
}
fn default_client_timeout() -> u64 {
    10_000
}

/// Errors loading or saving a timeline.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// File could not be read or written.
    #[error("timeline file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The JSON is not a timeline.
    #[error("timeline file {path} is not a valid timeline: {source}")]
    Json {
        /// The path.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// One scenario's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The subject.
    pub subject: Subject,
    /// Entries in arrival order (timestamps may be slightly out of order across sources).
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new(subject: Subject) -> Timeline {
        Timeline {
            subject,
            entries: Vec::new(),
        }
    }

    /// Appends an entry (never modifies earlier ones).
    pub fn push(&mut self, ts_us: i64, kind: EntryKind) {
        self.entries.push(Entry { ts_us, kind });
    }

    /// Entries sorted by timestamp, ties kept in arrival order: the order checkers replay.
    pub fn sorted(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.iter().collect();
        v.sort_by_key(|e| e.ts_us);
        v
    }

    /// Timestamp of the first entry, if any.
    pub fn start_us(&self) -> Option<i64> {
        self.entries.iter().map(|e| e.ts_us).min()
    }

    /// Timestamp of the last entry, if any.
    pub fn end_us(&self) -> Option<i64> {
        self.entries.iter().map(|e| e.ts_us).max()
    }

    /// Loads a timeline from a JSON file.
    pub fn load(path: &Path) -> Result<Timeline, TimelineError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TimelineError::Io {
            path: p.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| TimelineError::Json { path: p, source })
    }

    /// Saves the timeline as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), TimelineError> {
        let p = path.display().to_string();
        let text = serde_json::to_string_pretty(self).expect("timeline serialises");
        std::fs::write(path, text).map_err(|source| TimelineError::Io { path: p, source })
    }

    /// Human lines for entries within `[from_us - before, to_us + after]`, at most `max` (the last ones),
    /// noise (pings, pongs, desktop log) left out: what a failure message quotes.
    pub fn excerpt(&self, from_us: i64, to_us: i64, max: usize) -> Vec<String> {
        let start = self.start_us().unwrap_or(0);
        let mut within: Vec<(usize, &Entry)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.ts_us >= from_us && e.ts_us <= to_us)
            .filter(|(_, e)| !super::format::is_noise(&e.kind))
            .collect();
        // Only the last `max` are formatted: a herd's window holds thousands of entries.
        within.sort_by_key(|(i, e)| (e.ts_us, *i));
        let skip = within.len().saturating_sub(max);
        within[skip..]
            .iter()
            .map(|(_, e)| super::format::line(e, start))
            .collect()
    }
}
