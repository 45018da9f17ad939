//! The console reporter: an indicatif progress bar while scenarios run, one line per finished
//! scenario (failures with their deadline, observation and excerpt), and a summary table with times.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::certificate::Policy;
use crate::check::{not_exercised, text, Verdict};
use crate::event::repeat::PassPolicy;
use crate::event::{RunEvent, ScenarioResult};

/// Console output; `quiet` leaves out passing scenarios' lines.
pub struct Console {
    bar: Option<ProgressBar>,
    results: Vec<ScenarioResult>,
    out: Box<dyn Write + Send>,
    progress: bool,
    policy: Policy,
    exploration: bool,
    pass_policy: PassPolicy,
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::Skipped => "SKIP",
        Verdict::Inconclusive => "INCONCLUSIVE",
    }
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{:.0}ms", x))
        .unwrap_or_else(|| "-".into())
}

impl Console {
    /// A console writing to stderr, with a progress bar when `progress` (a terminal).
    pub fn stderr(progress: bool) -> Console {
        Console {
            bar: None,
            results: Vec::new(),
            out: Box::new(std::io::stderr()),
            progress,
            policy: Policy::default(),
            exploration: false,
            pass_policy: PassPolicy::All,
        }
    }

    /// A console writing to any sink, without progress bar (tests).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Console {
        Console {
            bar: None,
            results: Vec::new(),
            out,
            progress: false,
            policy: Policy::default(),
            exploration: false,
            pass_policy: PassPolicy::All,
        }
    }

    fn println(&mut self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => {
                let _ = writeln!(self.out, "{s}");
            }
        }
    }

    /// Consumes one event.
    pub fn event(&mut self, e: &RunEvent) {
        self.policy.event(e);
        match e {
            RunEvent::RunStarted {
                to_run,
                skipped,
                jobs,
                desktop,
                runtime,
                seed,
                budget_ms,
                retry_errors,
                timers,
                desktop_identity,
                suites,
                pass_policy,
                ..
            } => {
                self.exploration = suites.is_empty();
                self.pass_policy = pass_policy
                    .as_deref()
                    .and_then(PassPolicy::parse)
                    .unwrap_or_default();
                let budget = budget_ms
                    .map(|b| format!(", budget {b}ms"))
                    .unwrap_or_default();
                let retry = match retry_errors {
                    0 => String::new(),
                    n => format!(", errors retried up to {n} time(s)"),
                };
                self.println(&format!(
                    "bc-harness: {to_run} scenario run(s), {skipped} skipped, {jobs} job(s), runtime {runtime}, seed {seed}{budget}{retry}\n  desktop: {desktop}\n  timers: {}",
                    crate::event::timers::timers_line(timers.as_deref())
                ));
                if let Some(id) = desktop_identity {
                    self.println(&format!("  identity: {}", id.describe()));
                }
                if self.progress {
                    let b = ProgressBar::with_draw_target(
                        Some(*to_run as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    b.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b.enable_steady_tick(std::time::Duration::from_millis(200));
                    self.bar = Some(b);
                }
            }
            RunEvent::EnvironmentStarting { job } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("job {job}: starting environment"));
                }
            }
            RunEvent::ScenarioStarted { info, .. } => {
                if let Some(b) = &self.bar {
                    b.set_message(info.id.clone());
                }
            }
            RunEvent::StepStarted {
                id,
                index,
                description,
            } => {
                if let Some(b) = &self.bar {
                    b.set_message(format!("{id} step {index}: {description}"));
                }
            }
            RunEvent::ScenarioFinished { result } => self.finished(result),
            RunEvent::RunFinished {
                summary,
                duration_ms,
            } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                self.table();
                self.not_passed();
                let _ =
                    writeln!(
                    self.out,
                    "\n{} passed, {} failed, {} inconclusive, {} errors, {} skipped in {:.1}s{}",
                    summary.passed,
                    summary.failed,
                    summary.inconclusive,
                    summary.errors,
                    summary.skipped,
                    *duration_ms as f64 / 1000.0,
                    if summary.interrupted { " (interrupted)" } else { "" }
                );
                self.verdict_notes();
            }
        }
    }

    /// After the totals: the repeated runs (flaky ones), and why this is not a certificate.
    fn verdict_notes(&mut self) {
        for l in super::flaky::console_lines(&self.results, self.pass_policy) {
            let _ = writeln!(self.out, "{l}");
        }
        // An exploration never claims to be one, so it does not say it is not.
        let reasons = self.policy.reasons();
        if !self.exploration && !reasons.is_empty() {
            let _ = writeln!(self.out, "NOT A CERTIFICATE (docs/certification.md):");
            for r in reasons {
                let _ = writeln!(self.out, "  - {r}");
            }
        }
    }

    fn finished(&mut self, r: &ScenarioResult) {
        if r.verdict != Verdict::Skipped {
            if let Some(b) = &self.bar {
                b.inc(1);
            }
        }
        let mut text = format!(
            "{:>12} {} ({:.1}s)",
            mark(r.verdict),
            r.info.display_name(),
            r.duration_ms as f64 / 1000.0
        );
        if let Some(s) = &r.skip_reason {
            text.push_str(&format!(": {s}"));
        }
        if r.retries > 0 {
            text.push_str(&format!(
                "\n             retried: {} time(s) after an error (--retry-errors)",
                r.retries
            ));
        }
        let start = r.timeline.as_ref().and_then(|t| t.start_us()).unwrap_or(0);
        for f in &r.failures {
            for l in text::lines(f, start) {
                text.push_str(&format!("\n             {l}"));
            }
            for l in &f.excerpt {
                text.push_str(&format!("\n               {l}"));
            }
        }
        for e in &r.errors {
            text.push_str(&format!("\n             harness: {e}"));
        }
        for i in &r.inconclusive {
            text.push_str(&format!("\n             undecided: {i}"));
        }
        if r.verdict != Verdict::Inconclusive {
            // Checked nothing, so it is no part of the pass: say so beside it.
            for (check, reason) in not_exercised(&r.checks) {
                text.push_str(&format!("\n             not exercised: {check}: {reason}"));
            }
        }
        self.println(&text);
        self.results.push(r.clone());
    }

    /// The scenarios that did not pass, each with its first reason, after the table: the end of a
    /// CI log is often all anyone reads, and the per-scenario lines may be far above it.
    fn not_passed(&mut self) {
        let mut s = String::new();
        for r in self.results.iter().filter(|r| {
            matches!(
                r.verdict,
                Verdict::Fail | Verdict::Error | Verdict::Inconclusive
            )
        }) {
            let start = r.timeline.as_ref().and_then(|t| t.start_us()).unwrap_or(0);
            // The last error is the final attempt's (earlier ones are retried attempts').
            let reason = r
                .errors
                .last()
                .map(|e| format!("harness: {e}"))
                .or_else(|| {
                    r.failures
                        .first()
                        .and_then(|f| text::lines(f, start).into_iter().next())
                })
                .or_else(|| r.inconclusive.first().map(|i| format!("undecided: {i}")))
                .unwrap_or_default();
            s.push_str(&format!(
                "{:>12} {}\n             {reason}\n",
                mark(r.verdict),
                r.info.display_name()
            ));
        }
        if !s.is_empty() {
            let _ = write!(self.out, "\nnot passed:\n{s}");
        }
    }

    fn table(&mut self) {
        let rows: Vec<&ScenarioResult> = self
            .results
            .iter()
            .filter(|r| r.verdict != Verdict::Skipped)
            .collect();
        if rows.is_empty() {
            return;
        }
        let w = rows
            .iter()
            .map(|r| r.info.id.len())
            .max()
            .unwrap_or(8)
            .clamp(8, 70);
        let mut s = format!(
            "\n{:<w$}  {:<12}  {:>10}  {:>10}  {:>8}  {:>8}\n",
            "scenario", "verdict", "detection", "switchover", "time", "late"
        );
        for r in rows {
            // The harness's own worst lateness (decision lag, timer, feed): its timing's margin.
            let late = r.timing.map(|t| t.worst().0 as f64 / 1000.0);
            s.push_str(&format!(
                "{:<w$}  {:<12}  {:>10}  {:>10}  {:>7.1}s  {:>8}\n",
                r.info.id,
                r.verdict.as_str(),
                ms(r.measured_ms(crate::check::measure::DETECTION)),
                ms(r.measured_ms(crate::check::measure::SWITCHOVER)),
                r.duration_ms as f64 / 1000.0,
                ms(late)
            ));
            for m in r
                .measurements
                .iter()
                .filter(|m| m.name != "detection" && m.name != "switchover")
            {
                s.push_str(&format!(
                    "{:<w$}    {} = {}\n",
                    "",
                    m.name,
                    ms(m.micros.map(|u| u as f64 / 1000.0))
                ));
            }
        }
        let _ = write!(self.out, "{s}");
    }
}
