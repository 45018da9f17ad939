//! What kind of check a spec is: the rule it enforces by itself, whether it is the desktop-alive
//! guard, whether it is a scenario-long invariant.

use super::CheckSpec;

impl CheckSpec {
    /// The rule the check enforces by itself, whatever scenario uses it.
    pub fn own_rule(&self) -> Option<&'static str> {
        match self {
            CheckSpec::NeverLoggedInAtBothPeers => Some("BC-6"),
            CheckSpec::NeverSplit { .. } => Some("BC-5"),
            CheckSpec::NoSwitchoverOnHaFailover => Some("BC-7"),
            CheckSpec::PhoneRegistered { .. } => Some("PH-1"),
            CheckSpec::PhoneRang { .. } => Some("PH-2"),
            CheckSpec::PhoneDialed { .. } => Some("PH-3"),
            CheckSpec::HerdLoggedIn { .. } => Some("HERD-1"),
            CheckSpec::HerdBurst { .. } => Some("HERD-2"),
            CheckSpec::HerdReturn { .. } => Some("HERD-7"),
            CheckSpec::HerdRounds { .. } => Some("HERD-5"),
            CheckSpec::HonoursOverload | CheckSpec::HerdWaited { .. } => Some("HERD-3"),
            CheckSpec::MaxAttempts { .. }
            | CheckSpec::BacksOff { .. }
            | CheckSpec::HerdAttempts { .. } => Some("HERD-4"),
            _ => None,
        }
    }

    /// True for the desktop-alive guard, which every scenario has: it does not count when telling
    /// whether a scenario exercised anything.
    pub fn is_guard(&self) -> bool {
        matches!(self, CheckSpec::DesktopAlive)
    }

    /// True for scenario-long invariants (active from the start).
    pub fn is_invariant(&self) -> bool {
        matches!(
            self,
            CheckSpec::NeverLoggedInAtBothPeers
                | CheckSpec::NeverSplit { .. }
                | CheckSpec::MaxSwitchovers { .. }
                | CheckSpec::MaxReconnects { .. }
                | CheckSpec::NoSwitchoverOnHaFailover
                | CheckSpec::PhoneRegistered { .. }
                | CheckSpec::DesktopAlive
                | CheckSpec::HerdBurst { .. }
                | CheckSpec::HerdLoggedIn { .. }
                | CheckSpec::HerdAttempts { .. }
                | CheckSpec::HerdWaited { .. }
                | CheckSpec::HerdReturn { .. }
                | CheckSpec::HerdRounds { .. }
                | CheckSpec::HonoursOverload
                | CheckSpec::MaxAttempts { .. }
                | CheckSpec::BacksOff { .. }
        )
    }
}
