//! Running the server: bind the API, optionally populate from a config file, serve.
//! `spawn` runs it in-process for tests; the binary uses `serve`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::api::{router, AppState};
use crate::model::ProxyInput;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot read config {path}: {source}")]
    ConfigRead {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {reason}")]
    ConfigInvalid { path: String, reason: String },
}

/// A server running in this process; stops (proxies included) when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    state: Arc<AppState>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the API listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, for [`crate::client::Client::new`].
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the API and closes every proxy and connection.
    pub async fn shutdown(self) {
        self.task.abort();
        self.state.stop_all().await;
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
        // Listeners and connections watch this token and close themselves.
        self.state.shared.root.cancel();
    }
}

/// Starts a server on `addr` with the RNG seeded by `seed`.
pub async fn spawn(addr: &str, seed: u64) -> Result<ServerHandle, ServerError> {
    spawn_with(addr, seed, None).await
}

/// Like [`spawn`], populating proxies from a Toxiproxy JSON config file first.
pub async fn spawn_with(
    addr: &str,
    seed: u64,
    config: Option<&Path>,
) -> Result<ServerHandle, ServerError> {
    let state = AppState::new(seed);
    if let Some(path) = config {
        load_config(&state, path).await?;
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "api server failed");
        }
    });
    Ok(ServerHandle {
        addr: local,
        state,
        task,
    })
}

async fn load_config(state: &Arc<AppState>, path: &Path) -> Result<(), ServerError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::ConfigRead {
        path: shown.clone(),
        source,
    })?;
    let input: Vec<ProxyInput> =
        serde_json::from_str(&text).map_err(|e| ServerError::ConfigInvalid {
            path: shown.clone(),
            reason: format!("expected a JSON array of proxies: {e}"),
        })?;
    let (_, err) = state.populate(input).await;
    match err {
        None => Ok(()),
        Some(e) => Err(ServerError::ConfigInvalid {
            path: shown,
            reason: e.message,
        }),
    }
}
