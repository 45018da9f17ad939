//! The observation hub of one instance: stamps events with seq and wall-clock time, keeps the history
//! and fans them out to `GET /events` followers through a broadcast channel.

use bc_protocol::{EventKind, ObservedEvent, Role, ServerKind};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How many events the history keeps; older ones are dropped (replay then starts at the oldest kept).
pub const HISTORY_LIMIT: usize = 2_000_000;

struct Inner {
    next_seq: u64,
    /// Events with seq `first_seq ..`.
    first_seq: u64,
    history: std::collections::VecDeque<Arc<ObservedEvent>>,
}

/// Cloneable handle to the hub.
#[derive(Clone)]
pub struct Observer {
    server: ServerKind,
    site: Arc<str>,
    role: Role,
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<Arc<ObservedEvent>>,
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Observer {
    pub fn new(server: ServerKind, site: &str, role: Role) -> Self {
        let (tx, _) = broadcast::channel(8192);
        Observer {
            server,
            site: site.into(),
            role,
            inner: Arc::new(Mutex::new(Inner {
                next_seq: 0,
                first_seq: 0,
                history: Default::default(),
            })),
            tx,
        }
    }

    /// Records an event now. Seq and timestamp are taken under one lock so both are monotonic together.
    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ev = Arc::new(ObservedEvent {
            seq: inner.next_seq,
            ts_us: now_us(),
            server: self.server,
            site: self.site.to_string(),
            role: self.role,
            conn,
            kind,
        });
        inner.next_seq += 1;
        inner.history.push_back(ev.clone());
        if inner.history.len() > HISTORY_LIMIT {
            inner.history.pop_front();
            inner.first_seq += 1;
        }
        // No receiver is fine: nobody follows the stream right now.
        let _ = self.tx.send(ev);
    }

    /// History from `from` on, plus a receiver for everything after it (taken atomically).
    pub fn subscribe(
        &self,
        from: u64,
    ) -> (
        Vec<Arc<ObservedEvent>>,
        broadcast::Receiver<Arc<ObservedEvent>>,
    ) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        (Self::slice(&inner, from), rx)
    }

    /// History from `from` on (used to catch up after a lagging receiver).
    pub fn history_from(&self, from: u64) -> Vec<Arc<ObservedEvent>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::slice(&inner, from)
    }

    fn slice(inner: &Inner, from: u64) -> Vec<Arc<ObservedEvent>> {
        let start = from.saturating_sub(inner.first_seq) as usize;
        inner.history.iter().skip(start).cloned().collect()
    }
}
