//! JUnit XML (quick-junit): one testsuite per suite file, one testcase per scenario run. By default
//! valid against the Jenkins xunit plugin's `junit-10.xsd` (fixtures/junit); `rich` adds properties.

mod case;
mod facts;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use quick_junit::{Property, Report, TestSuite};

use super::flaky::spread;
use crate::event::repeat::groups;
use crate::event::{RunEvent, ScenarioResult};

pub use case::test_case;

/// Which JUnit dialect to write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Flavour {
    /// Valid against `junit-10.xsd`, which strict consumers (Jenkins xunit) check: per-run facts
    /// go to the suite's properties keyed `RUN-ID#NAME` and to the testcase's system-out.
    #[default]
    Strict,
    /// Properties inside each testcase and a `skipped` count on `<testsuites>` (read by GitLab,
    /// nextest-style tools, rejected by strict schemas).
    Rich,
}

/// Collects finished scenarios and writes the XML at the end.
#[derive(Default)]
pub struct JunitReport {
    suites: BTreeMap<String, Vec<ScenarioResult>>,
    order: Vec<String>,
    duration_ms: u64,
    retry_errors: u32,
    timers: String,
    flavour: Flavour,
}

impl JunitReport {
    /// An empty report in `flavour`.
    pub fn new(flavour: Flavour) -> JunitReport {
        JunitReport {
            flavour,
            ..JunitReport::default()
        }
    }

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
            RunEvent::RunStarted {
                retry_errors,
                timers,
                ..
            } => {
                self.retry_errors = *retry_errors;
                self.timers = crate::event::timers::timers_line(timers.as_deref());
            }
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
            ts.add_property(Property::new("retry_errors", self.retry_errors.to_string()));
            ts.add_property(Property::new("declared_timers", self.timers.clone()));
            if self.flavour == Flavour::Strict {
                for r in results {
                    for (n, v) in facts::facts(r) {
                        ts.add_property(Property::new(format!("{}#{n}", r.info.id), v));
                    }
                }
            }
            // Repeated runs: junit-10.xsd has flakyFailure only for reruns of one testcase; ours
            // are separate testcases (`RUN-ID #K`), so the flakiness goes to suite properties.
            for g in groups(results) {
                ts.add_property(Property::new(format!("{}#repeated", g.id), g.describe()));
                ts.add_property(Property::new(
                    format!("{}#flaky", g.id),
                    g.flaky().to_string(),
                ));
                ts.add_property(Property::new(
                    format!("{}#switchover", g.id),
                    spread(&g.switchover_ms),
                ));
                ts.add_property(Property::new(
                    format!("{}#detection", g.id),
                    spread(&g.detection_ms),
                ));
            }
            ts.set_time(Duration::from_millis(
                results.iter().map(|r| r.duration_ms).sum(),
            ));
            ts.add_test_cases(results.iter().map(|r| test_case(r, self.flavour)));
            report.add_test_suite(ts);
        }
        match report.to_string() {
            Ok(xml) if self.flavour == Flavour::Strict => without_total_skipped(xml),
            Ok(xml) => xml,
            Err(e) => format!("<!-- cannot serialise report: {e} -->"),
        }
    }

    /// Writes the XML (parent directories created).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_xml())
    }
}

/// Drops the `skipped` attribute of `<testsuites>`, which `junit-10.xsd` does not allow there
/// (quick-junit always writes it); each `<testsuite>` keeps its own count, which the schema allows.
fn without_total_skipped(xml: String) -> String {
    let Some(open) = xml.find("<testsuites") else {
        return xml;
    };
    let end = xml[open..].find('>').map_or(xml.len(), |e| open + e);
    let Some(at) = xml[open..end].find(" skipped=\"").map(|i| open + i) else {
        return xml;
    };
    let close = xml[at + 10..].find('"').map_or(end, |q| at + 10 + q + 1);
    format!("{}{}", &xml[..at], &xml[close..])
}

#[cfg(test)]
mod tests {
    use super::{Flavour, JunitReport};
    use crate::check::Verdict;
    use crate::event::{RunEvent, ScenarioInfo, ScenarioResult};

    fn result(verdict: Verdict, log: &str) -> ScenarioResult {
        let info = ScenarioInfo {
            id: "s/x".into(),
            suite_id: "s".into(),
            file: "s.yaml".into(),
            scenario_id: "x".into(),
            title: None,
            rules: vec!["BC-6".into()],
            preferred_site: None,
            budget_ms: 1000,
        };
        let mut r = ScenarioResult::skipped(info, "n/a".into(), 1);
        r.verdict = verdict;
        r.skip_reason = None;
        r.inconclusive = vec!["only hidden sessions left at A".into()];
        r.log_tail = vec![log.to_string()];
        r
    }

    fn xml(r: ScenarioResult) -> String {
        let mut j = JunitReport::default();
        j.event(&RunEvent::ScenarioFinished {
            result: Box::new(r),
        });
        j.to_xml()
    }

    #[test]
    fn inconclusive_is_a_failure_of_type_inconclusive_never_skipped() {
        let x = xml(result(Verdict::Inconclusive, "ok"));
        assert!(x.contains("<failure"), "{x}");
        assert!(x.contains("type=\"inconclusive\""), "{x}");
        assert!(!x.contains("<skipped"), "{x}");
    }

    #[test]
    fn hostile_desktop_output_stays_well_formed_xml() {
        let x = xml(result(
            Verdict::Pass,
            "bell\u{7} esc\u{1b}[31m nul\u{0} \u{fffd} <&>",
        ));
        let bad: Vec<char> = x
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            .collect();
        assert!(bad.is_empty(), "raw control characters in XML: {bad:?}");
        assert!(x.contains("&lt;&amp;&gt;"), "{x}");
    }

    #[test]
    fn strict_keeps_facts_out_of_testcases_and_skipped_off_testsuites() {
        let mut r = result(Verdict::Skipped, "ok");
        r.seed = 42;
        let x = xml(r.clone());
        let head = &x[x.find("<testsuites").unwrap()..];
        let head = &head[..head.find('>').unwrap()];
        assert!(!head.contains("skipped="), "{head}");
        assert!(x.contains(r#"name="s/x#seed" value="42""#), "{x}");
        assert!(x.contains("seed: 42"), "{x}");
        let case = &x[x.find("<testcase").unwrap()..];
        assert!(!case.contains("<properties"), "{case}");

        let mut rich = JunitReport::new(Flavour::Rich);
        rich.event(&RunEvent::ScenarioFinished {
            result: Box::new(r),
        });
        let x = rich.to_xml();
        let case = &x[x.find("<testcase").unwrap()..];
        assert!(case.contains(r#"name="seed" value="42""#), "{case}");
        assert!(x.contains("skipped=\"1\""), "{x}");
    }
}
