//! A herd's evaluation: the per-agent outcomes merged into one line per check (how many agents
//! broke it, the first one's failure), and the fleet checks over all of them: HERD-2 over every
//! agent's first contact (here), HERD-1 over their logins at the survivor (`survivor`),
//! HERD-3 over the overload answers by count (`waited`), HERD-4 over the connections servers
//! turned away (`hammer`).

use std::collections::BTreeMap;

use bc_protocol::{EventKind, ServerKind};

use super::herd::{herd2_dispersed, HerdBounds};
use super::{Check, Status};
use crate::observe::{Entry, EntryKind, SessionState};

mod group;
mod hammer;
mod merge;
mod survivor;
mod waited;

pub use group::Group;
pub use hammer::Hammer;
pub use merge::{merge, named_list, AgentOutcome};
pub use survivor::Survivor;
pub use waited::Waited;

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

    fn contact(ts_us: i64, user: &str) -> Entry {
        let kind = EventKind::ClientRegistered {
            client_name: "desk".into(),
            user_name: Some(user.into()),
        };
        crate::check::test_observed(ts_us, "B", kind)
    }

    fn burst(entries: &[Entry]) -> Status {
        let st = crate::check::test_state("herd");
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
