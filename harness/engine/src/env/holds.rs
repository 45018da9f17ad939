//! Holds in a mock instance (docs/control.md, "Holds"): arm, long-poll until fired, release or
//! drop. The engine's `on:` triggers are built on them; the mocks only know messages and counts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::control::ControlClient;
use super::environment::Environment;
use super::error::EnvError;
use super::topology::InstanceId;

/// The body of `POST /holds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldSpec {
    /// `from_client`, `to_client`, `connect` or `disconnect`.
    pub point: &'static str,
    /// Message name (at `from_client` and `to_client`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Fires on the n-th match after arming.
    pub nth: u32,
    /// `message`, `reply` or `none`.
    pub keep: &'static str,
}

/// When and where a hold fired, as the mock saw it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HoldFired {
    /// The mock's wall clock (µs) when it saw the message.
    pub ts_us: i64,
    /// The mock's connection id.
    pub conn: u64,
    /// The message, for message holds.
    pub message: Option<String>,
}

/// What a release found.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HoldReleased {
    /// Whether it had fired.
    pub fired: bool,
    /// Whether the message was still waiting: the caller acted inside the window.
    pub was_held: bool,
    /// When the mock's safety limit let the message go, if it did.
    #[serde(default)]
    pub expired_us: Option<i64>,
}

#[derive(Deserialize)]
struct Armed {
    id: u64,
}

#[derive(Deserialize)]
struct Waited {
    fired: Option<HoldFired>,
}

/// Longer than any hold wait, so the long poll ends by the mock's answer, not the client's timeout.
const POLL_SLACK: Duration = Duration::from_secs(5);

impl ControlClient {
    async fn arm_hold(&self, instance: &str, base: &str, spec: &HoldSpec) -> Result<u64, EnvError> {
        let req = self.http.post(format!("{base}/holds")).json(spec);
        let a: Armed = self.call(instance, "POST /holds", req).await?;
        Ok(a.id)
    }

    async fn wait_hold(
        &self,
        instance: &str,
        base: &str,
        hold: u64,
        wait: Duration,
    ) -> Result<Option<HoldFired>, EnvError> {
        let req = self
            .http
            .get(format!("{base}/holds/{hold}?wait_ms={}", wait.as_millis()))
            .timeout(wait + POLL_SLACK);
        let w: Waited = self.call(instance, "GET /holds/{id}", req).await?;
        Ok(w.fired)
    }

    async fn release_hold(
        &self,
        instance: &str,
        base: &str,
        hold: u64,
        drop: bool,
    ) -> Result<HoldReleased, EnvError> {
        let req = self
            .http
            .post(format!("{base}/holds/{hold}/release"))
            .json(&serde_json::json!({ "drop": drop }));
        self.call(instance, "POST /holds/{id}/release", req).await
    }
}

impl Environment {
    /// Arms a hold in one instance; returns its id there.
    pub async fn arm_hold(&self, id: &InstanceId, spec: &HoldSpec) -> Result<u64, EnvError> {
        let url = self.shared.control_url(id)?;
        self.shared
            .control
            .arm_hold(&id.to_string(), &url, spec)
            .await
    }

    /// Waits up to `wait` until the hold fires (`None`: it did not).
    pub async fn wait_hold(
        &self,
        id: &InstanceId,
        hold: u64,
        wait: Duration,
    ) -> Result<Option<HoldFired>, EnvError> {
        let url = self.shared.control_url(id)?;
        let name = id.to_string();
        self.shared.control.wait_hold(&name, &url, hold, wait).await
    }

    /// Lets the held message go on (`drop`: discards it) and forgets the hold.
    pub async fn release_hold(
        &self,
        id: &InstanceId,
        hold: u64,
        drop: bool,
    ) -> Result<HoldReleased, EnvError> {
        let url = self.shared.control_url(id)?;
        let name = id.to_string();
        self.shared
            .control
            .release_hold(&name, &url, hold, drop)
            .await
    }
}
