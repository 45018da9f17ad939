//! The shared state of one instance: role, connections table, agents, calls, database, and the
//! instance-wide commands (promote, demote, reset, shutdown) that act on all connections.

pub use crate::agents::{AgentSlot, AgentTable};
use crate::configdb::ConfigDb;
use crate::observer::Observer;
use crate::options::Options;
use crate::sync_msg::SyncMsg;
use bc_protocol::{EventKind, Message, Role, ServerKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What other tasks ask a connection task to do.
#[derive(Debug)]
pub enum Outbound {
    /// Write a message.
    Msg(Box<Message>),
    /// Graceful shutdown: log agents out, send EventLinkDisconnected, close.
    Shutdown,
    /// Close at once; agents were already logged out (demotion) or cleared (reset).
    Close,
}

/// One client connection as the state table knows it.
#[derive(Debug)]
pub struct ConnEntry {
    pub peer: String,
    pub client_name: Option<String>,
    pub registered: bool,
    pub dns: BTreeSet<String>,
    /// Open statistics: id -> generation (a periodic reporter stops when its generation is gone).
    pub stats: BTreeMap<i64, u64>,
    /// DNs whose agent logged in (or was adopted) through this connection; may be stale, so
    /// users check the slot's owner.
    pub owned: HashSet<String>,
    pub tx: mpsc::UnboundedSender<Outbound>,
}

/// A call known to the SIP Server.
#[derive(Debug, Clone)]
pub struct Call {
    pub dn: String,
    pub other_dn: String,
    pub established: bool,
}

/// Mutable state, behind one mutex.
pub struct State {
    pub active: bool,
    pub reject_logins: bool,
    pub shutting_down: bool,
    pub conns: HashMap<u64, ConnEntry>,
    /// DN -> agent logged in on it.
    pub agents: AgentTable,
    pub calls: HashMap<String, Call>,
    pub db: ConfigDb,
    pub peers: Vec<String>,
    pub next_call: u64,
    pub next_stat_gen: u64,
    /// Agent-state deltas for the HA partner (SIP primary with --sync-to, while a link is up).
    pub sync_tx: Option<mpsc::UnboundedSender<SyncMsg>>,
    /// SIP listener: the registrar's bindings (mirrored to the HA partner like agents).
    pub sip_bindings: crate::sipwire::registrar::Bindings,
    /// SIP listener: the peer site's SIP address as clients reach it (302 Contact).
    pub sip_peer_contact: Option<String>,
}

/// One running server instance.
pub struct Instance {
    pub opts: Options,
    pub obs: Observer,
    state: Mutex<State>,
    next_conn: AtomicU64,
    /// Cancelled when graceful shutdown begins: accept loops stop.
    pub stopping: CancellationToken,
    /// Cancelled when the instance has finished (process may exit).
    pub finished: CancellationToken,
    shutdown_started: AtomicBool,
    /// Actual protocol listen address (filled in after bind).
    pub listen: Mutex<String>,
    /// Holds armed through the control API (`POST /holds`).
    pub holds: crate::holds::Holds,
    /// Declared capacity limits and their counters (`crate::capacity`).
    pub capacity: crate::capacity::Capacity,
    /// Keep-alive counters per connection, when they are summarised (`crate::keepalive`).
    tallies: crate::keepalive::Tallies,
}

impl Instance {
    pub fn new(opts: Options, db: ConfigDb) -> Arc<Self> {
        let obs = Observer::new(opts.kind, &opts.site, opts.role).with_group(opts.group);
        let capacity = opts.capacity.clone();
        let state = State {
            active: opts.role == Role::Primary,
            reject_logins: false,
            shutting_down: false,
            conns: HashMap::new(),
            agents: AgentTable::default(),
            calls: HashMap::new(),
            db,
            peers: opts.peers.clone(),
            next_call: 1,
            next_stat_gen: 1,
            sync_tx: None,
            sip_bindings: Default::default(),
            sip_peer_contact: opts.sip.as_ref().and_then(|s| s.peer_contact.clone()),
        };
        Arc::new(Instance {
            opts,
            obs,
            state: Mutex::new(state),
            next_conn: AtomicU64::new(1),
            stopping: CancellationToken::new(),
            finished: CancellationToken::new(),
            shutdown_started: AtomicBool::new(false),
            listen: Mutex::new(String::new()),
            holds: crate::holds::Holds::default(),
            capacity: crate::capacity::Capacity::new(capacity),
            tallies: crate::keepalive::Tallies::default(),
        })
    }

    pub fn kind(&self) -> ServerKind {
        self.opts.kind
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells every live connection's keep-alive counts of the period that ends now (summary mode).
    pub fn keepalive_period(&self) {
        for (c, summary) in self.tallies.period() {
            self.obs.emit(Some(c), summary);
        }
    }

    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        if let (crate::keepalive::KeepaliveEvents::Summary, Some(c)) =
            (self.opts.keepalive_events, conn)
        {
            match kind {
                EventKind::ClientConnected { .. } => self.tallies.open(c),
                EventKind::ClientDisconnected { .. } => {
                    if let Some(summary) = self.tallies.close(c) {
                        self.obs.emit(conn, summary);
                    }
                }
                _ if self.tallies.count(c, &kind) => return,
                _ => {}
            }
        }
        self.obs.emit(conn, kind);
    }

    /// The HA role reported to clients: primary while active.
    pub fn current_role(&self, st: &State) -> Role {
        if st.active {
            Role::Primary
        } else {
            Role::Backup
        }
    }

    /// Adds a new connection to the table and returns its id.
    pub fn add_conn(&self, peer: String, tx: mpsc::UnboundedSender<Outbound>) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        self.emit(Some(id), EventKind::ClientConnected { peer: peer.clone() });
        st.conns.insert(
            id,
            ConnEntry {
                peer,
                client_name: None,
                registered: false,
                dns: BTreeSet::new(),
                stats: BTreeMap::new(),
                owned: HashSet::new(),
                tx,
            },
        );
        id
    }

    /// Removes a closed connection; with `logout` its agents are logged out (reason `disconnect`),
    /// otherwise they stay logged in without an owner. An instance run with
    /// `--keep-agents-on-disconnect` never logs them out here: each one kept is told (`agent_kept`)
    /// before the disconnect, so an observer never sees the agent's login lapse in between.
    pub fn remove_conn(&self, id: u64, how: bc_protocol::DisconnectHow, logout: bool) {
        let logout = logout && !self.opts.keep_agents_on_disconnect;
        let mut st = self.lock();
        let Some(entry) = st.conns.remove(&id) else {
            return;
        };
        if !logout {
            let mut kept: Vec<&String> = entry.owned.iter().collect();
            kept.sort();
            for dn in kept {
                if let Some(a) = st.agents.get(dn).filter(|a| a.owner == Some(id)) {
                    self.emit(
                        Some(id),
                        EventKind::AgentKept {
                            dn: dn.clone(),
                            agent_id: a.agent_id.clone(),
                        },
                    );
                }
            }
        }
        self.emit(Some(id), EventKind::ClientDisconnected { how });
        for dn in entry.owned {
            if st.agents.get(&dn).map(|a| a.owner) != Some(Some(id)) {
                continue;
            }
            if logout {
                if let Some(a) = st.agents.remove(&dn) {
                    self.emit(
                        Some(id),
                        EventKind::AgentLogout {
                            dn: dn.clone(),
                            agent_id: a.agent_id,
                            reason: "disconnect".into(),
                        },
                    );
                    mirror(&st, SyncMsg::Remove { dn });
                }
            } else if let Some(a) = st.agents.get_mut(&dn) {
                a.owner = None;
            }
        }
    }

    /// Logs out the agents of a connection for a graceful shutdown; returns the EventAgentLogout messages.
    pub fn shutdown_conn_agents(&self, id: u64) -> Vec<Message> {
        let mut st = self.lock();
        let mut mine: Vec<String> = match st.conns.get(&id) {
            Some(c) => c.dns.iter().chain(c.owned.iter()).cloned().collect(),
            None => Vec::new(),
        };
        mine.sort();
        mine.dedup();
        mine.retain(|dn| {
            st.agents
                .get(dn)
                .is_some_and(|a| a.owner == Some(id) || a.owner.is_none())
        });
        let mut out = Vec::new();
        for dn in mine {
            if let Some(a) = st.agents.remove(&dn) {
                self.emit(
                    Some(id),
                    EventKind::AgentLogout {
                        dn: dn.clone(),
                        agent_id: a.agent_id.clone(),
                        reason: "shutdown".into(),
                    },
                );
                mirror(&st, SyncMsg::Remove { dn: dn.clone() });
                out.push(Message::EventAgentLogout {
                    reference_id: None,
                    this_dn: dn,
                    agent_id: a.agent_id,
                });
            }
        }
        out
    }

    /// Makes the instance active (idempotent).
    pub fn promote(&self) {
        let mut st = self.lock();
        if !st.active {
            st.active = true;
            self.emit(None, EventKind::RoleChanged { active: true });
        }
    }

    /// Makes the instance standby and closes its client connections. As for any closed connection,
    /// the agents logged in through them are logged out (reason `disconnect`); this happens while
    /// still active so the logout is mirrored to a standby partner. Agents without an owner (mirrored
    /// from the partner, not yet adopted) stay: the partner owns them.
    pub fn demote(&self) {
        let mut st = self.lock();
        let mut owned: Vec<(u64, String)> = st
            .conns
            .iter()
            .flat_map(|(id, c)| c.owned.iter().map(move |dn| (*id, dn.clone())))
            .collect();
        owned.sort();
        for (id, dn) in owned {
            if st.agents.get(&dn).map(|a| a.owner) != Some(Some(id)) {
                continue;
            }
            if let Some(a) = st.agents.remove(&dn) {
                self.emit(
                    Some(id),
                    EventKind::AgentLogout {
                        dn: dn.clone(),
                        agent_id: a.agent_id,
                        reason: "disconnect".into(),
                    },
                );
                mirror(&st, SyncMsg::Remove { dn });
            }
        }
        if st.active {
            st.active = false;
            self.emit(None, EventKind::RoleChanged { active: false });
        }
        for c in st.conns.values() {
            let _ = c.tx.send(Outbound::Close);
        }
    }

    pub fn set_reject_logins(&self, enabled: bool) {
        let mut st = self.lock();
        st.reject_logins = enabled;
        self.emit(None, EventKind::LoginRejection { enabled });
    }

    /// Back to the start state: connections closed, agents and calls cleared, database reloaded,
    /// start role, rejection off. Event history continues.
    pub fn reset(&self, db: ConfigDb) {
        self.holds.clear();
        let mut st = self.lock();
        for c in st.conns.values() {
            let _ = c.tx.send(Outbound::Close);
        }
        st.agents.clear();
        st.calls.clear();
        st.sip_bindings.clear();
        st.sip_peer_contact = self.opts.sip.as_ref().and_then(|s| s.peer_contact.clone());
        st.db = db;
        st.peers = self.opts.peers.clone();
        if st.reject_logins {
            st.reject_logins = false;
            self.emit(None, EventKind::LoginRejection { enabled: false });
        }
        let start_active = self.opts.role == Role::Primary;
        if st.active != start_active {
            st.active = start_active;
            self.emit(
                None,
                EventKind::RoleChanged {
                    active: start_active,
                },
            );
        }
        mirror(
            &st,
            SyncMsg::Snapshot {
                agents: vec![],
                bindings: vec![],
            },
        );
    }

    /// Graceful shutdown: tell every connection, wait (bounded) until all closed, then mark finished.
    pub async fn graceful_shutdown(self: &Arc<Self>) {
        if self.shutdown_started.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut st = self.lock();
            st.shutting_down = true;
            self.emit(None, EventKind::ShuttingDown);
            for c in st.conns.values() {
                let _ = c.tx.send(Outbound::Shutdown);
            }
        }
        self.stopping.cancel();
        // Bounded wait: connections normally close within a few ms; a stuck writer must not block exit.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
        while tokio::time::Instant::now() < deadline {
            if self.lock().conns.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.finished.cancel();
    }

    /// Reloads the database from the configured file (empty when none was given).
    pub fn load_db(&self) -> Result<ConfigDb, crate::configdb::DbError> {
        match &self.opts.config {
            Some(p) => ConfigDb::load(p),
            None => Ok(ConfigDb::default()),
        }
    }
}

/// Queues an agent-state delta for the HA partner when a sync link is up and this instance is active.
pub fn mirror(st: &State, msg: SyncMsg) {
    if !st.active {
        return;
    }
    if let Some(tx) = &st.sync_tx {
        let _ = tx.send(msg);
    }
}
