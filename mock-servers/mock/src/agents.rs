//! The SIP Server's agent table: DN -> logged-in agent, with an index AgentID -> DN so that the
//! "agent already logged in elsewhere" check stays O(1) with many thousands of sessions.

use bc_protocol::AgentState;
use std::collections::HashMap;

/// An agent logged in on a DN. `owner` is the connection it logged in through; None when mirrored.
#[derive(Debug, Clone)]
pub struct AgentSlot {
    pub agent_id: String,
    pub state: AgentState,
    pub owner: Option<u64>,
}

#[derive(Debug, Default)]
pub struct AgentTable {
    by_dn: HashMap<String, AgentSlot>,
    dn_of: HashMap<String, String>,
}

impl AgentTable {
    pub fn get(&self, dn: &str) -> Option<&AgentSlot> {
        self.by_dn.get(dn)
    }

    /// Mutable access for state and owner; the agent id must not be changed through it.
    pub fn get_mut(&mut self, dn: &str) -> Option<&mut AgentSlot> {
        self.by_dn.get_mut(dn)
    }

    pub fn contains_key(&self, dn: &str) -> bool {
        self.by_dn.contains_key(dn)
    }

    /// The DN an agent is logged in on.
    pub fn dn_of(&self, agent_id: &str) -> Option<&String> {
        self.dn_of.get(agent_id)
    }

    /// Puts an agent on a DN, replacing whoever was there and removing the agent from any other DN.
    pub fn insert(&mut self, dn: String, slot: AgentSlot) {
        if let Some(other) = self.dn_of.get(&slot.agent_id).cloned() {
            if other != dn {
                self.by_dn.remove(&other);
            }
        }
        if let Some(old) = self.by_dn.insert(dn.clone(), slot.clone()) {
            self.dn_of.remove(&old.agent_id);
        }
        self.dn_of.insert(slot.agent_id, dn);
    }

    pub fn remove(&mut self, dn: &str) -> Option<AgentSlot> {
        let a = self.by_dn.remove(dn)?;
        self.dn_of.remove(&a.agent_id);
        Some(a)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &AgentSlot)> {
        self.by_dn.iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.by_dn.keys()
    }

    pub fn clear(&mut self) {
        self.by_dn.clear();
        self.dn_of.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(id: &str) -> AgentSlot {
        AgentSlot {
            agent_id: id.into(),
            state: AgentState::NotReady,
            owner: None,
        }
    }

    #[test]
    fn index_follows_inserts_and_removes() {
        let mut t = AgentTable::default();
        t.insert("7001".into(), slot("1001"));
        assert_eq!(t.dn_of("1001").map(String::as_str), Some("7001"));
        // The same agent moving to another DN leaves the first.
        t.insert("7002".into(), slot("1001"));
        assert!(!t.contains_key("7001"));
        // Another agent replacing it on 7002 drops the old index entry.
        t.insert("7002".into(), slot("1002"));
        assert!(t.dn_of("1001").is_none());
        assert!(t.remove("7002").is_some());
        assert!(t.dn_of("1002").is_none());
    }
}
