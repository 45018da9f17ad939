//! HERD-3 for one desktop: after a server turned the desktop away as overloaded, the desktop does
//! not connect to that server again before the delay it was given (the answer's `retry after`).

use std::collections::BTreeMap;

use bc_protocol::{EventKind, Role, ServerKind};

use super::herd::{herd3_overload_honoured, OverloadAnswer};
use super::{Check, Status};
use crate::observe::{Entry, EntryKind, SessionState};

/// Who made the attempts, in the failure text (one desktop: no agent to tell apart).
const DESKTOP: &str = "the desktop";

/// One server instance, as a name in the failure text (spelt as the environment names it: a SIP
/// Server of a group after the first says its group, `A.sip_server.g2.primary`).
pub(crate) fn instance(site: &str, server: ServerKind, role: Role, group: Option<u32>) -> String {
    let group = group
        .filter(|g| *g > 1)
        .map(|g| format!("g{g}."))
        .unwrap_or_default();
    format!("{site}.{}.{group}{}", server.as_str(), role.as_str())
}

/// The overload answers seen so far and every connection attempt after them, per instance.
pub struct HonoursOverload {
    answers: Vec<OverloadAnswer>,
    attempts: Vec<(String, String, i64)>,
    /// The connection each overload answer was given on, so its own connect is not a retry.
    answered_conns: BTreeMap<(String, u64), ()>,
}

impl HonoursOverload {
    pub fn new() -> HonoursOverload {
        HonoursOverload {
            answers: Vec::new(),
            attempts: Vec::new(),
            answered_conns: BTreeMap::new(),
        }
    }
}

impl Default for HonoursOverload {
    fn default() -> Self {
        HonoursOverload::new()
    }
}

impl Check for HonoursOverload {
    fn start(&mut self, _at_us: i64, _st: &SessionState) -> Status {
        Status::Pending
    }

    fn on_entry(&mut self, e: &Entry, _st: &SessionState) -> Status {
        let EntryKind::Observed { event: o } = &e.kind else {
            return Status::Pending;
        };
        let at = instance(&o.site, o.server, o.role, o.group);
        match &o.kind {
            EventKind::Overloaded { retry_after_ms, .. } => {
                if let Some(c) = o.conn {
                    self.answered_conns.insert((at.clone(), c), ());
                }
                self.answers.push(OverloadAnswer {
                    agent: DESKTOP.into(),
                    server: at,
                    at_us: e.ts_us,
                    retry_after_us: *retry_after_ms as i64 * 1000,
                });
                Status::Pending
            }
            EventKind::ClientConnected { .. } if !self.answers.is_empty() => {
                self.attempts.push((DESKTOP.into(), at, e.ts_us));
                match herd3_overload_honoured(&self.answers, &self.attempts) {
                    Status::Fail(f) => Status::Fail(f),
                    _ => Status::Pending,
                }
            }
            _ => Status::Pending,
        }
    }

    /// No overload answer at all: nothing was checked (never a pass).
    fn finish(&mut self, _end_us: i64, _st: &SessionState) -> Status {
        herd3_overload_honoured(&self.answers, &self.attempts)
    }
}
