//! Scenario-long invariants: BC-6 one SIP peer at a time, BC-5 no lasting split, bounded switchovers,
//! BC-7 no DR switchover on HA failover; none passes vacuously (the desktop staying up: `alive`).

use bc_protocol::ServerKind;

use super::{Check, Failure, Status};
use crate::observe::{Change, Entry, EntryKind, SessionState};

/// A fault entry that changed something: what could provoke a switchover.
fn took_effect(e: &Entry) -> bool {
    matches!(&e.kind, EntryKind::Fault { effects, .. } if !effects.is_empty())
}

fn rel(us: i64) -> String {
    format!("{:.3}s", us as f64 / 1e6)
}

/// BC-6: never live SIP logins at two peers, except sessions behind a partition (and their grace).
pub struct NeverBothPeers {
    name: String,
}

impl NeverBothPeers {
    /// New checker.
    pub fn new(name: String) -> Self {
        NeverBothPeers { name }
    }
    fn eval(&self, now: i64, st: &SessionState) -> Status {
        let live: Vec<&String> = st
            .subject()
            .sites
            .iter()
            .filter(|s| st.live_visible(s, ServerKind::SipServer))
            .collect();
        if live.len() >= 2 {
            let sites: Vec<&str> = live.iter().map(|s| s.as_str()).collect();
            return Status::Fail(Failure::new(
                self.name.clone(),
                now,
                format!(
                    "agent logged in on sip_server at {} at once; sessions: {}",
                    sites.join(" and "),
                    st.summary()
                ),
            ));
        }
        Status::Pending
    }
}

impl Check for NeverBothPeers {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.eval(at_us, st)
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.eval(e.ts_us, st)
    }
    fn on_time(&mut self, now_us: i64, st: &SessionState) -> Status {
        // A grace period ending can expose an overlap without any new entry.
        self.eval(now_us, st)
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        let never = "the agent never logged in on sip_server: no login to overlap";
        Status::at_end(st, st.current_site().is_none().then_some(never))
    }
}

/// BC-5: sessions at two sites at once for no longer than a tolerance.
pub struct NeverSplit {
    name: String,
    longer_than: i64,
    since: Option<i64>,
    held_session: bool,
}

impl NeverSplit {
    /// New checker.
    pub fn new(name: String, longer_than_ms: u64) -> Self {
        NeverSplit {
            name,
            longer_than: longer_than_ms as i64 * 1000,
            since: None,
            held_session: false,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        let sites = st.visible_session_sites();
        self.held_session |= !sites.is_empty();
        if sites.len() >= 2 {
            let since = *self.since.get_or_insert(now);
            if now - since > self.longer_than {
                return Status::Fail(
                    Failure::new(
                        self.name.clone(),
                        now,
                        format!(
                            "sessions split across {} for more than {}; sessions: {}",
                            sites.join(" and "),
                            rel(self.longer_than),
                            st.summary()
                        ),
                    )
                    .deadline(since + self.longer_than),
                );
            }
        } else {
            self.since = None;
        }
        Status::Pending
    }
}

impl Check for NeverSplit {
    fn start(&mut self, at_us: i64, st: &SessionState) -> Status {
        self.eval(at_us, st)
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.eval(e.ts_us, st)
    }
    fn on_time(&mut self, now_us: i64, st: &SessionState) -> Status {
        self.eval(now_us, st)
    }
    fn deadline_us(&self) -> Option<i64> {
        self.since.map(|s| s + self.longer_than + 1)
    }
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        let never = "the desktop never held a session: nothing to split";
        Status::at_end(st, (!self.held_session).then_some(never))
    }
}

/// What a windowed count counts: how many so far, each one's time and label, and how a breach
/// and a never-provoked run read.
struct Counted {
    len: fn(&SessionState) -> usize,
    items: fn(&SessionState) -> Vec<(i64, String)>,
    /// The breach's words after the count (`switchover(s)`).
    what: &'static str,
    /// Whether the breach quotes the sessions (a reconnection is about them).
    sessions: bool,
    never: &'static str,
}

/// At most `count` of something (switchovers, same-site reconnections) in any window of `per`.
pub struct MaxInWindow {
    name: String,
    count: u32,
    per: i64,
    seen: usize,
    provoked: bool,
    counted: Counted,
}

impl MaxInWindow {
    fn new(name: String, count: u32, per_ms: u64, counted: Counted) -> Self {
        MaxInWindow {
            name,
            count,
            per: per_ms as i64 * 1000,
            seen: 0,
            provoked: false,
            counted,
        }
    }

    /// At most `count` DR switchovers in any window (BC-11; "none" in BC-7 and BC-8 scenarios).
    pub fn switchovers(name: String, count: u32, per_ms: u64) -> Self {
        let counted = Counted {
            len: |st| st.switchovers().len(),
            items: |st| {
                st.switchovers()
                    .iter()
                    .map(|s| (s.ts_us, format!("{}->{}", s.from, s.to)))
                    .collect()
            },
            what: "switchover(s)",
            sessions: false,
            never: "no fault took effect: nothing could provoke a switchover",
        };
        MaxInWindow::new(name, count, per_ms, counted)
    }

    /// At most `count` same-site reconnections in any window: a degraded link whose delay stays
    /// below the desktop's declared keep-alive timeout loses no session, so one there is churn.
    pub fn reconnects(name: String, count: u32, per_ms: u64) -> Self {
        let counted = Counted {
            len: |st| st.reconnects().len(),
            items: |st| {
                st.reconnects()
                    .iter()
                    .map(|r| (r.ts_us, format!("{} {}", r.site, r.server.as_str())))
                    .collect()
            },
            what: "session(s) re-opened at the same site",
            sessions: true,
            never: "no fault took effect: nothing could provoke a reconnection",
        };
        MaxInWindow::new(name, count, per_ms, counted)
    }
}

impl Check for MaxInWindow {
    fn start(&mut self, _at_us: i64, st: &SessionState) -> Status {
        self.seen = (self.counted.len)(st);
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        self.provoked |= took_effect(e);
        let n = (self.counted.len)(st);
        if n == self.seen {
            return Status::Pending;
        }
        self.seen = n;
        let all = (self.counted.items)(st);
        let last = all.last().map_or(e.ts_us, |(t, _)| *t);
        let window: Vec<&str> = all
            .iter()
            .filter(|(t, _)| *t > last - self.per)
            .map(|(_, label)| label.as_str())
            .collect();
        if window.len() <= self.count as usize {
            return Status::Pending;
        }
        let sessions = if self.counted.sessions {
            format!("; sessions: {}", st.summary())
        } else {
            String::new()
        };
        Status::Fail(Failure::new(
            self.name.clone(),
            e.ts_us,
            format!(
                "{} {} within {}: {}{sessions}",
                window.len(),
                self.counted.what,
                rel(self.per),
                window.join(", ")
            ),
        ))
    }
    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        Status::at_end(st, (!self.provoked).then_some(self.counted.never))
    }
}

/// BC-7: after an HA failover, no DR switchover until a later site-level fault.
pub struct NoSwitchoverOnHa {
    name: String,
    armed: Option<String>,
    seen: usize,
    ha_seen: bool,
}

impl NoSwitchoverOnHa {
    /// New checker.
    pub fn new(name: String) -> Self {
        NoSwitchoverOnHa {
            name,
            armed: None,
            seen: 0,
            ha_seen: false,
        }
    }
}

impl Check for NoSwitchoverOnHa {
    fn start(&mut self, _at_us: i64, st: &SessionState) -> Status {
        self.seen = st.switchovers().len();
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        if let EntryKind::Fault {
            description,
            effects,
            ..
        } = &e.kind
        {
            if effects.iter().any(|x| x.change == Change::HaFailover) {
                self.armed = Some(description.clone());
                self.ha_seen = true;
            } else if effects.iter().any(|x| x.change.is_site_loss()) {
                self.armed = None;
            }
        }
        let all = st.switchovers();
        if all.len() > self.seen {
            self.seen = all.len();
            if let Some(fault) = &self.armed {
                let s = &all[all.len() - 1];
                return Status::Fail(
                    Failure::new(
                        self.name.clone(),
                        e.ts_us,
                        format!("DR switchover {}->{} after `{fault}`, which is an HA failover inside the site", s.from, s.to),
                    )
                );
            }
        }
        Status::Pending
    }
    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _end_us: i64, st: &SessionState) -> Status {
        let never = "no HA failover took effect: nothing to be transparent about";
        Status::at_end(st, (!self.ha_seen).then_some(never))
    }
}
