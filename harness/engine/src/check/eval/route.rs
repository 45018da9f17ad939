//! A herd's routing of timeline entries to its agents' lanes: an observation on a client connection
//! goes to the agent that connection belongs to, learned from its registration; a desktop's output
//! line to the one agent it names by username; the rest to all.

use std::collections::HashMap;

use bc_protocol::{EventKind, Role, ServerKind};

use crate::observe::{DesktopEvent, Entry, EntryKind, Subject};

/// A client connection: instance (site, kind, HA slot, group of four SIP Servers) and the
/// connection id there (two groups' SIP Servers at a site number their connections alike).
type ConnKey = (String, ServerKind, Role, u32, u64);

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
            EventKind::Overloaded {
                user_name: Some(u), ..
            } => self.by_user.get(u).copied(),
            EventKind::DnRegistered { dn, .. } => self.by_dn.get(dn).copied(),
            EventKind::AgentMirrored { dn, .. } => self.by_dn.get(dn).copied(),
            EventKind::AgentLogin { dn, agent_id, .. } => self
                .by_dn
                .get(dn)
                .or_else(|| self.by_agent_id.get(agent_id))
                .copied(),
            _ => None,
        }
    }

    /// The one agent a desktop's output line names by username (a word of the line), if exactly one.
    fn named_in_line(&self, line: &str) -> Option<usize> {
        let mut named = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .filter_map(|w| self.by_user.get(w).copied());
        let first = named.next()?;
        named.all(|k| k == first).then_some(first)
    }

    /// Where entry `index` goes.
    pub fn route(&mut self, index: usize, e: &Entry) -> Route {
        if let EntryKind::Fault { agents, .. } = &e.kind {
            if !agents.is_empty() {
                let lanes = agents.iter().filter_map(|a| self.by_user.get(a).copied());
                return Route::Aimed(lanes.collect());
            }
        }
        if let EntryKind::Desktop(DesktopEvent::Log { line, .. }) = &e.kind {
            // A line naming one agent of the floor is that agent's: a floor's desktops print
            // thousands of lines, and every lane taking each of them was most of the work.
            return match self.named_in_line(line) {
                Some(k) => Route::One(k, Vec::new()),
                None => Route::All,
            };
        }
        let EntryKind::Observed { event: o } = &e.kind else {
            return Route::All;
        };
        let Some(conn) = o.conn else {
            // An instance's own event (started, promoted) concerns every agent; a backup's
            // mirror of one agent's login only that agent (thousands in a herd's switchover:
            // taken by every lane, they were most of the evaluation's work).
            return match self.named(&o.kind) {
                Some(k) => Route::One(k, Vec::new()),
                None => Route::All,
            };
        };
        let key: ConnKey = (o.site.clone(), o.server, o.role, o.group.unwrap_or(1), conn);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn log(line: &str) -> Entry {
        Entry {
            ts_us: 0,
            kind: EntryKind::Desktop(DesktopEvent::Log {
                line: line.into(),
                stderr: false,
            }),
        }
    }

    #[test]
    fn a_desktop_line_goes_to_the_one_agent_it_names() {
        let subjects: Vec<Subject> = ["herd0001", "herd0002", "herd0003"]
            .iter()
            .map(|u| Subject {
                username: (*u).into(),
                ..crate::check::test_state("x").subject().clone()
            })
            .collect();
        let mut r = Router::new(subjects.iter());
        let to = |r: &mut Router, l: &str| match r.route(0, &log(l)) {
            Route::One(k, _) => Some(k),
            Route::All => None,
            _ => panic!("a log line goes to one lane or to all"),
        };
        assert_eq!(
            to(&mut r, "[2] connect_failed agent=herd0002 site=A"),
            Some(1)
        );
        assert_eq!(to(&mut r, "agent herd0003: herd0003 again"), Some(2));
        assert_eq!(to(&mut r, "starting 3 agents"), None, "names nobody");
        assert_eq!(to(&mut r, "herd0001 and herd0002"), None, "names two");
        assert_eq!(to(&mut r, "agent=herd00011"), None, "a word, not a prefix");
    }

    #[test]
    fn a_backup_s_mirror_goes_to_its_agent_and_an_instance_event_to_all() {
        let subjects: Vec<Subject> = [("herd0001", "7001"), ("herd0002", "7002")]
            .iter()
            .map(|(u, dn)| Subject {
                username: (*u).into(),
                dn: (*dn).into(),
                ..crate::check::test_state("x").subject().clone()
            })
            .collect();
        let mut r = Router::new(subjects.iter());
        let observed = |kind: EventKind| Entry {
            ts_us: 0,
            kind: EntryKind::Observed {
                event: bc_protocol::ObservedEvent {
                    seq: 0,
                    ts_us: 0,
                    server: ServerKind::SipServer,
                    site: "A".into(),
                    role: Role::Backup,
                    conn: None,
                    group: None,
                    kind,
                },
            },
        };
        let mirror = observed(EventKind::AgentMirrored {
            dn: "7002".into(),
            agent_id: None,
            state: None,
        });
        assert!(matches!(r.route(0, &mirror), Route::One(1, _)));
        let stopping = observed(EventKind::ShuttingDown);
        assert!(matches!(r.route(1, &stopping), Route::All));
        // A connection an overload answer names its agent on goes to that agent, with its connect.
        let on_conn = |kind: EventKind| {
            let mut e = observed(kind);
            if let EntryKind::Observed { event } = &mut e.kind {
                event.conn = Some(9);
            }
            e
        };
        let connect = on_conn(EventKind::ClientConnected { peer: "x".into() });
        assert!(matches!(r.route(2, &connect), Route::Nowhere));
        let told = on_conn(EventKind::Overloaded {
            limit: "login_rate".into(),
            retry_after_ms: 1000,
            answer: "error".into(),
            user_name: Some("herd0002".into()),
        });
        assert!(matches!(r.route(3, &told), Route::One(1, ref earlier) if earlier == &[2]));
    }
}
