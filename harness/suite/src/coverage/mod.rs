//! The coverage table of docs/coverage.md: every documented behaviour (rule × branch, fault, server
//! kind or role), generated from the vocabulary, with the certification scenarios that exercise it.
//!
//! Rows come from [`rows`]; which rows a scenario exercises comes from [`facts::facts`] over its
//! planned runs; a row no scenario exercises needs a written exemption
//! (`fixtures/coverage/exemptions.yaml`), else [`Table::check`] fails naming it.

pub mod facts;
mod render;
mod rows;

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::load::LoadedSuite;
use crate::plan::plan;
use crate::planned::PlanOptions;
use crate::vocab::RuleId;
pub use facts::Fault;
pub use render::markdown;
pub use rows::rows;

/// One documented behaviour a conformant desktop must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The rule of docs/rules.md.
    pub rule: RuleId,
    /// What varies across the rule's rows: `server kind`, `fault × server kind`, `branch`, `role`.
    pub dimension: &'static str,
    /// The value, as in row keys (`black_hole/sip_server`).
    pub value: String,
    /// What the desktop must do, one line.
    pub behaviour: String,
}

impl Row {
    /// `BC-4 black_hole/sip_server`: the key exemptions and failures use.
    pub fn key(&self) -> String {
        format!("{} {}", self.rule, self.value)
    }
}

/// A row no scenario can exercise, and why (one entry of fixtures/coverage/exemptions.yaml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// The row key, `BC-2 reread_at_reconnection/no_failback`.
    pub row: String,
    /// Why no scenario can show it.
    pub reason: String,
}

/// Parses the exemptions file (a YAML list of `{row, reason}`).
pub fn parse_exemptions(text: &str) -> Result<Vec<Exemption>, String> {
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

/// One row of the table with what covers it.
#[derive(Debug, Clone)]
pub struct Line {
    /// The behaviour.
    pub row: Row,
    /// Scenarios exercising it, `FILE: SCENARIO`, in suite order.
    pub scenarios: Vec<String>,
    /// The written exemption, when no scenario can.
    pub exemption: Option<String>,
}

/// The whole table, plus what is wrong with the exemptions or the suites.
#[derive(Debug, Clone)]
pub struct Table {
    /// Every row.
    pub lines: Vec<Line>,
    /// Exemptions naming no row or a covered one, suites that do not plan.
    pub problems: Vec<String>,
}

impl Table {
    /// Rows with neither a scenario nor an exemption.
    pub fn uncovered(&self) -> Vec<&Line> {
        self.lines
            .iter()
            .filter(|l| l.scenarios.is_empty() && l.exemption.is_none())
            .collect()
    }

    /// `Err` naming every uncovered row and every problem.
    pub fn check(&self) -> Result<(), String> {
        let mut errs: Vec<String> = self
            .uncovered()
            .iter()
            .map(|l| {
                format!(
                    "row `{}` ({}) has neither a scenario nor an exemption",
                    l.row.key(),
                    l.row.behaviour
                )
            })
            .collect();
        errs.extend(self.problems.iter().cloned());
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("\n"))
        }
    }
}

/// Builds the table for `suites` (loaded through the pure loader) and `exemptions`.
pub fn table(suites: &[LoadedSuite], exemptions: &[Exemption]) -> Table {
    let mut problems = Vec::new();
    let mut exercised: Vec<(String, BTreeSet<String>)> = Vec::new();
    for s in suites {
        let file = s.path.file_name().map_or_else(
            || s.path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        match plan(s, &PlanOptions::default()) {
            Ok(runs) => {
                for r in runs {
                    let name = format!("{file}: {}", r.scenario_id);
                    let keys = facts::facts(&r, &s.config);
                    match exercised.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, k)) => k.extend(keys),
                        None => exercised.push((name, keys)),
                    }
                }
            }
            Err(e) => problems.push(format!("{file}: {e}")),
        }
    }
    let all = rows();
    for e in exemptions {
        if !all.iter().any(|r| r.key() == e.row) {
            problems.push(format!(
                "exemption for `{}` names no row of the table",
                e.row
            ));
        }
    }
    let lines: Vec<Line> = all
        .into_iter()
        .map(|row| {
            let key = row.key();
            let scenarios: Vec<String> = exercised
                .iter()
                .filter(|(_, k)| k.contains(&key))
                .map(|(n, _)| n.clone())
                .collect();
            let exemption = exemptions
                .iter()
                .find(|e| e.row == key)
                .map(|e| e.reason.clone());
            if exemption.is_some() && !scenarios.is_empty() {
                problems.push(format!(
                    "row `{key}` is exempt but covered by {}: remove its exemption",
                    scenarios.join(", ")
                ));
            }
            Line {
                row,
                scenarios,
                exemption,
            }
        })
        .collect();
    Table { lines, problems }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-file suite set, its config made absolute so it loads from a temporary directory.
    fn suite(scenarios: &str) -> LoadedSuite {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let config = root.join("fixtures/config/default.yaml");
        let text = format!(
            "version: 1\nid: synthetic\nconfig: {}\nagent: agent1001\nscenarios:\n{scenarios}",
            config.display()
        );
        crate::load_str("synthetic.yaml", &text, &root)
            .unwrap_or_else(|d| panic!("{}", crate::render_plain(&d.errors)))
    }

    const RESET_SIP_BEFORE_START: &str = "  - id: sip-reset
    rules: [BC-3]
    for_each_preferred_site: true
    steps:
      - reset: preferred/sip_server
      - start_desktop
      - expect_logged_in: {site: other}
";

    /// The check fails on a set missing a scenario, and names the row it misses.
    #[test]
    fn a_row_without_scenario_or_exemption_fails_by_name() {
        let t = table(&[suite(RESET_SIP_BEFORE_START)], &[]);
        let err = t
            .check()
            .expect_err("a one-scenario set leaves rows uncovered");
        assert!(err.contains("row `BC-3 reset/config_server`"), "{err}");
        assert!(err.contains("row `BC-4 black_hole/sip_server`"), "{err}");
        assert!(!err.contains("row `BC-3 reset/sip_server`"), "{err}");
        let covered = t
            .lines
            .iter()
            .find(|l| l.row.key() == "BC-3 reset/sip_server");
        assert_eq!(
            covered.map(|l| l.scenarios.clone()),
            Some(vec!["synthetic.yaml: sip-reset".to_owned()])
        );
    }

    /// The same fault after the start is a loss of login (BC-4), and only for the rule checked.
    #[test]
    fn a_fault_after_the_start_is_bc4_and_needs_the_rule() {
        let after = "  - id: sip-reset-later
    rules: [BC-4]
    for_each_preferred_site: true
    steps:
      - expect_logged_in: {site: preferred}
      - reset: preferred/sip_server
      - expect_logged_in: {site: other}
";
        let t = table(&[suite(after)], &[]);
        let by = |k: &str| {
            t.lines
                .iter()
                .find(|l| l.row.key() == k)
                .map(|l| l.scenarios.len())
        };
        assert_eq!(by("BC-4 reset/sip_server"), Some(1));
        assert_eq!(by("BC-3 reset/sip_server"), Some(0));
        // BC-5 is not among the scenario's rules: the switchover's servers do not count for it.
        assert_eq!(by("BC-5 sip_server"), Some(0));
    }

    /// Exemptions that name no row, or a covered row, are problems; a good one covers its row.
    #[test]
    fn exemptions_are_checked_against_the_table() {
        let ex = parse_exemptions(
            "- {row: BC-3 reset/sip_server, reason: covered anyway}\n\
             - {row: BC-99 nothing, reason: typo}\n\
             - {row: BC-3 reset/config_server, reason: because}\n",
        )
        .expect("parses");
        let t = table(&[suite(RESET_SIP_BEFORE_START)], &ex);
        let err = t.check().expect_err("problems");
        assert!(err.contains("`BC-99 nothing` names no row"), "{err}");
        assert!(
            err.contains("row `BC-3 reset/sip_server` is exempt but covered"),
            "{err}"
        );
        assert!(
            !err.contains("row `BC-3 reset/config_server` has neither"),
            "{err}"
        );
    }

    /// A re-read counts only where the other site is up when the new value is expected.
    #[test]
    fn a_reread_behind_a_dead_site_is_not_a_reread() {
        let dead = "  - id: reread-dead
    rules: [BC-2]
    agent: agent1003
    steps:
      - expect_logged_in: {site: A}
      - set_preferred_site: {level: person, site: B}
      - kill_site: A
      - expect_logged_in: {site: B}
";
        let t = table(&[suite(dead)], &[]);
        let row = t
            .lines
            .iter()
            .find(|l| l.row.key() == "BC-2 reread_at_reconnection/no_failback");
        assert_eq!(row.map(|l| l.scenarios.len()), Some(0));
        let tenant = t.lines.iter().find(|l| l.row.key() == "BC-2 tenant");
        assert_eq!(tenant.map(|l| l.scenarios.len()), Some(1));
    }
}
