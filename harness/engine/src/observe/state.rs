//! The agent's derived session state, folded entry by entry from a timeline: per instance and connection,
//! whether the desktop holds a live session (CS Proxy registration, SIP DN + agent login, open statistics).

use std::collections::{BTreeMap, BTreeSet};

use bc_protocol::{EventKind, ObservedEvent, Role, ServerKind};
use serde::Serialize;

use super::entry::{Change, Effect, Entry, EntryKind, Target};
use super::timeline::Subject;

/// One server instance: site, kind and configured HA slot.
pub type InstanceKey = (String, ServerKind, RoleKey);

/// `Role` made orderable for map keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RoleKey {
    /// The primary slot.
    Primary,
    /// The backup slot.
    Backup,
}

impl From<Role> for RoleKey {
    fn from(r: Role) -> Self {
        match r {
            Role::Primary => RoleKey::Primary,
            Role::Backup => RoleKey::Backup,
        }
    }
}

impl RoleKey {
    fn role(self) -> Role {
        match self {
            RoleKey::Primary => Role::Primary,
            RoleKey::Backup => Role::Backup,
        }
    }
}

/// What the desktop did on one client connection.
#[derive(Debug, Clone, Default, Serialize)]
struct Conn {
    registered: bool,
    user_ok: bool,
    dn_registered: bool,
    agent_logged_in: bool,
    stats: BTreeSet<i64>,
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
    markers: BTreeMap<String, i64>,
    answered: Vec<i64>,
    now_us: i64,
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
            markers: BTreeMap::new(),
            answered: Vec::new(),
            now_us: 0,
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

    /// Moves the clock forward without an entry (grace periods expire).
    pub fn tick(&mut self, now_us: i64) {
        self.now_us = self.now_us.max(now_us);
        self.grace.retain(|(_, until)| *until > self.now_us);
    }

    /// Folds one entry in.
    pub fn apply(&mut self, e: &Entry) {
        self.tick(e.ts_us);
        match &e.kind {
            EntryKind::Observed { event: o } => self.observe(o),
            EntryKind::Fault { id, effects, .. } => {
                self.faults.insert(*id, effects.clone());
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

    fn effect(&mut self, eff: &Effect, ts: i64) {
        match eff.change {
            Change::Killed | Change::Stopped => {
                self.conns
                    .retain(|(inst, _), _| !eff.target.covers(&inst.0, inst.1, inst.2.role()));
                self.closed
                    .retain(|(inst, _)| !eff.target.covers(&inst.0, inst.1, inst.2.role()));
                // A restarted process starts its event sequence again.
                self.last_seq
                    .retain(|inst, _| !eff.target.covers(&inst.0, inst.1, inst.2.role()));
            }
            c if c.is_partition() => self.partitions.push(eff.target.clone()),
            Change::Restored => {
                let timeout = self.subject.client_timeout_ms as i64 * 1000;
                let (healed, kept): (Vec<Target>, Vec<Target>) = self
                    .partitions
                    .drain(..)
                    .partition(|p| overlaps(p, &eff.target));
                self.partitions = kept;
                for p in healed {
                    self.grace.push((p, ts + timeout));
                }
            }
            _ => {}
        }
    }

    fn observe(&mut self, o: &ObservedEvent) {
        let inst: InstanceKey = (o.site.clone(), o.server, o.role.into());
        if matches!(o.kind, EventKind::Started { .. }) {
            self.conns.retain(|(i, _), _| *i != inst);
            self.closed.retain(|(i, _)| *i != inst);
            self.last_seq.insert(inst.clone(), o.seq);
        } else {
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
        let Some(conn) = o.conn else { return };
        let key = (inst, conn);
        let s = &self.subject;
        match &o.kind {
            EventKind::ClientConnected { .. } => {
                self.closed.remove(&key);
                self.conns.insert(key, Conn::default());
            }
            EventKind::ClientDisconnected { .. } => {
                self.conns.remove(&key);
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
                    self.live_since.entry(key).or_insert(ts);
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

    fn session(&self, kind: ServerKind, c: &Conn) -> bool {
        match kind {
            ServerKind::ConfigServer => c.registered && c.user_ok,
            ServerKind::SipServer => c.dn_registered && c.agent_logged_in,
            ServerKind::StatServer => c.registered && !c.stats.is_empty(),
        }
    }

    fn hidden(&self, site: &str, kind: ServerKind, role: RoleKey) -> bool {
        let r = role.role();
        self.partitions.iter().any(|p| p.covers(site, kind, r))
            || self
                .grace
                .iter()
                .any(|(p, until)| *until > self.now_us && p.covers(site, kind, r))
    }

    fn sessions<'a>(
        &'a self,
        site: &'a str,
        kind: ServerKind,
    ) -> impl Iterator<Item = (&'a InstanceKey, &'a Conn)> + 'a {
        self.conns
            .iter()
            .filter(move |(((s, k, _), _), c)| s == site && *k == kind && self.session(kind, c))
            .map(|((i, _), c)| (i, c))
    }

    /// The desktop holds a live session of this kind at the site (as the servers see it).
    pub fn live(&self, site: &str, kind: ServerKind) -> bool {
        self.sessions(site, kind).next().is_some()
    }

    /// A live session that is not behind an injected partition (or its post-heal grace period).
    pub fn live_visible(&self, site: &str, kind: ServerKind) -> bool {
        self.sessions(site, kind)
            .any(|(i, _)| !self.hidden(&i.0, i.1, i.2))
    }

    /// Every one of `servers` holds a live session at the site.
    pub fn logged_in(&self, site: &str, servers: &[ServerKind]) -> bool {
        servers.iter().all(|k| self.live(site, *k))
    }

    /// The default "logged in" servers: CS Proxy, SIP Server, and Stat Server when used.
    pub fn default_servers(&self) -> Vec<ServerKind> {
        let mut v = vec![ServerKind::ConfigServer, ServerKind::SipServer];
        if self.subject.uses_stat_server {
            v.push(ServerKind::StatServer);
        }
        v
    }

    /// Since when every one of `servers` has been live at the site (continuously), if logged in now.
    pub fn logged_in_since(&self, site: &str, servers: &[ServerKind]) -> Option<i64> {
        servers
            .iter()
            .map(|k| self.live_since.get(&(site.to_string(), *k)).copied())
            .try_fold(i64::MIN, |acc, t| t.map(|t| acc.max(t)))
    }

    /// Times calls to the agent's DN were answered.
    pub fn answered(&self) -> &[i64] {
        &self.answered
    }

    /// The latest time a marker was set, if it was.
    pub fn marker(&self, name: &str) -> Option<i64> {
        self.markers.get(name).copied()
    }

    /// An open connection at the site that is not behind a partition.
    pub fn connected_visible(&self, site: &str) -> bool {
        self.conns
            .keys()
            .any(|((s, k, r), _)| s == site && !self.hidden(s, *k, *r))
    }

    /// Any open client connection at the site, of any kind.
    pub fn connected(&self, site: &str) -> bool {
        self.conns.keys().any(|((s, _, _), _)| s == site)
    }

    /// Sites where the desktop holds at least one visible session of any kind.
    pub fn visible_session_sites(&self) -> Vec<String> {
        self.subject
            .sites
            .iter()
            .filter(|s| ServerKind::ALL.iter().any(|k| self.live_visible(s, *k)))
            .cloned()
            .collect()
    }

    /// Site of the most recent SIP login.
    pub fn current_site(&self) -> Option<&str> {
        self.current_site.as_deref()
    }

    /// DR switchovers seen so far.
    pub fn switchovers(&self) -> &[Switchover] {
        &self.switchovers
    }

    /// Gaps found in mock event sequences (observations lost: results are unknown, not pass).
    pub fn gaps(&self) -> &[String] {
        &self.gaps
    }

    /// A short description of the live sessions, for failure messages.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for site in &self.subject.sites {
            let kinds: Vec<String> = ServerKind::ALL
                .iter()
                .filter(|k| self.live(site, **k))
                .map(|k| {
                    if self.live_visible(site, *k) {
                        k.as_str().to_string()
                    } else {
                        format!("{} (partitioned)", k.as_str())
                    }
                })
                .collect();
            if kinds.is_empty() {
                let c = if self.connected(site) {
                    "connected, no session"
                } else {
                    "nothing"
                };
                parts.push(format!("{site}: {c}"));
            } else {
                parts.push(format!("{site}: {}", kinds.join(" + ")));
            }
        }
        parts.join("; ")
    }
}

fn overlaps(a: &Target, b: &Target) -> bool {
    a.site == b.site
        && (a.server.is_none() || b.server.is_none() || a.server == b.server)
        && (a.role.is_none() || b.role.is_none() || a.role == b.role)
}
