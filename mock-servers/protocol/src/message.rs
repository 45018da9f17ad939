//! Every message of the protocol, requests and events, as one tagged enum.
//! Attribute names are the wire names (PascalCase, `ID`/`DN` kept upper case) and are a public contract.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Annex of a configuration object: section -> option -> value.
pub type Annex = BTreeMap<String, BTreeMap<String, String>>;

/// The HA role a server instance reports: the one shared word (see bc-vocab).
pub use bc_vocab::Role;

/// An agent's state on a DN; absent in a message means logged out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentState {
    LoggedOut,
    NotReady,
    Ready,
}

/// Configuration object types readable from the CS Proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ObjectType {
    CfgTenant,
    CfgAgentGroup,
    CfgPerson,
    CfgDN,
}

/// A configuration object as sent by the CS Proxy. Person and DN attributes are present only on those types.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CfgObject {
    #[serde(rename = "DBID")]
    pub dbid: i64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Annex", default)]
    pub annex: Annex,
    #[serde(rename = "UserName", default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(
        rename = "EmployeeID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub employee_id: Option<String>,
    #[serde(
        rename = "AgentLogins",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_logins: Option<Vec<String>>,
    #[serde(
        rename = "TenantDBID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_dbid: Option<i64>,
    #[serde(
        rename = "AgentGroupDBIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_group_dbids: Option<Vec<i64>>,
    #[serde(rename = "DN", default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    #[serde(rename = "Number", default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
}

/// The object a statistic is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StatObject {
    #[serde(rename = "Type")]
    pub object_type: String,
    #[serde(rename = "ID")]
    pub id: String,
}

/// How Stat Server reports a statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Notification {
    #[serde(rename = "Mode")]
    pub mode: NotificationMode,
    /// Seconds between `EventInfo` in `Periodical` mode.
    #[serde(rename = "Frequency", default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<u32>,
}

/// Notification mode of a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NotificationMode {
    Periodical,
    Changes,
}

/// One protocol message. The `message` attribute carries the variant name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "message")]
pub enum Message {
    // ---- all servers ----
    RequestRegisterClient {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ClientName")]
        client_name: String,
        #[serde(rename = "ProtocolVersion")]
        protocol_version: u32,
        /// Required by the CS Proxy only.
        #[serde(rename = "UserName", default, skip_serializing_if = "Option::is_none")]
        user_name: Option<String>,
        /// Required by the CS Proxy only.
        #[serde(rename = "Password", default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    EventClientRegistered {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ServerName")]
        server_name: String,
        #[serde(rename = "Site")]
        site: String,
        #[serde(rename = "Role")]
        role: Role,
        #[serde(rename = "ProtocolVersion")]
        protocol_version: u32,
    },
    EventError {
        /// Echoes the request's ReferenceID; 0 when the line was unreadable.
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ErrorCode")]
        error_code: i64,
        #[serde(rename = "ErrorMessage")]
        error_message: String,
    },
    Ping {
        #[serde(rename = "Seq")]
        seq: i64,
    },
    Pong {
        #[serde(rename = "Seq")]
        seq: i64,
    },
    /// Sent before the server closes the link on a graceful shutdown.
    EventLinkDisconnected {
        #[serde(rename = "Reason", default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },

    // ---- Configuration Server Proxy ----
    RequestReadObjects {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ObjectType")]
        object_type: ObjectType,
        /// Attribute name -> value; an object matches when every named attribute equals the value.
        #[serde(rename = "Filter", default)]
        filter: BTreeMap<String, serde_json::Value>,
    },
    EventObjectsRead {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ObjectType")]
        object_type: ObjectType,
        #[serde(rename = "Objects")]
        objects: Vec<CfgObject>,
    },
    EventObjectsSent {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
    },
    EventObjectUpdated {
        #[serde(rename = "ObjectType")]
        object_type: ObjectType,
        #[serde(rename = "Object")]
        object: CfgObject,
    },

    // ---- SIP Server ----
    RequestRegisterAddress {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
    },
    EventRegistered {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        /// Present when an agent is logged in on the DN (e.g. after an HA failover).
        #[serde(rename = "AgentID", default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
        #[serde(
            rename = "AgentState",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        agent_state: Option<AgentState>,
    },
    RequestUnregisterAddress {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
    },
    EventUnregistered {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
    },
    RequestAgentLogin {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    EventAgentLogin {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
        #[serde(rename = "AgentState")]
        agent_state: AgentState,
    },
    RequestAgentReady {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    EventAgentReady {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    RequestAgentNotReady {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    EventAgentNotReady {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    RequestAgentLogout {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    EventAgentLogout {
        /// Absent when the server logs the agent out on its own (graceful shutdown).
        #[serde(
            rename = "ReferenceID",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        reference_id: Option<i64>,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "AgentID")]
        agent_id: String,
    },
    EventRinging {
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
        #[serde(rename = "OtherDN")]
        other_dn: String,
        /// `Inbound`, `Internal`, `Outbound` or `Consult`.
        #[serde(rename = "CallType")]
        call_type: String,
    },
    RequestAnswerCall {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
    },
    EventEstablished {
        /// Present when the event answers RequestAnswerCall.
        #[serde(
            rename = "ReferenceID",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        reference_id: Option<i64>,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
        #[serde(rename = "OtherDN", default, skip_serializing_if = "Option::is_none")]
        other_dn: Option<String>,
    },
    RequestReleaseCall {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
    },
    EventReleased {
        /// Present when the event answers RequestReleaseCall.
        #[serde(
            rename = "ReferenceID",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        reference_id: Option<i64>,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
    },
    RequestMakeCall {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "OtherDN")]
        other_dn: String,
    },
    EventDialing {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "ThisDN")]
        this_dn: String,
        #[serde(rename = "ConnID")]
        conn_id: String,
        #[serde(rename = "OtherDN")]
        other_dn: String,
    },

    // ---- Stat Server ----
    RequestOpenStatistic {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "StatisticID")]
        statistic_id: i64,
        #[serde(rename = "Object")]
        object: StatObject,
        #[serde(rename = "StatisticType")]
        statistic_type: String,
        #[serde(rename = "Notification")]
        notification: Notification,
    },
    EventStatisticOpened {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "StatisticID")]
        statistic_id: i64,
    },
    EventInfo {
        #[serde(rename = "StatisticID")]
        statistic_id: i64,
        #[serde(rename = "Value")]
        value: serde_json::Value,
    },
    RequestCloseStatistic {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "StatisticID")]
        statistic_id: i64,
    },
    EventStatisticClosed {
        #[serde(rename = "ReferenceID")]
        reference_id: i64,
        #[serde(rename = "StatisticID")]
        statistic_id: i64,
    },
}

impl Message {
    /// Every message name of the protocol, as it appears in the `message` attribute.
    pub const NAMES: &'static [&'static str] = bc_vocab::MESSAGE_NAMES;

    /// The wire name of this message (a plain match: no serialisation).
    pub fn name(&self) -> &'static str {
        use Message::*;
        match self {
            RequestRegisterClient { .. } => "RequestRegisterClient",
            EventClientRegistered { .. } => "EventClientRegistered",
            EventError { .. } => "EventError",
            Ping { .. } => "Ping",
            Pong { .. } => "Pong",
            EventLinkDisconnected { .. } => "EventLinkDisconnected",
            RequestReadObjects { .. } => "RequestReadObjects",
            EventObjectsRead { .. } => "EventObjectsRead",
            EventObjectsSent { .. } => "EventObjectsSent",
            EventObjectUpdated { .. } => "EventObjectUpdated",
            RequestRegisterAddress { .. } => "RequestRegisterAddress",
            EventRegistered { .. } => "EventRegistered",
            RequestUnregisterAddress { .. } => "RequestUnregisterAddress",
            EventUnregistered { .. } => "EventUnregistered",
            RequestAgentLogin { .. } => "RequestAgentLogin",
            EventAgentLogin { .. } => "EventAgentLogin",
            RequestAgentReady { .. } => "RequestAgentReady",
            EventAgentReady { .. } => "EventAgentReady",
            RequestAgentNotReady { .. } => "RequestAgentNotReady",
            EventAgentNotReady { .. } => "EventAgentNotReady",
            RequestAgentLogout { .. } => "RequestAgentLogout",
            EventAgentLogout { .. } => "EventAgentLogout",
            EventRinging { .. } => "EventRinging",
            RequestAnswerCall { .. } => "RequestAnswerCall",
            EventEstablished { .. } => "EventEstablished",
            RequestReleaseCall { .. } => "RequestReleaseCall",
            EventReleased { .. } => "EventReleased",
            RequestMakeCall { .. } => "RequestMakeCall",
            EventDialing { .. } => "EventDialing",
            RequestOpenStatistic { .. } => "RequestOpenStatistic",
            EventStatisticOpened { .. } => "EventStatisticOpened",
            EventInfo { .. } => "EventInfo",
            RequestCloseStatistic { .. } => "RequestCloseStatistic",
            EventStatisticClosed { .. } => "EventStatisticClosed",
        }
    }

    /// The ReferenceID of a request or of an answer, if the message has one.
    pub fn reference_id(&self) -> Option<i64> {
        use Message::*;
        match self {
            RequestRegisterClient { reference_id, .. }
            | EventClientRegistered { reference_id, .. }
            | EventError { reference_id, .. }
            | RequestReadObjects { reference_id, .. }
            | EventObjectsRead { reference_id, .. }
            | EventObjectsSent { reference_id }
            | RequestRegisterAddress { reference_id, .. }
            | EventRegistered { reference_id, .. }
            | RequestUnregisterAddress { reference_id, .. }
            | EventUnregistered { reference_id, .. }
            | RequestAgentLogin { reference_id, .. }
            | EventAgentLogin { reference_id, .. }
            | RequestAgentReady { reference_id, .. }
            | EventAgentReady { reference_id, .. }
            | RequestAgentNotReady { reference_id, .. }
            | EventAgentNotReady { reference_id, .. }
            | RequestAgentLogout { reference_id, .. }
            | RequestAnswerCall { reference_id, .. }
            | RequestReleaseCall { reference_id, .. }
            | RequestMakeCall { reference_id, .. }
            | EventDialing { reference_id, .. }
            | RequestOpenStatistic { reference_id, .. }
            | EventStatisticOpened { reference_id, .. }
            | RequestCloseStatistic { reference_id, .. }
            | EventStatisticClosed { reference_id, .. } => Some(*reference_id),
            EventAgentLogout { reference_id, .. }
            | EventEstablished { reference_id, .. }
            | EventReleased { reference_id, .. } => *reference_id,
            Ping { .. }
            | Pong { .. }
            | EventLinkDisconnected { .. }
            | EventObjectUpdated { .. }
            | EventRinging { .. }
            | EventInfo { .. } => None,
        }
    }

    /// Builds the `EventError` answer for a request.
    pub fn error(reference_id: i64, code: i64, message: impl Into<String>) -> Self {
        Message::EventError {
            reference_id,
            error_code: code,
            error_message: message.into(),
        }
    }
}
