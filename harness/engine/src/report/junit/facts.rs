//! The facts of one scenario run that JUnit carries beside its verdict (seed, budget, measured
//! times, the harness's own lateness, not-exercised checks), as name/value pairs for either flavour.

use crate::check::not_exercised;
use crate::event::ScenarioResult;

/// Name/value pairs in a stable order; a name may repeat (`not_exercised`).
pub fn facts(r: &ScenarioResult) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |n: &str, v: String| out.push((n.to_string(), v));
    put("seed", r.seed.to_string());
    if !r.runtime.is_empty() {
        put("runtime", r.runtime.clone());
    }
    put("budget", format!("{}ms", r.info.budget_ms));
    if let Some(p) = &r.info.preferred_site {
        put("preferred_site", p.clone());
    }
    // Not a failure and no part of the pass: a reader of a green report sees what it did not check.
    for (check, reason) in not_exercised(&r.checks) {
        put("not_exercised", format!("{check}: {reason}"));
    }
    for m in &r.measurements {
        let v = m
            .micros
            .map(|us| format!("{:.1}ms", us as f64 / 1000.0))
            .unwrap_or_else(|| "not reached".into());
        put(&format!("measured.{}", m.name), v);
    }
    if let Some(t) = &r.timing {
        let ms = |us: i64| format!("{:.1}ms", us as f64 / 1000.0);
        put("harness.decision_lag", ms(t.decision_lag_us));
        put("harness.timer_overshoot", ms(t.timer_overshoot_us));
        put("harness.feed_delay", ms(t.feed_delay_us));
        put("harness.feed_backlog", t.feed_backlog.to_string());
    }
    if r.retries > 0 {
        put("retries", r.retries.to_string());
    }
    out
}
