//! Facts about steps shared by validation and planning: keywords, markers, what heals.
//! Marker naming lives here so the documented rule has exactly one implementation.

use crate::model::Step;
use crate::span::Spanned;
use crate::vocab::SiteRef;

impl Step {
    /// Every step keyword, in schema order.
    pub const KEYWORDS: &'static [&'static str] = &[
        "start_desktop",
        "kill_site",
        "stop_site",
        "restore_site",
        "kill_server",
        "stop_server",
        "freeze_server",
        "thaw_server",
        "restore_server",
        "ha_failover",
        "ha_switchover",
        "refuse",
        "black_hole",
        "reset",
        "latency",
        "jitter",
        "bandwidth",
        "slow_close",
        "limit_data",
        "slicer",
        "flap",
        "partition_one_way",
        "reject_logins",
        "overload",
        "set_preferred_site",
        "clear_preferred_site",
        "deliver_call",
        "phone_dials",
        "heal",
        "on",
        "wait",
        "mark",
        "expect_logged_in",
        "expect_stays_logged_in",
        "expect_disconnected",
        "expect_call_answered",
    ];

    /// The YAML keyword of the step (`kill_site`, `expect_logged_in`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::StartDesktop => "start_desktop",
            Step::KillSite(_) => "kill_site",
            Step::StopSite(_) => "stop_site",
            Step::RestoreSite(_) => "restore_site",
            Step::KillServer(_) => "kill_server",
            Step::StopServer(_) => "stop_server",
            Step::FreezeServer(_) => "freeze_server",
            Step::ThawServer(_) => "thaw_server",
            Step::RestoreServer(_) => "restore_server",
            Step::HaFailover(_) => "ha_failover",
            Step::HaSwitchover(_) => "ha_switchover",
            Step::Refuse(_) => "refuse",
            Step::BlackHole(_) => "black_hole",
            Step::Reset(_) => "reset",
            Step::Latency(_) => "latency",
            Step::Jitter(_) => "jitter",
            Step::Bandwidth(_) => "bandwidth",
            Step::SlowClose(_) => "slow_close",
            Step::LimitData(_) => "limit_data",
            Step::Slicer(_) => "slicer",
            Step::Flap(_) => "flap",
            Step::PartitionOneWay(_) => "partition_one_way",
            Step::RejectLogins(_) => "reject_logins",
            Step::Overload(_) => "overload",
            Step::SetPreferredSite(_) => "set_preferred_site",
            Step::ClearPreferredSite(_) => "clear_preferred_site",
            Step::DeliverCall(_) => "deliver_call",
            Step::PhoneDials(_) => "phone_dials",
            Step::Heal(_) => "heal",
            Step::On(_) => "on",
            Step::Wait(_) => "wait",
            Step::Mark(_) => "mark",
            Step::ExpectLoggedIn(_) => "expect_logged_in",
            Step::ExpectStaysLoggedIn(_) => "expect_stays_logged_in",
            Step::ExpectDisconnected(_) => "expect_disconnected",
            Step::ExpectCallAnswered(_) => "expect_call_answered",
        }
    }

    /// Whether the step sets a marker, and the explicit name if one was written.
    /// `mark: NAME` always has an explicit name; `wait` and `expect_*` set none.
    pub fn marker_spec(&self) -> Option<Option<&Spanned<String>>> {
        Some(match self {
            Step::StartDesktop | Step::Heal(_) => None,
            Step::KillSite(a) | Step::StopSite(a) | Step::RestoreSite(a) => a.marker.as_ref(),
            Step::KillServer(a)
            | Step::StopServer(a)
            | Step::FreezeServer(a)
            | Step::ThawServer(a)
            | Step::RestoreServer(a)
            | Step::HaFailover(a)
            | Step::HaSwitchover(a)
            | Step::RejectLogins(a) => a.marker.as_ref(),
            Step::Overload(a) => a.marker.as_ref(),
            Step::Refuse(a) | Step::BlackHole(a) | Step::Reset(a) => a.marker.as_ref(),
            Step::Latency(f) => f.marker.as_ref(),
            Step::Jitter(f) => f.marker.as_ref(),
            Step::Bandwidth(f) => f.marker.as_ref(),
            Step::SlowClose(f) => f.marker.as_ref(),
            Step::LimitData(f) => f.marker.as_ref(),
            Step::Slicer(f) => f.marker.as_ref(),
            Step::Flap(f) => f.marker.as_ref(),
            Step::PartitionOneWay(f) => f.marker.as_ref(),
            Step::SetPreferredSite(c) => c.marker.as_ref(),
            Step::ClearPreferredSite(c) => c.marker.as_ref(),
            Step::DeliverCall(c) => c.marker.as_ref(),
            Step::PhoneDials(c) => c.marker.as_ref(),
            Step::On(t) => t.marker.as_ref(),
            Step::Mark(m) => Some(m),
            Step::Wait(_)
            | Step::ExpectLoggedIn(_)
            | Step::ExpectStaysLoggedIn(_)
            | Step::ExpectDisconnected(_)
            | Step::ExpectCallAnswered(_) => return None,
        })
    }

    /// Every site this step names (symbolic ones included).
    pub fn site_refs(&self) -> Vec<SiteRef> {
        match self {
            Step::KillSite(a) | Step::StopSite(a) | Step::RestoreSite(a) => vec![a.site.value],
            Step::KillServer(a)
            | Step::StopServer(a)
            | Step::FreezeServer(a)
            | Step::ThawServer(a)
            | Step::RestoreServer(a)
            | Step::HaFailover(a)
            | Step::HaSwitchover(a)
            | Step::RejectLogins(a) => vec![a.server.value.site],
            Step::Overload(a) => vec![a.server.value.site],
            Step::Refuse(a) | Step::BlackHole(a) | Step::Reset(a) => vec![a.link.value.site],
            Step::Latency(f) => vec![f.link.value.site],
            Step::Jitter(f) => vec![f.link.value.site],
            Step::Bandwidth(f) => vec![f.link.value.site],
            Step::SlowClose(f) => vec![f.link.value.site],
            Step::LimitData(f) => vec![f.link.value.site],
            Step::Slicer(f) => vec![f.link.value.site],
            Step::Flap(f) => vec![f.link.value.site],
            Step::PartitionOneWay(f) => vec![f.link.value.site],
            Step::SetPreferredSite(c) => vec![c.site.value],
            Step::DeliverCall(c) => vec![c.via.value],
            Step::PhoneDials(c) => vec![c.via.value],
            Step::On(t) => t.server().map(|s| s.value.site).into_iter().collect(),
            Step::ExpectLoggedIn(e) => e.site.iter().map(|s| s.value).collect(),
            Step::ExpectStaysLoggedIn(e) => vec![e.site.value],
            Step::ExpectDisconnected(e) => vec![e.site.value],
            Step::StartDesktop
            | Step::ClearPreferredSite(_)
            | Step::Heal(_)
            | Step::Wait(_)
            | Step::Mark(_)
            | Step::ExpectCallAnswered(_) => vec![],
        }
    }

    /// Whether `heal: MARKER` can undo this step.
    pub fn is_healable(&self) -> bool {
        matches!(
            self,
            Step::KillSite(_)
                | Step::StopSite(_)
                | Step::KillServer(_)
                | Step::StopServer(_)
                | Step::FreezeServer(_)
                | Step::Refuse(_)
                | Step::BlackHole(_)
                | Step::Reset(_)
                | Step::Latency(_)
                | Step::Jitter(_)
                | Step::Bandwidth(_)
                | Step::SlowClose(_)
                | Step::LimitData(_)
                | Step::Slicer(_)
                | Step::Flap(_)
                | Step::PartitionOneWay(_)
                | Step::RejectLogins(_)
                | Step::Overload(_)
        )
    }

    /// Whether this is an `expect_*` step.
    pub fn is_expectation(&self) -> bool {
        matches!(
            self,
            Step::ExpectLoggedIn(_)
                | Step::ExpectStaysLoggedIn(_)
                | Step::ExpectDisconnected(_)
                | Step::ExpectCallAnswered(_)
        )
    }
}

/// The marker each step sets, by position (`None`: sets no marker).
///
/// Naming: an explicit `marker:` (or `mark: NAME`) wins. Otherwise the marker is the step
/// keyword for its first occurrence in the scenario and `KEYWORD_N` for the N-th (N >= 2),
/// counting every step with that keyword. `start_desktop` sets `start`; when the scenario has
/// no `start_desktop` step, the implicit start before step 1 sets `start`. `heal` sets
/// `heal`, `heal_2`, ... the same way.
pub fn step_markers(steps: &[Spanned<Step>]) -> Vec<Option<String>> {
    let mut counts: std::collections::HashMap<&'static str, usize> = Default::default();
    steps
        .iter()
        .map(|s| {
            let kw = s.value.keyword();
            let n = counts.entry(kw).or_insert(0);
            *n += 1;
            let implicit = match (kw, *n) {
                ("start_desktop", 1) => "start".to_string(),
                ("start_desktop", n) => format!("start_{n}"),
                (kw, 1) => kw.to_string(),
                (kw, n) => format!("{kw}_{n}"),
            };
            match &s.value {
                Step::StartDesktop | Step::Heal(_) => Some(implicit),
                other => match other.marker_spec() {
                    None => None,
                    Some(Some(explicit)) => Some(explicit.value.clone()),
                    Some(None) => Some(implicit),
                },
            }
        })
        .collect()
}

/// The aim of a link fault written with `share:` or `agents:` (agents by herd index; names that
/// are not a herd's are left to validation, which reports them).
pub fn aim_of(step: &Step) -> Option<crate::aim::Aim> {
    let (share, agents) = aim_keys(step)?;
    if let Some(p) = share {
        return Some(crate::aim::Aim::Share(p.value.0));
    }
    let names = agents?;
    let mut ids: Vec<usize> = names
        .iter()
        .filter_map(|n| crate::aim::herd_index(&n.value))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Some(crate::aim::Aim::Agents(ids))
}

/// The group of a herd's agents an expectation is about (`agents: hit|spared`).
pub fn among_of(step: &Step) -> Option<crate::aim::AgentGroup> {
    match step {
        Step::ExpectLoggedIn(e) => e.agents.as_ref().map(|g| g.value),
        Step::ExpectStaysLoggedIn(e) => e.agents.as_ref().map(|g| g.value),
        _ => None,
    }
}

/// The `share` and `agents` keys of a link fault step (`None`: a step that cannot be aimed).
pub type AimKeys<'a> = (
    Option<&'a Spanned<crate::aim::Percent>>,
    Option<&'a Vec<Spanned<String>>>,
);

/// The aim keys of a step that takes them: every link fault, `flap` included.
pub fn aim_keys(step: &Step) -> Option<AimKeys<'_>> {
    macro_rules! keys {
        ($f:expr) => {
            Some(($f.share.as_ref(), $f.agents.as_ref()))
        };
    }
    match step {
        Step::Refuse(a) | Step::BlackHole(a) | Step::Reset(a) => keys!(a),
        Step::Latency(f) => keys!(f),
        Step::Jitter(f) => keys!(f),
        Step::Bandwidth(f) => keys!(f),
        Step::SlowClose(f) => keys!(f),
        Step::LimitData(f) => keys!(f),
        Step::Slicer(f) => keys!(f),
        Step::PartitionOneWay(f) => keys!(f),
        Step::Flap(f) => keys!(f),
        _ => None,
    }
}

/// The group of four SIP Servers a fault step aims at (`SITE/sip_server/gN`), if it names one:
/// in a herd, that group's agents are the ones the fault hits.
pub fn target_group(step: &Step) -> Option<u32> {
    match step {
        Step::KillServer(a)
        | Step::StopServer(a)
        | Step::FreezeServer(a)
        | Step::ThawServer(a)
        | Step::RestoreServer(a) => a.server.value.group,
        Step::Refuse(a) | Step::BlackHole(a) | Step::Reset(a) => a.link.value.group,
        Step::Latency(f) => f.link.value.group,
        Step::Jitter(f) => f.link.value.group,
        Step::Bandwidth(f) => f.link.value.group,
        Step::SlowClose(f) => f.link.value.group,
        Step::LimitData(f) => f.link.value.group,
        Step::Slicer(f) => f.link.value.group,
        Step::PartitionOneWay(f) => f.link.value.group,
        Step::Flap(f) => f.link.value.group,
        _ => None,
    }
}
