//! The client side of the control endpoint, used by `env status/fault/heal/down` (and tests): one
//! call per command, errors as the lab's own text.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::held::HeldFault;
use super::owner::{Healed, LabError};
use super::server::FaultRequest;
use super::state::LabState;
use super::status::Status;

/// Talks to the `env up` process of a state directory.
pub struct LabClient {
    base: String,
    http: reqwest::Client,
}

impl LabClient {
    /// For a state read from a state directory. Faults may take a while (a restart is confirmed
    /// by the instance's ready line): the timeout is generous.
    pub fn new(state: &LabState) -> LabClient {
        LabClient::at(&state.control_url)
    }

    /// For a control endpoint's base URL.
    pub fn at(control_url: &str) -> LabClient {
        LabClient {
            base: control_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
        }
    }

    pub async fn status(&self) -> Result<Status, LabError> {
        self.answer(self.http.get(format!("{}/status", self.base)))
            .await
    }

    pub async fn fault(&self, words: &[String]) -> Result<HeldFault, LabError> {
        let body = FaultRequest {
            words: words.to_vec(),
        };
        self.answer(self.http.post(format!("{}/faults", self.base)).json(&body))
            .await
    }

    /// Heals one fault (`Some(id)`) or every held one.
    pub async fn heal(&self, id: Option<u64>) -> Result<Vec<Healed>, LabError> {
        let url = match id {
            Some(id) => format!("{}/faults/{id}", self.base),
            None => format!("{}/faults", self.base),
        };
        self.answer(self.http.delete(url)).await
    }

    /// Asks the owner to tear everything down; answers once it has.
    pub async fn down(&self) -> Result<serde_json::Value, LabError> {
        self.answer(self.http.post(format!("{}/down", self.base)))
            .await
    }

    /// Follows the live timeline, calling `line` for each line, until the environment goes down.
    pub async fn watch(&self, mut line: impl FnMut(&str)) -> Result<(), LabError> {
        use futures::StreamExt;
        let unreachable = |e: reqwest::Error| LabError {
            status: 503,
            message: format!(
                "the environment's control endpoint {} does not answer: {e}",
                self.base
            ),
        };
        // No overall timeout: a watch lasts as long as the person watching.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let resp = http
            .get(format!("{}/watch", self.base))
            .send()
            .await
            .map_err(unreachable)?;
        let mut stream = resp.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.map_err(unreachable)?);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let l: Vec<u8> = buf.drain(..=nl).collect();
                line(String::from_utf8_lossy(&l).trim_end());
            }
        }
        Ok(())
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, LabError> {
        let unreachable = |e: reqwest::Error| LabError {
            status: 503,
            message: format!(
                "the environment's control endpoint {} does not answer: {e}",
                self.base
            ),
        };
        let resp = req.send().await.map_err(unreachable)?;
        let ok = resp.status().is_success();
        let text = resp.text().await.map_err(unreachable)?;
        if ok {
            serde_json::from_str(&text).map_err(|e| LabError {
                status: 502,
                message: format!("unexpected answer ({e}): {text}"),
            })
        } else {
            Err(serde_json::from_str(&text).unwrap_or(LabError {
                status: 502,
                message: text,
            }))
        }
    }
}
