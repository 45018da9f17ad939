//! The repeated runs' summary shared by the console and the page: per run its verdict under the pass
//! policy, whether it is flaky, and the distribution of switchover and detection times.

use crate::event::repeat::{distribution, groups, Group, PassPolicy};
use crate::event::ScenarioResult;

/// `p50 812ms p95 1400ms max 1500ms (n=5)`, or `-` without values.
pub fn spread(values: &[f64]) -> String {
    match distribution(values) {
        Some((p50, p95, max)) => format!(
            "p50 {p50:.0}ms p95 {p95:.0}ms max {max:.0}ms (n={})",
            values.len()
        ),
        None => "-".into(),
    }
}

/// The console's lines for the repeated runs among `results` (empty when nothing was repeated).
pub fn console_lines(results: &[ScenarioResult], policy: PassPolicy) -> Vec<String> {
    let groups: Vec<Group> = groups(results);
    if groups.is_empty() {
        return Vec::new();
    }
    let flaky = groups.iter().filter(|g| g.flaky()).count();
    let mut out = vec![format!(
        "repeated runs (pass policy {}): {} run(s), {flaky} flaky",
        policy.as_str(),
        groups.len()
    )];
    for g in &groups {
        out.push(format!(
            "  {:<12} {}{}: {}",
            g.verdict(policy).as_str().to_uppercase(),
            g.id,
            if g.flaky() { " FLAKY" } else { "" },
            g.describe()
        ));
        out.push(format!(
            "      switchover {}; detection {}",
            spread(&g.switchover_ms),
            spread(&g.detection_ms)
        ));
    }
    out
}
