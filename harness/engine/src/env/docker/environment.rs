//! One environment in Docker: a private network, one container per server instance and the fault-proxy container.
//! The desktop only sees the proxy's ports on 127.0.0.1; proxy upstreams are container names, so restarts are invisible.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;

use super::container::{Container, ContainerSpec, Readiness, RunState};
use super::error::DockerError;
use super::images::{ImageSet, ProxyKind};
use super::labels::{RunOwner, INSTANCE};
use super::sweep::{remove_run, sweep_stale, SweepReport};
use super::topology::{
    container_name, toxiproxy_server_args, DockerTopology, InstanceId, MockStatus, CONFIG_PATH,
    MOCK_CONTROL_PORT, MOCK_LISTEN_PORT, MOCK_READY_PREFIX, PROXY_API_PORT,
    PROXY_FIRST_LISTEN_PORT, PROXY_READY_PREFIX,
};

/// A mock container and how to reach it.
#[derive(Debug)]
pub struct MockHandle {
    pub id: InstanceId,
    pub container: Container,
    /// Where the desktop reaches this instance: the proxy's published port.
    pub desktop_addr: SocketAddr,
    /// The proxy's listen address for this instance inside the proxy container.
    pub proxy_listen: String,
    /// The proxy's upstream for this instance: container name and port on the network.
    pub proxy_upstream: String,
    status: Mutex<MockStatus>,
    /// Serialises start / kill / stop / pause / unpause of this instance.
    op: tokio::sync::Mutex<()>,
}

impl MockHandle {
    /// The control API on 127.0.0.1 (the engine picks the port at each start; this is the current one).
    pub fn control_addr(&self) -> SocketAddr {
        loopback(self.container.host_port(MOCK_CONTROL_PORT).unwrap_or(0))
    }

    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr())
    }

    /// The mock's own desktop port on 127.0.0.1 (bypasses the proxy), when `publish_direct` is on.
    pub fn direct_addr(&self) -> Option<SocketAddr> {
        self.container.host_port(MOCK_LISTEN_PORT).map(loopback)
    }

    /// The proxy's name for this instance's link.
    pub fn proxy_name(&self) -> String {
        self.id.slug()
    }

    pub fn status(&self) -> MockStatus {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Timings of a start.
#[derive(Debug, Clone)]
pub struct StartReport {
    pub containers: usize,
    pub stale_swept: SweepReport,
    pub network: Duration,
    /// Slowest single container create (files copied in).
    pub create: Duration,
    /// From the first create request to the last container ready (creates and starts overlap).
    pub start_ready: Duration,
    pub proxies: Duration,
    pub total: Duration,
    /// Slowest single container start-to-ready.
    pub slowest: Duration,
}

/// Timings and actions of a reset.
#[derive(Debug, Clone)]
pub struct ResetReport {
    pub restarted: Vec<InstanceId>,
    pub unpaused: Vec<InstanceId>,
    pub total: Duration,
}

/// A running environment; dropping it removes every container and the network.
pub struct DockerEnvironment {
    docker: Docker,
    owner: RunOwner,
    network: String,
    topology: DockerTopology,
    mocks: Vec<Arc<MockHandle>>,
    proxy: Container,
    proxy_api: String,
    http: reqwest::Client,
    /// Set once removal started (shutdown or drop), so it happens once.
    removed: AtomicBool,
}

impl std::fmt::Debug for DockerEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEnvironment")
            .field("run_id", &self.owner.run_id)
            .field("network", &self.network)
            .field("proxy_api", &self.proxy_api)
            .finish_non_exhaustive()
    }
}

impl DockerEnvironment {
    /// Sweeps leftovers of dead runs, then creates the network and all containers, starts them concurrently,
    /// waits until each is ready and (if asked) configures one proxy link per instance.
    /// On any failure everything created so far is removed before the error returns.
    pub async fn start(
        docker: &Docker,
        images: &ImageSet,
        topology: DockerTopology,
    ) -> Result<(DockerEnvironment, StartReport), DockerError> {
        topology.validate()?;
        let begun = Instant::now();
        let stale_swept = sweep_stale(docker).await?;
        let owner = RunOwner::current();
        let network = format!("bc-{}", owner.run_id);
        let t = Instant::now();
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                driver: Some("bridge".into()),
                labels: Some(owner.labels()),
                ..Default::default()
            })
            .await
            .map_err(DockerError::api(format!("creating network {network}")))?;
        let network_time = t.elapsed();

        // From here on a failure must remove what exists: the run id finds all of it.
        match Self::populate(docker, images, topology, &owner, &network).await {
            Ok((env, mut report)) => {
                report.stale_swept = stale_swept;
                report.network = network_time;
                report.total = begun.elapsed();
                Ok((env, report))
            }
            Err(e) => {
                let _ = remove_run(docker, &owner.run_id).await;
                Err(e)
            }
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "to be split into one function per step (issue 12's 100-line limit)"
    )]
    async fn populate(
        docker: &Docker,
        images: &ImageSet,
        topology: DockerTopology,
        owner: &RunOwner,
        network: &str,
    ) -> Result<(DockerEnvironment, StartReport), DockerError> {
        let instances = topology.instances();
        let n = instances.len();
        let host_of = |id: &InstanceId| container_name(&owner.run_id, id);
        let mock_image =
            super::images::with_config(docker, &images.mock, CONFIG_PATH, &topology.config_yaml)
                .await?;

        let mut specs = Vec::with_capacity(n + 1);
        for id in &instances {
            let mut labels = owner.labels();
            labels.insert(INSTANCE.into(), id.slug());
            specs.push(ContainerSpec {
                name: host_of(id),
                image: mock_image.clone(),
                args: topology.mock_args(id, &host_of),
                labels,
                network: network.to_string(),
                publish: if topology.publish_direct {
                    vec![MOCK_CONTROL_PORT, MOCK_LISTEN_PORT]
                } else {
                    vec![MOCK_CONTROL_PORT]
                },
                files: Vec::new(),
                readiness: Readiness::StdoutLine(MOCK_READY_PREFIX.into()),
                ready_timeout: topology.ready_timeout,
            });
        }
        let mut labels = owner.labels();
        labels.insert(INSTANCE.into(), "proxy".into());
        let mut publish = vec![PROXY_API_PORT];
        publish.extend((0..n).map(|i| PROXY_FIRST_LISTEN_PORT + i as u16));
        let (proxy_args, proxy_readiness) = match images.proxy_kind {
            ProxyKind::Ours => (
                topology.proxy_args.clone(),
                Readiness::StdoutLine(PROXY_READY_PREFIX.into()),
            ),
            ProxyKind::Toxiproxy => (
                toxiproxy_server_args(),
                Readiness::HttpOk {
                    port: PROXY_API_PORT,
                    path: "/version".into(),
                },
            ),
        };
        // The proxy goes first: with 13 published ports it is the slowest to start.
        specs.insert(
            0,
            ContainerSpec {
                name: format!("bc-{}-proxy", owner.run_id),
                image: images.proxy.clone(),
                args: proxy_args,
                labels,
                network: network.to_string(),
                publish,
                files: Vec::new(),
                readiness: proxy_readiness,
                ready_timeout: topology.ready_timeout,
            },
        );

        // Each container starts as soon as it is created: no barrier between the two phases.
        let t = Instant::now();
        let launched = futures::future::join_all(specs.into_iter().map(|spec| async move {
            let created = Instant::now();
            let container = Container::create(docker, spec).await?;
            let create = created.elapsed();
            // A container that fails to start is removed with the rest of the run by the caller.
            let started = container.start().await;
            Ok::<_, DockerError>((container, create, started))
        }))
        .await;
        let mut containers = Vec::with_capacity(n + 1);
        let mut exits = Vec::with_capacity(n + 1);
        let (mut create, mut slowest) = (Duration::ZERO, Duration::ZERO);
        for l in launched {
            let (container, c, started) = l?;
            let started = started?;
            create = create.max(c);
            slowest = slowest.max(started.elapsed);
            exits.push(started.exited);
            containers.push(container);
        }
        let start_ready = t.elapsed();

        let proxy = containers.remove(0);
        exits.remove(0);
        let proxy_port = |port| {
            proxy.host_port(port).ok_or_else(|| DockerError::NotReady {
                name: proxy.name().to_string(),
                timeout_ms: 0,
                detail: format!("port {port} is not published"),
            })
        };
        let proxy_api = format!("http://{}", loopback(proxy_port(PROXY_API_PORT)?));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| control_error("client", &proxy_api, e))?;
        let mut mocks: Vec<Arc<MockHandle>> = Vec::with_capacity(n);
        for (i, (id, container)) in instances.iter().zip(containers).enumerate() {
            let listen = PROXY_FIRST_LISTEN_PORT + i as u16;
            mocks.push(Arc::new(MockHandle {
                id: id.clone(),
                desktop_addr: loopback(proxy_port(listen)?),
                proxy_listen: format!("0.0.0.0:{}", PROXY_FIRST_LISTEN_PORT + i as u16),
                proxy_upstream: format!("{}:{MOCK_LISTEN_PORT}", container.name()),
                container,
                status: Mutex::new(MockStatus {
                    state: RunState::Stopped,
                    incarnation: 0,
                    control: loopback(0),
                    pid: None,
                }),
                op: tokio::sync::Mutex::new(()),
            }));
        }

        let env = DockerEnvironment {
            docker: docker.clone(),
            owner: owner.clone(),
            network: network.to_string(),
            topology,
            mocks,
            proxy,
            proxy_api,
            http,
            removed: AtomicBool::new(false),
        };
        for (m, exited) in env.mocks.iter().zip(exits) {
            env.mark_running(m, exited);
        }
        let t = Instant::now();
        if env.topology.proxy_links {
            let links = env.mocks.iter().map(|m| {
                let body = serde_json::json!({
                    "name": m.proxy_name(),
                    "listen": m.proxy_listen,
                    "upstream": m.proxy_upstream,
                    "enabled": true,
                });
                env.post_json(
                    format!("{}/proxies", env.proxy_api),
                    body,
                    "create proxy link",
                )
            });
            for l in futures::future::join_all(links).await {
                l?;
            }
        }
        let proxies = t.elapsed();
        let report = StartReport {
            containers: n + 1,
            stale_swept: SweepReport::default(),
            network: Duration::ZERO,
            create,
            start_ready,
            proxies,
            total: Duration::ZERO,
            slowest,
        };
        Ok((env, report))
    }

    /// Records a new running incarnation and watches for its exit (crash, `POST /shutdown`).
    fn mark_running(&self, m: &Arc<MockHandle>, exited: tokio::sync::oneshot::Receiver<()>) {
        let incarnation = self
            .set_status(m, |s| {
                s.state = RunState::Running;
                s.incarnation += 1;
                s.control = m.control_addr();
                s.pid = m.container.pid();
            })
            .incarnation;
        let (mock, hook) = (Arc::clone(m), self.topology.on_status.clone());
        tokio::spawn(async move {
            if exited.await.is_err() {
                return;
            }
            let mut guard = mock.status.lock().unwrap_or_else(|e| e.into_inner());
            if guard.incarnation == incarnation && guard.state != RunState::Stopped {
                guard.state = RunState::Stopped;
                guard.pid = None;
                let now = *guard;
                drop(guard);
                if let Some(hook) = hook {
                    hook(&mock.id, now);
                }
            }
        });
    }

    fn set_status(&self, m: &MockHandle, change: impl FnOnce(&mut MockStatus)) -> MockStatus {
        let now = {
            let mut guard = m.status.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut guard);
            *guard
        };
        if let Some(hook) = &self.topology.on_status {
            hook(&m.id, now);
        }
        now
    }

    pub fn run_id(&self) -> &str {
        &self.owner.run_id
    }

    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn topology(&self) -> &DockerTopology {
        &self.topology
    }

    /// Every mock instance, in topology order.
    pub fn mocks(&self) -> &[Arc<MockHandle>] {
        &self.mocks
    }

    pub fn mock(&self, id: &InstanceId) -> Result<&Arc<MockHandle>, DockerError> {
        self.mocks
            .iter()
            .find(|m| m.id == *id)
            .ok_or_else(|| DockerError::UnknownInstance(id.slug()))
    }

    /// Base URL of the fault proxy's Toxiproxy-compatible API (on a published 127.0.0.1 port).
    pub fn proxy_api(&self) -> &str {
        &self.proxy_api
    }

    pub fn proxy_container(&self) -> &Container {
        &self.proxy
    }

    /// Maps a listen address the proxy reported (inside its container) to the desktop-visible 127.0.0.1 one.
    pub fn desktop_address_of(&self, reported: &str) -> Option<SocketAddr> {
        let port: u16 = reported.rsplit(':').next()?.parse().ok()?;
        let host = self.proxy.host_port(port)?;
        Some(SocketAddr::from(([127, 0, 0, 1], host)))
    }

    /// SIGKILL the instance's container (the "killed" fault); returns once it is down.
    pub async fn kill(&self, id: &InstanceId) -> Result<(), DockerError> {
        let m = self.mock(id)?;
        let _op = m.op.lock().await;
        if m.container.state().await? != RunState::Stopped {
            m.container.kill().await?;
        }
        self.set_status(m, |s| {
            s.state = RunState::Stopped;
            s.pid = None;
        });
        Ok(())
    }

    /// Graceful stop: SIGTERM (the mock shuts down gracefully), SIGKILL after the topology's grace.
    /// Returns whether it exited on its own (exit code 0) rather than being killed.
    pub async fn stop(&self, id: &InstanceId) -> Result<bool, DockerError> {
        let m = self.mock(id)?;
        let _op = m.op.lock().await;
        let graceful = match m.container.state().await? {
            RunState::Stopped => true,
            // A frozen process cannot handle SIGTERM: thaw it first so the stop is graceful.
            RunState::Paused => {
                m.container.unpause().await?;
                m.container.stop(self.topology.stop_grace).await?
            }
            RunState::Running => m.container.stop(self.topology.stop_grace).await?,
        };
        self.set_status(m, |s| {
            s.state = RunState::Stopped;
            s.pid = None;
        });
        Ok(graceful)
    }

    /// Freeze the instance (docker pause): connections stay open, nothing is answered.
    pub async fn pause(&self, id: &InstanceId) -> Result<(), DockerError> {
        let m = self.mock(id)?;
        let _op = m.op.lock().await;
        m.container.pause().await?;
        self.set_status(m, |s| s.state = RunState::Paused);
        Ok(())
    }

    pub async fn unpause(&self, id: &InstanceId) -> Result<(), DockerError> {
        let m = self.mock(id)?;
        let _op = m.op.lock().await;
        m.container.unpause().await?;
        self.set_status(m, |s| s.state = RunState::Running);
        Ok(())
    }

    /// Starts a stopped instance and waits for its ready line (no-op when running; unpauses a paused one).
    pub async fn start_instance(&self, id: &InstanceId) -> Result<Option<Duration>, DockerError> {
        let m = self.mock(id)?;
        let _op = m.op.lock().await;
        match m.container.state().await? {
            RunState::Running => Ok(None),
            RunState::Paused => {
                m.container.unpause().await?;
                self.set_status(m, |s| s.state = RunState::Running);
                Ok(None)
            }
            RunState::Stopped => {
                let started = m.container.start().await?;
                self.mark_running(m, started.exited);
                Ok(Some(started.elapsed))
            }
        }
    }

    /// Heal kill/stop/pause of one instance (same as [`Self::start_instance`]).
    pub async fn restore(&self, id: &InstanceId) -> Result<Option<Duration>, DockerError> {
        self.start_instance(id).await
    }

    /// Back to the start state for the next scenario: every container running, every mock reset
    /// (`POST /reset`), every proxy link enabled without toxics (Toxiproxy `POST /reset`).
    pub async fn reset(&self) -> Result<ResetReport, DockerError> {
        let begun = Instant::now();
        let restored = futures::future::join_all(self.mocks.iter().map(|m| async move {
            let before = m.container.state().await?;
            self.start_instance(&m.id)
                .await
                .map(|_| (m.id.clone(), before))
        }))
        .await;
        let (mut restarted, mut unpaused) = (Vec::new(), Vec::new());
        for r in restored {
            match r? {
                (id, RunState::Stopped) => restarted.push(id),
                (id, RunState::Paused) => unpaused.push(id),
                _ => {}
            }
        }
        let resets = self.mocks.iter().map(|m| {
            self.post_json(
                format!("{}/reset", m.control_url()),
                serde_json::json!({}),
                "reset mock",
            )
        });
        for r in futures::future::join_all(resets).await {
            r?;
        }
        self.post_json(
            format!("{}/reset", self.proxy_api),
            serde_json::json!({}),
            "reset proxy",
        )
        .await?;
        Ok(ResetReport {
            restarted,
            unpaused,
            total: begun.elapsed(),
        })
    }

    async fn post_json(
        &self,
        url: String,
        body: serde_json::Value,
        what: &str,
    ) -> Result<serde_json::Value, DockerError> {
        let resp = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| control_error(what, &url, e))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| control_error(what, &url, e))?;
        if !status.is_success() {
            return Err(control_error(
                what,
                &url,
                format!("status {status}: {text}"),
            ));
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// Removes every container and the network of this environment.
    pub async fn shutdown(&self) -> Result<SweepReport, DockerError> {
        self.removed.store(true, Ordering::SeqCst);
        for m in &self.mocks {
            self.set_status(m, |s| {
                s.state = RunState::Stopped;
                s.pid = None;
            });
        }
        remove_run(&self.docker, &self.owner.run_id).await
    }

    /// Synchronous removal for `Drop` paths: a separate thread with its own runtime and engine connection,
    /// because the caller's runtime may be busy or shutting down. Blocks until done (bounded by the engine).
    pub fn remove_now(&self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        for m in &self.mocks {
            self.set_status(m, |s| {
                s.state = RunState::Stopped;
                s.pid = None;
            });
        }
        let run_id = self.owner.run_id.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let docker = super::client::connect().await.ok()?;
                remove_run(&docker, &run_id).await.ok()
            })
        });
        let _ = cleanup.join();
    }
}

impl Drop for DockerEnvironment {
    /// Safety net when `shutdown` was not awaited (panic, early return).
    fn drop(&mut self) {
        self.remove_now();
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn control_error(what: &str, url: &str, detail: impl std::fmt::Display) -> DockerError {
    DockerError::Control {
        what: what.to_string(),
        url: url.to_string(),
        detail: detail.to_string(),
    }
}
