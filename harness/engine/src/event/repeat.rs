//! `--repeat N`: run ids of repetitions (`RUN-ID #K`), their seeds derived from the run seed, the
//! pass policy, and per-run groups with flakiness and the distribution of measured times.

use std::collections::BTreeMap;

use crate::check::Verdict;
use crate::event::ScenarioResult;

/// How many passing repetitions make a repeated run pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PassPolicy {
    /// Every repetition passes.
    #[default]
    All,
    /// More than half pass.
    Most,
    /// At least one passes.
    Any,
}

impl PassPolicy {
    /// The command-line spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PassPolicy::All => "all",
            PassPolicy::Most => "most",
            PassPolicy::Any => "any",
        }
    }

    /// Parses `all`, `most`, `any`.
    pub fn parse(s: &str) -> Option<PassPolicy> {
        [PassPolicy::All, PassPolicy::Most, PassPolicy::Any]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// The id of repetition `k` (1-based) of a run.
pub fn repetition_id(run_id: &str, k: u32) -> String {
    format!("{run_id} #{k}")
}

/// The run id and repetition of a result id (`None` when not repeated).
pub fn split_id(id: &str) -> (&str, Option<u32>) {
    match id.rsplit_once(" #") {
        Some((base, k)) => match k.parse() {
            Ok(k) => (base, Some(k)),
            Err(_) => (id, None),
        },
        None => (id, None),
    }
}

/// The seed of repetition `k`: splitmix64 of the run seed and `k`, so every repetition differs and
/// the whole set replays from the run seed.
pub fn seed(run_seed: u64, k: u32) -> u64 {
    let mut z = run_seed.wrapping_add(u64::from(k).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The repetitions of one run.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The run id.
    pub id: String,
    /// Verdicts in repetition order.
    pub verdicts: Vec<Verdict>,
    /// Measured switchover times, ms (repetitions that measured one).
    pub switchover_ms: Vec<f64>,
    /// Measured detection times, ms.
    pub detection_ms: Vec<f64>,
}

impl Group {
    fn count(&self, v: Verdict) -> usize {
        self.verdicts.iter().filter(|x| **x == v).count()
    }

    /// Both passed and failed.
    pub fn flaky(&self) -> bool {
        self.count(Verdict::Pass) > 0 && self.count(Verdict::Fail) > 0
    }

    /// The run's verdict under `policy`: an error or inconclusive repetition is never outvoted.
    pub fn verdict(&self, policy: PassPolicy) -> Verdict {
        let (pass, n) = (self.count(Verdict::Pass), self.verdicts.len());
        if self.count(Verdict::Error) > 0 {
            return Verdict::Error;
        }
        if self.count(Verdict::Inconclusive) > 0 {
            return Verdict::Inconclusive;
        }
        if n == 0 || self.count(Verdict::Skipped) == n {
            return Verdict::Skipped;
        }
        let ok = match policy {
            PassPolicy::All => pass == n,
            PassPolicy::Most => pass * 2 > n,
            PassPolicy::Any => pass > 0,
        };
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// `N runs: P pass, F fail[, FLAKY]` for reports.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} runs: {} pass, {} fail",
            self.verdicts.len(),
            self.count(Verdict::Pass),
            self.count(Verdict::Fail)
        );
        for v in [Verdict::Inconclusive, Verdict::Error, Verdict::Skipped] {
            if self.count(v) > 0 {
                s.push_str(&format!(", {} {}", self.count(v), v.as_str()));
            }
        }
        s
    }
}

/// p50, p95 and max of `values` (nearest rank), `None` when empty.
pub fn distribution(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some((rank(0.50), rank(0.95), v[v.len() - 1]))
}

/// The groups of repeated runs among `results`, by run id (results that are no repetition are left out).
pub fn groups<'a>(results: impl IntoIterator<Item = &'a ScenarioResult>) -> Vec<Group> {
    let mut by: BTreeMap<String, Vec<(u32, &ScenarioResult)>> = BTreeMap::new();
    for r in results {
        if let (base, Some(k)) = split_id(&r.info.id) {
            by.entry(base.to_string()).or_default().push((k, r));
        }
    }
    by.into_iter()
        .map(|(id, mut rs)| {
            rs.sort_by_key(|(k, _)| *k);
            Group {
                id,
                verdicts: rs.iter().map(|(_, r)| r.verdict).collect(),
                switchover_ms: rs
                    .iter()
                    .filter_map(|(_, r)| r.measured_ms("switchover"))
                    .collect(),
                detection_ms: rs
                    .iter()
                    .filter_map(|(_, r)| r.measured_ms("detection"))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_seeds_and_policies() {
        assert_eq!(
            split_id(&repetition_id("s/x[preferred=A]", 3)),
            ("s/x[preferred=A]", Some(3))
        );
        assert_eq!(split_id("s/x"), ("s/x", None));
        assert_ne!(seed(7, 1), seed(7, 2));
        assert_eq!(seed(7, 1), seed(7, 1));
        let g = Group {
            verdicts: vec![Verdict::Pass, Verdict::Fail, Verdict::Pass],
            ..Group::default()
        };
        assert!(g.flaky());
        assert_eq!(g.verdict(PassPolicy::All), Verdict::Fail);
        assert_eq!(g.verdict(PassPolicy::Most), Verdict::Pass);
        assert_eq!(g.verdict(PassPolicy::Any), Verdict::Pass);
        assert_eq!(distribution(&[3.0, 1.0, 2.0]), Some((2.0, 3.0, 3.0)));
    }
}
