//! A herd scenario's parts: one subject per generated agent, the desktops' connection files
//! (agents dealt to processes in order), and the fleet checks judged over all of them.

use std::path::PathBuf;

use bc_suite::{HerdPlan, PlannedScenario};

use super::driver::{Driver, Stop};
use crate::check::CheckSpec;
use crate::env::{floor, Environment};
use crate::observe::Subject;

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

/// The fleet checks of a herd scenario.
pub(super) fn fleet_checks(sc: &PlannedScenario) -> Vec<CheckSpec> {
    let Some(h) = &sc.herd else {
        return Vec::new();
    };
    vec![CheckSpec::HerdBurst {
        agents: h.agents,
        window_ms: BURST_WINDOW_MS,
        max_percent: h.max_burst_percent,
    }]
}
