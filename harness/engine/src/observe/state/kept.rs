//! Logins a SIP Server keeps past their connection (`agent_kept`, servers run with
//! `--keep-agents-on-disconnect`): when such a kept login is over.

use bc_protocol::EventKind;

use super::{InstanceKey, SessionState};

impl SessionState {
    /// Ends the kept logins (`Conn::kept`) at an instance that an event shows are over: the agent
    /// logged out or its DN registered on another connection (which now holds the login), or the
    /// instance going standby (a standby holds no session).
    pub(super) fn end_kept(&mut self, inst: &InstanceKey, kind: &EventKind, conn: Option<u64>) {
        let s = &self.subject;
        let over = match kind {
            EventKind::AgentLogout { dn, agent_id, .. } => *dn == s.dn || *agent_id == s.agent_id,
            EventKind::DnRegistered { dn, .. } | EventKind::AgentLogin { dn, .. } => *dn == s.dn,
            EventKind::RoleChanged { active } => !active,
            _ => false,
        };
        if over {
            self.conns
                .retain(|(i, id), c| !(i == inst && c.kept && Some(*id) != conn));
        }
    }
}
