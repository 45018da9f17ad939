//! The semantic checks of aimed faults and the groups that expectations name: `share:` and
//! `agents:` only on a herd's link faults, in range, one of the two; `hit`/`spared` only after them.

use std::collections::HashSet;

use super::Ctx;
use crate::aim::{herd_index, herd_username};
use crate::model::{Scenario, Step};
use crate::span::Spanned;
use crate::steps::AimKeys;

/// Checks every aimed fault and every expectation that names a group of agents.
pub(super) fn aims(ctx: &mut Ctx<'_>, s: &Scenario) {
    let herd = s.herd.as_ref().map(|h| h.value.agents.value as usize);
    let mut aimed = false;
    for st in &s.steps {
        // A fault on one group's SIP Servers hits that group's agents only.
        aimed |= herd.is_some() && crate::steps::target_group(&st.value).is_some();
        if let Some(keys) = crate::steps::aim_keys(&st.value) {
            aimed |= link(ctx, st, keys, herd);
            continue;
        }
        match &st.value {
            Step::ExpectLoggedIn(e) => group(ctx, &e.agents, herd, aimed),
            Step::ExpectStaysLoggedIn(e) => group(ctx, &e.agents, herd, aimed),
            _ => {}
        }
    }
}

/// One link fault's aim; true when it has one.
fn link(ctx: &mut Ctx<'_>, st: &Spanned<Step>, a: AimKeys<'_>, herd: Option<usize>) -> bool {
    let (share, agents) = a;
    let span = match (share, agents) {
        (None, None) => return false,
        (Some(p), _) => p.span,
        (None, Some(list)) => list.first().map_or(st.span, |n| n.span),
    };
    let Some(n) = herd else {
        ctx.d.semantic(
            span,
            format!(
                "`{}` aims at some of a herd's agents: this scenario has no `herd`",
                st.value.keyword()
            ),
            Some("add `herd: {agents: N}` to the scenario, or leave `share`/`agents` out".into()),
        );
        return true;
    };
    if share.is_some() && agents.is_some() {
        ctx.d.semantic(
            span,
            "give `share` or `agents`, not both",
            Some("`share: 10%` lets the seed choose; `agents: [...]` names them".into()),
        );
    }
    if let Some(p) = share {
        if !(1..=100).contains(&p.value.0) {
            ctx.d.semantic(
                p.span,
                format!("`share` must be 1% to 100%, not {}", p.value),
                None,
            );
        }
    }
    let mut seen = HashSet::new();
    for name in agents.into_iter().flatten() {
        match herd_index(&name.value) {
            Some(i) if i < n => {
                if !seen.insert(i) {
                    ctx.d.semantic(
                        name.span,
                        format!("agent `{}` is named twice", name.value),
                        None,
                    );
                }
            }
            _ => ctx.d.semantic(
                name.span,
                format!("`{}` is not one of this herd's agents", name.value),
                Some(format!(
                    "the herd's agents are {} to {}",
                    herd_username(0),
                    herd_username(n.saturating_sub(1))
                )),
            ),
        }
    }
    if agents.is_some_and(|l| l.is_empty()) {
        ctx.d.semantic(
            span,
            "`agents` names no agent",
            Some("name at least one, or leave `agents` out".into()),
        );
    }
    true
}

/// An expectation's `agents: hit|spared`: needs a herd and an aimed fault before it.
fn group(
    ctx: &mut Ctx<'_>,
    g: &Option<Spanned<crate::aim::AgentGroup>>,
    herd: Option<usize>,
    aimed: bool,
) {
    let Some(g) = g else { return };
    if herd.is_none() {
        ctx.d.semantic(
            g.span,
            format!(
                "`agents: {}` is about a herd's agents: this scenario has no `herd`",
                g.value.as_str()
            ),
            Some("leave `agents` out: a single desktop is one agent".into()),
        );
    } else if !aimed {
        ctx.d.semantic(
            g.span,
            format!(
                "`agents: {}` needs a fault aimed at some agents before it",
                g.value.as_str()
            ),
            Some("aim a link fault first, e.g. `black_hole: {link: A, share: 10%}`, or target one group's SIP Servers (`A/sip_server/g1`)".into()),
        );
    }
}
