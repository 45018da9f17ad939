//! Client of one bc-mock instance's HTTP control API (health, roles, rejection, calls, config, reset).
//! The shapes are those of docs/control.md; every failure names the instance and the call.

use super::error::EnvError;
use bc_protocol::{Role, ServerKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `GET /health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub server: ServerKind,
    pub site: String,
    pub role: Role,
    pub active: bool,
    pub listen: String,
}

/// `POST /calls` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDelivery {
    pub conn_id: String,
    pub delivered_via: String,
    pub redirected: bool,
}

/// HTTP client for the control API of mock instances (one shared connection pool).
#[derive(Debug, Clone)]
pub struct ControlClient {
    pub(super) http: reqwest::Client,
}

impl ControlClient {
    pub fn new(timeout: Duration) -> ControlClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A killed instance leaves dead pooled connections behind; do not reuse them.
            .pool_max_idle_per_host(0)
            // Loopback control calls must never go through an HTTP proxy from the environment.
            .no_proxy()
            .build()
            .unwrap_or_default();
        ControlClient { http }
    }

    pub(super) async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        instance: &str,
        call: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, EnvError> {
        let err_with = |status: Option<u16>, reason: String| EnvError::Control {
            instance: instance.to_string(),
            call: call.to_string(),
            status,
            reason,
        };
        let err = |reason: String| err_with(None, reason);
        let resp = req.send().await.map_err(|e| err(describe(&e)))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| err(describe(&e)))?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(err_with(
                Some(status.as_u16()),
                format!("http {}: {msg}", status.as_u16()),
            ));
        }
        let body = if body.is_empty() { &b"null"[..] } else { &body };
        serde_json::from_slice(body).map_err(|e| err(format!("unexpected answer: {e}")))
    }

    pub async fn health(&self, instance: &str, base: &str) -> Result<Health, EnvError> {
        self.call(
            instance,
            "GET /health",
            self.http.get(format!("{base}/health")),
        )
        .await
    }

    /// Whether the instance behind `base` is gone: its control port refused or closed the
    /// connection without an answer. A timeout says nothing: a starved Docker engine's published
    /// port stalls for a live instance too.
    pub async fn is_gone(&self, base: &str) -> bool {
        let probe = self
            .http
            .get(format!("{base}/health"))
            .timeout(Duration::from_millis(200));
        match probe.send().await {
            Ok(_) => false,
            Err(e) => !e.is_timeout() && (e.is_connect() || e.is_request()),
        }
    }

    pub async fn promote(&self, instance: &str, base: &str) -> Result<Health, EnvError> {
        self.call(
            instance,
            "POST /promote",
            self.http.post(format!("{base}/promote")),
        )
        .await
    }

    pub async fn demote(&self, instance: &str, base: &str) -> Result<Health, EnvError> {
        self.call(
            instance,
            "POST /demote",
            self.http.post(format!("{base}/demote")),
        )
        .await
    }

    /// `POST /reject-logins`; returns the state the server reports.
    pub async fn reject_logins(
        &self,
        instance: &str,
        base: &str,
        on: bool,
    ) -> Result<bool, EnvError> {
        let v: serde_json::Value = self
            .call(
                instance,
                "POST /reject-logins",
                self.http
                    .post(format!("{base}/reject-logins"))
                    .json(&serde_json::json!({ "enabled": on })),
            )
            .await?;
        v.get("enabled")
            .and_then(|e| e.as_bool())
            .ok_or_else(|| EnvError::Control {
                instance: instance.to_string(),
                call: "POST /reject-logins".into(),
                status: None,
                reason: format!("answer lacks `enabled`: {v}"),
            })
    }

    /// `POST /capacity` with these limits (`{}` lifts them); the answer (`limits`, `counters`).
    pub async fn set_capacity(
        &self,
        instance: &str,
        base: &str,
        limits: &serde_json::Value,
    ) -> Result<serde_json::Value, EnvError> {
        self.call(
            instance,
            "POST /capacity",
            self.http.post(format!("{base}/capacity")).json(limits),
        )
        .await
    }

    pub async fn reset(&self, instance: &str, base: &str) -> Result<(), EnvError> {
        let _: serde_json::Value = self
            .call(
                instance,
                "POST /reset",
                self.http.post(format!("{base}/reset")),
            )
            .await?;
        Ok(())
    }

    /// `POST /calls` (SIP Server only).
    pub async fn deliver_call(
        &self,
        instance: &str,
        base: &str,
        dn: &str,
        other_dn: &str,
    ) -> Result<CallDelivery, EnvError> {
        self.call(
            instance,
            "POST /calls",
            self.http
                .post(format!("{base}/calls"))
                .json(&serde_json::json!({
                    "dn": dn, "other_dn": other_dn, "call_type": "Inbound"
                })),
        )
        .await
    }

    /// `POST /objects/update` (CS Proxy only): merges the annex; returns the updated object.
    pub async fn update_object(
        &self,
        instance: &str,
        base: &str,
        object_type: &str,
        dbid: i64,
        annex: serde_json::Value,
    ) -> Result<serde_json::Value, EnvError> {
        self.call(
            instance,
            "POST /objects/update",
            self.http
                .post(format!("{base}/objects/update"))
                .json(&serde_json::json!({
                    "object_type": object_type, "dbid": dbid, "annex": annex
                })),
        )
        .await
    }

    /// `GET /sessions`: the live client connections, as JSON.
    pub async fn sessions(
        &self,
        instance: &str,
        base: &str,
    ) -> Result<serde_json::Value, EnvError> {
        self.call(
            instance,
            "GET /sessions",
            self.http.get(format!("{base}/sessions")),
        )
        .await
    }
}

/// A short reason: reqwest's Display hides the cause (refused, timed out) in the source chain.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
