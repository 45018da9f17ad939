//! The harness clock: wall-clock microseconds since the Unix epoch, the same clock as the mocks' `ts_us`.
//! Faults, heals and observations are ordered on this one clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
