//! The observation hub of one instance: stamps events with seq and wall-clock time, keeps the history
//! and fans them out to `GET /events` followers through a broadcast channel.

use bc_protocol::{EventKind, Heartbeat, ObservedEvent, Role, ServerKind};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, watch};

/// How many events the history keeps; older ones are dropped (replay then starts at the oldest kept).
pub const HISTORY_LIMIT: usize = 2_000_000;

/// How many bytes of events (as JSON) the history keeps: a desktop that sends long fields over
/// and over (each up to the codec's 64 KiB line) must not grow a mock without bound.
pub const HISTORY_BYTES: usize = 64 << 20;

struct Inner {
    next_seq: u64,
    /// Events with seq `first_seq ..`.
    first_seq: u64,
    /// No later event is stamped before this: keeps stamps monotonic and heartbeats truthful.
    floor_us: i64,
    /// Each kept event with its size as JSON.
    history: std::collections::VecDeque<(Arc<ObservedEvent>, usize)>,
    /// Sum of the kept events' sizes.
    bytes: usize,
}

/// Cloneable handle to the hub.
#[derive(Clone)]
pub struct Observer {
    server: ServerKind,
    site: Arc<str>,
    role: Role,
    /// The SIP Server group named by `--group`, stamped on every event.
    group: Option<u32>,
    inner: Arc<Mutex<Inner>>,
    tx: broadcast::Sender<Arc<ObservedEvent>>,
    /// Counts `POST /events/mark` requests: each makes every follower write a heartbeat at once.
    marks: Arc<watch::Sender<u64>>,
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
            group: None,
            inner: Arc::new(Mutex::new(Inner {
                next_seq: 0,
                first_seq: 0,
                floor_us: 0,
                history: Default::default(),
                bytes: 0,
            })),
            tx,
            marks: Arc::new(watch::Sender::new(0)),
        }
    }

    /// The same observer stamping `group` on every event (a SIP Server started with `--group`).
    pub fn with_group(mut self, group: Option<u32>) -> Self {
        self.group = group;
        self
    }

    /// A follower asked for a mark now (it is waiting to judge up to this instant): every open
    /// stream writes a heartbeat without waiting for its silence to last.
    pub fn request_mark(&self) {
        self.marks.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Mark requests, for a stream to follow.
    pub fn mark_requests(&self) -> watch::Receiver<u64> {
        self.marks.subscribe()
    }

    /// Records an event now. Seq and timestamp are taken under one lock so both are monotonic together.
    pub fn emit(&self, conn: Option<u64>, kind: EventKind) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A wall clock stepping back must not reorder this instance's events.
        let ts_us = now_us().max(inner.floor_us);
        inner.floor_us = ts_us;
        let ev = Arc::new(ObservedEvent {
            seq: inner.next_seq,
            ts_us,
            server: self.server,
            site: self.site.to_string(),
            role: self.role,
            group: self.group,
            conn,
            kind,
        });
        inner.next_seq += 1;
        let size = serde_json::to_vec(&*ev).map_or(256, |v| v.len());
        inner.history.push_back((ev.clone(), size));
        inner.bytes += size;
        while inner.history.len() > HISTORY_LIMIT || inner.bytes > HISTORY_BYTES {
            let Some((_, dropped)) = inner.history.pop_front() else {
                break;
            };
            inner.bytes -= dropped;
            inner.first_seq += 1;
        }
        // No receiver is fine: nobody follows the stream right now.
        let _ = self.tx.send(ev);
    }

    /// A heartbeat for now: every event stamped before it is already in the broadcast channel
    /// (events are sent under the same lock), and none emitted later is stamped before it.
    pub fn heartbeat(&self) -> Heartbeat {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ts = now_us().max(inner.floor_us);
        inner.floor_us = ts;
        Heartbeat {
            heartbeat: ts,
            next_seq: inner.next_seq,
        }
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
        inner
            .history
            .iter()
            .skip(start)
            .map(|(ev, _)| ev.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bc_protocol::EventKind;

    #[test]
    fn the_history_is_bounded_in_bytes_and_replays_from_the_oldest_kept() {
        let o = Observer::new(ServerKind::ConfigServer, "A", Role::Primary);
        // 60 KiB client names, as a hostile desktop could send in every registration: 1,200 of them
        // are ~72 MiB of events, more than the bound.
        let name = "n".repeat(60 * 1024);
        for _ in 0..1_200 {
            o.emit(
                Some(1),
                EventKind::ClientRegistered {
                    client_name: name.clone(),
                    user_name: None,
                },
            );
        }
        let inner = o.inner.lock().unwrap();
        assert!(inner.bytes <= HISTORY_BYTES, "{} bytes kept", inner.bytes);
        assert!(inner.first_seq > 0, "old events were dropped");
        assert_eq!(inner.first_seq + inner.history.len() as u64, 1_200);
        drop(inner);
        let (replay, _rx) = o.subscribe(0);
        assert_eq!(replay.last().map(|e| e.seq), Some(1_199));
        assert!(replay.first().is_some_and(|e| e.seq > 0));
    }
}
