//! The rows of the coverage table, generated from the vocabulary: for each rule, what varies
//! under it (server kind, fault × server kind, HA role, resolution or behaviour branch).

use super::{Fault, Row};
use crate::vocab::{Level, Role, RuleId, ServerKind};

fn row(rule: RuleId, dimension: &'static str, value: String, behaviour: String) -> Row {
    Row {
        rule,
        dimension,
        value,
        behaviour,
    }
}

/// Mandatory server kinds: the ones whose loss is a site loss (BC-3, BC-4).
const MANDATORY: [ServerKind; 2] = [ServerKind::ConfigServer, ServerKind::SipServer];

/// The "cannot log in initially" faults docs/rules.md lists for BC-3.
const BC3_FAULTS: [Fault; 6] = [
    Fault::Killed,
    Fault::Stopped,
    Fault::Refused,
    Fault::BlackHole,
    Fault::Reset,
    Fault::LoginRejected,
];

/// The "loses its login" faults of BC-4: the four kinds of site down, graceful shutdown, a frozen
/// server and both one-way partitions (docs/rules.md, "Partitions and BC-6").
const BC4_FAULTS: [Fault; 8] = [
    Fault::Killed,
    Fault::Stopped,
    Fault::Refused,
    Fault::BlackHole,
    Fault::Reset,
    Fault::Frozen,
    Fault::OneWayToServer,
    Fault::OneWayToDesktop,
];

/// Flapping and degraded-but-working links (BC-11).
const BC11_FAULTS: [Fault; 7] = [
    Fault::FlapRefuse,
    Fault::FlapBlackHole,
    Fault::FlapReset,
    Fault::Latency,
    Fault::Jitter,
    Fault::Bandwidth,
    Fault::Slicer,
];

/// How the old SIP session looks to the servers when the desktop leaves a site (BC-6).
const BC6_BRANCHES: [(&str, &str); 7] = [
    ("old_session_visible", "CS Proxy pair lost, SIP link healthy: log out of and close the old SIP session before the new login"),
    ("logged_out_by_desktop", "SIP Servers keep an agent past its connection: the desktop logs its agent out of the site it leaves, closing the link is not enough"),
    ("behind_black_hole_healed", "old session hidden behind a black hole: after the heal, drop it within the keep-alive timeout"),
    ("behind_frozen_server_thawed", "old session behind a frozen SIP Server: after the thaw, never use it again"),
    ("one_way_to_desktop", "server still hears the desktop: close the old session before logging in at the other peer"),
    ("one_way_to_server", "server no longer hears the desktop: switch, old session hidden until heal + client timeout"),
    ("dropped_by_desktop_unmasked", "closes a SIP session it declared lost itself, where no server client timeout closes it first (frozen pair, then thawed)"),
];

/// Every row, generated from the vocabulary, in rule order.
pub fn rows() -> Vec<Row> {
    let mut out = Vec::new();
    start_rows(&mut out);
    loss_rows(&mut out);
    stability_rows(&mut out);
    out
}

/// BC-1 and BC-2: where the desktop starts, and the preference's resolution branches.
fn start_rows(out: &mut Vec<Row>) {
    for k in ServerKind::ALL {
        out.push(row(
            RuleId::Bc1,
            "server kind",
            k.to_string(),
            format!("at start, its {k} session is at the preferred site"),
        ));
    }
    for l in Level::ALL {
        out.push(row(
            RuleId::Bc2,
            "resolution branch",
            l.to_string(),
            format!("the preferred site comes from the {l} when nothing above it sets one"),
        ));
    }
    out.push(row(
        RuleId::Bc2,
        "resolution branch",
        "first_agent_group_in_order".into(),
        "of two agent groups that set it, the first in AgentGroupDBIDs order wins".into(),
    ));
    for l in Level::ALL {
        out.push(row(
            RuleId::Bc2,
            "resolution branch",
            format!("changed_before_start/{l}"),
            format!("a value written or cleared on the {l} before the start is the one read"),
        ));
    }
    for (b, why) in [
        ("failback", "with failback declared"),
        ("no_failback", "without failback"),
    ] {
        out.push(row(
            RuleId::Bc2,
            "resolution branch",
            format!("reread_at_reconnection/{b}"),
            format!(
                "a value changed while logged in is read at the next CS Proxy connection, {why}"
            ),
        ));
    }
}

/// BC-3 to BC-6: losing a site, before and after the login, and what is left behind.
fn loss_rows(out: &mut Vec<Row>) {
    for f in BC3_FAULTS {
        for k in MANDATORY {
            out.push(row(
                RuleId::Bc3,
                "fault × server kind",
                format!("{}/{k}", f.as_str()),
                format!(
                    "preferred {k} {} before the start: logs in at the other site",
                    f.as_str()
                ),
            ));
        }
    }
    for f in BC4_FAULTS {
        for k in MANDATORY {
            out.push(row(
                RuleId::Bc4,
                "fault × server kind",
                format!("{}/{k}", f.as_str()),
                format!(
                    "current {k} {} while logged in: switches to the other site",
                    f.as_str()
                ),
            ));
        }
    }
    for k in ServerKind::ALL {
        out.push(row(
            RuleId::Bc5,
            "server kind",
            k.to_string(),
            format!("after a switchover, its {k} session is at the new site"),
        ));
    }
    for (b, what) in BC6_BRANCHES {
        out.push(row(RuleId::Bc6, "branch", b.into(), what.into()));
    }
}

/// BC-7 to BC-12: what must not cause a switchover, and what must follow one.
fn stability_rows(out: &mut Vec<Row>) {
    for k in ServerKind::ALL {
        for r in Role::ALL {
            let what = match r {
                Role::Primary => "primary lost, backup promoted (ha_failover)",
                Role::Backup => "backup killed",
            };
            out.push(row(
                RuleId::Bc7,
                "server kind × role",
                format!("{k}/{r}"),
                format!("{k} {what}: stays logged in at the same site, no switchover"),
            ));
        }
        out.push(row(
            RuleId::Bc7,
            "server kind × role",
            format!("{k}/switchover"),
            format!("{k} graceful HA switchover: stays logged in at the same site, no switchover"),
        ));
    }
    for (b, what) in [
        ("no_dr", "stays at the site"),
        (
            "dr_declared",
            "switches whole (declared stat_loss_triggers_dr)",
        ),
    ] {
        for f in [Fault::Killed, Fault::Refused] {
            out.push(row(
                RuleId::Bc8,
                "branch × fault",
                format!("{b}/{}", f.as_str()),
                format!("Stat Server {} alone: {what}", f.as_str()),
            ));
        }
    }
    for (b, what) in [
        (
            "other_returns",
            "both sites down, the other one returns: logs in there",
        ),
        (
            "preferred_returns",
            "both sites down, the preferred one returns: logs in there",
        ),
        (
            "both_down_at_start",
            "nothing answers at start: keeps trying until a site returns",
        ),
    ] {
        out.push(row(RuleId::Bc9, "branch", b.into(), what.into()));
    }
    for (b, what) in [
        (
            "before_fault",
            "a call through the peer where it is logged in is answered",
        ),
        (
            "after_switchover",
            "after a switchover, a call through the new peer is answered",
        ),
    ] {
        out.push(row(RuleId::Bc10, "branch", b.into(), what.into()));
    }
    for f in BC11_FAULTS {
        out.push(row(
            RuleId::Bc11,
            "fault",
            f.as_str().into(),
            format!(
                "{} on its links: at most one switchover, no churn",
                f.as_str()
            ),
        ));
    }
    for f in [Fault::Killed, Fault::Frozen] {
        out.push(row(
            RuleId::Bc12,
            "fault",
            f.as_str().into(),
            format!(
                "preferred site {} then back: fails back (declared failback)",
                f.as_str()
            ),
        ));
    }
}
