//! The console reporter: an indicatif progress bar while scenarios run, one line per finished
//! scenario (failures with their deadline, observation and excerpt), and a summary table with times.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::check::Verdict;
use crate::event::{RunEvent, ScenarioResult};

/// Console output; `quiet` leaves out passing scenarios' lines.
pub struct Console {
    bar: Option<ProgressBar>,
    results: Vec<ScenarioResult>,
    out: Box<dyn Write + Send>,
    progress: bool,
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
        }
    }

    /// A console writing to any sink, without progress bar (tests).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Console {
        Console {
            bar: None,
            results: Vec::new(),
            out,
            progress: false,
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
        match e {
            RunEvent::RunStarted {
                to_run,
                skipped,
                jobs,
                desktop,
                runtime,
                seed,
                budget_ms,
                ..
            } => {
                let budget = budget_ms
                    .map(|b| format!(", budget {b}ms"))
                    .unwrap_or_default();
                self.println(&format!(
                    "bc-harness: {to_run} scenario run(s), {skipped} skipped, {jobs} job(s), runtime {runtime}, seed {seed}{budget}\n  desktop: {desktop}"
                ));
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
        let start = r.timeline.as_ref().and_then(|t| t.start_us()).unwrap_or(0);
        for f in &r.failures {
            text.push_str(&format!("\n             broken: {}", f.check));
            if let Some(d) = f.deadline_us {
                text.push_str(&format!(" (deadline +{:.3}s)", (d - start) as f64 / 1e6));
            }
            for l in f.observed.lines() {
                text.push_str(&format!("\n             observed: {l}"));
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
        self.println(&text);
        self.results.push(r.clone());
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
            "\n{:<w$}  {:<12}  {:>10}  {:>10}  {:>8}\n",
            "scenario", "verdict", "detection", "switchover", "time"
        );
        for r in rows {
            s.push_str(&format!(
                "{:<w$}  {:<12}  {:>10}  {:>10}  {:>7.1}s\n",
                r.info.id,
                r.verdict.as_str(),
                ms(r.measured_ms(crate::check::measure::DETECTION)),
                ms(r.measured_ms(crate::check::measure::SWITCHOVER)),
                r.duration_ms as f64 / 1000.0
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
