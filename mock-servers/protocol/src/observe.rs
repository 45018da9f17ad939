//! Observation events a mock server publishes on its control API (`GET /events`, NDJSON).
//! This is the contract between the mocks and any observer (the harness); it is documented in docs/control.md.

use crate::message::{AgentState, ObjectType, Role};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which kind of server emitted an event: the one shared word (see bc-vocab).
pub use bc_vocab::ServerKind;

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
    /// The SIP Server group (a group of four: one SIP Server pair per site) the instance belongs
    /// to, when it was started with one (`--group`); absent for a deployment of one group and for
    /// CS Proxy and Stat Server, which serve every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
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
    /// A connection's keep-alives, counted instead of observed one by one (a mock run with
    /// `--keepalive-events summary`): told every 5 s for the period since the last one, and just
    /// before its `client_disconnected`. `longest_gap_ms`: the longest time in the period the
    /// client was not heard keeping alive (a silence still running counted up to now).
    KeepaliveSummary {
        pings_in: u64,
        pongs_in: u64,
        pings_out: u64,
        pongs_out: u64,
        longest_gap_ms: u64,
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
    /// The connection that logged the agent in is closing and the agent stays logged in without
    /// it (a SIP Server run with `--keep-agents-on-disconnect`), until a logout or a new
    /// connection registering the DN takes it over. Told just before that connection's
    /// `client_disconnected`.
    AgentKept {
        dn: String,
        agent_id: String,
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
    /// A client turned away by a declared capacity limit (`limit`: `max_clients` or `login_rate`),
    /// told to retry after `retry_after_ms`; `answer`: `error` (EventError 429) or `refuse` (closed).
    Overloaded {
        limit: String,
        retry_after_ms: u64,
        answer: String,
        /// The client's `UserName` when it gave one (the CS Proxy requires it; any server may be
        /// told it): whose attempt it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_name: Option<String>,
    },
    /// SIP listener: a REGISTER added or refreshed a binding (`expires`: seconds granted).
    SipRegistered {
        aor: String,
        contact: String,
        transport: String,
        /// The flow's source address (where answers and INVITEs to the phone go).
        source: String,
        expires: u32,
    },
    /// SIP listener: a binding ended; `reason` is `expired` or `unregistered`.
    SipExpired {
        aor: String,
        contact: String,
        reason: String,
    },
    /// SIP listener (standby): the HA partner's sync link added (`present`) or removed a binding.
    SipBindingMirrored {
        aor: String,
        contact: String,
        present: bool,
    },
    /// SIP listener: an INVITE for an agent logged in at the peer got a 302 (once per transaction).
    SipRedirected {
        dn: String,
        call_id: String,
        contact: String,
    },
    /// SIP listener: an INVITE got a final error answer (480 when the agent is logged in nowhere).
    SipRejected {
        dn: String,
        call_id: String,
        code: u16,
        reason: String,
    },
    /// SIP listener: the mock INVITEs the phone registered for the DN (the gateway's Call-ID).
    SipInviteSent {
        dn: String,
        call_id: String,
        contact: String,
        conn_id: String,
    },
    /// SIP listener: the phone answered the INVITE with a 2xx, relayed to the gateway.
    SipAnswered {
        dn: String,
        call_id: String,
        code: u16,
    },
    /// SIP listener: a call bridged by the mock ended with a BYE from the gateway or the phone.
    SipBye {
        dn: String,
        call_id: String,
        from_gateway: bool,
    },
    /// SIP listener: a final answer of an INVITE sent again over UDP because no ACK came yet.
    SipRetransmitted {
        call_id: String,
        code: u16,
    },
    /// SIP listener: a message that could not be parsed or lacked required headers (400 or dropped).
    SipMalformed {
        source: String,
        reason: String,
    },
}

/// The idle-stream marker of `GET /events`: `{"heartbeat": H, "next_seq": N}`. Every event stamped
/// before `H` was written before this line; later events are stamped `H` or later and numbered `N` on.
/// It lets a follower advance its "seen up to" time while the instance has nothing to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Heartbeat {
    /// Wall-clock microseconds since the Unix epoch (the instance's event clock).
    pub heartbeat: i64,
    /// The seq the next event will carry.
    pub next_seq: u64,
}

/// One line of `GET /events`: an event or a heartbeat.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamLine {
    /// An observation.
    Event(ObservedEvent),
    /// Nothing before `heartbeat` is still to come.
    Heartbeat(Heartbeat),
}

impl StreamLine {
    /// Parses one NDJSON line; a heartbeat is told apart by its leading `"heartbeat"` key.
    pub fn parse(line: &[u8]) -> Result<StreamLine, serde_json::Error> {
        let trimmed = line.trim_ascii_start();
        if trimmed.starts_with(b"{\"heartbeat\"") {
            serde_json::from_slice(trimmed).map(StreamLine::Heartbeat)
        } else {
            serde_json::from_slice(trimmed).map(StreamLine::Event)
        }
    }
}
