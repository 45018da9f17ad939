//! Flapping links driven by the runner for the modes the environment does not flap itself
//! (black hole, reset): each down and up phase is an injected, confirmed fault and heal on the timeline.

use std::time::{Duration, Instant};

use bc_suite::{Action, FlapMode};

use super::translate::{kind, role};
use crate::fault::{Fault, FaultGuard, LinkFault, LinkSelector};
use crate::observe::{Change, Effect, Target};

/// One flapping link set: down for half a period, up for the other half, `count` times.
pub struct Flapper {
    /// Step index that started it (a heal of its marker stops it).
    pub step: usize,
    /// The marker of that step.
    pub marker: Option<String>,
    /// The fault of the down phases.
    pub fault: Fault,
    /// Its timeline effects.
    pub effects: Vec<Effect>,
    /// Half a period.
    pub half: Duration,
    /// Phase changes still to make (2 per cycle).
    pub remaining: u32,
    /// When the next phase change is due.
    pub next_at: Instant,
    /// The down phase's guard and timeline fault id, while down.
    pub down: Option<(u32, FaultGuard)>,
    /// Whether the first down phase happened (it sets the marker).
    pub started: bool,
}

/// A flapper for a `flap` step in a mode the environment cannot flap (`None` for other steps).
pub fn flapper(step: usize, marker: Option<String>, a: &Action) -> Option<Flapper> {
    let Action::Flap {
        link,
        mode,
        period,
        count,
    } = a
    else {
        return None;
    };
    let (lf, change) = match mode {
        FlapMode::Refuse => return None,
        FlapMode::BlackHole => (LinkFault::BlackHole, Change::BlackHoled),
        FlapMode::Reset => (LinkFault::Reset, Change::Reset),
    };
    let links = LinkSelector {
        site: link.site.as_str().into(),
        server: link.server.map(kind),
        role: link.role.map(role),
    };
    let target = Target {
        site: links.site.clone(),
        server: links.server,
        role: links.role,
    };
    Some(Flapper {
        step,
        marker,
        fault: Fault::Link { links, fault: lf },
        effects: vec![Effect { target, change }],
        half: *period / 2,
        remaining: count.saturating_mul(2),
        next_at: Instant::now(),
        down: None,
        started: false,
    })
}
