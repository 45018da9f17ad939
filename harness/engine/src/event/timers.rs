//! The timers a desktop declares in its profile, as the run's first event carries them to every
//! report; a stability check derives from them how long one logged-out gap may last.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The timers a desktop declares. A conformant desktop may take long to notice a loss (Genesys'
/// Platform SDK reconnect timeout defaults to 10 s, ADDP to 9-20 s), so a fixed tolerance would fail
/// it; the declared values set the tolerance instead, and every report prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredTimers {
    /// Interval between keep-alive requests on an idle link.
    #[serde(with = "ms")]
    pub keepalive_interval: Duration,
    /// Silence after a keep-alive is due before the link counts as lost.
    #[serde(with = "ms")]
    pub keepalive_timeout: Duration,
    /// How long a lost server is retried at its own site's HA pair.
    #[serde(with = "ms")]
    pub ha_reconnect: Duration,
    /// Upper bound of the random delay before a reconnection (anti-herd jitter).
    #[serde(with = "ms", default)]
    pub reconnect_delay: Duration,
}

impl DeclaredTimers {
    /// The longest one logged-out gap may last at the same site: noticing the loss by keep-alive,
    /// waiting the random delay, and retrying the HA pair.
    pub fn gap_grace(&self) -> Duration {
        self.keepalive_interval + self.keepalive_timeout + self.reconnect_delay + self.ha_reconnect
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "keep-alive every {} ms, lost after {} ms of silence; HA pair retried for {} ms; reconnection delay up to {} ms (a logged-out gap may last {} ms)",
            self.keepalive_interval.as_millis(),
            self.keepalive_timeout.as_millis(),
            self.ha_reconnect.as_millis(),
            self.reconnect_delay.as_millis(),
            self.gap_grace().as_millis()
        )
    }
}

/// The timers as every report prints them, or what stands in for them when none were declared.
pub fn timers_line(timers: Option<&DeclaredTimers>) -> String {
    timers.map_or_else(
        || "none declared: a logged-out gap is tolerated for the budget".into(),
        DeclaredTimers::describe,
    )
}

/// Journals store durations as milliseconds.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
