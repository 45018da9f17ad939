//! Suite words to engine words: planned actions become environment faults (with the timeline effects
//! they have) and check specs; the "member currently serving" is resolved against the environment.

use bc_protocol::{Role, ServerKind};
use bc_suite::{
    Action, Capability, FlapMode, LinkTarget, PlannedObservation, PlannedScenario, ServerTarget,
    Site,
};

use crate::check::{CheckSpec, MeasureSpec, Until};
use crate::env::Environment;
use crate::fault::{ConfigLevel, Fault, LinkFault, LinkSelector, ServerSelector};
use crate::observe::{Change, Effect, Target};

/// The suite's server kind as the protocol's.
pub fn kind(k: bc_suite::ServerKind) -> ServerKind {
    match k {
        bc_suite::ServerKind::SipServer => ServerKind::SipServer,
        bc_suite::ServerKind::ConfigServer => ServerKind::ConfigServer,
        bc_suite::ServerKind::StatServer => ServerKind::StatServer,
    }
}

/// The suite's role as the protocol's.
pub fn role(r: bc_suite::Role) -> Role {
    match r {
        bc_suite::Role::Primary => Role::Primary,
        bc_suite::Role::Backup => Role::Backup,
    }
}

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
    v.as_ref()
        .map(|v| v.iter().map(|k| kind(*k)).collect())
        .unwrap_or(default)
}

/// The check an expectation step registers, or `None` for other steps.
pub fn expectation(a: &Action, sc: &PlannedScenario, caps: &[Capability]) -> Option<CheckSpec> {
    let budget_ms = sc.budget.as_millis() as u64;
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
        } => CheckSpec::StaysLoggedIn {
            site: site.as_str().to_string(),
            servers: kinds(
                servers,
                vec![ServerKind::ConfigServer, ServerKind::SipServer],
            ),
            duration_ms: duration.as_millis() as u64,
            // A reconnection (HA failover) must complete within the budget.
            grace_ms: budget_ms,
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
            bc_suite::PlannedInvariant::NeverSplit { longer_than } => CheckSpec::NeverSplit {
                longer_than_ms: longer_than.as_millis() as u64,
            },
            bc_suite::PlannedInvariant::MaxSwitchovers { count, per } => {
                CheckSpec::MaxSwitchovers {
                    count: *count,
                    per_ms: per.as_millis() as u64,
                }
            }
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

/// A fault to inject and what it does to the timeline's derived state.
pub struct Injection {
    /// The environment fault.
    pub fault: Fault,
    /// Its effects.
    pub effects: Vec<Effect>,
}

fn eff(site: Site, server: Option<ServerKind>, role: Option<Role>, change: Change) -> Effect {
    Effect {
        target: Target {
            site: site.as_str().into(),
            server,
            role,
        },
        change,
    }
}

async fn serving(env: &Environment, t: &ServerTarget<Site>) -> Result<ServerSelector, String> {
    let server = kind(t.server);
    let role = match t.role {
        Some(r) => role(r),
        None => {
            env.active_instance(t.site.as_str(), server)
                .await
                .map_err(|e| e.to_string())?
                .role
        }
    };
    Ok(ServerSelector {
        site: t.site.as_str().into(),
        server,
        role: Some(role),
    })
}

fn links(l: &LinkTarget<Site>) -> LinkSelector {
    LinkSelector {
        site: l.site.as_str().into(),
        server: l.server.map(kind),
        role: l.role.map(role),
    }
}

fn server_effect(sel: &ServerSelector, change: Change) -> Effect {
    Effect {
        target: Target {
            site: sel.site.clone(),
            server: Some(sel.server),
            role: sel.role,
        },
        change,
    }
}

/// The injection for a fault-like action, `Ok(None)` for other actions, `Err` when unsupported.
#[expect(
    clippy::too_many_lines,
    reason = "to be split into one function per step (issue 12's 100-line limit)"
)]
pub async fn injection(
    env: &Environment,
    a: &Action,
    dn: &str,
) -> Result<Option<Injection>, String> {
    let one = |fault: Fault, effects: Vec<Effect>| Ok(Some(Injection { fault, effects }));
    match a {
        Action::KillSite(s) => one(
            Fault::KillSite {
                site: s.as_str().into(),
            },
            vec![eff(*s, None, None, Change::Killed)],
        ),
        Action::StopSite(s) => one(
            Fault::StopSite {
                site: s.as_str().into(),
            },
            vec![eff(*s, None, None, Change::Stopped)],
        ),
        Action::RestoreSite(s) => one(
            Fault::RestoreSite {
                site: s.as_str().into(),
            },
            vec![eff(*s, None, None, Change::Restored)],
        ),
        Action::KillServer(t) => {
            let sel = serving(env, t).await?;
            let e = server_effect(&sel, Change::Killed);
            one(Fault::KillServer(sel), vec![e])
        }
        Action::StopServer(t) => {
            let sel = serving(env, t).await?;
            let e = server_effect(&sel, Change::Stopped);
            one(Fault::StopServer(sel), vec![e])
        }
        Action::FreezeServer(t) => {
            let sel = serving(env, t).await?;
            let e = server_effect(&sel, Change::Frozen);
            one(Fault::FreezeServer(sel), vec![e])
        }
        Action::ThawServer(t) => {
            let sel = ServerSelector {
                site: t.site.as_str().into(),
                server: kind(t.server),
                role: t.role.map(role),
            };
            let e = server_effect(&sel, Change::Restored);
            one(Fault::ThawServer(sel), vec![e])
        }
        Action::RestoreServer(t) => {
            let sel = ServerSelector {
                site: t.site.as_str().into(),
                server: kind(t.server),
                role: t.role.map(role),
            };
            let e = server_effect(&sel, Change::Restored);
            one(Fault::RestoreServer(sel), vec![e])
        }
        Action::HaFailover { site, server } => {
            let k = kind(*server);
            let active = env
                .active_instance(site.as_str(), k)
                .await
                .map_err(|e| e.to_string())?;
            one(
                Fault::HaFailover {
                    site: site.as_str().into(),
                    server: k,
                },
                vec![
                    eff(*site, Some(k), Some(active.role), Change::Killed),
                    eff(*site, Some(k), None, Change::HaFailover),
                ],
            )
        }
        Action::HaSwitchover { site, server } => {
            let k = kind(*server);
            one(
                Fault::HaSwitchover {
                    site: site.as_str().into(),
                    server: k,
                },
                vec![eff(*site, Some(k), None, Change::HaFailover)],
            )
        }
        Action::Link { link, fault } => {
            let (lf, change) = match fault {
                bc_suite::LinkFault::Refuse => (LinkFault::Refuse, Change::Refused),
                bc_suite::LinkFault::BlackHole => (LinkFault::BlackHole, Change::BlackHoled),
                bc_suite::LinkFault::Reset => (LinkFault::Reset, Change::Reset),
                bc_suite::LinkFault::Latency { ms, jitter_ms } => (
                    LinkFault::Latency {
                        ms: *ms,
                        jitter_ms: *jitter_ms,
                    },
                    Change::Degraded,
                ),
                bc_suite::LinkFault::Jitter { ms } => (
                    LinkFault::Latency {
                        ms: 0,
                        jitter_ms: *ms,
                    },
                    Change::Degraded,
                ),
                bc_suite::LinkFault::Bandwidth { kb_per_s } => (
                    LinkFault::Bandwidth {
                        kb_per_s: *kb_per_s,
                    },
                    Change::Degraded,
                ),
                bc_suite::LinkFault::SlowClose { delay } => (
                    LinkFault::SlowClose {
                        ms: delay.as_millis() as u64,
                    },
                    Change::Degraded,
                ),
                bc_suite::LinkFault::LimitData { bytes } => {
                    (LinkFault::LimitData { bytes: *bytes }, Change::Degraded)
                }
                bc_suite::LinkFault::Slicer {
                    average_size,
                    size_variation,
                    delay_us,
                } => (
                    LinkFault::Slicer {
                        average_size: *average_size,
                        size_variation: *size_variation,
                        delay_us: *delay_us,
                    },
                    Change::Degraded,
                ),
            };
            let sel = links(link);
            let e = Effect {
                target: Target {
                    site: sel.site.clone(),
                    server: sel.server,
                    role: sel.role,
                },
                change,
            };
            one(
                Fault::Link {
                    links: sel,
                    fault: lf,
                },
                vec![e],
            )
        }
        Action::Flap {
            link,
            mode,
            period,
            count,
        } => {
            if *mode != FlapMode::Refuse {
                return Err(format!(
                    "flapping in mode {mode:?} is not supported by the environment (only refuse)"
                ));
            }
            let sel = links(link);
            let e = Effect {
                target: Target {
                    site: sel.site.clone(),
                    server: sel.server,
                    role: sel.role,
                },
                change: Change::Degraded,
            };
            one(
                Fault::Flap {
                    links: sel,
                    period: *period,
                    count: *count,
                },
                vec![e],
            )
        }
        Action::RejectLogins(t) => {
            let k = kind(t.server);
            one(
                Fault::RejectLogins {
                    site: t.site.as_str().into(),
                    server: k,
                    on: true,
                },
                vec![eff(t.site, Some(k), None, Change::RejectingLogins)],
            )
        }
        Action::SetPreferredSite { level, name, site } => {
            let level = match level {
                bc_suite::Level::Tenant => ConfigLevel::Tenant,
                bc_suite::Level::AgentGroup => ConfigLevel::AgentGroup,
                bc_suite::Level::Person => ConfigLevel::Person,
            };
            one(
                Fault::SetPreferredSite {
                    level,
                    object: name.clone(),
                    site: site.map(|s| s.as_str().to_string()),
                },
                Vec::new(),
            )
        }
        Action::DeliverCall { via } => one(
            Fault::DeliverCall {
                site: via.as_str().into(),
                dn: dn.into(),
            },
            vec![eff(
                *via,
                Some(ServerKind::SipServer),
                None,
                Change::CallDelivered,
            )],
        ),
        _ => Ok(None),
    }
}

/// A step in words for the console and the timeline.
pub fn describe(a: &Action) -> String {
    match serde_json::to_value(a) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .next()
            .map(|(k, v)| format!("{k} {}", compact(&v)))
            .unwrap_or_default(),
        _ => format!("{a:?}"),
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", compact(v)))
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
