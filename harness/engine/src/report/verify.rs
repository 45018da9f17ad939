//! `verify`: checks a certificate offline. The embedded journal must match its hash, every verdict
//! must be what the pure checkers say of its embedded timeline, and the page must be that journal's.

use crate::check::{replay, Status, Verdict};
use crate::event::{RunEvent, ScenarioResult, Summary};

use super::html::{self, embed};
use super::Journal;

/// What an accepted page was checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// SHA-256 of the embedded journal.
    pub sha256: String,
    /// Scenario runs whose verdict was re-derived from their timeline.
    pub rederived: usize,
    /// Runs taken as recorded: skipped, or errors without a timeline.
    pub recorded: usize,
    /// Why the visible page was not compared with a fresh rendering (another harness version).
    pub not_compared: Option<String>,
}

/// Checks a page; `Err` is the reason it is rejected.
pub fn verify(page: &str) -> Result<Verified, String> {
    let json = embed::extract(page)?;
    let claimed = embed::claimed_sha256(page)
        .ok_or("the embedded journal carries no hash (a page from before hashes were recorded)")?;
    let sha256 = embed::sha256(&json);
    if claimed != sha256 {
        return Err(format!(
            "the embedded journal does not match its hash (claimed {claimed}, is {sha256})"
        ));
    }
    let journal = Journal::from_json(&json).map_err(|e| format!("not a journal: {e}"))?;
    let mut out = Verified {
        sha256,
        rederived: 0,
        recorded: 0,
        not_compared: None,
    };
    let mut counted = Summary::default();
    let mut recorded_summary = None;
    for e in journal.events() {
        match e {
            RunEvent::ScenarioFinished { result } => {
                if rederive(result)? {
                    out.rederived += 1;
                } else {
                    out.recorded += 1;
                }
                counted.add(result.verdict);
            }
            RunEvent::RunFinished { summary, .. } => recorded_summary = Some(summary.clone()),
            _ => {}
        }
    }
    if let Some(s) = recorded_summary {
        let mut s = s;
        s.interrupted = false;
        if s != counted {
            return Err(format!(
                "the run's totals ({s:?}) are not the count of its scenario verdicts ({counted:?})"
            ));
        }
    }
    compare_page(page, &journal, &mut out)?;
    Ok(out)
}

/// Whether the verdict was re-derived (`true`) or taken as recorded; `Err` when it is inconsistent.
fn rederive(r: &ScenarioResult) -> Result<bool, String> {
    let id = &r.info.id;
    // Errors of earlier, retried attempts say nothing about the final one.
    let own_errors = r
        .errors
        .iter()
        .any(|e| !e.contains(crate::event::verdict::RETRIED));
    let Some(t) = &r.timeline else {
        return match r.verdict {
            Verdict::Skipped if r.skip_reason.is_some() => Ok(false),
            Verdict::Error if own_errors => Ok(false),
            v => Err(format!(
                "{id}: verdict {} without a timeline to justify it",
                v.as_str()
            )),
        };
    };
    let checks: Vec<_> = r
        .checks
        .iter()
        .map(|c| (c.activation, c.spec.clone()))
        .collect();
    let replayed = replay(t, &checks, &[]);
    let failures: Vec<_> = replayed
        .checks
        .iter()
        .filter_map(|c| match &c.status {
            Status::Fail(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let v = crate::event::verdict::verdict_with_errors(replayed.verdict, &failures, &r.errors);
    if v != r.verdict {
        return Err(format!(
            "{id}: the journal says {}, the checkers over its timeline say {}",
            r.verdict.as_str(),
            v.as_str()
        ));
    }
    Ok(true)
}

/// The page must be what this journal renders to, when this harness version rendered it.
fn compare_page(page: &str, journal: &Journal, out: &mut Verified) -> Result<(), String> {
    let mine = format!("<code>{}</code>", html::facts::renderer());
    let rendered_by = page
        .split("<th>report rendered by</th><td>")
        .nth(1)
        .and_then(|s| s.split("</td>").next())
        .unwrap_or("");
    if rendered_by != mine {
        let strip = |s: &str| s.replace("<code>", "").replace("</code>", "");
        let (rendered_by, mine) = (strip(rendered_by), strip(&mine));
        out.not_compared = Some(format!(
            "rendered by harness {rendered_by}, this is {mine}: the verdicts were checked against the journal, the visible page was not compared (verify with the harness build that rendered it)"
        ));
        return Ok(());
    }
    let fresh = html::render(journal).map_err(|e| format!("cannot render the journal: {e}"))?;
    if fresh == page {
        return Ok(());
    }
    let (n, (a, b)) = page
        .lines()
        .zip(fresh.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .unwrap_or((page.lines().count().min(fresh.lines().count()), ("", "")));
    Err(format!(
        "the visible page is not what its journal renders to, first at line {}:\n  page:    {}\n  journal: {}",
        n + 1,
        clip(a),
        clip(b)
    ))
}

fn clip(s: &str) -> String {
    s.chars().take(160).collect()
}
