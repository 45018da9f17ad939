//! The scenario's watermark: entries are judged once every source (each instance's feed, the desktop,
//! the harness's own fault entries) is complete up to them; the harness's own lateness is measured.

// Sources: a running instance's feed is complete up to its last event or heartbeat; a killed,
// stopped or frozen one does not count (a step silenced it). The desktop's exit and output are read
// in this process, so they are complete up to now. The harness's own fault and heal entries carry
// their earlier effect time: the evaluator's hold keeps the watermark before a step in flight.

use std::time::Duration;

use tokio::sync::watch;

use super::driver::{Driver, Stop};
use crate::env::now_us;
use crate::event::HarnessTiming;

/// Past this lateness of its own (decision lag, timer overshoot, feed delay) the harness cannot
/// vouch for its timing: the scenario is `error`, never a verdict about the desktop.
pub const MAX_LATENESS_MS: u64 = 500;

/// A running instance whose feed sends nothing (no event, no idle heartbeat) for this long has
/// stalled: the scenario is `error` naming it, instead of waiting for it forever.
pub const STALL_MS: u64 = 2_000;

/// While waiting for the feeds, look again at least this often (a stall is detected by time).
const FEED_POLL: Duration = Duration::from_millis(100);

/// The lateness figures of one scenario and what measuring them needs.
pub(super) struct Pace {
    pub timing: HarnessTiming,
    /// The wall-clock instant the wake loop last slept until, for its overshoot.
    sleep_until_us: Option<i64>,
    /// When the evaluator's hold was last released: entries held behind it pass only then.
    hold_released_us: i64,
    held: bool,
    /// The timeline already says the harness went past its lateness bound.
    late_noted: bool,
}

impl Pace {
    pub fn new(max_lateness: Duration) -> Pace {
        Pace {
            timing: HarnessTiming {
                bound_us: max_lateness.as_micros() as i64,
                ..HarnessTiming::default()
            },
            sleep_until_us: None,
            hold_released_us: i64::MIN,
            held: false,
            late_noted: false,
        }
    }

    /// The evaluator's hold changed.
    pub fn held(&mut self, held: bool) {
        if self.held && !held {
            self.hold_released_us = now_us();
        }
        self.held = held;
    }
}

/// How the wake loop waits next.
pub(super) struct Sleep {
    pub duration: Duration,
    /// The evaluator waits for the feeds to catch up, not for a time.
    pub on_feeds: bool,
}

impl Driver<'_> {
    /// Judges everything up to the watermark; `Err` when a running source stalled while needed
    /// (recorded as a harness error). Lateness is noted once and judged at the end.
    pub fn advance(&mut self) -> Result<(), Stop> {
        let now = now_us();
        let w = self.progress.watermark(now, STALL_MS as i64 * 1000);
        let upto = w.upto_us.map_or(now, |u| u.min(now));
        let needed = self.ev.next_wakeup_us().is_some_and(|t| t > upto);
        if let (Some(st), true) = (&w.stalled, needed) {
            return Err(self.harness_error(format!(
                "the observation feed of {} stalled: nothing heard for {} ms while it runs, and no step stopped it",
                st.source,
                st.silent_us / 1000
            )));
        }
        self.ev.advance(upto);
        for at in self.ev.take_decided() {
            let passed = self
                .progress
                .passed_at(at)
                .unwrap_or(now)
                .max(self.pace.hold_released_us)
                .clamp(at, now);
            let t = &mut self.pace.timing;
            t.decision_lag_us = t.decision_lag_us.max(now - passed);
        }
        let t = &mut self.pace.timing;
        t.feed_delay_us = t.feed_delay_us.max(self.progress.take_max_delay_us());
        // Lateness is judged when the result is built (`result::build`), not here: the scenario
        // goes on, so what the desktop did meanwhile stays on the timeline. An early retry found
        // there stands however late the harness was; anything else becomes `error` all the same.
        if !self.pace.late_noted {
            if let Some(message) = self.pace.timing.overloaded() {
                self.pace.late_noted = true;
                self.note(format!("harness late, the scenario goes on: {message}"));
            }
        }
        Ok(())
    }

    /// How long the wake loop may sleep: until the next instant that may decide, or, once it has
    /// come, until the feeds move (with a poll for stalls).
    pub fn next_sleep(&mut self) -> Sleep {
        let now = now_us();
        self.pace.sleep_until_us = None;
        match self.ev.next_wakeup_us() {
            None => Sleep {
                duration: Duration::from_secs(3600),
                on_feeds: false,
            },
            Some(t) if t <= now => {
                // The idle heartbeat is slow on purpose (it costs every instance a wake-up): ask
                // every feed for a mark now instead of waiting for it.
                self.progress.want_marks(t);
                Sleep {
                    duration: FEED_POLL,
                    on_feeds: true,
                }
            }
            Some(t) => {
                self.pace.sleep_until_us = Some(t);
                Sleep {
                    duration: Duration::from_micros((t - now) as u64),
                    on_feeds: false,
                }
            }
        }
    }

    /// The wake loop's timer fired: how late.
    pub fn on_timer(&mut self) {
        if let Some(t) = self.pace.sleep_until_us.take() {
            let late = (now_us() - t).max(0);
            let timing = &mut self.pace.timing;
            timing.timer_overshoot_us = timing.timer_overshoot_us.max(late);
        }
    }

    /// An observation stamped `ts_us` reached the evaluator with `backlog` more queued behind it.
    pub fn on_observation(&mut self, ts_us: i64, backlog: usize) {
        let t = &mut self.pace.timing;
        t.feed_delay_us = t.feed_delay_us.max(now_us() - ts_us);
        t.feed_backlog = t.feed_backlog.max(backlog);
    }

    /// Waits until every source is complete up to now: observations in flight belong to the run.
    pub async fn settle(&mut self) -> Result<(), Stop> {
        let end = now_us();
        let progress = self.progress.clone();
        let mut changes: watch::Receiver<u64> = progress.subscribe();
        let caught_up = async move {
            loop {
                let w = progress.watermark(now_us(), STALL_MS as i64 * 1000);
                if w.stalled.is_some() {
                    return w.stalled;
                }
                if w.upto_us.is_none_or(|u| u >= end) {
                    return None;
                }
                progress.want_marks(end);
                let _ = tokio::time::timeout(FEED_POLL, changes.changed()).await;
            }
        };
        if let Some(Some(st)) = self.drive(caught_up, |_| false).await? {
            return Err(self.harness_error(format!(
                "the observation feed of {} stalled: nothing heard for {} ms while it runs, and no step stopped it",
                st.source,
                st.silent_us / 1000
            )));
        }
        Ok(())
    }
}
