//! Read-only questions asked of the folded session state: live and visible sessions per site,
//! logins, calls, markers, switchovers, and the one-line summary quoted in failures.

use bc_protocol::ServerKind;

use super::{Conn, InstanceKey, Reconnect, RoleKey, SessionState, Switchover};

impl SessionState {
    pub(super) fn session(&self, kind: ServerKind, c: &Conn) -> bool {
        match kind {
            ServerKind::ConfigServer => c.registered && c.user_ok,
            ServerKind::SipServer => c.dn_registered && c.agent_logged_in,
            ServerKind::StatServer => c.registered && !c.stats.is_empty(),
        }
    }

    pub(super) fn hidden(&self, site: &str, kind: ServerKind, role: RoleKey) -> bool {
        let (r, g) = (role.role(), role.group());
        self.partitions
            .iter()
            .any(|p| p.covers_in(site, kind, r, g))
            || self
                .grace
                .iter()
                .any(|(p, until)| *until > self.now_us && p.covers_in(site, kind, r, g))
    }

    pub(super) fn sessions<'a>(
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

    /// Sites at which a REGISTER for the agent's DN was seen (the run's phone).
    pub fn phone_registered_sites(&self) -> &std::collections::BTreeSet<String> {
        &self.phone_sites
    }

    /// Times calls to the agent's DN were answered.
    pub fn answered(&self) -> &[i64] {
        &self.answered
    }

    /// Times calls to the agent's DN were delivered (the harness's `deliver_call` took effect).
    pub fn delivered(&self) -> &[i64] {
        &self.delivered
    }

    /// Times calls to the agent's DN were refused (no Ready agent at the site or a peer).
    pub fn refused_calls(&self) -> &[i64] {
        &self.refused_calls
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

    /// Sessions re-opened at the same site so far, in time order.
    pub fn reconnects(&self) -> &[Reconnect] {
        &self.reconnects
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
