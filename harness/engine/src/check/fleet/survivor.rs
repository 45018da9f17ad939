//! HERD-1 as a herd's fleet check: by the scenario's first fault + `within`, every agent is logged
//! in at a site that fault left alone, with the switchover p50 / p95 / max of those that moved.

use std::collections::{BTreeMap, BTreeSet};

use bc_protocol::{EventKind, ServerKind};

use crate::check::herd::{herd1_logged_in, switchover_percentiles, HerdBounds};
use crate::check::{Check, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// The fleet check over the SIP Servers' agent logins and logouts (the herd's agents are the only
/// ones logged in, so every agent id counts).
pub struct Survivor {
    agents: usize,
    within_us: i64,
    /// The first fault: when, and the sites its effects touched.
    fault: Option<(i64, BTreeSet<String>)>,
    /// Each agent id's sites where it is logged in now.
    at: BTreeMap<String, BTreeSet<String>>,
    /// Each agent's first login at a survivor after the fault.
    moved: BTreeMap<String, i64>,
    /// How many agents are logged in at a survivor now, kept as logins and logouts come: counting
    /// them over every agent at every entry was most of a 2,000-agent floor's evaluation.
    ready: usize,
    result: Option<[i64; 3]>,
}

impl Survivor {
    /// The check for a herd of `agents`, due `within_ms` after the first fault.
    pub fn new(agents: u32, within_ms: u64) -> Survivor {
        Survivor {
            agents: agents as usize,
            within_us: within_ms as i64 * 1000,
            fault: None,
            at: BTreeMap::new(),
            moved: BTreeMap::new(),
            ready: 0,
            result: None,
        }
    }

    fn faulted(&self, site: &str) -> bool {
        self.fault.as_ref().is_some_and(|(_, s)| s.contains(site))
    }

    /// Agents logged in at a survivor now, counted over every agent (once, when the fault comes).
    fn in_at_survivor(&self) -> usize {
        self.at.keys().filter(|a| self.is_ready(a)).count()
    }

    /// Whether `agent` is logged in at a survivor now.
    fn is_ready(&self, agent: &str) -> bool {
        self.at
            .get(agent)
            .is_some_and(|sites| sites.iter().any(|s| !self.faulted(s)))
    }

    /// Applies a change to one agent's sites, keeping `ready` in step.
    fn change(&mut self, agent: &str, apply: impl FnOnce(&mut BTreeSet<String>)) {
        let before = self.is_ready(agent);
        apply(self.at.entry(agent.to_string()).or_default());
        match (before, self.is_ready(agent)) {
            (false, true) => self.ready += 1,
            (true, false) => self.ready -= 1,
            _ => {}
        }
    }

    fn decide(&mut self, now_us: i64) -> Status {
        let Some((fault_us, _)) = self.fault else {
            return Status::Pending;
        };
        let deadline = fault_us + self.within_us;
        let ready = self.ready;
        if ready < self.agents && now_us < deadline {
            return Status::Pending;
        }
        self.result = Some(switchover_percentiles(&self.moved, fault_us));
        // Agents that were already at a survivor count as made it, without a switchover time.
        let stayed = ready.saturating_sub(self.moved.len());
        herd1_logged_in(
            self.agents,
            &self.moved,
            stayed,
            fault_us,
            deadline,
            &HerdBounds::default(),
        )
    }
}

impl Check for Survivor {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        match &e.kind {
            EntryKind::Fault { effects, .. } if self.fault.is_none() => {
                let sites = effects.iter().map(|f| f.target.site.clone()).collect();
                self.fault = Some((e.ts_us, sites));
                self.ready = self.in_at_survivor();
            }
            EntryKind::Observed { event } if event.server == ServerKind::SipServer => {
                match &event.kind {
                    EventKind::AgentLogin { agent_id, .. } => {
                        self.change(agent_id, |sites| {
                            sites.insert(event.site.clone());
                        });
                        if self.fault.is_some() && !self.faulted(&event.site) {
                            self.moved.entry(agent_id.clone()).or_insert(e.ts_us);
                        }
                    }
                    EventKind::AgentLogout { agent_id, .. } if self.at.contains_key(agent_id) => {
                        self.change(agent_id, |sites| {
                            sites.remove(&event.site);
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if self.fault.is_some() && self.ready >= self.agents {
            return self.decide(e.ts_us);
        }
        Status::Pending
    }

    fn on_time(&mut self, now_us: i64, _st: &SessionState) -> Status {
        self.decide(now_us)
    }

    fn deadline_us(&self) -> Option<i64> {
        self.fault.as_ref().map(|(t, _)| t + self.within_us)
    }

    fn finish(&mut self, end_us: i64, st: &SessionState) -> Status {
        if self.fault.is_none() {
            return Status::not_exercised("the scenario injected no fault");
        }
        match self.decide(end_us) {
            Status::Pending => {
                Status::at_end(st, Some("the scenario ended before HERD-1's deadline"))
            }
            s => s,
        }
    }

    fn measurement(&self) -> Option<(String, Option<i64>)> {
        let [_, p95, _] = self.result?;
        Some(("herd switchover p95".into(), Some(p95)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{Change, Effect, Target};

    fn kill_a(ts_us: i64) -> Entry {
        Entry {
            ts_us,
            kind: EntryKind::Fault {
                id: 0,
                marker: None,
                description: "kill_site A".into(),
                effects: vec![Effect {
                    target: Target::site("A"),
                    change: Change::Killed,
                }],
                agents: Vec::new(),
            },
        }
    }

    fn login(ts_us: i64, site: &str, agent: &str) -> Entry {
        let mut e = crate::check::test_observed(
            ts_us,
            site,
            EventKind::AgentLogin {
                dn: "7001".into(),
                agent_id: agent.into(),
                state: bc_protocol::AgentState::Ready,
            },
        );
        if let EntryKind::Observed { event } = &mut e.kind {
            event.server = ServerKind::SipServer;
        }
        e
    }

    fn run(entries: &[Entry], end_us: i64) -> Status {
        let st = crate::check::test_state("herd");
        let mut c = Survivor::new(3, 10_000);
        for e in entries {
            let s = c.on_entry(e, &st);
            if s.is_decided() {
                return s;
            }
        }
        match c.on_time(end_us, &st) {
            Status::Pending => c.finish(end_us, &st),
            s => s,
        }
    }

    #[test]
    fn every_agent_at_a_survivor_passes_as_soon_as_the_last_arrives() {
        let floor = [
            login(0, "A", "a1"),
            login(0, "A", "a2"),
            login(0, "B", "a3"),
            kill_a(1_000_000),
            login(3_000_000, "B", "a1"),
            login(4_000_000, "B", "a2"),
        ];
        assert_eq!(run(&floor, 20_000_000), Status::Pass);
    }

    #[test]
    fn an_agent_missing_at_the_deadline_fails_with_the_share_and_percentiles() {
        let floor = [
            login(0, "A", "a1"),
            login(0, "A", "a2"),
            login(0, "B", "a3"),
            kill_a(1_000_000),
            login(3_000_000, "B", "a1"),
            login(12_000_000, "B", "a2"),
        ];
        let Status::Fail(f) = run(&floor, 11_000_000) else {
            panic!("a2 was late")
        };
        assert!(
            f.observed
                .starts_with("2/3 agents (66.7 %) logged in at the survivor"),
            "{}",
            f.observed
        );
        assert!(f.observed.contains("max 2.000s"), "{}", f.observed);
        assert_eq!(f.deadline_us, Some(11_000_000));
    }

    #[test]
    fn no_fault_is_not_exercised() {
        let floor = [login(0, "A", "a1")];
        assert!(matches!(
            run(&floor, 5_000_000),
            Status::NotExercised { .. }
        ));
    }
}
