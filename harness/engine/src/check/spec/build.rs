//! Each check spec's checker: the one place a spec becomes the incremental check that judges it.

use super::CheckSpec;
use crate::check::{alive, attempts, backoff, expect, fleet, invariant, overload, phone, Check};

/// The checker of `spec`.
pub(super) fn checker(spec: &CheckSpec) -> Box<dyn Check> {
    let name = spec.describe();
    match spec.clone() {
        CheckSpec::LoggedIn {
            site,
            servers,
            within_ms,
            from,
            measure,
        } => Box::new(expect::LoggedIn::new(
            name, site, servers, within_ms, from, measure,
        )),
        CheckSpec::StaysLoggedIn {
            site,
            servers,
            duration_ms,
            grace_ms,
            max_gaps,
        } => Box::new(expect::StaysLoggedIn::new(
            name,
            site,
            servers,
            duration_ms,
            (grace_ms, max_gaps),
        )),
        CheckSpec::Disconnected {
            site,
            within_ms,
            from,
        } => Box::new(expect::Disconnected::new(name, site, within_ms, from)),
        CheckSpec::CallAnswered {
            within_ms,
            from,
            measure,
        } => Box::new(expect::CallAnswered::new(name, within_ms, from, measure)),
        CheckSpec::NeverLoggedInAtBothPeers => Box::new(invariant::NeverBothPeers::new(name)),
        CheckSpec::NeverSplit { longer_than_ms } => {
            Box::new(invariant::NeverSplit::new(name, longer_than_ms))
        }
        CheckSpec::MaxSwitchovers { count, per_ms } => {
            Box::new(invariant::MaxInWindow::switchovers(name, count, per_ms))
        }
        CheckSpec::MaxReconnects { count, per_ms } => {
            Box::new(invariant::MaxInWindow::reconnects(name, count, per_ms))
        }
        CheckSpec::NoSwitchoverOnHaFailover => Box::new(invariant::NoSwitchoverOnHa::new(name)),
        CheckSpec::DesktopAlive => Box::new(alive::DesktopAlive::new(name)),
        CheckSpec::PhoneRegistered {
            within_ms,
            return_within_ms,
        } => Box::new(phone::PhoneRegistered::new(
            name,
            within_ms,
            return_within_ms,
        )),
        CheckSpec::PhoneRang { within_ms } => Box::new(phone::PhoneRang::new(name, within_ms)),
        CheckSpec::PhoneDialed {
            number,
            site,
            within_ms,
        } => Box::new(phone::PhoneDialed::new(name, number, site, within_ms)),
        CheckSpec::HerdBurst {
            agents,
            window_ms,
            max_percent,
        } => Box::new(fleet::Burst::new(agents, window_ms, max_percent)),
        CheckSpec::HerdLoggedIn { agents, within_ms } => {
            Box::new(fleet::Survivor::new(agents, within_ms))
        }
        CheckSpec::HerdReturn {
            agents,
            window_ms,
            max_percent,
            site,
            from,
        } => Box::new(fleet::Burst::returning(
            agents,
            window_ms,
            max_percent,
            &site,
            &from,
        )),
        CheckSpec::HerdWaited { agents } => Box::new(fleet::Waited::new(agents)),
        CheckSpec::HerdRounds {
            agents,
            max_percent,
        } => Box::new(fleet::Rounds::new(agents, max_percent)),
        CheckSpec::HerdAttempts {
            agents,
            per_agent_minute,
        } => Box::new(fleet::Hammer::new(agents, per_agent_minute)),
        CheckSpec::HonoursOverload => Box::new(overload::HonoursOverload::new()),
        CheckSpec::MaxAttempts { count, per_ms } => {
            Box::new(attempts::MaxAttempts::new(name, count, per_ms))
        }
        CheckSpec::BacksOff {
            min_mean_pause_ms,
            rounds,
        } => Box::new(backoff::BacksOff::new(name, min_mean_pause_ms, rounds)),
    }
}
