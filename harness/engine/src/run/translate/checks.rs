//! Expectation steps, invariants and measurements of a planned scenario as check specs: the
//! checks it registers at its start and at each expectation step.

use bc_protocol::ServerKind;
use bc_suite::{Action, Capability, PlannedObservation, PlannedScenario};

use crate::check::{CheckSpec, MeasureSpec, Until};
use crate::run::DeclaredTimers;

/// The servers "logged in" means for this run: CS Proxy and SIP Server, plus Stat Server when the
/// topology has it and the desktop declares it uses it.
pub fn default_servers(sc: &PlannedScenario, caps: &[Capability]) -> Vec<ServerKind> {
    let mut v = vec![ServerKind::ConfigServer, ServerKind::SipServer];
    if sc.stat_server && caps.contains(&Capability::StatServer) {
        v.push(ServerKind::StatServer);
    }
    v
}

fn kinds(v: &Option<Vec<bc_suite::ServerKind>>, default: Vec<ServerKind>) -> Vec<ServerKind> {
    v.as_ref().map(|v| v.to_vec()).unwrap_or(default)
}

/// How long one logged-out gap may last: what the desktop's declared timers allow, within the
/// budget; without declared timers, the budget (a reconnection must at least end within it).
pub fn gap_grace_ms(sc: &PlannedScenario, timers: Option<DeclaredTimers>) -> u64 {
    let budget_ms = sc.budget.as_millis() as u64;
    timers.map_or(budget_ms, |t| {
        (t.gap_grace().as_millis() as u64).min(budget_ms)
    })
}

/// The check an expectation step registers, or `None` for other steps.
pub fn expectation(
    a: &Action,
    sc: &PlannedScenario,
    caps: &[Capability],
    timers: Option<DeclaredTimers>,
) -> Option<CheckSpec> {
    Some(match a {
        Action::ExpectLoggedIn {
            site,
            servers,
            within,
            from,
            measure,
        } => CheckSpec::LoggedIn {
            site: site.map(|s| s.as_str().to_string()),
            servers: kinds(servers, default_servers(sc, caps)),
            within_ms: within.as_millis() as u64,
            from: from.clone(),
            measure: measure.clone(),
        },
        Action::ExpectStaysLoggedIn {
            site,
            duration,
            servers,
            gaps,
        } => CheckSpec::StaysLoggedIn {
            site: site.as_str().to_string(),
            servers: kinds(
                servers,
                vec![ServerKind::ConfigServer, ServerKind::SipServer],
            ),
            duration_ms: duration.as_millis() as u64,
            grace_ms: gap_grace_ms(sc, timers),
            max_gaps: *gaps,
        },
        Action::ExpectDisconnected { site, within, from } => CheckSpec::Disconnected {
            site: site.as_str().to_string(),
            within_ms: within.as_millis() as u64,
            from: from.clone(),
        },
        Action::ExpectCallAnswered {
            within,
            from,
            measure,
        } => CheckSpec::CallAnswered {
            within_ms: within.as_millis() as u64,
            from: from.clone(),
            measure: measure.clone(),
        },
        _ => return None,
    })
}

/// The scenario-long checks: the suite's invariants, BC-7 when an HA step is part of a BC-7
/// scenario, and the desktop staying alive.
pub fn invariants(sc: &PlannedScenario) -> Vec<CheckSpec> {
    let mut v = vec![CheckSpec::DesktopAlive];
    for i in &sc.invariants {
        v.push(match i {
            bc_suite::PlannedInvariant::NeverLoggedInAtBothPeers => {
                CheckSpec::NeverLoggedInAtBothPeers
            }
            bc_suite::PlannedInvariant::HonoursOverload => CheckSpec::HonoursOverload,
            bc_suite::PlannedInvariant::NeverSplit { longer_than } => CheckSpec::NeverSplit {
                longer_than_ms: longer_than.as_millis() as u64,
            },
            bc_suite::PlannedInvariant::MaxSwitchovers { count, per } => {
                CheckSpec::MaxSwitchovers {
                    count: *count,
                    per_ms: per.as_millis() as u64,
                }
            }
            bc_suite::PlannedInvariant::MaxAttempts { count, per } => CheckSpec::MaxAttempts {
                count: *count,
                per_ms: per.as_millis() as u64,
            },
            bc_suite::PlannedInvariant::BacksOff {
                min_mean_pause,
                rounds,
            } => CheckSpec::BacksOff {
                min_mean_pause_ms: min_mean_pause.as_millis() as u64,
                rounds: *rounds,
            },
            bc_suite::PlannedInvariant::MaxReconnects { count, per } => CheckSpec::MaxReconnects {
                count: *count,
                per_ms: per.as_millis() as u64,
            },
        });
    }
    let ha = sc.steps.iter().any(|s| {
        matches!(
            s.action,
            Action::HaFailover { .. } | Action::HaSwitchover { .. }
        )
    });
    if ha && sc.rules.contains(&bc_suite::RuleId::Bc7) {
        v.push(CheckSpec::NoSwitchoverOnHaFailover);
    }
    v
}

/// Switchover and detection times, plus the suite's named measurements (those not tied to an
/// expectation's `measure:`, which the expectation reports itself).
pub fn measurements(sc: &PlannedScenario, caps: &[Capability]) -> Vec<MeasureSpec> {
    let mut v = vec![MeasureSpec::Switchover, MeasureSpec::Detection];
    for m in sc.measurements.iter().filter(|m| m.step.is_none()) {
        let until = match m.until {
            PlannedObservation::LoggedIn(s) => Until::LoggedIn {
                site: s.map(|s| s.as_str().into()),
                servers: default_servers(sc, caps),
            },
            PlannedObservation::FirstContact(s) => Until::FirstContact {
                site: s.as_str().into(),
            },
            PlannedObservation::Disconnected(s) => Until::Disconnected {
                site: s.as_str().into(),
            },
            PlannedObservation::CallAnswered => Until::CallAnswered,
        };
        v.push(MeasureSpec::Named {
            name: m.name.clone(),
            from: m.from.clone(),
            until,
        });
    }
    v
}
