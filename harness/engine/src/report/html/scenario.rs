//! One scenario's section of the page: verdict and reason, the swim-lane SVG, every check with its
//! status (deadline and decision for timed ones), measurements, the desktop log tail (capped).

use super::lanes;
use super::matrix::class;
use super::swimlane;
use super::trace::{self, Decided};
use crate::check::{measure, Status};
use crate::event::ScenarioResult;

/// Desktop log lines shown per scenario (the journal keeps what the runner kept).
const LOG_LINES: usize = 40;
/// Characters shown per log line.
const LOG_WIDTH: usize = 300;

/// A check in the table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    /// Anchor id (`s{n}-c{i}`).
    pub id: String,
    /// Whether the SVG draws it (timed checks and violated invariants have a row there).
    pub drawn: bool,
    /// Status word.
    pub status: &'static str,
    /// CSS class.
    pub class: &'static str,
    /// The check in suite words.
    pub name: String,
    /// Deadline, decision, what was observed.
    pub detail: String,
}

/// What the template shows for one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioView {
    /// Number (anchor `s{n}`).
    pub n: usize,
    /// The run id.
    pub id: String,
    /// Title, if any.
    pub title: String,
    /// Rules.
    pub rules: String,
    /// Verdict word.
    pub verdict: &'static str,
    /// Verdict CSS class.
    pub class: &'static str,
    /// Why (failures, errors, inconclusive reasons, skip reason).
    pub reasons: Vec<String>,
    /// Duration.
    pub duration: String,
    /// Switchover time or `-`.
    pub switchover: String,
    /// Detection time or `-`.
    pub detection: String,
    /// Other measurements, `name value`.
    pub measures: Vec<String>,
    /// The inline SVG (our writer escapes everything in it), empty without a timeline.
    pub svg: String,
    /// Every check.
    pub checks: Vec<CheckRow>,
    /// Last desktop lines.
    pub log: Vec<String>,
    /// Lines left out of the log.
    pub log_omitted: usize,
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.3} s", v / 1000.0))
}

/// Desktop output as text: terminal colour sequences dropped, other control characters (which
/// HTML does not allow) shown as U+FFFD.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // CSI: parameters and intermediates up to the final byte (@ to ~).
            for c in chars.by_ref().skip(1) {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else if c.is_control() && c != '\t' && c != '\n' {
            out.push('\u{fffd}');
        } else {
            out.push(c);
        }
    }
    out
}

fn reasons(r: &ScenarioResult) -> Vec<String> {
    let mut out: Vec<String> = r
        .failures
        .iter()
        .map(|f| clean(&format!("{}: {}", f.check, f.observed)))
        .collect();
    out.extend(r.errors.iter().map(|e| format!("harness error: {e}")));
    out.extend(r.inconclusive.iter().map(|e| format!("inconclusive: {e}")));
    out.extend(r.skip_reason.iter().map(|e| format!("skipped: {e}")));
    out
}

/// The view of scenario `n`.
pub fn view(n: usize, r: &ScenarioResult) -> ScenarioView {
    let (svg, traced) = match &r.timeline {
        Some(t) if !t.entries.is_empty() => {
            let pic = lanes::picture(t);
            let traced = trace::trace(t, &r.checks);
            (swimlane::svg(n, r, &pic, &traced), traced)
        }
        _ => (String::new(), Vec::new()),
    };
    let start = r
        .timeline
        .as_ref()
        .and_then(|t| t.start_us())
        .unwrap_or(r.started_us);
    let rel = |us: i64| format!("+{:.3}s", (us - start) as f64 / 1e6);
    let checks = r
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let t = traced.iter().find(|t| t.check == i);
            let (status, class, mut detail) = match &c.status {
                Status::Pass => ("pass", "v-pass", String::new()),
                Status::Pending => ("pass (never decided)", "v-pass", String::new()),
                Status::Fail(f) => (
                    "FAIL",
                    "v-fail",
                    format!("decided {}: {}", rel(f.at_us), f.observed),
                ),
                Status::Unknown { reason } => ("inconclusive", "v-inconclusive", reason.clone()),
                Status::Error { reason } => ("error", "v-error", reason.clone()),
                Status::NotExercised { reason } => {
                    ("not exercised", "v-inconclusive", reason.clone())
                }
            };
            if let Some(t) = t {
                let decided = match (t.decided, &c.status) {
                    (_, Status::Fail(_)) => String::new(),
                    (Decided::Entry(_, ts) | Decided::Time(ts), _) => {
                        format!("; decided {}", rel(ts))
                    }
                    (Decided::Never, _) => String::new(),
                };
                detail = format!(
                    "counts from {} (active {}), deadline {}{decided}. {detail}",
                    rel(t.from_us),
                    rel(t.start_us),
                    rel(t.deadline_us)
                );
            }
            CheckRow {
                id: format!("s{n}-c{i}"),
                drawn: t.is_some() || matches!(c.status, Status::Fail(_)),
                status,
                class,
                name: c.spec.describe(),
                detail: detail.trim().to_string(),
            }
        })
        .collect();
    let skip = r.log_tail.len().saturating_sub(LOG_LINES);
    ScenarioView {
        n,
        id: r.info.id.clone(),
        title: r.info.title.clone().unwrap_or_default(),
        rules: r.info.rules.join(", "),
        verdict: r.verdict.as_str(),
        class: class(r.verdict),
        reasons: reasons(r),
        duration: format!("{:.1} s", r.duration_ms as f64 / 1000.0),
        switchover: ms(r.measured_ms(measure::SWITCHOVER)),
        detection: ms(r.measured_ms(measure::DETECTION)),
        measures: r
            .measurements
            .iter()
            // The automatic two have their own columns.
            .filter(|m| m.name != measure::SWITCHOVER && m.name != measure::DETECTION)
            .map(|m| format!("{} {}", m.name, ms(m.micros.map(|u| u as f64 / 1000.0))))
            .collect(),
        svg,
        checks,
        log: r
            .log_tail
            .iter()
            .skip(skip)
            .map(|l| clean(&l.chars().take(LOG_WIDTH).collect::<String>()))
            .collect(),
        log_omitted: skip,
    }
}
