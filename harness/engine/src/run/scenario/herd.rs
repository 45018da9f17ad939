//! A herd scenario's parts: one subject per generated agent, the desktops' connection files
//! (agents dealt to processes in order), and the fleet checks judged over all of them.

use std::collections::HashMap;
use std::path::PathBuf;

use bc_suite::{Action, AgentGroup, HerdPlan, PlannedScenario};

use super::driver::{Driver, Stop};
use crate::check::fleet::Group;
use crate::check::CheckSpec;
use crate::env::{floor, Environment};
use crate::fault::{AimedAt, Fault};
use crate::observe::Subject;
use crate::run::translate::Injection;

/// HERD-2's window (docs/rules.md).
const BURST_WINDOW_MS: u64 = 100;

/// The herd's usernames, in agent order.
pub(super) fn usernames(h: &HerdPlan) -> Vec<String> {
    (0..h.agents as usize).map(floor::username).collect()
}

/// The subject of the herd as a whole (the timeline's), and one per agent (a lane each).
pub(super) fn subjects(
    env: &Environment,
    scenario: &Subject,
    h: &HerdPlan,
) -> Result<(Subject, Vec<Subject>), String> {
    let agents = usernames(h)
        .into_iter()
        .map(|u| {
            let a = env
                .topology()
                .agent(&u)
                .map_err(|e| format!("the herd's floor lacks an agent: {e}"))?;
            Ok(Subject {
                username: u,
                agent_id: a.agent_id.clone(),
                dn: a.dn.clone(),
                ..scenario.clone()
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let whole = Subject {
        username: format!("herd of {} agents in {} desktops", h.agents, h.desktops),
        agent_id: String::new(),
        dn: String::new(),
        ..scenario.clone()
    };
    Ok((whole, agents))
}

/// One connection file per desktop process: process `k` serves the `k`-th contiguous range of
/// agents (one agent per process when there are as many processes as agents).
pub(super) fn connection_files(d: &mut Driver<'_>, h: &HerdPlan) -> Result<Vec<PathBuf>, Stop> {
    let names = usernames(h);
    let per = names.len().div_ceil(h.desktops.max(1) as usize).max(1);
    let mut files = Vec::new();
    for chunk in names.chunks(per) {
        match d.env.write_floor_file(chunk) {
            Ok(p) => files.push(p),
            Err(e) => {
                return Err(d.harness_error(format!("cannot write a herd connection file: {e}")))
            }
        }
    }
    d.note(format!(
        "herd: {} agents ({}) in {} desktop processes",
        h.agents,
        h.preferred
            .iter()
            .map(|(s, p)| format!("{p} % prefer {s}"))
            .collect::<Vec<_>>()
            .join(", "),
        files.len()
    ));
    Ok(files)
}

/// The fleet checks of a herd scenario: HERD-2 always; HERD-7 after each `restore_site`; HERD-1 where the first fault takes a whole
/// site from every agent (after an aimed or partial fault, agents rightly stay where they are);
/// HERD-4 where servers turn clients away (an `overload` step, or a declared capacity), the only
/// place attempts can be counted; HERD-5 where `overload` steps turn away the CS Proxy pairs of
/// every site, so that the agents go round the sites in rounds (their answers name the agent only
/// with `answer: error`; behind `refuse` the check says it could not number the rounds).
pub(super) fn fleet_checks(sc: &PlannedScenario) -> Vec<CheckSpec> {
    let Some(h) = &sc.herd else {
        return Vec::new();
    };
    let mut checks = vec![CheckSpec::HerdBurst {
        agents: h.agents,
        window_ms: BURST_WINDOW_MS,
        max_percent: h.max_burst_percent,
    }];
    // Steps that make no Fault entry on the timeline come before the first one that does.
    let first_fault = sc.steps.iter().find(|s| {
        !matches!(
            s.action,
            Action::StartDesktop
                | Action::Wait(_)
                | Action::Mark
                | Action::On(_)
                | Action::ExpectLoggedIn { .. }
                | Action::ExpectStaysLoggedIn { .. }
                | Action::ExpectDisconnected { .. }
                | Action::ExpectCallAnswered { .. }
        )
    });
    if first_fault.is_some_and(|s| {
        s.aim.is_none() && matches!(s.action, Action::KillSite(_) | Action::StopSite(_))
    }) {
        checks.insert(
            0,
            CheckSpec::HerdLoggedIn {
                agents: h.agents,
                within_ms: u64::try_from(sc.budget.as_millis()).unwrap_or(u64::MAX),
            },
        );
    }
    // HERD-7: each return of a site is spread like the loss (a desktop that fails back goes
    // there; one that does not leaves the check not exercised).
    for s in &sc.steps {
        if let (Action::RestoreSite(site), Some(marker)) = (&s.action, &s.marker) {
            checks.push(CheckSpec::HerdReturn {
                agents: h.agents,
                window_ms: BURST_WINDOW_MS,
                max_percent: h.max_burst_percent,
                site: site.as_str().to_string(),
                from: marker.clone(),
            });
        }
    }
    if !sc.capacity.is_empty()
        || sc
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Overload(..)))
    {
        checks.push(CheckSpec::HerdWaited { agents: h.agents });
        checks.push(CheckSpec::HerdAttempts {
            agents: h.agents,
            per_agent_minute: h.max_attempts_per_minute,
        });
    }
    let every_cs_proxy_overloaded = sc.sites.iter().all(|site| {
        sc.steps.iter().any(|s| {
            matches!(&s.action, Action::Overload(t, _)
                if t.site == *site && t.server == bc_suite::ServerKind::ConfigServer)
        })
    });
    if !sc.sites.is_empty() && every_cs_proxy_overloaded {
        checks.push(CheckSpec::HerdRounds {
            agents: h.agents,
            max_percent: h.max_round_percent,
        });
    }
    checks
}

/// The agents (0-based) each aimed fault of a herd scenario hits, by step index: computed from the
/// run's seed and the step's position before the scenario starts, so a run replays with its seed.
pub(super) fn aims(sc: &PlannedScenario, seed: u64) -> HashMap<usize, Vec<usize>> {
    let Some(h) = &sc.herd else {
        return HashMap::new();
    };
    let n = h.agents as usize;
    sc.steps
        .iter()
        .filter_map(|s| {
            if let Some(aim) = s.aim.as_ref() {
                let step_seed = seed ^ (s.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                return Some((s.index, aim.choose(n, step_seed)));
            }
            // A fault on one group's SIP Servers hits the agents whose DNs that group serves.
            let g = s.action.group().filter(|_| sc.groups > 1)?;
            let members = (0..n).filter(|i| bc_suite::herd_group(*i, sc.groups) == g);
            Some((s.index, members.collect()))
        })
        .collect()
}

/// The lanes of a group: the agents some aimed fault hit, or all the others.
pub(super) fn group(aims: &HashMap<usize, Vec<usize>>, g: AgentGroup, agents: usize) -> Vec<usize> {
    let hit: std::collections::BTreeSet<usize> = aims.values().flatten().copied().collect();
    (0..agents)
        .filter(|k| hit.contains(k) == (g == AgentGroup::Hit))
        .collect()
}

/// A group in the words of its failures: the aimed faults that make it, by marker, in step order.
pub(super) fn group_name(
    sc: &PlannedScenario,
    aims: &HashMap<usize, Vec<usize>>,
    g: AgentGroup,
) -> Group {
    let faults = sc
        .steps
        .iter()
        .filter(|s| aims.contains_key(&s.index))
        .map(|s| {
            s.marker
                .clone()
                .unwrap_or_else(|| crate::run::translate::describe(&s.action))
        })
        .collect();
    match g {
        AgentGroup::Hit => Group::Hit(faults),
        AgentGroup::Spared => Group::Spared(faults),
    }
}

/// A link fault (a flap included) made to reach only the `chosen` agents of a herd of `of` (their
/// source addresses); a flap's down phases, when it records them, say whom they are for.
pub(super) fn aimed(inj: &mut Injection, chosen: &[usize], of: usize) -> Result<(), String> {
    let aim = AimedAt {
        clients: chosen.iter().map(|i| floor::source_address(*i)).collect(),
        agents: chosen.iter().map(|i| floor::username(*i)).collect(),
        of,
    };
    inj.fault = match inj.fault.clone() {
        Fault::Link { links, fault } => Fault::AimedLink { links, fault, aim },
        Fault::Flap {
            links,
            fault,
            period,
            count,
            aim: None,
        } => {
            if inj.per_phase.is_some() {
                let phase = Fault::AimedLink {
                    links: links.clone(),
                    fault: fault.clone(),
                    aim: aim.clone(),
                };
                inj.per_phase = Some(format!("{phase} (flapping)"));
            }
            Fault::Flap {
                links,
                fault,
                period,
                count,
                aim: Some(aim),
            }
        }
        other => return Err(format!("`{other}` cannot be aimed at some agents")),
    };
    Ok(())
}
