//! `DockerRuntime`: the environment's `Runtime` interface over a [`DockerEnvironment`], so the runner's
//! `--runtime docker` drives containers exactly as it drives local processes (same proxies, feeds, faults).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use testcontainers::bollard::Docker;
use tokio::sync::watch;

use super::container::RunState;
use super::environment::{DockerEnvironment, StartReport};
use super::error::DockerError;
use super::images::{self, BuildOptions, ImageSet};
use super::topology::{DockerTopology, InstanceId as DockerId, MockStatus};
use crate::env::{
    EnvConfig, EnvError, InstanceAddrs, InstanceId, InstanceState, InstanceStatus, Runtime,
    RuntimeKind,
};

/// Containers start slower than processes (and much slower on a loaded machine): never wait less than this.
const MIN_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Server instances and the fault proxy as containers (see the module docs of `docker`).
pub struct DockerRuntime {
    env: DockerEnvironment,
    order: Vec<InstanceId>,
    status: Arc<HashMap<InstanceId, watch::Sender<InstanceStatus>>>,
    report: StartReport,
    images: ImageSet,
}

impl DockerRuntime {
    /// Connects to the engine, builds (or reuses) the images, sweeps leftovers of dead runs and starts
    /// every instance plus the proxy concurrently. Proxy links are left to the caller (`POST /populate`).
    pub async fn start(cfg: &EnvConfig) -> Result<DockerRuntime, EnvError> {
        let docker = super::client::connect().await.map_err(env_error)?;
        let mut images = images::build(&docker, &BuildOptions::default())
            .await
            .map_err(env_error)?;
        if let Some(proxy) = &cfg.proxy_image {
            images::ensure_present(&docker, proxy)
                .await
                .map_err(env_error)?;
            images = images.with_toxiproxy_image(proxy.clone());
        }
        Self::start_with(&docker, &images, cfg).await
    }

    /// Like [`Self::start`] with an engine connection and images the caller already has.
    pub async fn start_with(
        docker: &Docker,
        images: &ImageSet,
        cfg: &EnvConfig,
    ) -> Result<DockerRuntime, EnvError> {
        let path = cfg.topology.config_db_path();
        let config_yaml = std::fs::read(path).map_err(|e| EnvError::ConfigDb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let order = cfg.topology.instances();
        let unbound = SocketAddr::from(([127, 0, 0, 1], 0));
        let status: Arc<HashMap<InstanceId, watch::Sender<InstanceStatus>>> = Arc::new(
            order
                .iter()
                .map(|id| {
                    let initial = InstanceStatus {
                        state: InstanceState::Down,
                        incarnation: 0,
                        addrs: InstanceAddrs {
                            listen: unbound,
                            control: unbound,
                        },
                        pid: None,
                    };
                    (id.clone(), watch::Sender::new(initial))
                })
                .collect(),
        );
        let mut topology = DockerTopology::standard(config_yaml);
        topology.sites = cfg.topology.sites().to_vec();
        topology.kinds = cfg.topology.servers();
        topology.proxy_links = false;
        topology.ready_timeout = cfg.ready_timeout.max(MIN_READY_TIMEOUT);
        topology.stop_grace = cfg.stop_grace;
        if let Some(ms) = cfg.keepalive.ping_interval_ms {
            topology
                .mock_flags
                .extend(["--ping-interval-ms".into(), ms.to_string()]);
        }
        if let Some(ms) = cfg.keepalive.client_timeout_ms {
            topology
                .mock_flags
                .extend(["--client-timeout-ms".into(), ms.to_string()]);
        }
        let hook_status = Arc::clone(&status);
        topology.on_status = Some(Arc::new(move |id: &DockerId, now: MockStatus| {
            if let Some(tx) = hook_status.get(&env_id(id)) {
                // One update: a new incarnation and its (possibly new) control port arrive together.
                tx.send_modify(|s| {
                    s.state = env_state(now.state);
                    s.incarnation = now.incarnation;
                    s.addrs.control = now.control;
                    s.pid = now.pid;
                });
            }
        }));
        let (env, report) = DockerEnvironment::start(docker, images, topology)
            .await
            .map_err(env_error)?;
        for m in env.mocks() {
            if let Some(tx) = status.get(&env_id(&m.id)) {
                tx.send_modify(|s| {
                    s.addrs = InstanceAddrs {
                        // Not published by default: the desktop port is reachable only through the proxy.
                        listen: m.direct_addr().unwrap_or(m.desktop_addr),
                        control: m.control_addr(),
                    }
                });
            }
        }
        Ok(DockerRuntime {
            env,
            order,
            status,
            report,
            images: images.clone(),
        })
    }

    /// The underlying containers (run id, network, per-instance handles, reset).
    pub fn environment(&self) -> &DockerEnvironment {
        &self.env
    }

    /// Timings of the start.
    pub fn start_report(&self) -> &StartReport {
        &self.report
    }

    pub fn images(&self) -> &ImageSet {
        &self.images
    }

    fn sender(&self, id: &InstanceId) -> Result<&watch::Sender<InstanceStatus>, EnvError> {
        self.status
            .get(id)
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    fn mock(&self, id: &InstanceId) -> Result<&super::environment::MockHandle, EnvError> {
        self.sender(id)?;
        self.env
            .mock(&docker_id(id))
            .map(|m| &**m)
            .map_err(env_error)
    }
}

impl Runtime for DockerRuntime {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::Docker
    }

    fn instances(&self) -> Vec<InstanceId> {
        self.order.clone()
    }

    fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EnvError> {
        Ok(self.sender(id)?.borrow().clone())
    }

    fn watch(&self, id: &InstanceId) -> Result<watch::Receiver<InstanceStatus>, EnvError> {
        Ok(self.sender(id)?.subscribe())
    }

    fn proxy_api_url(&self) -> String {
        self.env.proxy_api().to_string()
    }

    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.mock(id)?.proxy_upstream.clone())
    }

    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.mock(id)?.proxy_listen.clone())
    }

    fn desktop_address(&self, id: &InstanceId, reported: &str) -> Result<SocketAddr, EnvError> {
        self.env
            .desktop_address_of(reported)
            .ok_or_else(|| EnvError::Proxy {
                call: "proxy listen address".into(),
                reason: format!(
                    "`{reported}` (for {id}) is not a port the proxy container publishes"
                ),
            })
    }

    fn start<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            self.mock(id)?;
            self.env
                .start_instance(&docker_id(id))
                .await
                .map(|_| ())
                .map_err(env_error)
        })
    }

    fn kill<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            self.mock(id)?;
            self.env.kill(&docker_id(id)).await.map_err(env_error)
        })
    }

    fn stop<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<bool, EnvError>> {
        Box::pin(async move {
            self.mock(id)?;
            self.env.stop(&docker_id(id)).await.map_err(env_error)
        })
    }

    fn freeze<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            if self.status(id)?.state == InstanceState::Down {
                return Err(EnvError::NotRunning {
                    what: id.to_string(),
                });
            }
            self.env.pause(&docker_id(id)).await.map_err(env_error)
        })
    }

    fn thaw<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            if self.status(id)?.state == InstanceState::Down {
                return Err(EnvError::NotRunning {
                    what: id.to_string(),
                });
            }
            self.env.unpause(&docker_id(id)).await.map_err(env_error)
        })
    }

    fn log_tail(&self, id: &InstanceId) -> String {
        self.mock(id)
            .map(|m| m.container.log_tail(20))
            .unwrap_or_default()
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async move { self.env.shutdown().await.map(|_| ()).map_err(env_error) })
    }

    fn kill_all_now(&self) {
        self.env.remove_now();
    }
}

fn docker_id(id: &InstanceId) -> DockerId {
    DockerId::new(id.site.clone(), id.server, id.role)
}

fn env_id(id: &DockerId) -> InstanceId {
    InstanceId::new(id.site.clone(), id.kind, id.role)
}

fn env_state(state: RunState) -> InstanceState {
    match state {
        RunState::Running => InstanceState::Running,
        RunState::Paused => InstanceState::Frozen,
        RunState::Stopped => InstanceState::Down,
    }
}

/// Maps container errors onto the environment's error kinds, keeping the message.
pub fn env_error(e: DockerError) -> EnvError {
    match e {
        DockerError::NotReady {
            name,
            timeout_ms,
            detail,
        } => EnvError::NotReady {
            what: name,
            timeout_ms: timeout_ms as u64,
            detail: format!(": {detail}"),
        },
        DockerError::Exited { name, code, output } => EnvError::EarlyExit {
            what: name,
            status: match code {
                Some(c) => format!("exit code {c}"),
                None => "unknown exit status".into(),
            },
            detail: format!(":\n{output}"),
        },
        DockerError::Control { what, url, detail } => EnvError::Control {
            instance: url,
            call: what,
            reason: detail,
        },
        DockerError::UnknownInstance(i) => EnvError::UnknownInstance(i),
        DockerError::Topology(t) => EnvError::Topology(t),
        other => EnvError::Io {
            what: "docker runtime".into(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
