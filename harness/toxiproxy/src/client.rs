//! Async client of the Toxiproxy 2.x HTTP API, for bc-toxiproxy or a real Toxiproxy.
//! Toxic attributes are a JSON map, so toxics this crate does not know can be driven too.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::model::Stream;

/// Default limit for every API call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Client errors; `Api` carries the status and the server's own error message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid toxiproxy url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{method} {path}: {source}")]
    Transport {
        method: Method,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {path}: toxiproxy answered {status}: {message}")]
    Api {
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
    },
    #[error("{method} {path}: unexpected answer: {reason}")]
    Decode {
        method: Method,
        path: String,
        reason: String,
    },
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// A proxy to create (POST /proxies, /populate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `Some("udp")` for a udp proxy (an extension of bc-toxiproxy; real Toxiproxy is TCP-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

impl ProxyConfig {
    pub fn new(
        name: impl Into<String>,
        listen: impl Into<String>,
        upstream: impl Into<String>,
    ) -> Self {
        ProxyConfig {
            name: name.into(),
            listen: listen.into(),
            upstream: upstream.into(),
            enabled: None,
            protocol: None,
        }
    }

    /// A udp proxy (bc-toxiproxy only, see docs/toxiproxy.md).
    pub fn udp(
        name: impl Into<String>,
        listen: impl Into<String>,
        upstream: impl Into<String>,
    ) -> Self {
        ProxyConfig {
            protocol: Some("udp".into()),
            ..ProxyConfig::new(name, listen, upstream)
        }
    }
}

/// A proxy as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    #[serde(default)]
    pub toxics: Vec<Toxic>,
    /// `Some("udp")` on a bc-toxiproxy udp proxy; absent on tcp proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Changes to a proxy; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProxyUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

fn default_toxicity() -> f32 {
    1.0
}

/// A toxic of any type; an empty name lets the server choose `<type>_<stream>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "type")]
    pub r#type: String,
    pub stream: Stream,
    #[serde(default = "default_toxicity")]
    pub toxicity: f32,
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Extension of this server: only connections from these client addresses get the toxic
    /// (empty: every client; real Toxiproxy ignores the field and applies it to all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<std::net::IpAddr>,
}

impl Toxic {
    /// A toxic of `type` on `stream` with toxicity 1 and the given attributes.
    pub fn new(r#type: &str, stream: Stream, attributes: serde_json::Value) -> Self {
        Toxic {
            name: String::new(),
            r#type: r#type.to_string(),
            stream,
            toxicity: 1.0,
            attributes: match attributes {
                serde_json::Value::Object(m) => m,
                _ => serde_json::Map::new(),
            },
            clients: Vec::new(),
        }
    }
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Aims the toxic at connections from these client addresses only.
    pub fn for_clients(mut self, clients: Vec<std::net::IpAddr>) -> Self {
        self.clients = clients;
        self
    }
    pub fn with_toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }
    pub fn latency(stream: Stream, latency_ms: u64, jitter_ms: u64) -> Self {
        Self::new(
            "latency",
            stream,
            serde_json::json!({"latency": latency_ms, "jitter": jitter_ms}),
        )
    }
    pub fn bandwidth(stream: Stream, rate_kb_s: u64) -> Self {
        Self::new("bandwidth", stream, serde_json::json!({"rate": rate_kb_s}))
    }
    pub fn slow_close(stream: Stream, delay_ms: u64) -> Self {
        Self::new("slow_close", stream, serde_json::json!({"delay": delay_ms}))
    }
    /// `timeout_ms` 0 holds the connection open forever with nothing flowing (black hole).
    pub fn timeout(stream: Stream, timeout_ms: u64) -> Self {
        Self::new(
            "timeout",
            stream,
            serde_json::json!({"timeout": timeout_ms}),
        )
    }
    pub fn reset_peer(stream: Stream, timeout_ms: u64) -> Self {
        Self::new(
            "reset_peer",
            stream,
            serde_json::json!({"timeout": timeout_ms}),
        )
    }
    pub fn slicer(stream: Stream, average_size: u64, size_variation: u64, delay_us: u64) -> Self {
        Self::new(
            "slicer",
            stream,
            serde_json::json!({"average_size": average_size, "size_variation": size_variation, "delay": delay_us}),
        )
    }
    pub fn limit_data(stream: Stream, bytes: u64) -> Self {
        Self::new("limit_data", stream, serde_json::json!({"bytes": bytes}))
    }
}

/// Changes to a toxic; absent fields stay as they are (attributes are merged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToxicUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toxicity: Option<f32>,
}

#[derive(Deserialize)]
struct VersionBody {
    version: String,
}

#[derive(Deserialize)]
struct PopulateAnswer {
    proxies: Option<Vec<Proxy>>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

/// Client of one Toxiproxy API server.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base_url` (e.g. `http://127.0.0.1:8474`) with [`DEFAULT_TIMEOUT`] per call.
    pub fn new(base_url: &str) -> Result<Client> {
        Self::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A client whose every call fails after `timeout`.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<Client> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: base_url.to_string(),
            reason,
        };
        let base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("expected an http:// url".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Client { base, http })
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            p.extend(segments);
        }
        url
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let url = self.url(segments);
        let path = url.path().to_string();
        let mut req = self.http.request(method.clone(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let transport = |source| Error::Transport {
            method: method.clone(),
            path: path.clone(),
            source,
        };
        let res = req.send().await.map_err(transport)?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(transport)?.to_vec();
        Ok((status, bytes))
    }

    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
        ok: &[StatusCode],
    ) -> Result<T> {
        let bytes = self.request_raw(method.clone(), segments, body, ok).await?;
        let path = self.url(segments).path().to_string();
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            method,
            path,
            reason: e.to_string(),
        })
    }

    async fn request_raw(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
        ok: &[StatusCode],
    ) -> Result<Vec<u8>> {
        let (status, bytes) = self.call(method.clone(), segments, body).await?;
        if ok.contains(&status) {
            return Ok(bytes);
        }
        let message = serde_json::from_slice::<ErrorAnswer>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string());
        Err(Error::Api {
            method,
            path: self.url(segments).path().to_string(),
            status,
            message,
        })
    }

    fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
    }

    /// The server's version string.
    pub async fn version(&self) -> Result<String> {
        let (status, bytes) = self.call(Method::GET, &["version"], None).await?;
        if status != StatusCode::OK {
            return Err(Error::Api {
                method: Method::GET,
                path: "/version".into(),
                status,
                message: String::from_utf8_lossy(&bytes).trim().to_string(),
            });
        }
        // Toxiproxy 2.x before 2.6 answered plain text.
        Ok(serde_json::from_slice::<VersionBody>(&bytes)
            .map(|v| v.version)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string()))
    }

    /// Re-enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<()> {
        self.request_raw(
            Method::POST,
            &["reset"],
            None,
            &[StatusCode::NO_CONTENT, StatusCode::OK],
        )
        .await?;
        Ok(())
    }

    /// Creates or replaces proxies (unchanged ones are kept, with their toxics).
    pub async fn populate(&self, proxies: &[ProxyConfig]) -> Result<Vec<Proxy>> {
        let a: PopulateAnswer = self
            .request(
                Method::POST,
                &["populate"],
                Some(Self::to_json(&proxies)),
                &[StatusCode::CREATED, StatusCode::OK],
            )
            .await?;
        Ok(a.proxies.unwrap_or_default())
    }

    pub async fn proxies(&self) -> Result<BTreeMap<String, Proxy>> {
        self.request(Method::GET, &["proxies"], None, &[StatusCode::OK])
            .await
    }

    pub async fn create_proxy(&self, config: &ProxyConfig) -> Result<Proxy> {
        self.request(
            Method::POST,
            &["proxies"],
            Some(Self::to_json(config)),
            &[StatusCode::CREATED],
        )
        .await
    }

    /// A udp proxy forgets its flows (bc-toxiproxy extension); returns how many.
    pub async fn forget_flows(&self, proxy: &str) -> Result<u64> {
        let v: serde_json::Value = self
            .request(
                Method::POST,
                &["proxies", proxy, "flows", "forget"],
                None,
                &[StatusCode::OK],
            )
            .await?;
        Ok(v["forgotten"].as_u64().unwrap_or(0))
    }

    pub async fn proxy(&self, name: &str) -> Result<Proxy> {
        self.request(Method::GET, &["proxies", name], None, &[StatusCode::OK])
            .await
    }

    /// Enables/disables (disabling closes the listener and live connections) or moves a proxy.
    pub async fn update_proxy(&self, name: &str, update: &ProxyUpdate) -> Result<Proxy> {
        self.request(
            Method::POST,
            &["proxies", name],
            Some(Self::to_json(update)),
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn delete_proxy(&self, name: &str) -> Result<()> {
        self.request_raw(
            Method::DELETE,
            &["proxies", name],
            None,
            &[StatusCode::NO_CONTENT],
        )
        .await?;
        Ok(())
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>> {
        self.request(
            Method::GET,
            &["proxies", proxy, "toxics"],
            None,
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn toxic(&self, proxy: &str, name: &str) -> Result<Toxic> {
        self.request(
            Method::GET,
            &["proxies", proxy, "toxics", name],
            None,
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn add_toxic(&self, proxy: &str, toxic: &Toxic) -> Result<Toxic> {
        self.request(
            Method::POST,
            &["proxies", proxy, "toxics"],
            Some(Self::to_json(toxic)),
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        update: &ToxicUpdate,
    ) -> Result<Toxic> {
        self.request(
            Method::POST,
            &["proxies", proxy, "toxics", name],
            Some(Self::to_json(update)),
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<()> {
        self.request_raw(
            Method::DELETE,
            &["proxies", proxy, "toxics", name],
            None,
            &[StatusCode::NO_CONTENT],
        )
        .await?;
        Ok(())
    }
}
