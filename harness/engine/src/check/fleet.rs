//! A herd's evaluation: the per-agent outcomes merged into one line per check (how many agents
//! broke it, the first one's failure), and the fleet checks over all of them: HERD-2 over every
//! agent's first contact (here), HERD-1 over their logins at the survivor (`survivor`),
//! HERD-3 over the overload answers by count (`waited`), HERD-4 over the connections servers
//! turned away (`hammer`), HERD-5 over the agents' retry rounds (`rounds`).

use std::collections::BTreeMap;

use bc_protocol::{EventKind, ServerKind};

use super::herd::{herd2_dispersed, HerdBounds};
use super::{Check, Status};
use crate::observe::{Entry, EntryKind, SessionState};

mod group;
mod hammer;
mod merge;
mod rounds;
mod survivor;
pub mod synth;
mod waited;

pub use group::Group;
pub use hammer::Hammer;
pub use merge::{merge, named_list, AgentOutcome};
pub use rounds::Rounds;
pub use survivor::Survivor;
pub use waited::Waited;

/// HERD-2 over the timeline: after the scenario's first fault, each agent's first registration at
/// any CS Proxy is its first contact; no 100 ms window may hold more than the declared share.
/// HERD-7 is the same measure after a site's return, over the agents' SIP logins at that site.
pub struct Burst {
    agents: usize,
    bounds: HerdBounds,
    anchor: Anchor,
    fault_us: Option<i64>,
    first: BTreeMap<String, i64>,
}

/// What the first contacts are counted after.
enum Anchor {
    /// HERD-2: the scenario's first fault; contacts at any site.
    FirstFault,
    /// HERD-7: the marker of a site's return; the agents' SIP logins at that site.
    Return { marker: String, site: String },
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
            anchor: Anchor::FirstFault,
            fault_us: None,
            first: BTreeMap::new(),
        }
    }

    /// HERD-7: the same bound on the first contacts at `site` after the marker `marker` (the
    /// step that brought the site back).
    pub fn returning(
        agents: u32,
        window_ms: u64,
        max_percent: u32,
        site: &str,
        marker: &str,
    ) -> Burst {
        Burst {
            anchor: Anchor::Return {
                marker: marker.to_string(),
                site: site.to_string(),
            },
            ..Burst::new(agents, window_ms, max_percent)
        }
    }
}

impl Check for Burst {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        match (&e.kind, &self.anchor) {
            (EntryKind::Fault { .. }, Anchor::FirstFault) if self.fault_us.is_none() => {
                self.fault_us = Some(e.ts_us)
            }
            (EntryKind::Marker { name }, Anchor::Return { marker, .. })
                if self.fault_us.is_none() && name == marker =>
            {
                self.fault_us = Some(e.ts_us)
            }
            // A return is the agent's SIP login at the site: a desktop that fails back may probe
            // the site (registrations) long before it returns, and a probe is not a return.
            (EntryKind::Observed { event }, Anchor::Return { site, .. })
                if self.fault_us.is_some() =>
            {
                if let (ServerKind::SipServer, EventKind::AgentLogin { agent_id, .. }) =
                    (event.server, &event.kind)
                {
                    if event.site == *site {
                        self.first.entry(agent_id.clone()).or_insert(e.ts_us);
                    }
                }
            }
            (EntryKind::Observed { event }, Anchor::FirstFault) if self.fault_us.is_some() => {
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
        let contacts: Vec<i64> = self.first.values().copied().collect();
        match (&self.anchor, self.fault_us) {
            (Anchor::FirstFault, None) => Status::not_exercised("the scenario injected no fault"),
            (Anchor::FirstFault, Some(at)) => {
                herd2_dispersed("HERD-2", self.agents, &contacts, at, &self.bounds)
            }
            (Anchor::Return { marker, .. }, None) => {
                Status::not_exercised(format!("the marker `{marker}` was never set"))
            }
            (Anchor::Return { site, marker }, Some(_)) if contacts.is_empty() => {
                Status::not_exercised(format!(
                    "no agent came back to site {site} after `{marker}`"
                ))
            }
            (Anchor::Return { .. }, Some(at)) => {
                herd2_dispersed("HERD-7", self.agents, &contacts, at, &self.bounds)
            }
        }
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

    #[test]
    fn a_return_counts_the_first_contacts_at_the_returned_site_after_its_marker() {
        let st = crate::check::test_state("herd");
        let judge = |entries: &[Entry]| {
            let mut b = Burst::returning(4, 100, 50, "A", "back");
            for e in entries {
                b.on_entry(e, &st);
            }
            b.finish(10_000_000, &st)
        };
        let back = Entry {
            ts_us: 1_000,
            kind: EntryKind::Marker {
                name: "back".into(),
            },
        };
        let at_a = |ts, u: &str| {
            let kind = EventKind::AgentLogin {
                dn: String::new(),
                agent_id: u.into(),
                state: bc_protocol::AgentState::Ready,
            };
            let mut e = crate::check::test_observed(ts, "A", kind);
            if let EntryKind::Observed { event } = &mut e.kind {
                event.server = ServerKind::SipServer;
            }
            e
        };
        // Three agents' registrations at A (probes) in one window do not count; their logins at A
        // are spread.
        let probe_at_a = |ts, u: &str| {
            let kind = EventKind::ClientRegistered {
                client_name: "desk".into(),
                user_name: Some(u.into()),
            };
            crate::check::test_observed(ts, "A", kind)
        };
        let spread = [
            back.clone(),
            probe_at_a(200_000, "a"),
            probe_at_a(201_000, "b"),
            probe_at_a(202_000, "c"),
            at_a(300_000, "a"),
            at_a(700_000, "b"),
        ];
        assert_eq!(judge(&spread), Status::Pass);
        let lock_step = [
            back.clone(),
            at_a(300_000, "a"),
            at_a(301_000, "b"),
            at_a(302_000, "c"),
        ];
        let Status::Fail(f) = judge(&lock_step) else {
            panic!("three of four returns in one window")
        };
        assert!(f.check.starts_with("HERD-7"), "{}", f.check);
        assert!(
            f.observed.ends_with("after the site's return"),
            "{}",
            f.observed
        );
        assert!(matches!(judge(&[back]), Status::NotExercised { .. }));
        assert!(matches!(
            judge(&[at_a(5, "a")]),
            Status::NotExercised { .. }
        ));
    }
}
