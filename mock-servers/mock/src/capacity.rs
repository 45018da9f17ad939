//! Server capacity: an optional ceiling on registered clients and a token bucket on client
//! registrations, with the overload answer past them (EventError `overloaded`, or the connection closed).

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// What a client past the limits gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverloadAnswer {
    /// `EventError` code 429 `overloaded; retry after N ms` to its RequestRegisterClient.
    #[default]
    Error,
    /// The connection is closed at once, before a word is exchanged (what a full accept queue or a
    /// refusing listener looks like to the client).
    Refuse,
}

/// The declared limits; every one optional (none: the infinitely fast server of before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many registered clients at once.
    #[serde(default)]
    pub max_clients: Option<usize>,
    /// Client registrations (logins) admitted per second, on average.
    #[serde(default)]
    pub login_rate: Option<f64>,
    /// How many registrations the bucket admits at once (default: one second's worth).
    #[serde(default)]
    pub login_burst: Option<f64>,
    /// The retry delay advertised in the overload answer, in ms (default 1000).
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub answer: OverloadAnswer,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.max_clients.is_some() || self.login_rate.is_some()
    }

    pub fn retry_after(&self) -> Duration {
        Duration::from_millis(self.retry_after_ms.unwrap_or(1000))
    }

    /// A clear error for values no server could have.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(r) = self.login_rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!("login_rate must be a positive number, got {r}"));
            }
        }
        if let Some(b) = self.login_burst {
            if !(b.is_finite() && b >= 1.0) {
                return Err(format!("login_burst must be at least 1, got {b}"));
            }
        }
        Ok(())
    }
}

/// Which limit turned a client away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    MaxClients,
    LoginRate,
}

impl Exceeded {
    pub fn as_str(self) -> &'static str {
        match self {
            Exceeded::MaxClients => "max_clients",
            Exceeded::LoginRate => "login_rate",
        }
    }
}

/// The counters a capacity run is judged by (`GET /capacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Counters {
    pub admitted: u64,
    pub rejected_max_clients: u64,
    pub rejected_login_rate: u64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One instance's limits, bucket and counters.
#[derive(Debug)]
pub struct Capacity {
    limits: Mutex<Limits>,
    bucket: Mutex<Bucket>,
    admitted: AtomicU64,
    rejected_max: AtomicU64,
    rejected_rate: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Capacity {
    pub fn new(limits: Limits) -> Self {
        let full = burst(&limits);
        Self {
            limits: Mutex::new(limits),
            bucket: Mutex::new(Bucket {
                tokens: full,
                at: Instant::now(),
            }),
            admitted: AtomicU64::new(0),
            rejected_max: AtomicU64::new(0),
            rejected_rate: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> Limits {
        lock(&self.limits).clone()
    }

    /// Replaces the limits; the bucket starts full, the counters carry on.
    pub fn set(&self, limits: Limits) {
        *lock(&self.bucket) = Bucket {
            tokens: burst(&limits),
            at: Instant::now(),
        };
        *lock(&self.limits) = limits;
    }

    pub fn counters(&self) -> Counters {
        Counters {
            admitted: self.admitted.load(Ordering::Relaxed),
            rejected_max_clients: self.rejected_max.load(Ordering::Relaxed),
            rejected_login_rate: self.rejected_rate.load(Ordering::Relaxed),
        }
    }

    /// Decides one registration while `registered` clients are already registered; a token is
    /// taken only when the client is admitted.
    pub fn admit(&self, registered: usize, now: Instant) -> Result<(), Exceeded> {
        let limits = lock(&self.limits).clone();
        if limits.max_clients.is_some_and(|m| registered >= m) {
            self.rejected_max.fetch_add(1, Ordering::Relaxed);
            return Err(Exceeded::MaxClients);
        }
        if let Some(rate) = limits.login_rate {
            let mut b = lock(&self.bucket);
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate).min(burst(&limits));
            b.at = now;
            if b.tokens < 1.0 {
                self.rejected_rate.fetch_add(1, Ordering::Relaxed);
                return Err(Exceeded::LoginRate);
            }
            b.tokens -= 1.0;
        }
        self.admitted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn burst(l: &Limits) -> f64 {
    l.login_burst.or(l.login_rate).unwrap_or(1.0).max(1.0)
}

/// Where the limits are checked: at accept (answer `refuse`) or at RequestRegisterClient (`error`).
/// Returns the limit exceeded and the advertised delay when the client on `conn` is turned away,
/// after recording it (`overloaded` observation); `None`: admitted, or no limit applies here.
/// `st` is the instance state the caller holds (its lock is not re-entrant).
pub fn turn_away(
    inst: &crate::state::Instance,
    st: &crate::state::State,
    conn: u64,
    at: OverloadAnswer,
    user_name: Option<&str>,
) -> Option<(Exceeded, Duration)> {
    let limits = inst.capacity.limits();
    if !limits.any() || limits.answer != at {
        return None;
    }
    // At accept nobody on `conn` is registered yet; at registration it is the one asking.
    let registered = st
        .conns
        .iter()
        .filter(|(id, c)| c.registered && **id != conn)
        .count();
    let e = inst.capacity.admit(registered, Instant::now()).err()?;
    let retry_after = limits.retry_after();
    inst.emit(
        Some(conn),
        bc_protocol::EventKind::Overloaded {
            limit: e.as_str().into(),
            retry_after_ms: u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
            answer: match at {
                OverloadAnswer::Error => "error".into(),
                OverloadAnswer::Refuse => "refuse".into(),
            },
            user_name: user_name.map(str::to_string),
        },
    );
    Some((e, retry_after))
}

/// The text of the overload answer; desktops read the delay from it (`retry after N ms`).
pub fn overload_message(e: Exceeded, retry_after: Duration) -> String {
    format!(
        "overloaded ({}); retry after {} ms",
        e.as_str(),
        retry_after.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_clients_turns_away_past_the_ceiling() {
        let c = Capacity::new(Limits {
            max_clients: Some(2),
            ..Limits::default()
        });
        let now = Instant::now();
        assert_eq!(c.admit(0, now), Ok(()));
        assert_eq!(c.admit(1, now), Ok(()));
        assert_eq!(c.admit(2, now), Err(Exceeded::MaxClients));
        assert_eq!(
            c.counters(),
            Counters {
                admitted: 2,
                rejected_max_clients: 1,
                rejected_login_rate: 0
            }
        );
    }

    #[test]
    fn the_bucket_admits_the_burst_then_the_rate() {
        let c = Capacity::new(Limits {
            login_rate: Some(10.0),
            login_burst: Some(3.0),
            ..Limits::default()
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(c.admit(0, t0), Ok(()));
        }
        assert_eq!(c.admit(0, t0), Err(Exceeded::LoginRate));
        // 100 ms at 10/s refills one token.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(c.admit(0, t1), Ok(()));
        assert_eq!(c.admit(0, t1), Err(Exceeded::LoginRate));
        // Refill stops at the burst.
        let t2 = t1 + Duration::from_secs(10);
        let admitted = (0..10).filter(|_| c.admit(0, t2).is_ok()).count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn nonsense_limits_are_clear_errors() {
        let bad = Limits {
            login_rate: Some(0.0),
            ..Limits::default()
        };
        assert!(bad.validate().unwrap_err().contains("login_rate"));
        assert!(Limits::default().validate().is_ok());
        assert!(
            overload_message(Exceeded::LoginRate, Duration::from_millis(1500))
                .ends_with("retry after 1500 ms")
        );
    }
}
