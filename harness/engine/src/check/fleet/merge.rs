//! A herd's per-agent outcomes merged into one line per check: the worst status wins, a failure
//! says how many agents broke the check and which, measurements become p50 / p95 / max.

use std::collections::{BTreeMap, HashMap};

use super::super::herd::percentile;
use super::super::measure::Measured;
use super::super::{Outcome, Registered, Status, Verdict};
use super::Group;

/// Agents named in a merged line before "and N more".
const NAMED_AGENTS: usize = 8;

/// One agent's conclusions.
pub struct AgentOutcome {
    /// The agent's username.
    pub agent: String,
    /// Its checks, in the order every lane registered them.
    pub checks: Vec<Registered>,
    /// Its measurements.
    pub measurements: Vec<Measured>,
    /// Checks (by position) about other agents only (`agents: hit|spared`): not merged for it.
    pub outside: Vec<usize>,
}

/// Agent names for a text line: the first few, then "and N more".
pub fn named_list(agents: &[String]) -> String {
    named(&agents.iter().map(String::as_str).collect::<Vec<_>>())
}

fn named(agents: &[&str]) -> String {
    let mut s = agents
        .iter()
        .take(NAMED_AGENTS)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if agents.len() > NAMED_AGENTS {
        s.push_str(&format!(" and {} more", agents.len() - NAMED_AGENTS));
    }
    s
}

/// The agents a merged check was about, for its text: `3 agents`, or for a group of a herd of
/// `total`, `the 3 agents hit by `cut` (of 40)`.
fn whom(n: usize, group: Option<(&Group, usize)>) -> String {
    match group {
        None => format!("{n} agents"),
        Some((g, total)) => format!("the {n} {g} (of {total})"),
    }
}

/// One check over every agent (of its group, if it names one): the worst status wins; a failure
/// is the earliest one, its text saying how many agents broke the check, which, and of whom.
fn merge_status(per: &[(&str, &Status)], group: Option<(&Group, usize)>) -> Status {
    let n = per.len();
    let whom = whom(n, group);
    let worst = per
        .iter()
        .map(|(_, s)| s.verdict())
        .max()
        .unwrap_or(Verdict::Pass);
    let of = |f: fn(&Status) -> bool| -> Vec<&str> {
        per.iter().filter(|(_, s)| f(s)).map(|(a, _)| *a).collect()
    };
    match worst {
        Verdict::Error => {
            let (a, s) = per
                .iter()
                .find(|(_, s)| matches!(s, Status::Error { .. }))
                .expect("an error is there");
            let Status::Error { reason } = s else {
                unreachable!()
            };
            Status::Error {
                reason: format!("agent {a}: {reason}"),
            }
        }
        Verdict::Fail => {
            let failed = of(|s| matches!(s, Status::Fail(_)));
            let (a, first) = per
                .iter()
                .filter_map(|(a, s)| match s {
                    Status::Fail(f) => Some((*a, f)),
                    _ => None,
                })
                .min_by_key(|(_, f)| f.at_us)
                .expect("a failure is there");
            let mut f = first.clone();
            f.observed = format!(
                "{} of {whom} broke it ({}); first, agent {a}: {}",
                failed.len(),
                named(&failed),
                f.observed
            );
            if let Some(after) = &mut f.after {
                *after = format!("agent {a}: {after}");
            }
            Status::Fail(f)
        }
        Verdict::Inconclusive => {
            let unknown = of(|s| matches!(s, Status::Unknown { .. }));
            let reason = per
                .iter()
                .find_map(|(_, s)| match s {
                    Status::Unknown { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            Status::unknown(format!(
                "{} of {whom} ({}): {reason}",
                unknown.len(),
                named(&unknown)
            ))
        }
        _ => {
            if per.iter().any(|(_, s)| !s.is_decided()) {
                Status::Pending
            } else if per.iter().any(|(_, s)| matches!(s, Status::Pass)) {
                Status::Pass
            } else {
                per.first()
                    .map(|(_, s)| (*s).clone())
                    .unwrap_or(Status::Pending)
            }
        }
    }
}

/// Every check merged over the agents (those of its group, by check position in `groups`), and
/// each measurement as p50, p95 and max over them.
pub fn merge(per: &[AgentOutcome], groups: &HashMap<usize, Group>) -> Outcome {
    let first = per.first().map(|p| p.checks.len()).unwrap_or(0);
    let checks = (0..first)
        .map(|i| {
            let statuses: Vec<(&str, &Status)> = per
                .iter()
                .filter(|p| !p.outside.contains(&i))
                .filter_map(|p| p.checks.get(i).map(|c| (p.agent.as_str(), &c.status)))
                .collect();
            let group = groups.get(&i).map(|g| (g, per.len()));
            let status = match (statuses.is_empty(), group) {
                // A group with nobody in it: nothing was checked, which is never a pass.
                (true, Some((g, total))) => Status::NotExercised {
                    reason: format!("none of the {total} agents is among the {g}"),
                },
                (true, None) => Status::NotExercised {
                    reason: "the group of agents it is about is empty".into(),
                },
                (false, _) => merge_status(&statuses, group),
            };
            Registered {
                status,
                ..per[0].checks[i].clone()
            }
        })
        .collect();
    let mut by_name: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for m in per.iter().flat_map(|p| &p.measurements) {
        if !by_name.contains_key(m.name.as_str()) {
            order.push(&m.name);
        }
        let v = by_name.entry(&m.name).or_default();
        v.extend(m.micros);
    }
    let mut measurements = Vec::new();
    for name in order {
        let mut v = by_name.remove(name).unwrap_or_default();
        v.sort_unstable();
        measurements.push(Measured {
            name: format!("{name} p50"),
            micros: (!v.is_empty()).then(|| percentile(&v, 50)),
        });
        measurements.push(Measured {
            name: format!("{name} p95"),
            micros: (!v.is_empty()).then(|| percentile(&v, 95)),
        });
        measurements.push(Measured {
            name: format!("{name} max"),
            micros: v.last().copied(),
        });
    }
    Outcome {
        verdict: Verdict::Pass,
        checks,
        measurements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Activation, Failure};

    fn reg(status: Status) -> Registered {
        Registered {
            spec: CheckSpec::DesktopAlive,
            activation: Activation::Start,
            status,
        }
    }

    fn agent(name: &str, status: Status, micros: Option<i64>) -> AgentOutcome {
        AgentOutcome {
            agent: name.into(),
            checks: vec![reg(status)],
            measurements: vec![Measured {
                name: "switchover".into(),
                micros,
            }],
            outside: Vec::new(),
        }
    }

    #[test]
    fn a_check_about_some_agents_merges_theirs_and_is_not_exercised_for_nobody() {
        let mut spared = agent(
            "herd0002",
            Status::NotExercised {
                reason: "about other agents".into(),
            },
            None,
        );
        spared.outside = vec![0];
        let hit = agent("herd0001", Status::Pass, Some(1_000));
        let groups = HashMap::from([(0, Group::Hit(vec!["cut".into()]))]);
        assert_eq!(
            merge(&[hit, spared], &groups).checks[0].status,
            Status::Pass
        );
        let mut none = agent(
            "herd0001",
            Status::NotExercised { reason: "x".into() },
            None,
        );
        none.outside = vec![0];
        let spared = HashMap::from([(0, Group::Spared(vec!["cut".into()]))]);
        let merged = merge(&[none], &spared);
        assert_eq!(
            merged.checks[0].status,
            Status::NotExercised {
                reason: "none of the 1 agents is among the agents spared by `cut`".into()
            }
        );
    }

    #[test]
    fn a_failure_about_a_group_says_which_group_and_of_how_many() {
        let late = Failure::new("x", 2_000, "seen late");
        let mut spared = agent("herd0003", Status::Pass, None);
        spared.outside = vec![0];
        let out = merge(
            &[
                agent("herd0001", Status::Fail(late), None),
                agent("herd0002", Status::Pass, None),
                spared,
            ],
            &HashMap::from([(0, Group::Hit(vec!["cut".into()]))]),
        );
        let Status::Fail(f) = &out.checks[0].status else {
            panic!("{:?}", out.checks[0].status)
        };
        assert_eq!(
            f.observed,
            "1 of the 2 agents hit by `cut` (of 3) broke it (herd0001); first, agent herd0001: seen late"
        );
    }

    use crate::check::CheckSpec;

    #[test]
    fn one_failing_agent_fails_the_check_and_is_named_with_the_first_failure() {
        let late = Failure::new("x", 2_000, "seen late");
        let early = Failure::new("x", 1_000, "seen early");
        let out = merge(
            &[
                agent("a", Status::Pass, Some(10)),
                agent("b", Status::Fail(late), Some(30)),
                agent("c", Status::Fail(early), None),
            ],
            &HashMap::new(),
        );
        let Status::Fail(f) = &out.checks[0].status else {
            panic!("{:?}", out.checks[0].status)
        };
        assert_eq!(
            f.observed,
            "2 of 3 agents broke it (b, c); first, agent c: seen early"
        );
        let m: Vec<(&str, Option<i64>)> = out
            .measurements
            .iter()
            .map(|m| (m.name.as_str(), m.micros))
            .collect();
        assert_eq!(
            m,
            [
                ("switchover p50", Some(10)),
                ("switchover p95", Some(30)),
                ("switchover max", Some(30))
            ]
        );
    }

    #[test]
    fn a_check_passes_when_every_agent_passed_and_waits_while_one_is_pending() {
        let pass = merge(
            &[
                agent("a", Status::Pass, None),
                agent("b", Status::Pass, None),
            ],
            &HashMap::new(),
        );
        assert_eq!(pass.checks[0].status, Status::Pass);
        let pending = merge(
            &[
                agent("a", Status::Pass, None),
                agent("b", Status::Pending, None),
            ],
            &HashMap::new(),
        );
        assert_eq!(pending.checks[0].status, Status::Pending);
        let names: Vec<String> = (0..12).map(|i| format!("h{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(named(&refs), "h0, h1, h2, h3, h4, h5, h6, h7 and 4 more");
    }
}
