//! The agent's derived session state, folded entry by entry from a timeline: per instance and connection,
//! whether the desktop holds a live session (CS Proxy registration, SIP DN + agent login, open statistics).

use std::collections::{BTreeMap, BTreeSet};

use bc_protocol::{EventKind, ObservedEvent, ServerKind};
use serde::Serialize;

use crate::observe::entry::{Change, Effect, Entry, EntryKind, Target};
use crate::observe::timeline::Subject;

mod effects;
mod herd;
mod kept;
mod key;
mod query;

pub use key::{InstanceKey, RoleKey};

/// What the desktop did on one client connection.
#[derive(Debug, Clone, Default, Serialize)]
struct Conn {
    registered: bool,
    user_ok: bool,
    dn_registered: bool,
    agent_logged_in: bool,
    stats: BTreeSet<i64>,
    /// The server keeps the agent logged in after this connection closes (`agent_kept`): the
    /// closed connection stays here as the agent's login at that instance until a logout, a new
    /// connection registering the DN, the instance going standby or down.
    kept: bool,
}

/// A DR switchover: the SIP login moved from one site to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switchover {
    /// When the login at the new site became live.
    pub ts_us: i64,
    /// The old site.
    pub from: String,
    /// The new site.
    pub to: String,
}

/// A session re-opened at the same site: live again after it had been lost (an HA failover's
/// reconnection, or churn when nothing was lost).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconnect {
    /// When the session became live again.
    pub ts_us: i64,
    /// The site.
    pub site: String,
    /// The server kind.
    pub server: ServerKind,
}

/// The derived state after folding some prefix of a timeline (in timestamp order).
#[derive(Debug, Clone)]
pub struct SessionState {
    subject: Subject,
    conns: BTreeMap<(InstanceKey, u64), Conn>,
    /// Connections already closed: late events on them (a logout after the disconnect) are ignored.
    closed: BTreeSet<(InstanceKey, u64)>,
    /// Active partitions (black hole, frozen): sessions behind them cannot be seen ending.
    partitions: Vec<Target>,
    /// Healed partitions, tolerated until the µs time given (client timeout after the heal).
    grace: Vec<(Target, i64)>,
    faults: BTreeMap<u32, Vec<Effect>>,
    last_seq: BTreeMap<InstanceKey, u64>,
    gaps: Vec<String>,
    sip_live_sites: BTreeSet<String>,
    current_site: Option<String>,
    switchovers: Vec<Switchover>,
    live_since: BTreeMap<(String, ServerKind), i64>,
    /// Sessions that were live at some time: a later start of one is a reconnection.
    ever_live: BTreeSet<(String, ServerKind)>,
    reconnects: Vec<Reconnect>,
    markers: BTreeMap<String, i64>,
    answered: Vec<i64>,
    delivered: Vec<i64>,
    /// Times calls to the agent's DN were refused by the servers (no Ready agent to offer them to).
    refused_calls: Vec<i64>,
    /// Sites at which a SIP REGISTER for the subject's DN was seen (the phone's, with `--phone`).
    phone_sites: BTreeSet<String>,
    /// Targets of SIGKILLs, and the instances among them started again since (`started`): a kill
    /// is stamped when its signals go out, and a dying server's last events (a Ping stamped after
    /// that, before the process is gone) must not bring back a connection the kill ended.
    killed: Vec<Target>,
    restarted: BTreeSet<InstanceKey>,
    now_us: i64,
    /// Checks each instance's event sequence for gaps (not in a herd agent's lane, which sees
    /// only its own connections' events: the herd's fleet lane checks it for all).
    track_seq: bool,
    /// Folds client connections (not in a herd's fleet lane, which would hold every agent's).
    track_conns: bool,
}

impl SessionState {
    /// The state before any entry.
    pub fn new(subject: Subject) -> SessionState {
        SessionState {
            subject,
            conns: BTreeMap::new(),
            closed: BTreeSet::new(),
            partitions: Vec::new(),
            grace: Vec::new(),
            faults: BTreeMap::new(),
            last_seq: BTreeMap::new(),
            gaps: Vec::new(),
            sip_live_sites: BTreeSet::new(),
            current_site: None,
            switchovers: Vec::new(),
            live_since: BTreeMap::new(),
            ever_live: BTreeSet::new(),
            reconnects: Vec::new(),
            markers: BTreeMap::new(),
            answered: Vec::new(),
            delivered: Vec::new(),
            refused_calls: Vec::new(),
            phone_sites: BTreeSet::new(),
            killed: Vec::new(),
            restarted: BTreeSet::new(),
            now_us: 0,
            track_seq: true,
            track_conns: true,
        }
    }

    /// The subject.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// Time of the latest entry or tick folded in.
    pub fn now_us(&self) -> i64 {
        self.now_us
    }

    /// Moves the clock forward without an entry (grace periods expire); whether one expired,
    /// which is the only change time alone makes to what the state shows.
    pub fn tick(&mut self, now_us: i64) -> bool {
        self.now_us = self.now_us.max(now_us);
        let before = self.grace.len();
        self.grace.retain(|(_, until)| *until > self.now_us);
        self.grace.len() != before
    }

    /// Folds one entry in.
    pub fn apply(&mut self, e: &Entry) {
        self.tick(e.ts_us);
        match &e.kind {
            EntryKind::Observed { event: o } => self.observe(o),
            EntryKind::Fault { id, effects, .. } => {
                self.faults.insert(*id, effects.clone());
                if effects.iter().any(|x| x.change == Change::CallDelivered) {
                    self.delivered.push(e.ts_us);
                }
                if effects.iter().any(|x| x.change == Change::CallRefused) {
                    self.refused_calls.push(e.ts_us);
                }
                for eff in effects {
                    self.effect(eff, e.ts_us);
                }
            }
            EntryKind::Marker { name } => {
                self.markers.insert(name.clone(), e.ts_us);
            }
            EntryKind::Heal { fault, effects, .. } => {
                let restore: Vec<Effect> = if !effects.is_empty() {
                    effects.clone()
                } else {
                    let targets: Vec<Target> = match fault {
                        Some(id) => self
                            .faults
                            .get(id)
                            .map(|v| v.iter().map(|x| x.target.clone()).collect())
                            .unwrap_or_default(),
                        None => self.partitions.clone(),
                    };
                    targets
                        .into_iter()
                        .map(|target| Effect {
                            target,
                            change: Change::Restored,
                        })
                        .collect()
                };
                for eff in &restore {
                    self.effect(eff, e.ts_us);
                }
            }
            _ => {}
        }
        self.update_sites(e.ts_us);
    }

    /// Killed and not started since: its events are a dying process's last words.
    fn silenced(&self, inst: &InstanceKey) -> bool {
        !self.restarted.contains(inst)
            && self
                .killed
                .iter()
                .any(|t| t.covers_in(&inst.0, inst.1, inst.2.role(), inst.2.group()))
    }

    fn observe(&mut self, o: &ObservedEvent) {
        let group = o.group.unwrap_or(1);
        let inst: InstanceKey = (o.site.clone(), o.server, RoleKey::new(o.role, group));
        if matches!(o.kind, EventKind::Started { .. }) {
            self.restarted.insert(inst.clone());
        } else if self.silenced(&inst) {
            return;
        }
        if matches!(o.kind, EventKind::Started { .. }) {
            self.conns.retain(|(i, _), _| *i != inst);
            self.closed.retain(|(i, _)| *i != inst);
            self.last_seq.insert(inst.clone(), o.seq);
        } else if self.track_seq {
            if let Some(last) = self.last_seq.get(&inst) {
                if o.seq > last + 1 {
                    self.gaps.push(format!(
                        "{}/{}/{:?}: events {}..{} missing",
                        o.site,
                        o.server.as_str(),
                        inst.2,
                        last + 1,
                        o.seq - 1
                    ));
                }
            }
            let next = self.last_seq.get(&inst).copied().unwrap_or(0).max(o.seq);
            self.last_seq.insert(inst.clone(), next);
        }
        if let EventKind::CallAnswered { dn, .. } = &o.kind {
            if *dn == self.subject.dn {
                self.answered.push(self.now_us);
            }
        }
        if let EventKind::SipRegistered { aor, .. } = &o.kind {
            if *aor == self.subject.dn {
                self.phone_sites.insert(o.site.clone());
            }
        }
        if !self.track_conns {
            return;
        }
        self.end_kept(&inst, &o.kind, o.conn);
        let Some(conn) = o.conn else { return };
        let key = (inst, conn);
        let s = &self.subject;
        match &o.kind {
            EventKind::ClientConnected { .. } => {
                self.closed.remove(&key);
                self.conns.insert(key, Conn::default());
            }
            EventKind::ClientDisconnected { .. } => {
                // A login the server keeps outlives its connection (the agent stays logged in).
                if !self
                    .conns
                    .get(&key)
                    .is_some_and(|c| c.kept && c.agent_logged_in)
                {
                    self.conns.remove(&key);
                }
                self.closed.insert(key);
            }
            _ if self.closed.contains(&key) => {}
            other => {
                let c = self.conns.entry(key).or_default();
                match other {
                    EventKind::ClientRegistered { user_name, .. } => {
                        c.registered = true;
                        c.user_ok = user_name.as_ref().is_none_or(|u| *u == s.username);
                    }
                    EventKind::DnRegistered { dn, agent_id, .. } if *dn == s.dn => {
                        c.dn_registered = true;
                        if agent_id.as_ref().is_some_and(|a| *a == s.agent_id) {
                            c.agent_logged_in = true;
                        }
                    }
                    EventKind::DnUnregistered { dn } if *dn == s.dn => c.dn_registered = false,
                    EventKind::AgentLogin { dn, agent_id, .. }
                        if *dn == s.dn || *agent_id == s.agent_id =>
                    {
                        c.agent_logged_in = true;
                    }
                    EventKind::AgentLogout { dn, agent_id, .. }
                        if *dn == s.dn || *agent_id == s.agent_id =>
                    {
                        c.agent_logged_in = false;
                    }
                    EventKind::AgentKept { dn, agent_id }
                        if *dn == s.dn || *agent_id == s.agent_id =>
                    {
                        c.kept = true;
                    }
                    EventKind::StatisticOpened { statistic_id, .. } => {
                        c.stats.insert(*statistic_id);
                    }
                    EventKind::StatisticClosed { statistic_id } => {
                        c.stats.remove(statistic_id);
                    }
                    _ => {}
                }
            }
        }
    }

    fn update_sites(&mut self, ts: i64) {
        for site in self.subject.sites.clone() {
            for kind in ServerKind::ALL {
                let key = (site.clone(), kind);
                if self.live(&site, kind) {
                    if !self.live_since.contains_key(&key) {
                        if !self.ever_live.insert(key.clone()) {
                            self.reconnects.push(Reconnect {
                                ts_us: ts,
                                site: site.clone(),
                                server: kind,
                            });
                        }
                        self.live_since.insert(key, ts);
                    }
                } else {
                    self.live_since.remove(&key);
                }
            }
        }
        let live: BTreeSet<String> = self
            .subject
            .sites
            .clone()
            .into_iter()
            .filter(|s| self.live(s, ServerKind::SipServer))
            .collect();
        for site in live.difference(&self.sip_live_sites) {
            if let Some(cur) = &self.current_site {
                if cur != site {
                    self.switchovers.push(Switchover {
                        ts_us: ts,
                        from: cur.clone(),
                        to: site.clone(),
                    });
                }
            }
            self.current_site = Some(site.clone());
        }
        self.sip_live_sites = live;
    }
}
