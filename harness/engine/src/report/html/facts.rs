//! The run page's facts from `RunStarted`/`RunFinished`: desktop, capabilities, suites, seed, a
//! replay command, runtime, budget, harness version and date (UTC, computed without a date crate).

use crate::event::{RunEvent, ScenarioResult, Summary};

/// The run-level facts of one page.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Label and value, in display order.
    pub rows: Vec<(&'static str, String)>,
    /// A command that runs the same scenarios again with the same seed.
    pub replay: String,
    /// Counts (recomputed from the results when the journal has no `RunFinished`).
    pub summary: Summary,
}

/// The run's summary and duration, once it finished.
fn finished(events: &[RunEvent]) -> Option<(Summary, u64)> {
    events.iter().rev().find_map(|e| match e {
        RunEvent::RunFinished {
            summary,
            duration_ms,
        } => Some((summary.clone(), *duration_ms)),
        _ => None,
    })
}

/// The facts of a run from its events and results.
pub fn facts(events: &[RunEvent], results: &[&ScenarioResult]) -> Facts {
    let mut out = Facts::default();
    let finished = finished(events);
    let started = events
        .iter()
        .find(|e| matches!(e, RunEvent::RunStarted { .. }));
    let Some(RunEvent::RunStarted {
        desktop,
        runtime,
        seed,
        budget_ms,
        capabilities,
        started_us,
        suites,
        filter,
        harness_version,
        jobs,
        timers,
        desktop_identity,
        suite_hash,
        partition,
        ..
    }) = started
    else {
        out.rows
            .push(("run", "no run_started event in the journal".into()));
        out.summary = recount(results);
        return out;
    };
    let mut files: Vec<&str> = results.iter().map(|r| r.info.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    let suites: Vec<String> = if suites.is_empty() {
        files.iter().map(|f| f.to_string()).collect()
    } else {
        suites.clone()
    };
    let version = if harness_version.is_empty() {
        "not recorded (older journal)"
    } else {
        harness_version
    };
    out.rows = vec![
        ("desktop", desktop.clone()),
        ("desktop identity", identity(desktop_identity.as_ref())),
        (
            "capabilities",
            if capabilities.is_empty() {
                "none declared".into()
            } else {
                capabilities.join(", ")
            },
        ),
        (
            "declared timers",
            crate::event::timers::timers_line(timers.as_deref()),
        ),
        ("suites", suites.join(" ")),
        ("suite files", files.join(" ")),
        ("suite hash", hash(suite_hash)),
        (
            "partition",
            partition.clone().unwrap_or_else(|| "none".into()),
        ),
        ("filter", filter.clone().unwrap_or_else(|| "none".into())),
        ("seed", seed.to_string()),
        ("runtime", runtime.clone()),
        (
            "budget",
            budget_ms.map_or_else(|| "the suites' budgets".into(), |b| format!("{b} ms")),
        ),
        ("jobs", jobs.to_string()),
        (
            "run time",
            finished.as_ref().map_or_else(
                || "unknown (not finished)".into(),
                |f| format!("{:.1} s", f.1 as f64 / 1000.0),
            ),
        ),
        ("harness version", version.to_string()),
        ("report rendered by", renderer()),
        ("date", utc(*started_us)),
    ];
    out.replay = replay(
        &suites,
        desktop,
        runtime,
        *seed,
        *budget_ms,
        capabilities,
        filter.as_deref(),
    );
    out.summary = finished.map(|f| f.0).unwrap_or_else(|| recount(results));
    out
}

/// The harness version and a fingerprint of the page templates: `verify` compares a page with a fresh
/// rendering only when both are the same, since another build renders the same journal differently.
pub fn renderer() -> String {
    let templates = [
        include_str!("../../../templates/report/page.html"),
        include_str!("../../../templates/report/style.css"),
    ];
    let hash = super::embed::sha256(&templates.concat());
    format!("{} (templates {})", env!("CARGO_PKG_VERSION"), &hash[..12])
}

fn identity(d: Option<&crate::event::identity::DesktopIdentity>) -> String {
    d.map_or_else(|| "not recorded (older journal)".into(), |d| d.describe())
}

fn hash(h: &str) -> String {
    if h.is_empty() {
        "not recorded".into()
    } else {
        format!("sha256:{h}")
    }
}

fn recount(results: &[&ScenarioResult]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        s.add(r.verdict);
    }
    s
}

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| s.replace('\0', ""))
}

fn replay(
    suites: &[String],
    desktop: &str,
    runtime: &str,
    seed: u64,
    budget_ms: Option<u64>,
    caps: &[String],
    filter: Option<&str>,
) -> String {
    let mut cmd = String::from("bc-harness run");
    for s in suites {
        cmd.push(' ');
        cmd.push_str(&quote(s));
    }
    cmd.push_str(&format!(" --desktop {}", quote(desktop)));
    // `docker (fault proxy IMAGE)` is how a run against a real Toxiproxy names its runtime.
    match runtime
        .strip_prefix("docker (fault proxy ")
        .and_then(|r| r.strip_suffix(')'))
    {
        Some(image) => cmd.push_str(&format!(
            " --runtime docker --toxiproxy-image {}",
            quote(image)
        )),
        None if runtime.is_empty() => {}
        None => cmd.push_str(&format!(" --runtime {}", quote(runtime))),
    }
    cmd.push_str(&format!(" --seed {seed}"));
    if let Some(b) = budget_ms {
        cmd.push_str(&format!(" --budget {b}ms"));
    }
    if !caps.is_empty() {
        cmd.push_str(&format!(" --capabilities {}", caps.join(",")));
    }
    if let Some(f) = filter {
        cmd.push_str(&format!(" --filter {}", quote(f)));
    }
    cmd
}

/// `2026-12-03 14:04:38 UTC` from Unix µs (civil-from-days, proleptic Gregorian).
pub fn utc(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_replay() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096_000_000), "2024-02-29 12:34:56 UTC");
        let r = replay(
            &["suites/x y".into()],
            "desk --config {config}",
            "local",
            7,
            Some(10_000),
            &["stat_server".into()],
            None,
        );
        assert_eq!(r, "bc-harness run 'suites/x y' --desktop 'desk --config {config}' --runtime local --seed 7 --budget 10000ms --capabilities stat_server");
    }
}
