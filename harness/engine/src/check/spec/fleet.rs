//! The words of the herds' fleet checks (HERD-1 to HERD-5, HERD-7): how a report names each one and
//! what it expects, kept beside each other and out of the single-desktop checks' lists.

use super::{dur, CheckSpec};

impl CheckSpec {
    /// `describe` of the herds' fleet checks.
    pub(super) fn fleet_describe(&self) -> String {
        match self {
            CheckSpec::HerdBurst {
                agents,
                window_ms,
                max_percent,
            } => format!(
                "fleet: at most {max_percent} % of {agents} agents' first contacts in any {window_ms} ms after the fault"
            ),
            CheckSpec::HerdAttempts {
                agents,
                per_agent_minute,
            } => format!(
                "fleet: at most {per_agent_minute} turned-away connections per agent per minute ({agents} agents)"
            ),
            CheckSpec::HerdReturn {
                agents,
                window_ms,
                max_percent,
                site,
                from,
            } => format!(
                "fleet: at most {max_percent} % of {agents} agents' returns (SIP logins) at {site} in any {window_ms} ms after `{from}`"
            ),
            CheckSpec::HerdRounds {
                agents,
                max_percent,
            } => format!(
                "fleet: from round 4 on, at most {max_percent} % of a retry round's agents back after intervals within 250 ms ({agents} agents)"
            ),
            CheckSpec::HerdWaited { agents } => format!(
                "fleet: no server gives more overload answers within its retry delay than the {agents} agents"
            ),
            CheckSpec::HerdLoggedIn { agents, within_ms } => format!(
                "fleet: all {agents} agents logged in at the survivor within {} of the fault",
                dur(*within_ms)
            ),
            _ => String::new(),
        }
    }

    /// `expected` of the herds' fleet checks.
    pub(super) fn fleet_expected(&self) -> String {
        match self {
            CheckSpec::HerdBurst {
                agents,
                window_ms,
                max_percent,
            } => format!(
                "the {agents} agents' reconnections disperse after the first fault: no {window_ms} ms window holds more than {max_percent} % of their first contacts at a CS Proxy"
            ),
            CheckSpec::HerdAttempts {
                agents,
                per_agent_minute,
            } => format!(
                "the {agents} agents do not hammer overloaded servers: in the busiest minute, at most {per_agent_minute} connections turned away per agent"
            ),
            CheckSpec::HerdReturn {
                agents,
                window_ms,
                max_percent,
                site,
                from,
            } => format!(
                "the {agents} agents' returns to site {site} disperse after `{from}` brought it back: no {window_ms} ms window holds more than {max_percent} % of their first SIP logins there"
            ),
            CheckSpec::HerdRounds {
                agents,
                max_percent,
            } => format!(
                "the {agents} agents' retry rounds do not re-align while every site turns them away: from the fourth round on, no 250 ms slot holds more than {max_percent} % of a round's agents' intervals from beginning the round before (each agent's rounds read from the CS Proxies' overload answers to it)"
            ),
            CheckSpec::HerdWaited { agents } => format!(
                "the {agents} agents wait the delay an overloaded server asks for: each is turned away by one server at most once within that delay, so no server gives more than {agents} overload answers within it"
            ),
            CheckSpec::HerdLoggedIn { agents, within_ms } => format!(
                "every one of the {agents} agents is logged in at a SIP Server of a site the first fault left alone within {} of that fault",
                dur(*within_ms)
            ),
            _ => String::new(),
        }
    }
}
