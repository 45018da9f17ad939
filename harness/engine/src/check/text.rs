//! The words of a failure, one fact a line: the broken check and its rules, what was expected, the
//! deadline, what was observed by it, what happened after it, the timeline excerpt.

use super::Failure;

fn rel(us: i64, start_us: i64) -> String {
    format!("+{:.3}s", (us - start_us) as f64 / 1e6)
}

/// The check with the rules it breaks: `invariant max_switchovers 0 per 10s (BC-7)`.
pub fn title(f: &Failure) -> String {
    if f.rules.is_empty() {
        f.check.clone()
    } else {
        format!("{} ({})", f.check, f.rules.join(", "))
    }
}

/// The failure as labelled lines, times relative to `start_us` (the timeline's start); the
/// excerpt's lines come last, unlabelled.
pub fn lines(f: &Failure, start_us: i64) -> Vec<String> {
    let mut v = vec![format!("broken: {}", title(f))];
    if !f.expected.is_empty() {
        v.push(format!("expected: {}", f.expected));
    }
    // An invariant without a deadline is observed at the instant it broke.
    let when = match f.deadline_us {
        Some(d) => {
            v.push(format!("deadline: {}", rel(d, start_us)));
            "by the deadline".to_string()
        }
        None => format!("at {}", rel(f.at_us, start_us)),
    };
    let mut observed = f.observed.lines();
    if let Some(first) = observed.next() {
        v.push(format!("observed {when}: {first}"));
    }
    v.extend(observed.map(|l| format!("  {l}")));
    if let Some(after) = &f.after {
        let since = if f.deadline_us.is_some() {
            "the deadline"
        } else {
            "it"
        };
        v.push(format!("after {since}: {after}"));
    }
    v
}
