//! Human one-line rendering of timeline entries for failure excerpts, console and JUnit output.
//! Times are shown relative to the timeline's first entry (`+12.345s`).

use bc_protocol::EventKind;

use super::entry::{DesktopEvent, Entry, EntryKind};

/// Pings, pongs, requests and desktop log lines: left out of excerpts.
pub fn is_noise(kind: &EntryKind) -> bool {
    match kind {
        EntryKind::Observed { event: o } => matches!(
            o.kind,
            EventKind::Ping { .. }
                | EventKind::Pong { .. }
                | EventKind::KeepaliveSummary { .. }
                | EventKind::Request { .. }
                | EventKind::ObjectsRead { .. }
        ),
        EntryKind::Desktop(DesktopEvent::Log { .. }) => true,
        _ => false,
    }
}

/// `+1.234s  A/sip_server/primary conn 3: agent_login 1001 on 7001`.
pub fn line(e: &Entry, start_us: i64) -> String {
    let t = (e.ts_us - start_us) as f64 / 1e6;
    format!("+{t:.3}s  {}", describe(&e.kind))
}

/// A fault's description, naming every agent it hit when aimed (the description names a few).
pub fn fault_line(description: &str, agents: &[String]) -> String {
    match agents.is_empty() {
        true => description.to_string(),
        false => format!("{description}; hit: {}", agents.join(", ")),
    }
}

/// The entry without its time.
pub fn describe(kind: &EntryKind) -> String {
    match kind {
        EntryKind::Observed { event: o } => {
            let who = format!("{}/{}/{}", o.site, o.server.as_str(), o.role.as_str());
            let conn = o.conn.map(|c| format!(" conn {c}")).unwrap_or_default();
            format!("{who}{conn}: {}", describe_event(&o.kind))
        }
        EntryKind::Fault {
            id,
            marker,
            description,
            agents,
            ..
        } => {
            let m = marker
                .as_ref()
                .map(|m| format!(" [marker {m}]"))
                .unwrap_or_default();
            format!("FAULT #{id} {}{m}", fault_line(description, agents))
        }
        EntryKind::Heal {
            fault, description, ..
        } => match fault {
            Some(f) => format!("HEAL #{f} {description}"),
            None => format!("HEAL {description}"),
        },
        EntryKind::Marker { name } => format!("MARKER {name}"),
        EntryKind::Step { index, description } => format!("STEP {index}: {description}"),
        EntryKind::Desktop(d) => describe_desktop(d),
        EntryKind::Note { message } => format!("note: {message}"),
        EntryKind::Infra { component, cause } => format!("INFRA {component} {cause}"),
    }
}

/// What an observed server event says (`agent_login 1001 on 7001`), without who saw it. Kinds
/// without a rendering of their own show their serialised `kind` tag.
fn describe_event(kind: &EventKind) -> String {
    match kind {
        EventKind::ClientConnected { peer } => format!("client_connected from {peer}"),
        EventKind::ClientDisconnected { how } => {
            format!("client_disconnected ({how:?})").to_lowercase()
        }
        EventKind::ClientRegistered {
            client_name,
            user_name,
        } => {
            format!(
                "client_registered {client_name} user {}",
                user_name.as_deref().unwrap_or("-")
            )
        }
        EventKind::AgentLogin { dn, agent_id, .. } => {
            format!("agent_login {agent_id} on {dn}")
        }
        EventKind::AgentLogout {
            dn,
            agent_id,
            reason,
        } => format!("agent_logout {agent_id} on {dn} ({reason})"),
        EventKind::AgentKept { dn, agent_id } => {
            format!("agent_kept {agent_id} on {dn} (its connection is closing)")
        }
        EventKind::DnRegistered { dn, agent_id, .. } => {
            format!(
                "dn_registered {dn}{}",
                agent_id
                    .as_ref()
                    .map(|a| format!(" agent {a}"))
                    .unwrap_or_default()
            )
        }
        EventKind::AgentStateChanged {
            dn,
            agent_id,
            state,
        } => {
            format!("agent_state_changed {agent_id} on {dn} -> {state:?}")
        }
        EventKind::DnUnregistered { dn } => format!("dn_unregistered {dn}"),
        EventKind::CallRinging { dn, conn_id, .. } => {
            format!("call_ringing {conn_id} on {dn}")
        }
        EventKind::CallAnswered { dn, conn_id } => {
            format!("call_answered {conn_id} on {dn}")
        }
        EventKind::CallRedirected { dn, to_site } => {
            format!("call_redirected {dn} to {to_site}")
        }
        EventKind::RoleChanged { active } => {
            format!(
                "role_changed {}",
                if *active { "active" } else { "standby" }
            )
        }
        EventKind::LoginRejection { enabled } => format!("login_rejection {enabled}"),
        EventKind::StatisticOpened { statistic_id, .. } => {
            format!("statistic_opened {statistic_id}")
        }
        EventKind::ErrorSent { code, message, .. } => {
            format!("error_sent {code} {message}")
        }
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
            .unwrap_or_else(|| "event".into()),
    }
}

/// A desktop process entry: its start, a line of its log, or its exit (`EARLY` when unexpected).
fn describe_desktop(d: &DesktopEvent) -> String {
    match d {
        DesktopEvent::Started { pid, .. } => format!("desktop started (pid {pid})"),
        DesktopEvent::Log { line, .. } => format!("desktop: {line}"),
        DesktopEvent::Exited { code, expected } => format!(
            "desktop exited (code {}){}",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "signal".into()),
            if *expected { "" } else { " EARLY" }
        ),
    }
}
