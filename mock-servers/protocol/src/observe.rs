//! Observation events a mock server publishes on its control API (`GET /events`, NDJSON).
//! This is the contract between the mocks and any observer (the harness); it is documented in docs/control.md.

use crate::message::{AgentState, ObjectType, Role};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which kind of server emitted an event; the same words name the servers in suites and reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    SipServer,
    ConfigServer,
    StatServer,
}

impl ServerKind {
    /// Every kind, in report order.
    pub const ALL: [ServerKind; 3] = [
        ServerKind::ConfigServer,
        ServerKind::SipServer,
        ServerKind::StatServer,
    ];

    /// The snake_case name used on the wire, in suites and in the desktop connection file.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerKind::SipServer => "sip_server",
            ServerKind::ConfigServer => "config_server",
            ServerKind::StatServer => "stat_server",
        }
    }
}

/// How a client connection ended, as far as the server could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectHow {
    /// The client closed (EOF).
    Fin,
    /// The connection was reset (ECONNRESET / EPIPE).
    Rst,
    /// The server's keep-alive gave up on a silent client.
    Timeout,
    /// The server closed it (graceful shutdown, over-long line, demotion).
    ServerClosed,
}

/// One observation: what happened, where, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObservedEvent {
    /// Per-instance sequence number, from 0, without gaps.
    pub seq: u64,
    /// Wall-clock time in microseconds since the Unix epoch.
    pub ts_us: i64,
    pub server: ServerKind,
    pub site: String,
    /// The instance's configured HA slot (`primary` or `backup`), which does not change on promotion.
    pub role: Role,
    /// The client connection id (unique per instance), absent for instance-wide events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What was observed. Serialised with `"kind": "<snake_case name>"` beside the other attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// The instance is listening (first event of every instance).
    Started {
        listen: String,
        active: bool,
    },
    ClientConnected {
        peer: String,
    },
    ClientDisconnected {
        how: DisconnectHow,
    },
    /// RequestRegisterClient accepted (for the CS Proxy: credentials accepted).
    ClientRegistered {
        client_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_name: Option<String>,
    },
    /// Every request received, by message name.
    Request {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference_id: Option<i64>,
    },
    ErrorSent {
        code: i64,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference_id: Option<i64>,
    },
    /// `ping_seq` on the wire: the envelope's `seq` is the event sequence number.
    Ping {
        #[serde(rename = "ping_seq")]
        seq: i64,
        inbound: bool,
    },
    /// `ping_seq` on the wire, as for `ping`.
    Pong {
        #[serde(rename = "ping_seq")]
        seq: i64,
        inbound: bool,
    },
    /// CS Proxy answered a RequestReadObjects.
    ObjectsRead {
        object_type: ObjectType,
        count: usize,
    },
    /// SIP Server: DN registered on this connection; agent fields set when an agent is logged in on it.
    DnRegistered {
        dn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_state: Option<AgentState>,
    },
    DnUnregistered {
        dn: String,
    },
    AgentLogin {
        dn: String,
        agent_id: String,
        state: AgentState,
    },
    AgentStateChanged {
        dn: String,
        agent_id: String,
        state: AgentState,
    },
    /// `reason`: `request`, `disconnect` (its connection closed), `shutdown` (graceful shutdown).
    AgentLogout {
        dn: String,
        agent_id: String,
        reason: String,
    },
    /// A call offered on a DN through this instance.
    CallRinging {
        dn: String,
        conn_id: String,
        other_dn: String,
        call_type: String,
    },
    /// A call that arrived here for an agent logged in at the peer site (302 out-of-signalling-path transfer).
    CallRedirected {
        dn: String,
        to_site: String,
    },
    CallAnswered {
        dn: String,
        conn_id: String,
    },
    CallReleased {
        dn: String,
        conn_id: String,
    },
    StatisticOpened {
        statistic_id: i64,
        statistic_type: String,
    },
    StatisticClosed {
        statistic_id: i64,
    },
    /// The instance became active (promoted) or standby (demoted).
    RoleChanged {
        active: bool,
    },
    LoginRejection {
        enabled: bool,
    },
    ConfigUpdated {
        object_type: ObjectType,
        dbid: i64,
    },
    /// Graceful shutdown began (control command or SIGTERM).
    ShuttingDown,
    /// SIP Server standby: the HA partner's sync link changed the mirrored agent on a DN
    /// (agent fields absent: logged out).
    AgentMirrored {
        dn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<AgentState>,
    },
}
