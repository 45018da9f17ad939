//! Connecting to the local Docker engine with API version negotiation.
//! The engine here speaks API 1.41 while bollard defaults to a newer one, so we always negotiate.

use std::time::Duration;

use testcontainers::bollard::Docker;

use super::error::DockerError;

/// Seconds a single engine request may take; image builds stream and are not bound by it.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// Connects to the local engine (DOCKER_HOST or the default socket) and negotiates the API version.
pub async fn connect() -> Result<Docker, DockerError> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| DockerError::Unavailable(e.to_string()))?
        .with_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS));
    // Bound the probe: a socket that exists but never answers must not hang the harness.
    let negotiated = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
        .await
        .map_err(|_| DockerError::Unavailable("the engine did not answer within 5 s".into()))?
        .map_err(|e| DockerError::Unavailable(e.to_string()))?;
    negotiated
        .ping()
        .await
        .map_err(|e| DockerError::Unavailable(e.to_string()))?;
    Ok(negotiated)
}
