//! The messages of the HA sync link (one JSON line each), apart from the link itself so that the
//! state that queues them and the link that carries them both depend on this, not on each other.

use crate::sipwire::registrar::MirroredBinding;
use bc_protocol::AgentState;
use serde::{Deserialize, Serialize};

/// One line on the sync link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SyncMsg {
    /// The full agent table and SIP binding table; replaces the partner's mirror.
    Snapshot {
        agents: Vec<MirroredAgent>,
        #[serde(default)]
        bindings: Vec<MirroredBinding>,
    },
    /// An agent logged in or changed state on a DN.
    Upsert {
        dn: String,
        agent_id: String,
        state: AgentState,
    },
    /// The agent on a DN logged out.
    Remove { dn: String },
    /// A phone registered or refreshed a contact.
    BindingUpsert(MirroredBinding),
    /// A phone unregistered a contact (expiry is not sent: each side expires on its own).
    BindingRemove { aor: String, contact: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MirroredAgent {
    pub dn: String,
    pub agent_id: String,
    pub state: AgentState,
}
