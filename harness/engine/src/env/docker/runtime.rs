//! `DockerRuntime`: env's `Runtime` with containers. It only starts, signals and removes containers and
//! says where they are reachable; reset, proxy links and control calls are the `Environment`'s, as locally.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use testcontainers::bollard::Docker;
use tokio::sync::watch;

use super::container::Container;
use super::error::DockerError;
use super::images::{self, BuildOptions, ImageSet};
use super::instance::{exit_cause, loopback, Mock};
use super::labels::RunOwner;
use super::launch::{launch, Launched, Plan, StartReport};
use super::layout::{proxy_listen_port, validate_sites, PROXY_API_PORT};
use super::sweep::{remove_run, remove_run_blocking};
use crate::env::{
    EnvConfig, EnvError, InstanceId, InstanceState, InstanceStatus, ProxyStatus, Runtime,
    RuntimeKind,
};

/// Containers start slower than processes (and much slower on a loaded machine): never wait less than this.
const MIN_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Server instances and the fault proxy as containers on one private network (see the module docs).
/// Dropping it removes every container and the network of its run.
pub struct DockerRuntime {
    owner: RunOwner,
    network: String,
    order: Vec<InstanceId>,
    mocks: HashMap<InstanceId, Mock>,
    proxy: Container,
    proxy_api: String,
    proxy_status: watch::Sender<ProxyStatus>,
    /// Set before the run's removal, so the proxy's exit is published as requested.
    proxy_requested: Arc<AtomicBool>,
    stop_grace: Duration,
    report: StartReport,
    images: ImageSet,
    docker: Docker,
    /// Set once removal started (shutdown or drop), so it happens once.
    removed: AtomicBool,
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
        validate_sites(cfg.topology.sites()).map_err(env_error)?;
        let path = cfg.topology.config_db_path();
        let config_yaml = std::fs::read(path).map_err(|e| EnvError::ConfigDb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let order = cfg.topology.instances();
        let plan = Plan {
            instances: &order,
            config_yaml: &config_yaml,
            keepalive: cfg.keepalive,
            server_args: bc_protocol::ServerKind::ALL
                .iter()
                .map(|k| (*k, cfg.topology.server_args(*k)))
                .collect(),
            ready_timeout: cfg.ready_timeout.max(MIN_READY_TIMEOUT),
        };
        let launched = launch(docker, images, &plan).await.map_err(env_error)?;
        let run_id = launched.owner.run_id.clone();
        match Self::assemble(docker, images, cfg, order, launched) {
            Ok(runtime) => Ok(runtime),
            Err(e) => {
                let _ = remove_run(docker, &run_id).await;
                Err(env_error(e))
            }
        }
    }

    /// Pairs each running mock with its proxy listen port and publishes its first incarnation.
    fn assemble(
        docker: &Docker,
        images: &ImageSet,
        cfg: &EnvConfig,
        order: Vec<InstanceId>,
        launched: Launched,
    ) -> Result<DockerRuntime, DockerError> {
        let proxy = launched.proxy;
        let proxy_port = |port| {
            proxy.host_port(port).ok_or_else(|| DockerError::NotReady {
                name: proxy.name().to_string(),
                timeout_ms: 0,
                detail: format!("port {port} is not published"),
            })
        };
        let proxy_api = format!("http://{}", loopback(proxy_port(PROXY_API_PORT)?));
        let mut mocks = HashMap::with_capacity(order.len());
        for (i, (id, (container, exited))) in order.iter().zip(launched.mocks).enumerate() {
            let listen = proxy_listen_port(i)?;
            let desktop = loopback(proxy_port(listen)?);
            let mock = Mock::new(container, format!("0.0.0.0:{listen}"), desktop);
            mock.mark_running(exited);
            mocks.insert(id.clone(), mock);
        }
        let proxy_status = watch::Sender::new(ProxyStatus {
            pid: proxy.pid(),
            down: None,
        });
        let proxy_requested = Arc::<AtomicBool>::default();
        tokio::spawn(publish_proxy_exit(
            launched.proxy_exited,
            proxy.clone(),
            proxy_requested.clone(),
            proxy_status.clone(),
        ));
        Ok(DockerRuntime {
            owner: launched.owner,
            network: launched.network,
            order,
            mocks,
            proxy,
            proxy_api,
            proxy_status,
            proxy_requested,
            stop_grace: cfg.stop_grace,
            report: launched.report,
            images: images.clone(),
            docker: docker.clone(),
            removed: AtomicBool::new(false),
        })
    }

    /// The run id in every container's name and labels.
    pub fn run_id(&self) -> &str {
        &self.owner.run_id
    }

    /// The run's private network.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Timings of the start.
    pub fn start_report(&self) -> &StartReport {
        &self.report
    }

    pub fn images(&self) -> &ImageSet {
        &self.images
    }

    /// The container of an instance (its engine state, name, ports, output).
    pub fn container(&self, id: &InstanceId) -> Option<&Container> {
        self.mocks.get(id).map(|m| &m.container)
    }

    pub fn proxy_container(&self) -> &Container {
        &self.proxy
    }

    fn mock(&self, id: &InstanceId) -> Result<&Mock, EnvError> {
        self.mocks
            .get(id)
            .ok_or_else(|| EnvError::UnknownInstance(id.to_string()))
    }

    /// A mock for freeze / thaw, which need a process to act on.
    fn running_mock(&self, id: &InstanceId) -> Result<&Mock, EnvError> {
        let mock = self.mock(id)?;
        if mock.status().borrow().state == InstanceState::Down {
            return Err(EnvError::NotRunning {
                what: id.to_string(),
            });
        }
        Ok(mock)
    }

    /// Marks removal as begun; `false` when it already was.
    fn begin_removal(&self) -> bool {
        if self.removed.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.proxy_requested.store(true, Ordering::SeqCst);
        for mock in self.mocks.values() {
            mock.expect_end();
            mock.mark_down();
        }
        true
    }
}

impl Drop for DockerRuntime {
    /// Safety net when `shutdown` was not awaited (panic, early return, a failed environment start).
    fn drop(&mut self) {
        self.kill_all_now();
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
        Ok(self.mock(id)?.status().borrow().clone())
    }

    fn watch(&self, id: &InstanceId) -> Result<watch::Receiver<InstanceStatus>, EnvError> {
        Ok(self.mock(id)?.status().subscribe())
    }

    fn proxy_api_url(&self) -> String {
        self.proxy_api.clone()
    }

    fn proxy_watch(&self) -> watch::Receiver<ProxyStatus> {
        self.proxy_status.subscribe()
    }

    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.mock(id)?.upstream())
    }

    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError> {
        Ok(self.mock(id)?.proxy_listen.clone())
    }

    /// The proxy reports its listen address inside its container; the desktop dials the published port.
    fn desktop_address(&self, id: &InstanceId, reported: &str) -> Result<SocketAddr, EnvError> {
        reported
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .and_then(|port| self.proxy.host_port(port))
            .map(loopback)
            .ok_or_else(|| EnvError::Proxy {
                call: "proxy listen address".into(),
                reason: format!(
                    "`{reported}` (for {id}) is not a port the proxy container publishes"
                ),
            })
    }

    fn start<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.mock(id)?.start().await.map_err(env_error) })
    }

    fn kill<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.mock(id)?.kill().await.map_err(env_error) })
    }

    fn stop<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<bool, EnvError>> {
        Box::pin(async move {
            let mock = self.mock(id)?;
            mock.stop(self.stop_grace).await.map_err(env_error)
        })
    }

    fn freeze<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.running_mock(id)?.pause().await.map_err(env_error) })
    }

    fn thaw<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move { self.running_mock(id)?.unpause().await.map_err(env_error) })
    }

    fn log_tail(&self, id: &InstanceId) -> String {
        self.container(id)
            .map(|c| c.log_tail(20))
            .unwrap_or_default()
    }

    /// Removes every container and the network of the run.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async move {
            if !self.begin_removal() {
                return Ok(());
            }
            remove_run(&self.docker, &self.owner.run_id)
                .await
                .map(|_| ())
                .map_err(env_error)
        })
    }

    fn kill_all_now(&self) {
        if self.begin_removal() {
            remove_run_blocking(&self.owner.run_id);
        }
    }
}

/// Publishes the proxy container's exit with its cause (requested once the run's removal began).
async fn publish_proxy_exit(
    exited: tokio::sync::oneshot::Receiver<()>,
    proxy: Container,
    requested: Arc<AtomicBool>,
    status: watch::Sender<ProxyStatus>,
) {
    if exited.await.is_err() {
        return;
    }
    let cause = exit_cause(&proxy, &requested).await;
    status.send_modify(|s| {
        s.pid = None;
        s.down = Some(cause);
    });
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
        DockerError::Topology(t) => EnvError::Topology(t),
        other => EnvError::Io {
            what: "docker runtime".into(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
