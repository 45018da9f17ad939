//! The HTML report: one self-contained page (no network, readable without JavaScript, printable)
//! built from the run-event stream like the other reports, with the journal embedded for re-analysis.

pub mod embed;
pub mod facts;
pub mod lane_key;
pub mod lanes;
pub mod matrix;
pub mod overlay;
pub mod repeated;
pub mod scenario;
pub mod svg;
pub mod swimlane;
pub mod trace;

use std::path::{Path, PathBuf};

use askama::Template;

use super::Journal;
use crate::event::repeat::PassPolicy;
use crate::event::{RunEvent, ScenarioResult, Summary};

/// The page template (templates/report/page.html, checked at compile time).
#[derive(Template)]
#[template(path = "report/page.html")]
struct Page<'a> {
    title: String,
    not_certificate: Vec<String>,
    facts: &'a facts::Facts,
    total: usize,
    summary: &'a Summary,
    columns: Vec<(usize, String, &'static str)>,
    rows: Vec<matrix::Row>,
    scenarios: Vec<scenario::ScenarioView>,
    repeated: Vec<repeated::RepeatedView>,
    pass_policy: &'static str,
    journal: String,
}

/// Collects the events of a run and writes the page at the end.
pub struct HtmlReport {
    journal: Journal,
    path: PathBuf,
}

impl HtmlReport {
    /// A report to be written to `path`.
    pub fn new(path: PathBuf) -> HtmlReport {
        HtmlReport {
            journal: Journal::new(),
            path,
        }
    }

    /// A report of events read back (from journals or a page), to be written to `path`.
    pub fn from_journal(journal: Journal, path: PathBuf) -> HtmlReport {
        HtmlReport { journal, path }
    }

    /// Consumes one event (the same selection the journal keeps).
    pub fn event(&mut self, e: &RunEvent) {
        self.journal.event(e);
    }

    /// Where the page goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The page.
    pub fn render(&self) -> Result<String, askama::Error> {
        render(&self.journal)
    }

    /// Writes the page (parent directories created).
    pub fn write(&self) -> std::io::Result<()> {
        let html = self.render().map_err(std::io::Error::other)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.path, html)
    }
}

/// The page of a journal's events: scenarios sorted by id, so parallel runs give the same page.
pub fn render(journal: &Journal) -> Result<String, askama::Error> {
    let events = journal.events();
    let mut results: Vec<&ScenarioResult> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ScenarioFinished { result } => Some(result.as_ref()),
            _ => None,
        })
        .collect();
    results.sort_by(|a, b| a.info.id.cmp(&b.info.id));
    let facts = facts::facts(events, &results);
    let not_certificate = super::certificate::Policy::of(events);
    let policy = events
        .iter()
        .find_map(|e| match e {
            RunEvent::RunStarted { pass_policy, .. } => pass_policy.as_deref(),
            _ => None,
        })
        .and_then(PassPolicy::parse)
        .unwrap_or_default();
    let page = Page {
        title: if not_certificate.is_empty() {
            format!("bc-harness certificate: {} scenario runs", results.len())
        } else {
            format!(
                "NOT A CERTIFICATE: bc-harness report of {} scenario runs",
                results.len()
            )
        },
        not_certificate,
        facts: &facts,
        total: facts.summary.total(),
        summary: &facts.summary,
        columns: results
            .iter()
            .enumerate()
            .map(|(i, r)| (i + 1, r.info.id.clone(), matrix::class(r.verdict)))
            .collect(),
        rows: matrix::rows(&results),
        scenarios: results
            .iter()
            .enumerate()
            .map(|(i, r)| scenario::view(i + 1, r))
            .collect(),
        repeated: repeated::views(&results, policy),
        pass_policy: policy.as_str(),
        journal: embed::element(&journal.to_json()),
    };
    page.render()
}

/// Reads a JSON journal, or the journal embedded in an HTML report.
pub fn load(path: &Path) -> Result<Journal, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json = if text.trim_start().starts_with('<') {
        embed::extract(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        text
    };
    Journal::from_json(&json).map_err(|e| format!("{}: not a journal: {e}", path.display()))
}

/// Several journals as one: the first run's start, every scenario, the counts added up.
pub fn merge(journals: Vec<Journal>) -> Journal {
    let mut out = Journal::new();
    let mut summary = Summary::default();
    let mut duration_ms = 0;
    let mut started = false;
    let mut finished = false;
    for j in journals {
        for e in j.events() {
            match e {
                RunEvent::RunStarted { .. } if started => {}
                RunEvent::RunFinished {
                    summary: s,
                    duration_ms: d,
                } => {
                    summary.passed += s.passed;
                    summary.failed += s.failed;
                    summary.inconclusive += s.inconclusive;
                    summary.errors += s.errors;
                    summary.skipped += s.skipped;
                    summary.interrupted |= s.interrupted;
                    duration_ms += d;
                    finished = true;
                }
                e => {
                    started |= matches!(e, RunEvent::RunStarted { .. });
                    out.event(e);
                }
            }
        }
    }
    // Without any `RunFinished` (an interrupted writer) the page counts the results itself.
    if finished {
        out.event(&RunEvent::RunFinished {
            summary,
            duration_ms,
        });
    }
    out
}
