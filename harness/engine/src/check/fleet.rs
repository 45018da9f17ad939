//! A herd's evaluation: the per-agent outcomes merged into one line per check (how many agents
//! broke it, the first one's failure) and HERD-2, the fleet check over every agent's first contact.

use std::collections::BTreeMap;

use bc_protocol::{EventKind, ServerKind};

use super::herd::{herd2_dispersed, percentile, HerdBounds};
use super::measure::Measured;
use super::{Check, Outcome, Registered, Status, Verdict};
use crate::observe::{Entry, EntryKind, SessionState};

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

/// One check over every agent: the worst status wins; a failure is the earliest one, its text
/// saying how many agents broke the check and which.
fn merge_status(per: &[(&str, &Status)]) -> Status {
    let n = per.len();
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
                "{} of {n} agents broke it ({}); first, agent {a}: {}",
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
                "{} of {n} agents ({}): {reason}",
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

/// Every check merged over the agents, and each measurement as p50, p95 and max over them.
pub fn merge(per: &[AgentOutcome]) -> Outcome {
    let first = per.first().map(|p| p.checks.len()).unwrap_or(0);
    let checks = (0..first)
        .map(|i| {
            let statuses: Vec<(&str, &Status)> = per
                .iter()
                .filter(|p| !p.outside.contains(&i))
                .filter_map(|p| p.checks.get(i).map(|c| (p.agent.as_str(), &c.status)))
                .collect();
            let status = if statuses.is_empty() {
                // A group with nobody in it: nothing was checked, which is never a pass.
                Status::NotExercised {
                    reason: "the group of agents it is about is empty".into(),
                }
            } else {
                merge_status(&statuses)
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

/// HERD-2 over the timeline: after the scenario's first fault, each agent's first registration at
/// any CS Proxy is its first contact; no 100 ms window may hold more than the declared share.
pub struct Burst {
    agents: usize,
    bounds: HerdBounds,
    fault_us: Option<i64>,
    first: BTreeMap<String, i64>,
}

impl Burst {
    /// The check for a herd of `agents`, at most `max_percent` of them per `window_ms` (every
    /// username counts: the herd's agents are the only ones logged in).
    pub fn new(agents: u32, window_ms: u64, max_percent: u32) -> Burst {
        Burst {
            agents: agents as usize,
            bounds: HerdBounds {
                window_us: window_ms as i64 * 1000,
                max_window_share: f64::from(max_percent) / 100.0,
                ..HerdBounds::default()
            },
            fault_us: None,
            first: BTreeMap::new(),
        }
    }
}

impl Check for Burst {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        match &e.kind {
            EntryKind::Fault { .. } if self.fault_us.is_none() => self.fault_us = Some(e.ts_us),
            EntryKind::Observed { event } if self.fault_us.is_some() => {
                if let (
                    ServerKind::ConfigServer,
                    EventKind::ClientRegistered {
                        user_name: Some(u), ..
                    },
                ) = (event.server, &event.kind)
                {
                    self.first.entry(u.clone()).or_insert(e.ts_us);
                }
            }
            _ => {}
        }
        Status::Pending
    }

    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn deadline_us(&self) -> Option<i64> {
        None
    }

    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        let Some(fault_us) = self.fault_us else {
            return Status::not_exercised("the scenario injected no fault");
        };
        let contacts: Vec<i64> = self.first.values().copied().collect();
        herd2_dispersed("HERD-2", self.agents, &contacts, fault_us, &self.bounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Activation, Failure};
    use crate::observe::Subject;
    use bc_protocol::{ObservedEvent, Role};

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
        assert_eq!(merge(&[hit, spared]).checks[0].status, Status::Pass);
        let mut none = agent(
            "herd0001",
            Status::NotExercised { reason: "x".into() },
            None,
        );
        none.outside = vec![0];
        let merged = merge(&[none]);
        assert!(
            matches!(&merged.checks[0].status, Status::NotExercised { reason } if reason.contains("empty")),
            "{:?}",
            merged.checks[0].status
        );
    }

    use super::super::CheckSpec;

    #[test]
    fn one_failing_agent_fails_the_check_and_is_named_with_the_first_failure() {
        let late = Failure::new("x", 2_000, "seen late");
        let early = Failure::new("x", 1_000, "seen early");
        let out = merge(&[
            agent("a", Status::Pass, Some(10)),
            agent("b", Status::Fail(late), Some(30)),
            agent("c", Status::Fail(early), None),
        ]);
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
        let pass = merge(&[
            agent("a", Status::Pass, None),
            agent("b", Status::Pass, None),
        ]);
        assert_eq!(pass.checks[0].status, Status::Pass);
        let pending = merge(&[
            agent("a", Status::Pass, None),
            agent("b", Status::Pending, None),
        ]);
        assert_eq!(pending.checks[0].status, Status::Pending);
        let names: Vec<String> = (0..12).map(|i| format!("h{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(named(&refs), "h0, h1, h2, h3, h4, h5, h6, h7 and 4 more");
    }

    fn contact(ts_us: i64, user: &str) -> Entry {
        let event = ObservedEvent {
            seq: 0,
            ts_us,
            site: "B".into(),
            server: ServerKind::ConfigServer,
            role: Role::Primary,
            conn: Some(1),
            kind: EventKind::ClientRegistered {
                client_name: "desk".into(),
                user_name: Some(user.into()),
            },
        };
        Entry {
            ts_us,
            kind: EntryKind::Observed { event },
        }
    }

    fn burst(entries: &[Entry]) -> Status {
        let st = SessionState::new(Subject {
            scenario: "s".into(),
            username: "herd".into(),
            agent_id: String::new(),
            dn: String::new(),
            sites: vec!["A".into(), "B".into()],
            uses_stat_server: false,
            client_timeout_ms: 2_000,
            rules: Vec::new(),
        });
        let mut b = Burst::new(4, 100, 50);
        for e in entries {
            b.on_entry(e, &st);
        }
        b.finish(10_000_000, &st)
    }

    #[test]
    fn first_contacts_after_the_fault_must_spread_over_windows() {
        let fault = Entry {
            ts_us: 1_000,
            kind: EntryKind::Fault {
                id: 0,
                marker: None,
                description: "kill_site A".into(),
                effects: Vec::new(),
                agents: Vec::new(),
            },
        };
        let before = contact(500, "a");
        let spread = [
            before.clone(),
            fault.clone(),
            contact(200_000, "a"),
            contact(400_000, "b"),
            contact(600_000, "c"),
            contact(650_000, "c"),
        ];
        assert_eq!(burst(&spread), Status::Pass);
        let lock_step = [
            fault,
            contact(200_000, "a"),
            contact(210_000, "b"),
            contact(220_000, "c"),
        ];
        let Status::Fail(f) = burst(&lock_step) else {
            panic!("three of four agents in one window is over 50 %")
        };
        assert!(
            f.observed.starts_with("3 of 4 first contacts (75.0 %)"),
            "{}",
            f.observed
        );
        assert!(matches!(burst(&[before]), Status::NotExercised { .. }));
    }
}
