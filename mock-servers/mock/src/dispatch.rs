//! Request handling common to all server kinds: keep-alive, registration, and the gates
//! (wrong kind 404, inactive backup 503, unregistered 401) before the kind-specific handlers.

use crate::state::{Instance, State};
use crate::{config_proxy, sip, stat};
use bc_protocol::{error_code, EventKind, Message, ServerKind, PROTOCOL_VERSION};
use std::sync::Arc;

/// Whether a message is a request a client may send (Ping/Pong are handled before).
fn is_request(m: &Message) -> bool {
    m.name().starts_with("Request")
}

/// Which server kind serves a request; None for requests every kind serves.
fn owner_kind(m: &Message) -> Option<ServerKind> {
    use Message::*;
    match m {
        RequestRegisterClient { .. } => None,
        RequestReadObjects { .. } => Some(ServerKind::ConfigServer),
        RequestOpenStatistic { .. } | RequestCloseStatistic { .. } => Some(ServerKind::StatServer),
        _ => Some(ServerKind::SipServer),
    }
}

/// Handles one decoded message from connection `conn`; returns the answers for that connection in order.
pub fn handle(inst: &Arc<Instance>, conn: u64, msg: Message) -> Vec<Message> {
    match msg {
        Message::Ping { seq } => {
            inst.emit(Some(conn), EventKind::Ping { seq, inbound: true });
            inst.emit(
                Some(conn),
                EventKind::Pong {
                    seq,
                    inbound: false,
                },
            );
            return vec![Message::Pong { seq }];
        }
        Message::Pong { seq } => {
            inst.emit(Some(conn), EventKind::Pong { seq, inbound: true });
            return vec![];
        }
        _ => {}
    }
    let rid = msg.reference_id();
    inst.emit(
        Some(conn),
        EventKind::Request {
            message: msg.name().to_string(),
            reference_id: rid,
        },
    );
    let rid = rid.unwrap_or(0);
    if !is_request(&msg) {
        return vec![Message::error(
            rid,
            error_code::UNKNOWN_MESSAGE,
            format!("{} is not a request a client may send", msg.name()),
        )];
    }
    if let Some(k) = owner_kind(&msg) {
        if k != inst.kind() {
            return vec![Message::error(
                rid,
                error_code::UNKNOWN_MESSAGE,
                format!("{} is not served by a {}", msg.name(), inst.kind().as_str()),
            )];
        }
    }
    let mut st = inst.lock();
    if !st.active {
        return vec![Message::error(rid, error_code::NOT_PRIMARY, "not primary")];
    }
    if st.shutting_down {
        return vec![Message::error(
            rid,
            error_code::NOT_PRIMARY,
            "shutting down",
        )];
    }
    if let Message::RequestRegisterClient {
        reference_id,
        client_name,
        protocol_version,
        user_name,
        password,
    } = msg
    {
        return register_client(
            inst,
            &mut st,
            conn,
            reference_id,
            client_name,
            protocol_version,
            user_name,
            password,
        );
    }
    let registered = st.conns.get(&conn).map(|c| c.registered).unwrap_or(false);
    if !registered {
        return vec![Message::error(
            rid,
            error_code::UNAUTHORIZED,
            "send RequestRegisterClient first",
        )];
    }
    match inst.kind() {
        ServerKind::SipServer => sip::handle(inst, &mut st, conn, msg),
        ServerKind::ConfigServer => config_proxy::handle(inst, &mut st, conn, msg),
        ServerKind::StatServer => stat::handle(inst, &mut st, conn, msg),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one registration carries every field of the client record"
)]
fn register_client(
    inst: &Arc<Instance>,
    st: &mut State,
    conn: u64,
    rid: i64,
    client_name: String,
    protocol_version: u32,
    user_name: Option<String>,
    password: Option<String>,
) -> Vec<Message> {
    if st.reject_logins {
        return sip::login_rejected(rid);
    }
    if let Some((e, retry_after)) = crate::capacity::turn_away(
        inst,
        st,
        conn,
        crate::capacity::OverloadAnswer::Error,
        user_name.as_deref(),
    ) {
        return vec![Message::error(
            rid,
            error_code::OVERLOADED,
            crate::capacity::overload_message(e, retry_after),
        )];
    }
    if protocol_version != PROTOCOL_VERSION {
        return vec![Message::error(
            rid,
            error_code::UNSUPPORTED_VERSION,
            format!(
                "protocol version {protocol_version} is not supported (use {PROTOCOL_VERSION})"
            ),
        )];
    }
    if inst.kind() == ServerKind::ConfigServer {
        let (Some(u), Some(p)) = (user_name.as_deref(), password.as_deref()) else {
            return vec![Message::error(
                rid,
                error_code::INVALID_ATTRIBUTE,
                "the config server requires UserName and Password",
            )];
        };
        if st.db.authenticate(u, p).is_none() {
            return vec![Message::error(
                rid,
                error_code::UNAUTHORIZED,
                "invalid user name or password",
            )];
        }
    }
    let role = inst.current_role(st);
    if let Some(c) = st.conns.get_mut(&conn) {
        c.registered = true;
        c.client_name = Some(client_name.clone());
    }
    inst.emit(
        Some(conn),
        EventKind::ClientRegistered {
            client_name,
            user_name,
        },
    );
    vec![Message::EventClientRegistered {
        reference_id: rid,
        server_name: format!("{}_{}_{}", inst.kind().as_str(), inst.opts.site, slot(inst)),
        site: inst.opts.site.clone(),
        role,
        protocol_version: PROTOCOL_VERSION,
    }]
}

fn slot(inst: &Instance) -> &'static str {
    match inst.opts.role {
        bc_protocol::Role::Primary => "primary",
        bc_protocol::Role::Backup => "backup",
    }
}
