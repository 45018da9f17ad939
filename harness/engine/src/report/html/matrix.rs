//! The rules x scenarios matrix: a row per rule (BC-1..BC-12 always, then any other rule a
//! scenario names), a column per scenario, each cell the scenario's verdict linking to its section.

use crate::check::Verdict;
use crate::event::ScenarioResult;

/// One cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Scenario number (anchor `s{n}`), when the scenario checks the rule.
    pub n: Option<usize>,
    /// CSS class (`v-pass`, ...), empty when not checked.
    pub class: &'static str,
    /// One letter, so the matrix reads without colour (P, F, I, E, S).
    pub letter: &'static str,
    /// Tooltip.
    pub title: String,
}

/// One rule's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// `BC-4`.
    pub rule: String,
    /// How many scenarios check it.
    pub covered: usize,
    /// A cell per scenario.
    pub cells: Vec<Cell>,
}

/// CSS class of a verdict.
pub fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::Skipped => "v-skipped",
        Verdict::Inconclusive => "v-inconclusive",
        Verdict::Fail => "v-fail",
        Verdict::Error => "v-error",
    }
}

fn letter(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "P",
        Verdict::Skipped => "S",
        Verdict::Inconclusive => "I",
        Verdict::Fail => "F",
        Verdict::Error => "E",
    }
}

/// The rows for scenarios numbered from 1 in the given order.
pub fn rows(results: &[&ScenarioResult]) -> Vec<Row> {
    let mut rules: Vec<String> = (1..=12).map(|i| format!("BC-{i}")).collect();
    let mut extra: Vec<String> = results
        .iter()
        .flat_map(|r| r.info.rules.iter().cloned())
        .filter(|r| !rules.contains(r))
        .collect();
    extra.sort();
    extra.dedup();
    rules.extend(extra);
    rules
        .into_iter()
        .map(|rule| {
            let cells: Vec<Cell> = results
                .iter()
                .enumerate()
                .map(|(i, r)| cell(&rule, i + 1, r))
                .collect();
            Row {
                covered: cells.iter().filter(|c| c.n.is_some()).count(),
                rule,
                cells,
            }
        })
        .collect()
}

fn cell(rule: &str, n: usize, r: &ScenarioResult) -> Cell {
    if !r.info.rules.iter().any(|x| x == rule) {
        return Cell {
            n: None,
            class: "",
            letter: "",
            title: String::new(),
        };
    }
    Cell {
        n: Some(n),
        class: class(r.verdict),
        letter: letter(r.verdict),
        title: format!("{rule} in #{n} {}: {}", r.info.id, r.verdict),
    }
}
