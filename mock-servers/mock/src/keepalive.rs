//! Keep-alive summaries: with `--keepalive-events summary` a connection's Pings and Pongs are
//! counted instead of observed one by one, and told in a `keepalive_summary` event every
//! [`SUMMARY_EVERY`] (the counts since the last one) and at its end.
//!
//! Why: a floor of 2,000 agents keeps ~4,000 connections alive, ~16,000 keep-alive messages a
//! second, which would be most of the event stream while saying only "the link was alive"; the
//! counters and the longest silence say the same in one event per connection.

use bc_protocol::EventKind;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// How often every live connection's counters are told (and restarted).
pub const SUMMARY_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether keep-alives are observed one by one (the default) or summarised per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeepaliveEvents {
    #[default]
    Each,
    Summary,
}

/// One connection's keep-alive counters so far.
#[derive(Debug, Clone)]
struct Tally {
    pings_in: u64,
    pongs_in: u64,
    pings_out: u64,
    pongs_out: u64,
    /// When the connection was last heard keeping alive (or was first counted).
    last_in: Instant,
    longest_gap_ms: u64,
}

impl Tally {
    fn new(now: Instant) -> Tally {
        Tally {
            pings_in: 0,
            pongs_in: 0,
            pings_out: 0,
            pongs_out: 0,
            last_in: now,
            longest_gap_ms: 0,
        }
    }

    fn heard(&mut self, now: Instant) {
        let gap = now.duration_since(self.last_in).as_millis() as u64;
        self.longest_gap_ms = self.longest_gap_ms.max(gap);
        self.last_in = now;
    }

    /// The counts so far, the silence running now included, without counting `now` as heard.
    fn summary(&self, now: Instant) -> EventKind {
        let running = now.duration_since(self.last_in).as_millis() as u64;
        EventKind::KeepaliveSummary {
            pings_in: self.pings_in,
            pongs_in: self.pongs_in,
            pings_out: self.pings_out,
            pongs_out: self.pongs_out,
            longest_gap_ms: self.longest_gap_ms.max(running),
        }
    }

    /// Starts the next period's counts; the running silence goes on.
    fn restart(&mut self) {
        *self = Tally::new(self.last_in);
    }
}

/// The counters of every live connection of one instance.
#[derive(Debug, Default)]
pub struct Tallies {
    by_conn: Mutex<HashMap<u64, Tally>>,
}

impl Tallies {
    /// Counts a keep-alive event of `conn`; `false` when `kind` is not a keep-alive (emit it).
    pub fn count(&self, conn: u64, kind: &EventKind) -> bool {
        if !matches!(kind, EventKind::Ping { .. } | EventKind::Pong { .. }) {
            return false;
        }
        let now = Instant::now();
        let mut map = self.by_conn.lock().unwrap_or_else(|e| e.into_inner());
        let t = map.entry(conn).or_insert_with(|| Tally::new(now));
        match *kind {
            EventKind::Ping { inbound: true, .. } => {
                t.pings_in += 1;
                t.heard(now);
            }
            EventKind::Pong { inbound: true, .. } => {
                t.pongs_in += 1;
                t.heard(now);
            }
            EventKind::Ping { inbound: false, .. } => t.pings_out += 1,
            _ => t.pongs_out += 1,
        }
        true
    }

    /// Starts counting `conn` now (its first silence is measured from here).
    pub fn open(&self, conn: u64) {
        let mut map = self.by_conn.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(conn, Tally::new(Instant::now()));
    }

    /// The summary of a connection that ended, if it was counted.
    pub fn close(&self, conn: u64) -> Option<EventKind> {
        let mut map = self.by_conn.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&conn).map(|t| t.summary(Instant::now()))
    }

    /// Every live connection's summary of the period that ends now; their counts start again.
    pub fn period(&self) -> Vec<(u64, EventKind)> {
        let now = Instant::now();
        let mut map = self.by_conn.lock().unwrap_or_else(|e| e.into_inner());
        map.iter_mut()
            .map(|(&c, t)| {
                let s = t.summary(now);
                t.restart();
                (c, s)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_direction_and_sums_up_at_the_end() {
        let t = Tallies::default();
        t.open(7);
        let ping = |inbound| EventKind::Ping { seq: 1, inbound };
        let pong = |inbound| EventKind::Pong { seq: 1, inbound };
        assert!(t.count(7, &ping(true)));
        assert!(t.count(7, &pong(false)));
        assert!(t.count(7, &ping(false)));
        assert!(t.count(7, &pong(true)));
        assert!(t.count(7, &pong(true)));
        let other = EventKind::ClientConnected { peer: "x".into() };
        assert!(!t.count(7, &other));
        let Some(EventKind::KeepaliveSummary {
            pings_in,
            pongs_in,
            pings_out,
            pongs_out,
            ..
        }) = t.close(7)
        else {
            panic!("a counted connection has a summary")
        };
        assert_eq!((pings_in, pongs_in, pings_out, pongs_out), (1, 2, 1, 1));
        assert_eq!(t.close(7), None, "told once");
    }

    #[test]
    fn a_period_tells_each_live_connection_and_starts_its_counts_again() {
        let t = Tallies::default();
        t.open(1);
        t.open(2);
        t.count(
            1,
            &EventKind::Ping {
                seq: 1,
                inbound: true,
            },
        );
        let first = t.period();
        assert_eq!(first.len(), 2);
        let pings = |s: &EventKind| match s {
            EventKind::KeepaliveSummary { pings_in, .. } => *pings_in,
            _ => panic!("a summary"),
        };
        let of = |v: &[(u64, EventKind)], c| pings(&v.iter().find(|(k, _)| *k == c).unwrap().1);
        assert_eq!((of(&first, 1), of(&first, 2)), (1, 0));
        assert_eq!(of(&t.period(), 1), 0, "counted again from zero");
    }
}
