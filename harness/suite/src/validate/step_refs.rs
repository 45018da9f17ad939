//! References and values inside one step: sites, servers and links the topology has, positive
//! amounts, durations within limits, objects the configuration database knows.

use std::time::Duration;

use super::{config_object, trigger, Ctx, MAX_DURATION};
use crate::model::{FlapFault, LatencyFault, ServerAction, SlicerFault, Step};
use crate::span::Spanned;
use crate::vocab::Site;

/// References and values inside one step.
pub(super) fn step_refs(
    ctx: &mut Ctx<'_>,
    st: &Spanned<Step>,
    preferred: &[Site],
    agent: &Spanned<String>,
) {
    match &st.value {
        Step::StartDesktop | Step::Mark(_) | Step::Heal(_) => {}
        Step::KillSite(a) | Step::StopSite(a) | Step::RestoreSite(a) => {
            ctx.site(a.site.value, a.site.span, preferred)
        }
        Step::KillServer(a)
        | Step::StopServer(a)
        | Step::FreezeServer(a)
        | Step::ThawServer(a)
        | Step::RestoreServer(a) => {
            ctx.server(&a.server, preferred);
            serving_group(ctx, &st.value, a);
        }
        Step::RejectLogins(a) => {
            ctx.server(&a.server, preferred);
            whole_kind(ctx, &st.value, a.server.value.group, a.server.span);
        }
        Step::Overload(a) => {
            ctx.server(&a.server, preferred);
            whole_kind(ctx, &st.value, a.server.value.group, a.server.span);
        }
        Step::HaFailover(a) | Step::HaSwitchover(a) => {
            ha_pair(ctx, &st.value, a, preferred);
            whole_kind(ctx, &st.value, a.server.value.group, a.server.span);
        }
        Step::Refuse(a) | Step::BlackHole(a) | Step::Reset(a) => ctx.link(&a.link, preferred),
        Step::PartitionOneWay(f) => ctx.link(&f.link, preferred),
        Step::Latency(f) => latency(ctx, f, preferred),
        Step::Jitter(f) => {
            ctx.link(&f.link, preferred);
            ctx.positive("ms", &f.ms);
        }
        Step::Bandwidth(f) => {
            ctx.link(&f.link, preferred);
            ctx.positive("kb_per_s", &f.kb_per_s);
        }
        Step::SlowClose(f) => {
            ctx.link(&f.link, preferred);
            ctx.duration("delay", &f.delay, false);
        }
        Step::LimitData(f) => {
            ctx.link(&f.link, preferred);
            ctx.positive("bytes", &f.bytes);
        }
        Step::Slicer(f) => slicer(ctx, f, preferred),
        Step::Flap(f) => flap(ctx, f, preferred),
        Step::SetPreferredSite(c) => {
            ctx.site(c.site.value, c.site.span, preferred);
            config_object(ctx, c.level.value, c.name.as_ref(), c.level.span, agent);
        }
        Step::ClearPreferredSite(c) => {
            config_object(ctx, c.level.value, c.name.as_ref(), c.level.span, agent)
        }
        Step::DeliverCall(c) => ctx.site(c.via.value, c.via.span, preferred),
        Step::PhoneDials(c) => {
            ctx.site(c.via.value, c.via.span, preferred);
            if let Some(w) = &c.within {
                ctx.duration("within", w, false);
            }
        }
        Step::Wait(w) => ctx.duration("wait", w, false),
        Step::On(t) => trigger::check(ctx, t, st.span, preferred),
        Step::ExpectLoggedIn(e) => {
            if let Some(site) = &e.site {
                ctx.site(site.value, site.span, preferred);
            }
            ctx.servers(&e.servers, st.span);
            if let Some(w) = &e.within {
                ctx.duration("within", w, false);
            }
        }
        Step::ExpectStaysLoggedIn(e) => {
            ctx.site(e.site.value, e.site.span, preferred);
            ctx.servers(&e.servers, e.site.span);
            ctx.duration("for", &e.duration, false);
        }
        Step::ExpectDisconnected(e) => {
            ctx.site(e.site.value, e.site.span, preferred);
            if let Some(w) = &e.within {
                ctx.duration("within", w, false);
            }
        }
        Step::ExpectCallAnswered(e) => {
            if let Some(w) = &e.within {
                ctx.duration("within", w, false);
            }
        }
    }
}

/// With several groups, a SIP Server step without a role acts on the member serving one pair:
/// which group's pair must be said (`A/sip_server/g1`).
fn serving_group(ctx: &mut Ctx<'_>, step: &Step, a: &ServerAction) {
    let t = &a.server.value;
    let serving = matches!(
        step,
        Step::KillServer(_) | Step::StopServer(_) | Step::FreezeServer(_)
    );
    if serving
        && ctx.topo.group_count() > 1
        && t.server == crate::vocab::ServerKind::SipServer
        && t.group.is_none()
        && t.role.is_none()
    {
        ctx.d.semantic(
            a.server.span,
            format!(
                "`{}` of the serving SIP Server: this topology has {} groups, name one",
                step.keyword(),
                ctx.topo.group_count()
            ),
            Some(format!("write `{}/sip_server/g1`", t.site)),
        );
    }
}

/// `reject_logins` and `overload` act on a server kind of a site as a whole and take no group
/// (`gN`); `ha_failover` and `ha_switchover` act on one pair, which with several groups must
/// name its group.
fn whole_kind(ctx: &mut Ctx<'_>, step: &Step, group: Option<u32>, span: crate::span::Span) {
    if let Step::HaFailover(a) | Step::HaSwitchover(a) = step {
        // An HA pair is one group's: with several, the group is part of the pair's name.
        let sip = a.server.value.server == crate::vocab::ServerKind::SipServer;
        if sip && group.is_none() && ctx.topo.group_count() > 1 {
            ctx.d.semantic(
                span,
                format!(
                    "`{}` of a SIP Server pair: this topology has {} groups, name one",
                    step.keyword(),
                    ctx.topo.group_count()
                ),
                Some(format!("write `{}/sip_server/g1`", a.server.value.site)),
            );
        }
        return;
    }
    if let Some(g) = group {
        ctx.d.semantic(
            span,
            format!("`{}` cannot aim at one group (`g{g}`)", step.keyword()),
            Some("remove the group: the step acts on every group's pair at the site; `kill_server`, `stop_server`, `freeze_server` and link faults take a group".into()),
        );
    }
}

/// `ha_failover`/`ha_switchover` (`step`): a server pair, written without a role, in an HA
/// topology.
fn ha_pair(ctx: &mut Ctx<'_>, step: &Step, a: &ServerAction, preferred: &[Site]) {
    ctx.server(&a.server, preferred);
    if a.server.value.role.is_some() {
        ctx.d.semantic(
            a.server.span,
            format!(
                "`{}` acts on the whole pair: remove the role",
                step.keyword()
            ),
            Some(format!(
                "write `{}/{}`",
                a.server.value.site, a.server.value.server
            )),
        );
    }
    if !ctx.topo.ha {
        ctx.d.semantic(
            a.server.span,
            format!(
                "`{}` needs HA pairs, and this topology has `ha: false`",
                step.keyword()
            ),
            None,
        );
    }
}

/// `latency`: its links, and some delay (0 ms is allowed only with jitter).
fn latency(ctx: &mut Ctx<'_>, f: &LatencyFault, preferred: &[Site]) {
    ctx.link(&f.link, preferred);
    let jitter = f.jitter_ms.as_ref().map(|j| j.value).unwrap_or(0);
    if f.ms.value == 0 && jitter == 0 {
        ctx.d.semantic(
            f.ms.span,
            "`latency` of 0 ms with no jitter does nothing",
            Some("write a positive `ms`".into()),
        );
    }
}

/// `slicer`: its links, a positive average size and a variation below it.
fn slicer(ctx: &mut Ctx<'_>, f: &SlicerFault, preferred: &[Site]) {
    ctx.link(&f.link, preferred);
    ctx.positive("average_size", &f.average_size);
    if let Some(v) = &f.size_variation {
        if v.value >= f.average_size.value && f.average_size.value > 0 {
            ctx.d.semantic(
                v.span,
                "`size_variation` must be smaller than `average_size`",
                None,
            );
        }
    }
}

/// `flap`: its links, a period long enough to flap, and at least one cycle, all cycles within
/// the 1h limit.
fn flap(ctx: &mut Ctx<'_>, f: &FlapFault, preferred: &[Site]) {
    ctx.link(&f.link, preferred);
    ctx.duration("period", &f.period, false);
    if f.period.value.0 < Duration::from_millis(2) && !f.period.value.0.is_zero() {
        ctx.d.semantic(
            f.period.span,
            "`period` is too short to flap (at least 2ms)",
            None,
        );
    }
    if f.count.value == 0 {
        ctx.d
            .semantic(f.count.span, "`count` must be at least 1", None);
    } else if f.period.value.0.saturating_mul(f.count.value) > MAX_DURATION {
        ctx.d.semantic(
            f.count.span,
            format!(
                "flapping for {} cycles of {} lasts longer than the 1h limit",
                f.count.value, f.period.value
            ),
            Some("lower `count` or `period`".into()),
        );
    }
}
