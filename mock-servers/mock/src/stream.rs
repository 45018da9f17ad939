//! `GET /events`: the history from a seq, then live events as NDJSON, with a heartbeat line after
//! each silence so a follower knows how far the instance's stream is complete (docs/control.md).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use bc_protocol::ObservedEvent;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::control::err;
use crate::state::Instance;

/// A heartbeat goes out after this much silence on a stream, unless `heartbeat_ms` says otherwise.
const DEFAULT_HEARTBEAT_MS: u64 = 10;

struct Follow {
    inst: Arc<Instance>,
    next: u64,
    pending: VecDeque<Arc<ObservedEvent>>,
    rx: tokio::sync::broadcast::Receiver<Arc<ObservedEvent>>,
    /// Silence after which a heartbeat line is written (`None`: never).
    heartbeat: Option<Duration>,
    next_beat: tokio::time::Instant,
    /// `POST /events/mark` requests (see `Observer::request_mark`).
    marks: tokio::sync::watch::Receiver<u64>,
}

/// The query of `GET /events`: `from` (seq) and `heartbeat_ms` (0 turns heartbeats off).
fn events_query(q: Option<&str>) -> Result<(u64, Option<Duration>), Box<Response>> {
    let bad = |msg: String| Box::new(err(StatusCode::BAD_REQUEST, msg));
    let (mut from, mut beat) = (0u64, DEFAULT_HEARTBEAT_MS);
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (slot, name, v) = match pair.split_once('=') {
            Some(("from", v)) => (&mut from, "from", v),
            Some(("heartbeat_ms", v)) => (&mut beat, "heartbeat_ms", v),
            _ => return Err(bad(format!("unknown query parameter `{pair}`"))),
        };
        *slot = v
            .parse()
            .map_err(|_| bad(format!("{name} must be a non-negative integer, got `{v}`")))?;
    }
    Ok((from, (beat > 0).then(|| Duration::from_millis(beat))))
}

impl Follow {
    /// Writes the pending events (skipping repeats) as NDJSON into `buf`.
    fn write_pending(&mut self, buf: &mut Vec<u8>) {
        while let Some(ev) = self.pending.pop_front() {
            if ev.seq < self.next {
                continue;
            }
            self.next = ev.seq + 1;
            if serde_json::to_writer(&mut *buf, &*ev).is_ok() {
                buf.push(b'\n');
            }
        }
    }

    /// Takes what the broadcast channel holds right now; false when it is closed.
    fn drain_now(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(ev) => self.pending.push_back(ev),
                Err(TryRecvError::Lagged(_)) => self.catch_up(),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Closed) => return false,
            }
        }
    }

    fn catch_up(&mut self) {
        let from = self.pending.back().map_or(self.next, |e| e.seq + 1);
        let missed = self.inst.obs.history_from(from);
        self.pending.extend(missed);
    }

    /// The heartbeat chunk: the mark is taken first, then everything already emitted is drained,
    /// so every event stamped before the mark precedes it on the stream.
    fn beat(&mut self) -> Option<Bytes> {
        let hb = self.inst.obs.heartbeat();
        let open = self.drain_now();
        let mut buf = Vec::new();
        self.write_pending(&mut buf);
        if open && serde_json::to_writer(&mut buf, &hb).is_ok() {
            buf.push(b'\n');
        }
        (!buf.is_empty()).then(|| Bytes::from(buf))
    }

    /// The next chunk of the stream (`None`: the instance is shutting down).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if !self.pending.is_empty() {
                // Everything ready goes out as one chunk; hyper writes each chunk at once.
                let mut buf = Vec::with_capacity(256 * self.pending.len().min(64));
                self.write_pending(&mut buf);
                if !buf.is_empty() {
                    return Some(Bytes::from(buf));
                }
            }
            let beat = self.heartbeat;
            let next_beat = self.next_beat;
            tokio::select! {
                r = self.rx.recv() => match r {
                    Ok(ev) => self.pending.push_back(ev),
                    Err(RecvError::Lagged(_)) => self.catch_up(),
                    Err(RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(next_beat), if beat.is_some() => return self.beat(),
                // The hub outlives every stream, so the sender is never dropped while this runs.
                Ok(()) = self.marks.changed() => return self.beat(),
            }
        }
    }
}

/// `POST /events/mark`: every open stream of this instance writes a heartbeat now (a follower that
/// waits to judge up to an instant asks, instead of every stream beating every few milliseconds).
pub async fn mark(State(inst): State<Arc<Instance>>) -> StatusCode {
    inst.obs.request_mark();
    StatusCode::NO_CONTENT
}

/// The handler.
pub async fn events(State(inst): State<Arc<Instance>>, RawQuery(q): RawQuery) -> Response {
    let (from, heartbeat) = match events_query(q.as_deref()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let (history, rx) = inst.obs.subscribe(from);
    let mut marks = inst.obs.mark_requests();
    marks.mark_unchanged();
    let follow = Follow {
        inst: inst.clone(),
        next: from,
        pending: history.into(),
        rx,
        heartbeat,
        next_beat: tokio::time::Instant::now(),
        marks,
    };
    let stream = futures::stream::unfold(follow, |mut f| async move {
        let chunk = f.next_chunk().await?;
        // Heartbeats fill silences only: any write restarts the wait.
        if let Some(b) = f.heartbeat {
            f.next_beat = tokio::time::Instant::now() + b;
        }
        Some((Ok::<_, Infallible>(chunk), f))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| err(StatusCode::INTERNAL_SERVER_ERROR, "stream"))
}
