//! How far each instance's event feed has been read: per source, the time up to which nothing is
//! still to come (from its events and heartbeats) and whether it counts toward the watermark.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::watch;

use super::clock::now_us;
use super::topology::InstanceId;

/// Where one instance's feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Every event of this instance stamped at or before this time has been forwarded.
    pub seen_us: i64,
    /// When the harness last heard from it (or it started counting), wall-clock µs.
    pub heard_at_us: i64,
    /// Counts toward the watermark: its instance runs. A killed, stopped or frozen instance
    /// reports nothing, and that silence is the fault's doing, not a stall.
    pub live: bool,
}

/// The feeds' watermark at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// Every live source has been read up to here (`None`: no source counts right now).
    pub upto_us: Option<i64>,
    /// A live source silent for longer than the bound: nothing a step did explains it.
    pub stalled: Option<Stalled>,
}

/// A source that stopped reporting while it should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    /// Which instance's feed.
    pub source: InstanceId,
    /// For how long nothing was heard, µs.
    pub silent_us: i64,
}

/// Marks kept per source to tell when the watermark passed an instant (at least ~2.5 s of them).
const HISTORY: usize = 256;

/// Silence after which an instance's stream writes a heartbeat unasked: what lets a stall show and
/// the watermark move when nobody asks for a mark. Waiting to judge, the harness asks for one.
pub const IDLE_HEARTBEAT_MS: u64 = 200;

/// An ask for marks that has not moved the watermark by then is repeated (a lost request).
const ASK_AGAIN_US: i64 = 50_000;

#[derive(Debug)]
struct Source {
    mark: Mark,
    /// The recent "seen up to" values, oldest first.
    history: VecDeque<i64>,
}

/// The progress of every feed of one environment, shared by the feed tasks and the scenario.
#[derive(Debug)]
pub struct FeedProgress {
    sources: Mutex<HashMap<InstanceId, Source>>,
    /// Bumped at every change, so each waiter sees every change since it last looked.
    changed: watch::Sender<u64>,
    /// The largest delay between an instance stamping a heartbeat and the feed reading it, µs.
    max_delay_us: Mutex<i64>,
    /// Bumped when a waiter needs every feed to report now; each feed task then asks its instance.
    wanted: watch::Sender<u64>,
    /// When marks were last asked for, µs: one ask serves every waiter of an instant before it.
    asked_at_us: Mutex<i64>,
}

impl FeedProgress {
    /// Progress of these instances, none counting yet.
    pub fn new(ids: &[InstanceId]) -> FeedProgress {
        let mark = Mark {
            seen_us: i64::MIN,
            heard_at_us: now_us(),
            live: false,
        };
        FeedProgress {
            sources: Mutex::new(
                ids.iter()
                    .map(|id| {
                        let history = VecDeque::new();
                        (id.clone(), Source { mark, history })
                    })
                    .collect(),
            ),
            changed: watch::Sender::new(0),
            max_delay_us: Mutex::new(0),
            wanted: watch::Sender::new(0),
            asked_at_us: Mutex::new(i64::MIN),
        }
    }

    /// A waiter needs every live feed complete up to `upto_us`: asks each instance for a mark,
    /// unless an ask made at or after that instant is still fresh (its marks will answer it).
    pub fn want_marks(&self, upto_us: i64) {
        let now = now_us();
        let mut asked = self.asked_at_us.lock().unwrap_or_else(|e| e.into_inner());
        if *asked >= upto_us && now - *asked < ASK_AGAIN_US {
            return;
        }
        *asked = now;
        drop(asked);
        self.wanted.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Asks for marks, for a feed task to follow.
    pub fn mark_requests(&self) -> watch::Receiver<u64> {
        self.wanted.subscribe()
    }

    fn update(&self, id: &InstanceId, f: impl FnOnce(&mut Source)) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = sources.get_mut(id) {
            f(s);
        }
        drop(sources);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Everything of `id` stamped at or before `seen_us` has been forwarded.
    pub fn seen(&self, id: &InstanceId, seen_us: i64) {
        let now = now_us();
        self.update(id, |s| {
            if seen_us > s.mark.seen_us {
                s.mark.seen_us = seen_us;
                if s.history.len() == HISTORY {
                    s.history.pop_front();
                }
                s.history.push_back(seen_us);
            }
            s.mark.heard_at_us = now;
        });
    }

    /// A heartbeat stamped `stamp_us` was read now: the feed's own delay.
    pub fn delayed(&self, stamp_us: i64) {
        let delay = now_us() - stamp_us;
        let mut max = self.max_delay_us.lock().unwrap_or_else(|e| e.into_inner());
        *max = (*max).max(delay);
    }

    /// The largest heartbeat delay since the last call, µs.
    pub fn take_max_delay_us(&self) -> i64 {
        std::mem::take(&mut *self.max_delay_us.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether `id` counts; turning live restarts its silence clock.
    pub fn set_live(&self, id: &InstanceId, live: bool) {
        let now = now_us();
        self.update(id, |s| {
            if s.mark.live != live {
                s.mark.live = live;
                s.mark.heard_at_us = now;
            }
        });
    }

    /// Changes of any mark: `changed()` on it resolves after the next one.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Every source's mark.
    pub fn marks(&self) -> Vec<(InstanceId, Mark)> {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources.iter().map(|(k, s)| (k.clone(), s.mark)).collect()
    }

    /// When, on the sources' own clocks, every live source had reported past `at_us`: the
    /// latest over sources of the first mark at or after it (the oldest kept when all are later;
    /// `None` when a live source has not reached it).
    pub fn passed_at(&self, at_us: i64) -> Option<i64> {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let live = sources.values().filter(|s| s.mark.live);
        live.map(|s| s.history.iter().copied().find(|seen| *seen >= at_us))
            .try_fold(at_us, |acc, first| first.map(|f| acc.max(f)))
    }

    /// The minimum "seen up to" over live sources at `now`, unless one of them has been silent
    /// for more than `stall_us`.
    pub fn watermark(&self, now: i64, stall_us: i64) -> Watermark {
        watermark(&self.marks(), now, stall_us)
    }
}

/// The watermark of a set of marks (pure, for tests).
pub fn watermark(marks: &[(InstanceId, Mark)], now: i64, stall_us: i64) -> Watermark {
    let live = marks.iter().filter(|(_, m)| m.live);
    let stalled = live
        .clone()
        .min_by_key(|(_, m)| m.heard_at_us)
        .filter(|(_, m)| now - m.heard_at_us > stall_us)
        .map(|(id, m)| Stalled {
            source: id.clone(),
            silent_us: now - m.heard_at_us,
        });
    Watermark {
        upto_us: live.map(|(_, m)| m.seen_us).min(),
        stalled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bc_protocol::{Role, ServerKind};

    fn id(site: &str) -> InstanceId {
        InstanceId::new(site, ServerKind::SipServer, Role::Primary)
    }

    fn mark(seen_us: i64, heard_at_us: i64, live: bool) -> Mark {
        Mark {
            seen_us,
            heard_at_us,
            live,
        }
    }

    #[test]
    fn the_slowest_live_source_holds_the_watermark_and_a_down_one_does_not() {
        let marks = [
            (id("A"), mark(100, 1_000, true)),
            (id("B"), mark(40, 1_000, true)),
            (id("C"), mark(5, 10, false)),
        ];
        assert_eq!(
            watermark(&marks, 1_500, 1_000),
            Watermark {
                upto_us: Some(40),
                stalled: None
            }
        );
    }

    #[test]
    fn a_live_source_silent_past_the_bound_is_stalled_and_named() {
        let marks = [
            (id("A"), mark(100, 1_000, true)),
            (id("B"), mark(40, 100, true)),
        ];
        let w = watermark(&marks, 1_200, 1_000);
        assert_eq!(
            w.stalled,
            Some(Stalled {
                source: id("B"),
                silent_us: 1_100
            })
        );
        assert_eq!(w.upto_us, Some(40));
    }

    #[test]
    fn no_live_source_leaves_the_watermark_open() {
        let marks = [(id("A"), mark(100, 0, false))];
        assert_eq!(
            watermark(&marks, 5_000, 1_000),
            Watermark {
                upto_us: None,
                stalled: None
            }
        );
    }

    #[test]
    fn the_watermark_passed_an_instant_when_the_last_live_source_reported_past_it() {
        let (a, b) = (id("A"), id("B"));
        let p = FeedProgress::new(&[a.clone(), b.clone()]);
        p.set_live(&a, true);
        p.set_live(&b, true);
        for t in [10, 20, 30, 40] {
            p.seen(&a, t);
        }
        p.seen(&b, 25);
        assert_eq!(p.passed_at(15), Some(25));
        assert_eq!(p.passed_at(22), Some(30));
        assert_eq!(p.passed_at(26), None, "B has not reached 26");
        p.set_live(&b, false);
        assert_eq!(p.passed_at(26), Some(30));
    }
}
