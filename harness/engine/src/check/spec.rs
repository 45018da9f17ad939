//! Serializable descriptions of every check (expectations, invariants): what the runner registers
//! and what recorded-timeline tests replay. `build()` turns a spec into its checker.

use bc_protocol::ServerKind;
use serde::{Deserialize, Serialize};

use super::Check;

mod build;
mod class;
mod fleet;
mod words;

use words::{dur, kinds};

/// One check, with every parameter concrete (durations in ms, sites as `A`/`B`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum CheckSpec {
    /// Logged in at `site` (any one site when absent) on `servers` within `within_ms` of marker `from`.
    LoggedIn {
        /// The site; `None`: any site, with every server at that same site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<String>,
        /// Servers that must all hold a session.
        servers: Vec<ServerKind>,
        /// Deadline after the marker.
        within_ms: u64,
        /// The marker.
        from: String,
        /// Measurement name for the elapsed time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        measure: Option<String>,
    },
    /// Stays logged in at `site` on `servers` for `duration_ms`; a logout shorter than `grace_ms` is a
    /// reconnection (HA failover), a SIP login at another site fails at once.
    StaysLoggedIn {
        /// The site.
        site: String,
        /// Servers checked.
        servers: Vec<ServerKind>,
        /// Window length.
        duration_ms: u64,
        /// Longest tolerated reconnection (one logged-out gap).
        grace_ms: u64,
        /// Logged-out gaps tolerated in the window.
        max_gaps: u32,
    },
    /// No connection at `site` within `within_ms` of marker `from`.
    Disconnected {
        /// The site.
        site: String,
        /// Deadline after the marker.
        within_ms: u64,
        /// The marker.
        from: String,
    },
    /// A call to the agent answered within `within_ms` of marker `from`.
    CallAnswered {
        /// Deadline after the marker.
        within_ms: u64,
        /// The deliver_call marker.
        from: String,
        /// Measurement name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        measure: Option<String>,
    },
    /// BC-6: never live SIP logins at two peers (partitioned sessions and their heal grace excepted).
    NeverLoggedInAtBothPeers,
    /// BC-5: never holding sessions at two sites for longer than `longer_than_ms`.
    NeverSplit {
        /// Tolerance.
        longer_than_ms: u64,
    },
    /// BC-11: at most `count` switchovers in any window of `per_ms`.
    MaxSwitchovers {
        /// Allowed.
        count: u32,
        /// Window.
        per_ms: u64,
    },
    /// At most `count` same-site reconnections in any window of `per_ms` (a degraded link
    /// below the declared keep-alive timeout must not churn the sessions).
    MaxReconnects {
        /// Allowed.
        count: u32,
        /// Window.
        per_ms: u64,
    },
    /// BC-7: no DR switchover after an HA failover (until a later site-level fault).
    NoSwitchoverOnHaFailover,
    /// The desktop process does not exit before the harness stops it.
    DesktopAlive,
    /// PH-1: the agent's phone is registered at every peer within `within_ms` of its start and of
    /// each peer's return (registered only when the run has a phone).
    PhoneRegistered {
        /// The registration window after the phone's start.
        within_ms: u64,
        /// The window after a peer's return: the granted Expires plus the retry interval (a
        /// phone learns of a returned peer at its next refresh at the latest).
        return_within_ms: u64,
    },
    /// PH-2: the phone answers a delivered call within `within_ms` of the `deliver_call` step
    /// (registered at the step when the run has a phone).
    PhoneRang {
        /// The answer window.
        within_ms: u64,
    },
    /// PH-3: the phone's INVITE for `number` reaches `site`'s SIP Server peer within `within_ms`
    /// of the `phone_dials` step.
    PhoneDialed {
        /// The number dialled.
        number: String,
        /// The peer expected to receive it.
        site: String,
        /// Deadline after the step.
        within_ms: u64,
    },
    /// HERD-3 for one desktop: no connection to an overloaded server before the delay it gave.
    HonoursOverload,
    /// HERD-4 for one desktop: at most `count` connections turned away by overloaded servers in
    /// any window of `per_ms`.
    MaxAttempts {
        /// Allowed.
        count: u32,
        /// Window.
        per_ms: u64,
    },
    /// HERD-4 for one desktop: a mean pause of at least `min_mean_pause_ms` between rounds in which
    /// servers of every site turned it away, judged once `rounds` rounds were seen.
    BacksOff {
        /// Least mean pause.
        min_mean_pause_ms: u64,
        /// Fewest rounds (the first included) to judge.
        rounds: u32,
    },
    /// HERD-2: after the scenario's first fault, no `window_ms` window holds the first contacts
    /// of more than `max_percent` of the herd's `agents` (a herd's fleet check).
    HerdBurst {
        /// The herd's size.
        agents: u32,
        /// The window.
        window_ms: u64,
        /// The largest share of the agents one window may hold, percent.
        max_percent: u32,
    },
    /// HERD-7: after the step that brought `site` back (its marker `from`), no `window_ms` window
    /// holds the first contacts there of more than `max_percent` of the herd's `agents`.
    HerdReturn {
        /// The herd's size.
        agents: u32,
        /// The window.
        window_ms: u64,
        /// The largest share of the agents one window may hold, percent.
        max_percent: u32,
        /// The site that came back.
        site: String,
        /// The marker of its return.
        from: String,
    },
    /// HERD-1: by the scenario's first fault + `within_ms`, every one of the herd's `agents` is
    /// logged in at a site that fault left alone (a herd's fleet check).
    HerdLoggedIn {
        /// The herd's size.
        agents: u32,
        /// From the first fault.
        within_ms: u64,
    },
    /// HERD-3 over a herd, by count: no instance gives more overload answers within the delay it
    /// asks for than the herd's `agents` (each waiting as told gets at most one there).
    HerdWaited {
        /// The herd's size.
        agents: u32,
    },
    /// HERD-5 over a herd: from round 4 on, no 250 ms slot holds more than `max_percent` of a retry
    /// round's agents' intervals from the round before (rounds read from CS Proxy overload answers).
    HerdRounds { agents: u32, max_percent: u32 },
    /// HERD-4 over a herd: connections turned away by overloaded servers, in the busiest minute,
    /// at most `per_agent_minute` per agent of the herd's `agents` (a herd's fleet check).
    HerdAttempts {
        /// The herd's size.
        agents: u32,
        /// The bound, attempts per agent per minute.
        per_agent_minute: u32,
    },
}

impl CheckSpec {
    /// The check in suite words, used in failures and reports.
    pub fn describe(&self) -> String {
        match self {
            CheckSpec::LoggedIn {
                site,
                servers,
                within_ms,
                from,
                ..
            } => {
                let site = site.as_deref().unwrap_or("(any site)");
                format!(
                    "expect_logged_in {site} on {} within {} from marker `{from}`",
                    kinds(servers),
                    dur(*within_ms)
                )
            }
            CheckSpec::StaysLoggedIn {
                site,
                servers,
                duration_ms,
                ..
            } => {
                format!(
                    "expect_stays_logged_in {site} on {} for {}",
                    kinds(servers),
                    dur(*duration_ms)
                )
            }
            CheckSpec::Disconnected {
                site,
                within_ms,
                from,
            } => {
                format!(
                    "expect_disconnected {site} within {} from marker `{from}`",
                    dur(*within_ms)
                )
            }
            CheckSpec::CallAnswered {
                within_ms, from, ..
            } => {
                format!(
                    "expect_call_answered within {} from marker `{from}`",
                    dur(*within_ms)
                )
            }
            CheckSpec::NeverLoggedInAtBothPeers => "invariant never_logged_in_at_both_peers".into(),
            CheckSpec::NeverSplit { longer_than_ms } => {
                format!("invariant never_split longer than {}", dur(*longer_than_ms))
            }
            CheckSpec::MaxSwitchovers { count, per_ms } => {
                format!("invariant max_switchovers {count} per {}", dur(*per_ms))
            }
            CheckSpec::MaxReconnects { count, per_ms } => {
                format!("invariant max_reconnects {count} per {}", dur(*per_ms))
            }
            CheckSpec::NoSwitchoverOnHaFailover => "invariant no_switchover_on_ha_failover".into(),
            CheckSpec::DesktopAlive => "desktop keeps running".into(),
            CheckSpec::PhoneRegistered { within_ms, .. } => {
                format!("phone registered at every peer within {}", dur(*within_ms))
            }
            CheckSpec::PhoneRang { within_ms } => {
                format!("phone answers the call within {}", dur(*within_ms))
            }
            CheckSpec::PhoneDialed {
                number,
                site,
                within_ms,
            } => format!("phone_dials {number} via {site} within {}", dur(*within_ms)),
            CheckSpec::HerdBurst { .. }
            | CheckSpec::HerdAttempts { .. }
            | CheckSpec::HerdWaited { .. }
            | CheckSpec::HerdReturn { .. }
            | CheckSpec::HerdRounds { .. }
            | CheckSpec::HerdLoggedIn { .. } => self.fleet_describe(),
            CheckSpec::HonoursOverload => "invariant honours_overload".into(),
            CheckSpec::MaxAttempts { count, per_ms } => {
                format!("invariant max_attempts {count} per {}", dur(*per_ms))
            }
            CheckSpec::BacksOff {
                min_mean_pause_ms: m,
                rounds,
            } => {
                format!(
                    "invariant backs_off at least {} on average over {rounds} rounds",
                    dur(*m)
                )
            }
        }
    }

    /// What must hold, in a sentence: the `expected:` line of a failure.
    pub fn expected(&self) -> String {
        match self {
            CheckSpec::LoggedIn {
                site,
                servers,
                within_ms,
                from,
                ..
            } => {
                let at = site.as_deref().map_or("one site".into(), |s| s.to_string());
                format!(
                    "logged in at {at} on {} within {} of marker `{from}`",
                    kinds(servers),
                    dur(*within_ms)
                )
            }
            CheckSpec::StaysLoggedIn {
                site,
                servers,
                duration_ms,
                grace_ms,
                max_gaps,
            } => format!(
                "logged in at {site} on {} for {}, with at most {max_gaps} logged-out gap(s) of at most {} each and no SIP login elsewhere",
                kinds(servers),
                dur(*duration_ms),
                dur(*grace_ms)
            ),
            CheckSpec::Disconnected {
                site,
                within_ms,
                from,
            } => format!(
                "no connection left at {site} within {} of marker `{from}`",
                dur(*within_ms)
            ),
            CheckSpec::CallAnswered {
                within_ms, from, ..
            } => format!(
                "the call delivered at marker `{from}` answered within {}",
                dur(*within_ms)
            ),
            CheckSpec::NeverLoggedInAtBothPeers => {
                "never logged in on sip_server at two sites at once".into()
            }
            CheckSpec::NeverSplit { longer_than_ms } => format!(
                "never sessions at two sites at once for longer than {}",
                dur(*longer_than_ms)
            ),
            CheckSpec::MaxSwitchovers { count: 0, .. } => "no DR switchover at all".into(),
            CheckSpec::MaxSwitchovers { count, per_ms } => {
                format!("at most {count} DR switchover(s) in any {}", dur(*per_ms))
            }
            CheckSpec::MaxReconnects { count: 0, .. } => {
                "every session kept open: no reconnection at the same site".into()
            }
            CheckSpec::MaxReconnects { count, per_ms } => {
                format!("at most {count} same-site reconnection(s) in any {}", dur(*per_ms))
            }
            CheckSpec::NoSwitchoverOnHaFailover => {
                "no DR switchover after an HA failover inside the site".into()
            }
            CheckSpec::DesktopAlive => "the desktop runs until the harness stops it".into(),
            CheckSpec::PhoneRegistered {
                within_ms,
                return_within_ms,
            } => format!(
                "the phone registered at every SIP Server peer within {} of its start and within {} of each peer's return",
                dur(*within_ms),
                dur(*return_within_ms)
            ),
            CheckSpec::PhoneRang { within_ms } => format!(
                "the call rings the phone through the peer where the agent is logged in, answered within {}",
                dur(*within_ms)
            ),
            CheckSpec::PhoneDialed {
                number,
                site,
                within_ms,
            } => format!(
                "the phone's INVITE to {number} reaches the SIP Server peer at {site} within {}",
                dur(*within_ms)
            ),
            CheckSpec::HerdBurst { .. }
            | CheckSpec::HerdAttempts { .. }
            | CheckSpec::HerdWaited { .. }
            | CheckSpec::HerdReturn { .. }
            | CheckSpec::HerdRounds { .. }
            | CheckSpec::HerdLoggedIn { .. } => self.fleet_expected(),
            CheckSpec::HonoursOverload => {
                "no connection to a server that answered `overloaded` before the delay it asked for".into()
            }
            CheckSpec::MaxAttempts { count, per_ms } => format!(
                "at most {count} connection(s) turned away by overloaded servers in any {}: backing off, not hammering",
                dur(*per_ms)
            ),
            CheckSpec::BacksOff { min_mean_pause_ms: m, rounds } => {
                super::backoff::expected(&dur(*m), *rounds)
            }
        }
    }

    /// The checker.
    pub fn build(&self) -> Box<dyn Check> {
        build::checker(self)
    }
}
