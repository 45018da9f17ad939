//! One `<testcase>` per scenario run: its status (failure for a broken rule or an inconclusive run,
//! error for a harness problem, skipped only when inapplicable) and its output, in either flavour.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus};

use super::facts::facts;
use super::Flavour;
use crate::check::{text, Verdict};
use crate::event::ScenarioResult;
use crate::observe::format;

fn failure_text(r: &ScenarioResult) -> (String, String) {
    let f = &r.failures[0];
    let start = r
        .timeline
        .as_ref()
        .and_then(|t| t.start_us())
        .unwrap_or(f.at_us);
    let message = format!(
        "{}: {}",
        text::title(f),
        f.observed.lines().next().unwrap_or("")
    );
    let mut body = String::new();
    for f in &r.failures {
        for l in text::lines(f, start) {
            body.push_str(&l);
            body.push('\n');
        }
        body.push_str(&format!(
            "decided at: +{:.3}s\n",
            (f.at_us - start) as f64 / 1e6
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
pub fn test_case(r: &ScenarioResult, flavour: Flavour) -> TestCase {
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
            // Not a pass, so never `<skipped>`: a CI reading only the XML must not show green for a
            // run that exits 1. The type tells it from a broken rule.
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("inconclusive: {}", r.inconclusive.join("; ")))
                .set_type("inconclusive")
                .set_description(r.inconclusive.join("\n"));
            s
        }
    };
    let mut tc = TestCase::new(r.info.display_name(), status);
    tc.set_classname(r.info.suite_id.clone());
    tc.set_time(Duration::from_millis(r.duration_ms));
    match flavour {
        Flavour::Rich => {
            for (n, v) in facts(r) {
                tc.add_property(Property::new(n, v));
            }
            if !r.log_tail.is_empty() {
                tc.set_system_out(r.log_tail.join("\n"));
            }
        }
        Flavour::Strict => {
            // junit-10.xsd allows no properties in a testcase: the facts lead its system-out (and
            // go into the suite's properties, keyed by run id, see `to_xml`).
            let mut out: Vec<String> = facts(r)
                .into_iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect();
            if !r.log_tail.is_empty() {
                out.push("desktop log tail:".into());
                out.extend(r.log_tail.iter().cloned());
            }
            tc.set_system_out(out.join("\n"));
        }
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
