//! The observation feed: follows every instance's `GET /events` (NDJSON) and forwards the events
//! into one channel, and its heartbeats into the feeds' progress; resubscribes from the next seq.

use super::progress::{FeedProgress, IDLE_HEARTBEAT_MS};
use super::runtime::{InstanceState, InstanceStatus};
use super::topology::InstanceId;
use bc_protocol::{ObservedEvent, StreamLine};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Pause before resubscribing to an instance that is still running (stream dropped by the network).
const RETRY: Duration = Duration::from_millis(50);

/// Why one subscription ended.
enum Ended {
    /// The feed channel or the environment is closed: stop for good.
    Closed,
    /// The instance's status changed (killed, restarted): look again.
    StatusChanged,
    /// The stream ended or failed while the instance looked alive.
    StreamLost,
}

/// Follows one instance until `stop` turns true or the receiver is dropped.
pub(crate) async fn follow(
    id: InstanceId,
    mut status: watch::Receiver<InstanceStatus>,
    tx: mpsc::Sender<ObservedEvent>,
    mut stop: watch::Receiver<bool>,
    http: reqwest::Client,
    progress: Arc<FeedProgress>,
) {
    let mut incarnation = 0u64;
    let mut next_seq = 0u64;
    let mut wanted = progress.mark_requests();
    // An ask made before this task first ran (the scenario can start before every feed task is
    // polled) is already marked seen here: ask once at the first subscription so it is not lost.
    wanted.mark_changed();
    loop {
        if *stop.borrow() {
            return;
        }
        let st = status.borrow_and_update().clone();
        progress.set_live(
            &id,
            st.state == InstanceState::Running && st.incarnation > 0,
        );
        if st.state == InstanceState::Down || st.incarnation == 0 {
            tokio::select! {
                r = status.changed() => if r.is_err() { return },
                _ = stop.changed() => return,
            }
            continue;
        }
        if st.incarnation != incarnation {
            // A new process numbers its events from 0 again.
            incarnation = st.incarnation;
            next_seq = 0;
        }
        let control = st.addrs.control_url();
        let url = format!("{control}/events?from={next_seq}&heartbeat_ms={IDLE_HEARTBEAT_MS}");
        let feed = Feed {
            http: &http,
            control: &control,
            id: &id,
            progress: &progress,
        };
        let stream = feed.stream_once(&url, &tx, &mut next_seq, &mut wanted);
        tokio::pin!(stream);
        // A process that dies closes its stream itself: keep reading to the end so its last events
        // (shutting_down, logouts, disconnects) are not lost; only a new incarnation cuts it short.
        let ended = loop {
            tokio::select! {
                e = &mut stream => break e,
                r = status.changed() => {
                    if r.is_err() {
                        break Ended::Closed;
                    }
                    // Frozen or killed by a step: its silence no longer holds the watermark.
                    progress.set_live(&id, status.borrow().state == InstanceState::Running);
                    if status.borrow().incarnation != incarnation {
                        // Restarted: its silence clock starts again when it is seen running.
                        progress.set_live(&id, false);
                        break Ended::StatusChanged;
                    }
                }
                _ = stop.changed() => break Ended::Closed,
            }
        };
        match ended {
            Ended::Closed => return,
            Ended::StatusChanged => continue,
            Ended::StreamLost => {
                tracing::debug!(instance = %id, "event stream ended; resubscribing");
                tokio::select! {
                    _ = tokio::time::sleep(RETRY) => {}
                    r = status.changed() => if r.is_err() { return },
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// One subscription to one instance's feed.
struct Feed<'a> {
    http: &'a reqwest::Client,
    control: &'a str,
    id: &'a InstanceId,
    progress: &'a FeedProgress,
}

/// An ask for a mark that gets no answer in this time is dropped (the next ask, or the idle
/// heartbeat, moves the watermark instead).
const MARK_TIMEOUT: Duration = Duration::from_secs(1);

impl Feed<'_> {
    async fn stream_once(
        &self,
        url: &str,
        tx: &mpsc::Sender<ObservedEvent>,
        next_seq: &mut u64,
        wanted: &mut watch::Receiver<u64>,
    ) -> Ended {
        let resp = match self.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r,
            _ => return Ended::StreamLost,
        };
        let mut body = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        let mut asking = true;
        loop {
            let chunk = tokio::select! {
                c = body.next() => c,
                r = wanted.changed(), if asking => {
                    match r {
                        Ok(()) => self.ask_for_mark(),
                        Err(_) => asking = false,
                    }
                    continue;
                }
            };
            let Some(Ok(chunk)) = chunk else {
                return Ended::StreamLost;
            };
            buf.extend_from_slice(&chunk);
            // Every whole line of the buffer, then one drain: draining line by line moved the
            // rest of a large chunk once per line (a floor's switchover sends thousands a second).
            let mut start = 0;
            while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + pos;
                if let Err(e) = self.line(&buf[start..end], tx, next_seq).await {
                    return e;
                }
                start = end + 1;
            }
            buf.drain(..start);
        }
    }

    /// Asks the instance to write a heartbeat now; the answer comes on the stream.
    fn ask_for_mark(&self) {
        let req = self
            .http
            .post(format!("{}/events/mark", self.control))
            .timeout(MARK_TIMEOUT)
            .send();
        tokio::spawn(async move {
            let _ = req.await;
        });
    }

    /// One line of the stream: an event forwarded, or a heartbeat that moves the mark.
    async fn line(
        &self,
        line: &[u8],
        tx: &mpsc::Sender<ObservedEvent>,
        next_seq: &mut u64,
    ) -> Result<(), Ended> {
        let (id, progress) = (self.id, self.progress);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        match StreamLine::parse(line) {
            Ok(StreamLine::Heartbeat(hb)) => {
                progress.delayed(hb.heartbeat);
                progress.seen(id, hb.heartbeat - 1);
            }
            // Replays after a resubscription may repeat what was already forwarded.
            Ok(StreamLine::Event(ev)) if ev.seq < *next_seq => {}
            Ok(StreamLine::Event(ev)) => {
                *next_seq = ev.seq + 1;
                let ts = ev.ts_us;
                if tx.send(ev).await.is_err() {
                    return Err(Ended::Closed);
                }
                // Another event may carry the same stamp: only the instant before is complete.
                progress.seen(id, ts - 1);
            }
            Err(e) => {
                tracing::warn!(instance = %id, error = %e, "unreadable observation event skipped");
            }
        }
        Ok(())
    }
}
