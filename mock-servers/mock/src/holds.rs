//! Holds: a control client arms "on the n-th message X (or connection opened or closed), tell me,
//! and keep it waiting until I release it"; the connection tasks consult them (docs/control.md).

use crate::observer::now_us;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// Where in the connection's life a hold looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// A message from the client, before it is handled.
    FromClient,
    /// A message to the client, before it is written.
    ToClient,
    /// A new connection, before it is served.
    Connect,
    /// A connection that ended.
    Disconnect,
}

/// What waits once a hold fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The message (or connection) itself.
    #[default]
    Message,
    /// The answers to a client's message (`from_client` only): it is handled at once.
    Reply,
    /// Nothing: the hold only reports.
    None,
}

fn one() -> u32 {
    1
}
fn sixty_s() -> u64 {
    60_000
}

/// The body of `POST /holds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldSpec {
    pub point: Point,
    /// Message name; required at `from_client` and `to_client`.
    #[serde(default)]
    pub message: Option<String>,
    /// Fires on the n-th match after arming.
    #[serde(default = "one")]
    pub nth: u32,
    #[serde(default)]
    pub keep: Keep,
    /// Safety limit: a held message goes on by itself after this long.
    #[serde(default = "sixty_s")]
    pub limit_ms: u64,
}

/// When and where a hold fired.
#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    /// Wall-clock µs at which the message (or connection) was seen.
    pub ts_us: i64,
    pub conn: u64,
    pub message: Option<String>,
}

struct Armed {
    spec: HoldSpec,
    seen: u32,
    fired: watch::Sender<Option<Fired>>,
    release: Option<oneshot::Sender<bool>>,
    /// Wall-clock µs at which the held message went on by itself (the limit passed).
    expired_us: Option<i64>,
}

/// A fired hold's wait, handed to the connection task.
pub struct Gate {
    pub id: u64,
    pub keep: Keep,
    rx: oneshot::Receiver<bool>,
    limit: Duration,
}

/// What `POST /holds/{id}/release` found.
#[derive(Debug, Clone, Serialize)]
pub struct Released {
    pub fired: bool,
    /// True when the message was still waiting (the caller acted inside the window).
    pub was_held: bool,
    /// When the limit let it go by itself, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_us: Option<i64>,
}

/// Every hold of one instance.
#[derive(Default)]
pub struct Holds {
    armed: Mutex<HashMap<u64, Armed>>,
    next: AtomicU64,
}

impl Holds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Armed>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms a hold; returns its id.
    pub fn arm(&self, spec: HoldSpec) -> Result<u64, String> {
        let needs_message = matches!(spec.point, Point::FromClient | Point::ToClient);
        if needs_message != spec.message.is_some() {
            return Err(
                "`message` is required at from_client and to_client, and only there".into(),
            );
        }
        if spec.nth == 0 {
            return Err("`nth` counts from 1".into());
        }
        if spec.keep == Keep::Reply && spec.point != Point::FromClient {
            return Err(
                "`keep: reply` holds the answers to a client's message (from_client)".into(),
            );
        }
        if spec.keep != Keep::None && spec.point == Point::Disconnect {
            return Err("nothing can be kept once a connection has ended (use keep: none)".into());
        }
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let (fired, _) = watch::channel(None);
        self.lock().insert(
            id,
            Armed {
                spec,
                seen: 0,
                fired,
                release: None,
                expired_us: None,
            },
        );
        Ok(id)
    }

    /// Called by a connection task at `point`: counts matches and fires; `Some` when the caller
    /// must keep the message (or connection) waiting on the gate.
    pub fn check(&self, point: Point, message: Option<&str>, conn: u64) -> Option<Gate> {
        let mut armed = self.lock();
        if armed.is_empty() {
            return None;
        }
        for (id, a) in armed.iter_mut() {
            if a.spec.point != point || a.fired.borrow().is_some() {
                continue;
            }
            if a.spec.message.is_some() && a.spec.message.as_deref() != message {
                continue;
            }
            a.seen += 1;
            if a.seen < a.spec.nth {
                continue;
            }
            let fired = Fired {
                ts_us: now_us(),
                conn,
                message: message.map(str::to_string),
            };
            a.fired.send_replace(Some(fired));
            if a.spec.keep == Keep::None {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            a.release = Some(tx);
            return Some(Gate {
                id: *id,
                keep: a.spec.keep,
                rx,
                limit: Duration::from_millis(a.spec.limit_ms),
            });
        }
        None
    }

    /// Keeps the caller waiting until released or the limit; true when the message is dropped.
    pub async fn wait_gate(&self, gate: Gate) -> bool {
        match tokio::time::timeout(gate.limit, gate.rx).await {
            Ok(Ok(drop)) => drop,
            // Released by a reset or disarm (sender gone): go on.
            Ok(Err(_)) => false,
            Err(_) => {
                if let Some(a) = self.lock().get_mut(&gate.id) {
                    a.release = None;
                    a.expired_us = Some(now_us());
                }
                false
            }
        }
    }

    /// Waits (up to `timeout`) until hold `id` fires; `Err` for an unknown id.
    pub async fn wait_fired(&self, id: u64, timeout: Duration) -> Result<Option<Fired>, String> {
        let mut rx = match self.lock().get(&id) {
            Some(a) => a.fired.subscribe(),
            None => return Err(format!("no hold {id}")),
        };
        let fired = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        Ok(match fired {
            Ok(Ok(f)) => f.clone(),
            _ => None,
        })
    }

    /// Lets the held message go on (or drops it) and forgets the hold.
    pub fn release(&self, id: u64, drop: bool) -> Result<Released, String> {
        let a = self.lock().remove(&id).ok_or(format!("no hold {id}"))?;
        let fired = a.fired.borrow().is_some();
        let was_held = match a.release {
            Some(tx) => tx.send(drop).is_ok(),
            None => false,
        };
        Ok(Released {
            fired,
            was_held,
            expired_us: a.expired_us,
        })
    }

    /// Forgets every hold, letting held messages go on (instance reset).
    pub fn clear(&self) {
        self.lock().clear();
    }
}
