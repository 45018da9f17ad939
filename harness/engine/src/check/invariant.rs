//! Scenario-long invariants: BC-6 one SIP peer at a time, BC-5 no lasting split, BC-11 bounded
//! switchovers, BC-7 no DR switchover on HA failover, and the desktop not exiting early.

use std::collections::VecDeque;

use bc_protocol::ServerKind;

use super::{Check, Failure, Status};
use crate::observe::{Change, DesktopEvent, Entry, EntryKind, SessionState};

/// Pass at the end unless observations were lost (then nothing can be claimed).
fn end_status(st: &SessionState) -> Status {
    if st.gaps().is_empty() {
        Status::Pass
    } else {
        Status::unknown(format!("observations lost: {}", st.gaps().join("; ")))
    }
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
            return Status::Fail(
                Failure::new(
                    self.name.clone(),
                    now,
                    format!(
                        "agent logged in on sip_server at {} at once; sessions: {}",
                        sites.join(" and "),
                        st.summary()
                    ),
                )
                .rule("BC-6"),
            );
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
        end_status(st)
    }
}

/// BC-5: sessions at two sites at once for no longer than a tolerance.
pub struct NeverSplit {
    name: String,
    longer_than: i64,
    since: Option<i64>,
}

impl NeverSplit {
    /// New checker.
    pub fn new(name: String, longer_than_ms: u64) -> Self {
        NeverSplit {
            name,
            longer_than: longer_than_ms as i64 * 1000,
            since: None,
        }
    }
    fn eval(&mut self, now: i64, st: &SessionState) -> Status {
        let sites = st.visible_session_sites();
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
                    .deadline(since + self.longer_than)
                    .rule("BC-5"),
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
        end_status(st)
    }
}

/// BC-11: at most `count` switchovers in any window.
pub struct MaxSwitchovers {
    name: String,
    count: u32,
    per: i64,
    seen: usize,
}

impl MaxSwitchovers {
    /// New checker.
    pub fn new(name: String, count: u32, per_ms: u64) -> Self {
        MaxSwitchovers {
            name,
            count,
            per: per_ms as i64 * 1000,
            seen: 0,
        }
    }
}

impl Check for MaxSwitchovers {
    fn start(&mut self, _at_us: i64, st: &SessionState) -> Status {
        self.seen = st.switchovers().len();
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, st: &SessionState) -> Status {
        let all = st.switchovers();
        if all.len() == self.seen {
            return Status::Pending;
        }
        self.seen = all.len();
        let last = all[all.len() - 1].ts_us;
        let window: Vec<String> = all
            .iter()
            .filter(|s| s.ts_us > last - self.per)
            .map(|s| format!("{}->{}", s.from, s.to))
            .collect();
        if window.len() > self.count as usize {
            return Status::Fail(
                Failure::new(
                    self.name.clone(),
                    e.ts_us,
                    format!(
                        "{} switchovers within {}: {}",
                        window.len(),
                        rel(self.per),
                        window.join(", ")
                    ),
                )
                .rule("BC-11"),
            );
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
        end_status(st)
    }
}

/// BC-7: after an HA failover, no DR switchover until a later site-level fault.
pub struct NoSwitchoverOnHa {
    name: String,
    armed: Option<String>,
    seen: usize,
}

impl NoSwitchoverOnHa {
    /// New checker.
    pub fn new(name: String) -> Self {
        NoSwitchoverOnHa {
            name,
            armed: None,
            seen: 0,
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
                    .rule("BC-7"),
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
        end_status(st)
    }
}

/// Lines of desktop output kept for an early-exit failure.
const LOG_TAIL: usize = 20;

/// The desktop must not exit before the harness stops it; an early exit fails with its log tail.
pub struct DesktopAlive {
    name: String,
    tail: VecDeque<String>,
}

impl DesktopAlive {
    /// New checker.
    pub fn new(name: String) -> Self {
        DesktopAlive {
            name,
            tail: VecDeque::new(),
        }
    }
}

impl Check for DesktopAlive {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        match &e.kind {
            EntryKind::Desktop(DesktopEvent::Log { line, .. }) => {
                if self.tail.len() == LOG_TAIL {
                    self.tail.pop_front();
                }
                self.tail.push_back(line.clone());
            }
            EntryKind::Desktop(DesktopEvent::Exited {
                code,
                expected: false,
            }) => {
                let code = code
                    .map(|c| format!("code {c}"))
                    .unwrap_or_else(|| "a signal".into());
                let mut observed = format!("desktop exited early with {code}; last output:");
                for l in &self.tail {
                    observed.push_str("\n  | ");
                    observed.push_str(l);
                }
                return Status::Fail(Failure::new(self.name.clone(), e.ts_us, observed));
            }
            _ => {}
        }
        Status::Pending
    }
    fn on_time(&mut self, _now_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }
    fn deadline_us(&self) -> Option<i64> {
        None
    }
    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        Status::Pass
    }
}
