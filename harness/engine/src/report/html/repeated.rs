//! The page's repeated runs (`--repeat`): per run its verdict under the pass policy, flaky or not,
//! p50/p95/max of switchover and detection, and a small inline-SVG histogram of the switchover times.

use crate::event::repeat::{groups, PassPolicy};
use crate::event::ScenarioResult;
use crate::report::flaky::spread;

use super::matrix;

/// One repeated run as the template shows it.
pub struct RepeatedView {
    /// Run id.
    pub id: String,
    /// Verdict under the pass policy.
    pub verdict: &'static str,
    /// Its CSS class.
    pub class: &'static str,
    /// `flaky` or empty.
    pub flaky: &'static str,
    /// `5 runs: 4 pass, 1 fail`.
    pub counts: String,
    /// Switchover distribution.
    pub switchover: String,
    /// Detection distribution.
    pub detection: String,
    /// The histogram, inline SVG (empty without measurements).
    pub histogram: String,
}

/// The repeated runs among `results`.
pub fn views(results: &[&ScenarioResult], policy: PassPolicy) -> Vec<RepeatedView> {
    groups(results.iter().copied())
        .into_iter()
        .map(|g| {
            let v = g.verdict(policy);
            RepeatedView {
                id: g.id.clone(),
                verdict: v.as_str(),
                class: matrix::class(v),
                flaky: if g.flaky() { "flaky" } else { "" },
                counts: g.describe(),
                switchover: spread(&g.switchover_ms),
                detection: spread(&g.detection_ms),
                histogram: histogram(&g.switchover_ms),
            }
        })
        .collect()
}

/// Eight bins from the smallest to the largest value, bars scaled to the fullest bin.
fn histogram(values: &[f64]) -> String {
    const BINS: usize = 8;
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let (Some(lo), Some(hi)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return String::new();
    };
    let width = ((hi - lo) / BINS as f64).max(f64::EPSILON);
    let mut counts = [0usize; BINS];
    for v in values {
        counts[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = W / BINS as f64;
    let mut svg = format!(
        r#"<svg class="hist" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><title>switchover {lo:.0}..{hi:.0} ms, {} values</title>"#,
        values.len()
    );
    for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let h = (*c as f64 / top) * (H - 2.0);
        let from = lo + width * i as f64;
        svg.push_str(&format!(
            r#"<rect class="hist-bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{from:.0}..{:.0} ms: {c}</title></rect>"#,
            bw * i as f64 + 0.5,
            H - h,
            bw - 1.0,
            from + width
        ));
    }
    svg.push_str("</svg>");
    svg
}
