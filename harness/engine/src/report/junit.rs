//! JUnit XML (quick-junit): one testsuite per suite file, one testcase per scenario run, named with
//! its rule ids; failure for a broken rule, error for a harness problem, skipped for inapplicable or
//! inconclusive runs; properties carry seed, runtime, budget and measured durations.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::check::Verdict;
use crate::event::{RunEvent, ScenarioResult};
use crate::observe::format;

/// Collects finished scenarios and writes the XML at the end.
#[derive(Default)]
pub struct JunitReport {
    suites: BTreeMap<String, Vec<ScenarioResult>>,
    order: Vec<String>,
    duration_ms: u64,
}

fn failure_text(r: &ScenarioResult) -> (String, String) {
    let f = &r.failures[0];
    let start = r
        .timeline
        .as_ref()
        .and_then(|t| t.start_us())
        .unwrap_or(f.at_us);
    let rel = |us: i64| format!("+{:.3}s", (us - start) as f64 / 1e6);
    let mut message = format!("{}: {}", f.check, f.observed.lines().next().unwrap_or(""));
    if !f.rules.is_empty() {
        message = format!("[{}] {message}", f.rules.join(", "));
    }
    let mut body = String::new();
    for f in &r.failures {
        body.push_str(&format!("check: {}\n", f.check));
        if let Some(d) = f.deadline_us {
            body.push_str(&format!("deadline: {}\n", rel(d)));
        }
        body.push_str(&format!(
            "decided at: {}\nobserved: {}\n",
            rel(f.at_us),
            f.observed
        ));
        if !f.excerpt.is_empty() {
            body.push_str("timeline:\n");
            for l in &f.excerpt {
                body.push_str(&format!("  {l}\n"));
            }
        }
        body.push('\n');
    }
    (message, body)
}

/// The testcase of one result.
pub fn test_case(r: &ScenarioResult) -> TestCase {
    let status = match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail if !r.failures.is_empty() => {
            let (message, body) = failure_text(r);
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(message)
                .set_type("rule broken")
                .set_description(body);
            s
        }
        Verdict::Fail | Verdict::Error => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            let msg = r
                .errors
                .first()
                .cloned()
                .unwrap_or_else(|| "harness error".into());
            s.set_message(msg)
                .set_type("harness error")
                .set_description(r.errors.join("\n"));
            s
        }
        Verdict::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(r.skip_reason.clone().unwrap_or_else(|| "skipped".into()));
            s
        }
        Verdict::Inconclusive => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("inconclusive: {}", r.inconclusive.join("; ")))
                .set_type("inconclusive");
            s
        }
    };
    let mut tc = TestCase::new(r.info.display_name(), status);
    tc.set_classname(r.info.suite_id.clone());
    tc.set_time(Duration::from_millis(r.duration_ms));
    tc.add_property(Property::new("seed", r.seed.to_string()));
    if !r.runtime.is_empty() {
        tc.add_property(Property::new("runtime", r.runtime.clone()));
    }
    tc.add_property(Property::new("budget", format!("{}ms", r.info.budget_ms)));
    if let Some(p) = &r.info.preferred_site {
        tc.add_property(Property::new("preferred_site", p.clone()));
    }
    for m in &r.measurements {
        let v = m
            .micros
            .map(|us| format!("{:.1}ms", us as f64 / 1000.0))
            .unwrap_or_else(|| "not reached".into());
        tc.add_property(Property::new(format!("measured.{}", m.name), v));
    }
    if !r.log_tail.is_empty() {
        tc.set_system_out(r.log_tail.join("\n"));
    }
    if let (Some(t), false) = (&r.timeline, r.verdict == Verdict::Pass) {
        // The whole timeline's notable entries help whoever reads a failing report.
        let start = t.start_us().unwrap_or(0);
        let lines: Vec<String> = t
            .sorted()
            .into_iter()
            .filter(|e| !format::is_noise(&e.kind))
            .map(|e| format::line(e, start))
            .collect();
        tc.set_system_err(lines.join("\n"));
    }
    tc
}

impl JunitReport {
    /// Consumes one event.
    pub fn event(&mut self, e: &RunEvent) {
        match e {
            RunEvent::ScenarioFinished { result } => {
                let key = result.info.file.clone();
                if !self.suites.contains_key(&key) {
                    self.order.push(key.clone());
                }
                self.suites.entry(key).or_default().push((**result).clone());
            }
            RunEvent::RunFinished { duration_ms, .. } => self.duration_ms = *duration_ms,
            _ => {}
        }
    }

    /// The report as XML.
    pub fn to_xml(&self) -> String {
        let mut report = Report::new("bc-harness");
        report.set_time(Duration::from_millis(self.duration_ms));
        for file in &self.order {
            let results = &self.suites[file];
            let name = results
                .first()
                .map(|r| r.info.suite_id.clone())
                .unwrap_or_else(|| file.clone());
            let mut ts = TestSuite::new(name);
            ts.add_property(Property::new("file", file.clone()));
            ts.set_time(Duration::from_millis(
                results.iter().map(|r| r.duration_ms).sum(),
            ));
            ts.add_test_cases(results.iter().map(test_case));
            report.add_test_suite(ts);
        }
        report
            .to_string()
            .unwrap_or_else(|e| format!("<!-- cannot serialise report: {e} -->"))
    }

    /// Writes the XML (parent directories created).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_xml())
    }
}
