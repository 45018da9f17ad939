//! A herd's routing of timeline entries to its agents' lanes: an observation on a client connection
//! goes to the agent that connection belongs to, learned from its registration; the rest to all.

use std::collections::HashMap;

use bc_protocol::{EventKind, Role, ServerKind};

use crate::observe::{Entry, EntryKind, Subject};

/// A client connection: instance (site, kind, HA slot) and the connection id there.
type ConnKey = (String, ServerKind, Role, u64);

/// Entries of a connection whose agent is not known yet, kept for it (its connect and register
/// requests); past this the connection is taken for nobody's (a Stat Server session names no user).
const MAX_WAITING: usize = 64;

/// Where one entry goes.
pub(super) enum Route {
    /// Every lane.
    All,
    /// One agent's lane, after the earlier entries of its connection that waited for it.
    One(usize, Vec<usize>),
    /// No lane yet (or none: a connection of nobody's).
    Nowhere,
    /// A fault aimed at some agents: these lanes take it whole, the others without its effects
    /// (they still see its marker and its time).
    Aimed(Vec<usize>),
}

/// Which agent each client connection belongs to.
pub(super) struct Router {
    by_user: HashMap<String, usize>,
    by_dn: HashMap<String, usize>,
    by_agent_id: HashMap<String, usize>,
    owner: HashMap<ConnKey, Option<usize>>,
    waiting: HashMap<ConnKey, Vec<usize>>,
}

impl Router {
    /// A router over the lanes of these subjects, in lane order.
    pub fn new<'a>(subjects: impl Iterator<Item = &'a Subject>) -> Router {
        let mut r = Router {
            by_user: HashMap::new(),
            by_dn: HashMap::new(),
            by_agent_id: HashMap::new(),
            owner: HashMap::new(),
            waiting: HashMap::new(),
        };
        for (k, s) in subjects.enumerate() {
            r.by_user.insert(s.username.clone(), k);
            r.by_dn.insert(s.dn.clone(), k);
            r.by_agent_id.insert(s.agent_id.clone(), k);
        }
        r
    }

    /// The agent an event names, if it names one.
    fn named(&self, kind: &EventKind) -> Option<usize> {
        match kind {
            EventKind::ClientRegistered {
                user_name: Some(u), ..
            } => self.by_user.get(u).copied(),
            EventKind::DnRegistered { dn, .. } => self.by_dn.get(dn).copied(),
            EventKind::AgentLogin { dn, agent_id, .. } => self
                .by_dn
                .get(dn)
                .or_else(|| self.by_agent_id.get(agent_id))
                .copied(),
            _ => None,
        }
    }

    /// Where entry `index` goes.
    pub fn route(&mut self, index: usize, e: &Entry) -> Route {
        if let EntryKind::Fault { agents, .. } = &e.kind {
            if !agents.is_empty() {
                let lanes = agents.iter().filter_map(|a| self.by_user.get(a).copied());
                return Route::Aimed(lanes.collect());
            }
        }
        let EntryKind::Observed { event: o } = &e.kind else {
            return Route::All;
        };
        let Some(conn) = o.conn else {
            return Route::All;
        };
        let key: ConnKey = (o.site.clone(), o.server, o.role, conn);
        if matches!(o.kind, EventKind::ClientConnected { .. }) {
            // A connection id may come again after a restart: a new connection, nobody's yet.
            self.owner.remove(&key);
            self.waiting.insert(key, vec![index]);
            return Route::Nowhere;
        }
        match self.owner.get(&key) {
            Some(Some(k)) => return Route::One(*k, Vec::new()),
            Some(None) => return Route::Nowhere,
            None => {}
        }
        if let Some(k) = self.named(&o.kind) {
            self.owner.insert(key.clone(), Some(k));
            let earlier = self.waiting.remove(&key).unwrap_or_default();
            return Route::One(k, earlier);
        }
        let w = self.waiting.entry(key.clone()).or_default();
        w.push(index);
        if w.len() > MAX_WAITING || matches!(o.kind, EventKind::ClientDisconnected { .. }) {
            self.waiting.remove(&key);
            self.owner.insert(key, None);
        }
        Route::Nowhere
    }
}
