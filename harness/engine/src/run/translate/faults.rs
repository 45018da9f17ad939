//! Fault-like planned actions as environment faults with the timeline effects they have. The
//! member currently serving a pair is an input: the caller asks the environment (`serving_pair`).

use bc_protocol::{Role, ServerKind};
use bc_suite::{Action, FlapMode, LinkTarget, ServerTarget, Site};

use crate::fault::{Fault, LinkFault, LinkSelector, ServerSelector};
use crate::observe::{Change, Effect, Target};

/// A fault to inject and what it does to the timeline's derived state.
pub struct Injection {
    /// The environment fault.
    pub fault: Fault,
    /// Its effects (of each down phase, for a flap recorded phase by phase).
    pub effects: Vec<Effect>,
    /// `Some(description of a down phase)` when the timeline records the fault phase by phase
    /// (a flap whose down phases are faults of their own); `None`: one entry.
    pub per_phase: Option<String>,
}

fn eff(site: Site, server: Option<ServerKind>, role: Option<Role>, change: Change) -> Effect {
    Effect {
        target: Target {
            site: site.as_str().into(),
            server,
            role,
            group: None,
        },
        change,
    }
}

/// An HA failover or switchover of one pair (one group's, for a SIP Server of several groups).
fn ha(a: &Action, serving_role: Option<Role>) -> Result<(Fault, Vec<Effect>), String> {
    match a {
        Action::HaFailover {
            site,
            server,
            group,
        } => {
            let k = *server;
            let active = serving_role.ok_or("the serving member is not known")?;
            Ok((
                Fault::HaFailover {
                    site: site.as_str().into(),
                    server: k,
                    group: *group,
                },
                vec![
                    in_group(eff(*site, Some(k), Some(active), Change::Killed), *group),
                    in_group(eff(*site, Some(k), None, Change::HaFailover), *group),
                ],
            ))
        }
        Action::HaSwitchover {
            site,
            server,
            group,
        } => {
            let k = *server;
            Ok((
                Fault::HaSwitchover {
                    site: site.as_str().into(),
                    server: k,
                    group: *group,
                },
                vec![in_group(
                    eff(*site, Some(k), None, Change::HaFailover),
                    *group,
                )],
            ))
        }
        _ => Err("not an HA action".into()),
    }
}

/// An effect on one group's instances only (`None`: every group's).
fn in_group(mut e: Effect, group: Option<u32>) -> Effect {
    e.target.group = group;
    e
}

/// The pair whose serving member an action needs (a server fault without a role, an HA failover):
/// the caller asks the environment and passes the answer to [`injection`].
pub fn serving_pair(a: &Action) -> Option<(Site, ServerKind, u32)> {
    match a {
        Action::KillServer(t) | Action::StopServer(t) | Action::FreezeServer(t)
            if t.role.is_none() =>
        {
            Some((t.site, t.server, t.group.unwrap_or(1)))
        }
        Action::HaFailover {
            site,
            server,
            group,
        } => Some((*site, *server, group.unwrap_or(1))),
        _ => None,
    }
}

fn serving(t: &ServerTarget<Site>, serving: Option<Role>) -> Result<ServerSelector, String> {
    let role = match t.role {
        Some(r) => r,
        None => serving.ok_or("the serving member is not known")?,
    };
    Ok(ServerSelector {
        site: t.site.as_str().into(),
        server: t.server,
        role: Some(role),
        // Validation names a group whenever a SIP Server's serving member of several is meant.
        group: t.group,
    })
}

fn links(l: &LinkTarget<Site>) -> LinkSelector {
    LinkSelector {
        site: l.site.as_str().into(),
        server: l.server,
        role: l.role,
        group: l.group,
    }
}

fn server_effect(sel: &ServerSelector, change: Change) -> Effect {
    Effect {
        target: Target {
            site: sel.site.clone(),
            server: Some(sel.server),
            role: sel.role,
            group: sel.group,
        },
        change,
    }
}

/// The injection for a fault-like action, `Ok(None)` for other actions, `Err` when unsupported.
/// `serving` is the role of the member serving the pair [`serving_pair`] names, if it names one.
pub fn injection(
    a: &Action,
    dn: &str,
    serving_role: Option<Role>,
) -> Result<Option<Injection>, String> {
    let one = |fault: Fault, effects: Vec<Effect>| {
        Ok(Some(Injection {
            fault,
            effects,
            per_phase: None,
        }))
    };
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
            let sel = serving(t, serving_role)?;
            let e = server_effect(&sel, Change::Killed);
            one(Fault::KillServer(sel), vec![e])
        }
        Action::StopServer(t) => {
            let sel = serving(t, serving_role)?;
            let e = server_effect(&sel, Change::Stopped);
            one(Fault::StopServer(sel), vec![e])
        }
        Action::FreezeServer(t) => {
            let sel = serving(t, serving_role)?;
            let e = server_effect(&sel, Change::Frozen);
            one(Fault::FreezeServer(sel), vec![e])
        }
        Action::ThawServer(t) => {
            let sel = slot(t);
            let e = server_effect(&sel, Change::Restored);
            one(Fault::ThawServer(sel), vec![e])
        }
        Action::RestoreServer(t) => {
            let sel = slot(t);
            let e = server_effect(&sel, Change::Restored);
            one(Fault::RestoreServer(sel), vec![e])
        }
        Action::HaFailover { .. } | Action::HaSwitchover { .. } => {
            ha(a, serving_role).map(|(fault, effects)| {
                Some(Injection {
                    fault,
                    effects,
                    per_phase: None,
                })
            })
        }
        Action::Link { link, fault } => {
            let (lf, change) = link_fault(fault);
            let sel = links(link);
            let e = link_effect(&sel, change);
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
        } => Ok(Some(flap(link, *mode, *period, *count))),
        _ => Ok(config_or_call(a, dn)),
    }
}

/// The configuration change and call actions (they act on objects, not on members or links).
fn config_or_call(a: &Action, dn: &str) -> Option<Injection> {
    let (fault, effects) = match a {
        Action::Overload(t, answer) => (
            Fault::Overload {
                site: t.site.as_str().into(),
                server: t.server,
                refuse: *answer == bc_suite::OverloadAnswer::Refuse,
            },
            vec![eff(t.site, Some(t.server), None, Change::RejectingLogins)],
        ),
        Action::RejectLogins(t) => {
            let k = t.server;
            (
                Fault::RejectLogins {
                    site: t.site.as_str().into(),
                    server: k,
                    on: true,
                },
                vec![eff(t.site, Some(k), None, Change::RejectingLogins)],
            )
        }
        Action::SetPreferredSite { level, name, site } => {
            let level = *level;
            (
                Fault::SetPreferredSite {
                    level,
                    object: name.clone(),
                    site: site.map(|s| s.as_str().to_string()),
                },
                Vec::new(),
            )
        }
        Action::DeliverCall { via } => (
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
        _ => return None,
    };
    Some(Injection {
        fault,
        effects,
        per_phase: None,
    })
}

/// One slot of a pair, or both (no serving member involved).
fn slot(t: &ServerTarget<Site>) -> ServerSelector {
    ServerSelector {
        site: t.site.as_str().into(),
        server: t.server,
        role: t.role,
        group: t.group,
    }
}

fn link_effect(sel: &LinkSelector, change: Change) -> Effect {
    Effect {
        target: Target {
            site: sel.site.clone(),
            server: sel.server,
            role: sel.role,
            group: sel.group,
        },
        change,
    }
}

/// The timeline change a link fault declares (the fault itself is the suite's word, applied as is).
fn link_fault(fault: &bc_suite::LinkFault) -> (LinkFault, Change) {
    use bc_suite::LinkFault as L;
    let change = match fault {
        L::Refuse => Change::Refused,
        L::BlackHole => Change::BlackHoled,
        L::Reset => Change::Reset,
        L::OneWay {
            direction: bc_suite::Direction::ToServer,
        } => Change::CutToServer,
        L::OneWay {
            direction: bc_suite::Direction::ToDesktop,
        } => Change::CutToDesktop,
        L::Latency { .. }
        | L::Jitter { .. }
        | L::Bandwidth { .. }
        | L::SlowClose { .. }
        | L::LimitData { .. }
        | L::Slicer { .. } => Change::Degraded,
    };
    (fault.clone(), change)
}

/// A flapping link set. Refused flapping is one degraded period on the timeline (not a site loss
/// that switchover times count from); black-hole and reset flapping record each down phase as a
/// fault of its own (a black hole is a partition: BC-6's tolerance needs its start and end).
fn flap(
    link: &LinkTarget<Site>,
    mode: FlapMode,
    period: std::time::Duration,
    count: u32,
) -> Injection {
    let sel = links(link);
    let (lf, change, per_phase) = match mode {
        FlapMode::Refuse => (LinkFault::Refuse, Change::Degraded, false),
        FlapMode::BlackHole => (LinkFault::BlackHole, Change::BlackHoled, true),
        FlapMode::Reset => (LinkFault::Reset, Change::Reset, true),
    };
    let phase = Fault::Link {
        links: sel.clone(),
        fault: lf.clone(),
    };
    Injection {
        effects: vec![link_effect(&sel, change)],
        per_phase: per_phase.then(|| format!("{phase} (flapping)")),
        fault: Fault::Flap {
            links: sel,
            fault: lf,
            period,
            count,
            aim: None,
        },
    }
}
