//! Starting a container and waiting until it is ready: its own ready line, or its API answering.
//! The output is attached before the start, so a ready line (or an early exit) cannot be missed.

use std::time::{Duration, Instant};

use testcontainers::bollard::query_parameters::AttachContainerOptionsBuilder;
use tokio::sync::oneshot;

use super::output::OutputStream;
use super::Container;
use crate::env::docker::error::DockerError;

/// When a started container counts as ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// An output line starting with this prefix (bc-mock prints `bc-mock ready ...` on stdout).
    StdoutLine(String),
    /// `GET path` on the published container `port` answers 2xx: for images whose output we do not own,
    /// such as Shopify's Toxiproxy (its log format changed between releases; its API did not).
    HttpOk { port: u16, path: String },
}

/// What a start observed.
#[derive(Debug)]
pub struct Started {
    /// The ready line.
    pub ready_line: String,
    pub elapsed: Duration,
    /// Resolves when this incarnation's process exits (its output stream ends), whatever the reason.
    pub exited: tokio::sync::oneshot::Receiver<()>,
}

impl Container {
    /// Starts the container and waits until it is ready (attaching first, so no output is missed).
    pub async fn start(&self) -> Result<Started, DockerError> {
        let begun = Instant::now();
        let options = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(&self.id, Some(options))
            .await
            .map_err(DockerError::api(format!("attaching to {}", self.spec.name)))?;
        self.docker
            .start_container(&self.id, None)
            .await
            .map_err(DockerError::api(format!("starting {}", self.spec.name)))?;
        let output = attached.output;
        let waited = match &self.spec.readiness {
            Readiness::StdoutLine(prefix) => {
                tokio::time::timeout(self.spec.ready_timeout, self.wait_line(output, prefix)).await
            }
            Readiness::HttpOk { port, path } => {
                tokio::time::timeout(self.spec.ready_timeout, self.wait_http(output, *port, path))
                    .await
            }
        };
        match waited {
            Ok(Ok((ready_line, exited))) => Ok(Started {
                ready_line,
                elapsed: begun.elapsed(),
                exited,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DockerError::NotReady {
                name: self.spec.name.clone(),
                timeout_ms: self.spec.ready_timeout.as_millis(),
                detail: format!(
                    "no readiness signal ({:?}); last output: {}",
                    self.spec.readiness,
                    self.log_tail(10)
                ),
            }),
        }
    }

    /// Ready line: reads the output up to it, then keeps draining it in the background.
    async fn wait_line(
        &self,
        mut output: OutputStream,
        prefix: &str,
    ) -> Result<(String, oneshot::Receiver<()>), DockerError> {
        let ready_line = self.read_until_line(&mut output, prefix).await?;
        // Read once ready: a process that exits at once has no ports, and its exit is the better error.
        self.refresh_ports().await?;
        let (exited, _) = self.drain(output);
        Ok((ready_line, exited))
    }

    /// Answering API: drains the output from the start (so the log is kept) and polls the published port.
    async fn wait_http(
        &self,
        output: OutputStream,
        port: u16,
        path: &str,
    ) -> Result<(String, oneshot::Receiver<()>), DockerError> {
        let (exited, mut ended) = self.drain(output);
        if let Err(e) = self.refresh_ports().await {
            // An image that exits at once has no ports: its exit is the better error.
            return if *ended.borrow() {
                Err(self.exited_error().await)
            } else {
                Err(e)
            };
        }
        let url = format!(
            "http://127.0.0.1:{}{path}",
            self.host_port(port).unwrap_or(0)
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .map_err(|e| DockerError::NotReady {
                name: self.spec.name.clone(),
                timeout_ms: 0,
                detail: format!("http client: {e}"),
            })?;
        loop {
            if *ended.borrow() {
                return Err(self.exited_error().await);
            }
            if let Ok(resp) = http.get(&url).send().await {
                if resp.status().is_success() {
                    return Ok((format!("GET {path} answered {}", resp.status()), exited));
                }
            }
            // The published port accepts before the process listens (docker-proxy): poll, bounded by
            // the caller's ready timeout, waking early when the process exits.
            tokio::select! {
                _ = ended.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(25)) => {}
            }
        }
    }

    /// The error for a process that exited before it was ready, with its exit code and last output.
    async fn exited_error(&self) -> DockerError {
        DockerError::Exited {
            name: self.spec.name.clone(),
            code: self.exit_code().await,
            output: self.log_tail(20),
        }
    }
}
