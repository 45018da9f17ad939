//! The semantic checks of a `herd:`: sizes, shares that sum to 100 % over existing sites, and
//! the scenario settings and steps that mean one agent and so cannot apply to a floor.

use std::collections::HashSet;

use super::Ctx;
use crate::model::{Herd, Scenario, Step, MAX_HERD_AGENTS};
use crate::span::Spanned;

/// The longest ramp a herd may declare.
const MAX_RAMP: std::time::Duration = std::time::Duration::from_secs(600);

/// Checks a scenario's herd and what it may not be combined with.
pub(super) fn herd(ctx: &mut Ctx<'_>, s: &Scenario, h: &Spanned<Herd>) {
    let agents = &h.value.agents;
    if !(2..=MAX_HERD_AGENTS).contains(&agents.value) {
        ctx.d.semantic(
            agents.span,
            format!(
                "`herd.agents` must be between 2 and {MAX_HERD_AGENTS}, not {}",
                agents.value
            ),
            Some("for one agent, leave `herd` out".into()),
        );
    }
    if let Some(m) = &h.value.desktops {
        if m.value == 0 || m.value > agents.value {
            ctx.d.semantic(
                m.span,
                format!(
                    "`herd.desktops` must be between 1 and the {} agents, not {}",
                    agents.value, m.value
                ),
                Some("each desktop process serves one agent or more".into()),
            );
        }
    }
    for (key, p) in [
        ("max_burst_percent", &h.value.max_burst_percent),
        ("max_round_percent", &h.value.max_round_percent),
    ] {
        if let Some(p) = p.as_ref().filter(|p| p.value == 0 || p.value > 100) {
            ctx.d.semantic(
                p.span,
                format!("`herd.{key}` must be 1 to 100, not {}", p.value),
                None,
            );
        }
    }
    if let Some(m) = h
        .value
        .max_attempts_per_minute
        .as_ref()
        .filter(|m| m.value == 0 || m.value > 100_000)
    {
        ctx.d.semantic(
            m.span,
            format!(
                "`herd.max_attempts_per_minute` must be 1 to 100000, not {}",
                m.value
            ),
            Some("attempts per agent in the busiest minute at a server turning clients away (HERD-4)".into()),
        );
    }
    if let Some(r) = h.value.ramp.as_ref().filter(|r| r.value.get() > MAX_RAMP) {
        ctx.d.semantic(
            r.span,
            format!("`herd.ramp` must be at most 10m, not {}", r.value),
            Some("a ramp is how long the floor takes to start; the scenario's budgets count after it".into()),
        );
    }
    if ctx.topo.stat_server {
        ctx.d.semantic(
            h.span,
            "a herd needs a topology without Stat Servers",
            Some("add `topology: {stat_server: false}` to the suite: a Stat Server registration names no user, so the harness cannot tell whose session it is".into()),
        );
    }
    shares(ctx, h);
    single_agent_only(ctx, s, h);
}

/// Sites exist, appear once, and their percents sum to 100.
fn shares(ctx: &mut Ctx<'_>, h: &Spanned<Herd>) {
    if h.value.preferred.is_empty() {
        return;
    }
    let mut seen = HashSet::new();
    let mut sum = 0;
    for share in &h.value.preferred {
        let site = &share.value.site;
        if !ctx.topo.has_site(site.value) {
            ctx.d.semantic(
                site.span,
                format!(
                    "unknown site `{}`: the topology has no such site",
                    site.value
                ),
                None,
            );
        }
        if !seen.insert(site.value) {
            ctx.d.semantic(
                site.span,
                format!("site `{}` has two shares in `herd.preferred`", site.value),
                Some("give each site one `percent`".into()),
            );
        }
        sum += share.value.percent.value;
    }
    if sum != 100 {
        let first = &h.value.preferred[0];
        ctx.d.semantic(
            first.span,
            format!("the shares of `herd.preferred` sum to {sum} %, not 100 %"),
            Some("e.g. `[{site: A, percent: 70}, {site: B, percent: 30}]`".into()),
        );
    }
}

/// Settings and steps about the one agent: pinning its preferred site, its phone, triggers
/// armed on one desktop's message.
fn single_agent_only(ctx: &mut Ctx<'_>, s: &Scenario, h: &Spanned<Herd>) {
    let hint = || Some("a herd's preferred sites are `herd.preferred`".to_string());
    if let Some(p) = &s.preferred_site {
        ctx.d.semantic(
            p.span,
            "`preferred_site` cannot be combined with `herd`",
            hint(),
        );
    }
    if s.for_each_preferred_site {
        ctx.d.semantic(
            h.span,
            "`for_each_preferred_site` cannot be combined with `herd`",
            hint(),
        );
    }
    if let Some(a) = &s.agent {
        ctx.d.semantic(
            a.span,
            "`agent` cannot be combined with `herd`: the herd's agents are generated",
            Some("leave `agent` out".into()),
        );
    }
    for st in &s.steps {
        let why = match &st.value {
            Step::DeliverCall(_) | Step::PhoneDials(_) | Step::ExpectCallAnswered(_) => {
                "calls and phones are one agent's"
            }
            Step::On(_) => "a trigger is armed on one desktop's message",
            _ => continue,
        };
        ctx.d.semantic(
            st.span,
            format!("`{}` is not supported in a herd: {why}", st.value.keyword()),
            Some("move it to a scenario without `herd`".into()),
        );
    }
}
