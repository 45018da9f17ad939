//! One environment in Docker: a private network, one container per server instance and the fault-proxy container.
//! The desktop only sees the proxy's ports on 127.0.0.1; proxy upstreams are container names, so restarts are invisible.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bc_protocol::{Role, ServerKind};
use bollard::models::NetworkCreateRequest;
use bollard::Docker;

use super::container::{Container, ContainerSpec, Readiness, RunState};
use super::error::DockerError;
use super::images::ImageSet;
use super::labels::{RunOwner, INSTANCE};
use super::sweep::{remove_run, sweep_stale, SweepReport};

/// Port a mock's desktop protocol listens on inside its container.
pub const MOCK_LISTEN_PORT: u16 = 7000;
/// Port of a mock's control API inside its container.
pub const MOCK_CONTROL_PORT: u16 = 7001;
/// Port of the fault proxy's Toxiproxy-compatible API inside its container.
pub const PROXY_API_PORT: u16 = 8474;
/// First of the proxy's listen ports inside its container (one per server instance, in instance order).
pub const PROXY_FIRST_LISTEN_PORT: u16 = 10000;
/// Where the configuration database file is copied inside each mock container.
pub const CONFIG_PATH: &str = "/etc/bc/config.yaml";
/// Port of the SIP Server HA sync link inside a backup's container.
pub const SIP_SYNC_PORT: u16 = 7002;
/// Prefix of the line bc-mock prints on stdout once it listens.
pub const MOCK_READY_PREFIX: &str = "bc-mock ready";
/// Prefix of the line bc-toxiproxy prints once its API listens.
pub const PROXY_READY_PREFIX: &str = "bc-toxiproxy listening on";

/// One server instance: kind, site and HA slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId {
    pub kind: ServerKind,
    pub site: String,
    pub role: Role,
}

impl InstanceId {
    pub fn new(site: impl Into<String>, kind: ServerKind, role: Role) -> InstanceId {
        InstanceId {
            kind,
            site: site.into(),
            role,
        }
    }

    pub fn role_str(&self) -> &'static str {
        match self.role {
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }

    /// `sip_server-A-primary`: the proxy's name for this instance's link, and the instance label.
    pub fn slug(&self) -> String {
        format!("{}-{}-{}", self.kind.as_str(), self.site, self.role_str())
    }

    /// The bc-mock subcommand for this kind.
    pub fn subcommand(&self) -> &'static str {
        match self.kind {
            ServerKind::SipServer => "sip-server",
            ServerKind::ConfigServer => "config-proxy",
            ServerKind::StatServer => "stat-server",
        }
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.slug())
    }
}

/// Called synchronously on every state change of a mock (start, kill, stop, pause, unpause, unexpected exit).
pub type StatusHook = Arc<dyn Fn(&InstanceId, MockStatus) + Send + Sync>;

/// Run state of one mock as the environment knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockStatus {
    pub state: RunState,
    /// Bumped at every (re)start: a new incarnation restarts its event seq at 0.
    pub incarnation: u64,
    /// The control API of this incarnation (its host port may differ after a restart).
    pub control: SocketAddr,
    /// Host pid of this incarnation's process while it runs.
    pub pid: Option<u32>,
}

/// What to start.
#[derive(Clone)]
pub struct DockerTopology {
    /// Site names (letters, digits, `-`, `_`).
    pub sites: Vec<String>,
    pub kinds: Vec<ServerKind>,
    /// Contents of the configuration database YAML given to every mock.
    pub config_yaml: Vec<u8>,
    /// Flags given to every mock (e.g. `--ping-interval-ms 500`).
    pub mock_flags: Vec<String>,
    /// bc-toxiproxy arguments (it must serve its API on 0.0.0.0:PROXY_API_PORT).
    pub proxy_args: Vec<String>,
    /// Create one proxy link per instance (name = slug, upstream = container). Off when the caller does it.
    pub proxy_links: bool,
    /// Also publish each mock's desktop port on 127.0.0.1 (bypassing the proxy). Off by default: every
    /// published port costs a docker-proxy process at start.
    pub publish_direct: bool,
    pub ready_timeout: Duration,
    /// SIGTERM-to-SIGKILL grace of the graceful stop.
    pub stop_grace: Duration,
    /// Told of every mock state change.
    pub on_status: Option<StatusHook>,
}

impl DockerTopology {
    /// Two sites, three kinds, the given configuration database.
    pub fn standard(config_yaml: Vec<u8>) -> DockerTopology {
        DockerTopology {
            sites: vec!["A".into(), "B".into()],
            kinds: ServerKind::ALL.to_vec(),
            config_yaml,
            mock_flags: Vec::new(),
            proxy_args: [
                "--host",
                "0.0.0.0",
                "--port",
                &PROXY_API_PORT.to_string(),
                "--seed",
                "1",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            proxy_links: true,
            publish_direct: false,
            ready_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_secs(2),
            on_status: None,
        }
    }

    /// Every instance, in a stable order (site, kind, primary before backup).
    pub fn instances(&self) -> Vec<InstanceId> {
        let mut out = Vec::new();
        for site in &self.sites {
            for &kind in &self.kinds {
                for role in [Role::Primary, Role::Backup] {
                    out.push(InstanceId::new(site.clone(), kind, role));
                }
            }
        }
        out
    }

    fn validate(&self) -> Result<(), DockerError> {
        if self.sites.is_empty() || self.kinds.is_empty() {
            return Err(DockerError::Topology("no sites or no server kinds".into()));
        }
        for (i, site) in self.sites.iter().enumerate() {
            let ok = !site.is_empty()
                && site
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(DockerError::Topology(format!(
                    "site name {site:?} must be letters, digits, '-' or '_'"
                )));
            }
            if self.sites[..i].iter().any(|s| s.eq_ignore_ascii_case(site)) {
                return Err(DockerError::Topology(format!(
                    "site {site} is listed twice"
                )));
            }
        }
        Ok(())
    }

    /// The bc-mock arguments of an instance inside its container (peers named by container name).
    fn mock_args(&self, id: &InstanceId, host_of: &dyn Fn(&InstanceId) -> String) -> Vec<String> {
        let mut args: Vec<String> = vec![
            id.subcommand().into(),
            "--site".into(),
            id.site.clone(),
            "--role".into(),
            id.role_str().into(),
            "--listen".into(),
            format!("0.0.0.0:{MOCK_LISTEN_PORT}"),
            "--control".into(),
            format!("0.0.0.0:{MOCK_CONTROL_PORT}"),
            "--config".into(),
            CONFIG_PATH.into(),
        ];
        args.extend(self.mock_flags.iter().cloned());
        if id.kind == ServerKind::SipServer {
            // The HA pair's state-sync link: the backup listens, the primary connects to it.
            match id.role {
                Role::Backup => {
                    args.extend(["--sync-listen".into(), format!("0.0.0.0:{SIP_SYNC_PORT}")])
                }
                Role::Primary => {
                    let backup = InstanceId::new(id.site.clone(), id.kind, Role::Backup);
                    args.extend([
                        "--sync-to".into(),
                        format!("{}:{SIP_SYNC_PORT}", host_of(&backup)),
                    ]);
                }
            }
            // Every SIP Server of every other site is a peer (calls are redirected there).
            for peer in self.instances() {
                if peer.kind == ServerKind::SipServer && peer.site != id.site {
                    args.extend([
                        "--peer".into(),
                        format!("http://{}:{MOCK_CONTROL_PORT}", host_of(&peer)),
                    ]);
                }
            }
        }
        args
    }
}

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
        // The proxy goes first: with 13 published ports it is the slowest to start.
        specs.insert(
            0,
            ContainerSpec {
                name: format!("bc-{}-proxy", owner.run_id),
                image: images.proxy.clone(),
                args: topology.proxy_args.clone(),
                labels,
                network: network.to_string(),
                publish,
                files: Vec::new(),
                readiness: Readiness::StdoutLine(PROXY_READY_PREFIX.into()),
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

/// Container name (and DNS name on the network) of an instance.
pub fn container_name(run_id: &str, id: &InstanceId) -> String {
    format!(
        "bc-{run_id}-{}-{}-{}",
        id.kind.as_str().replace('_', "-"),
        id.site.to_ascii_lowercase(),
        id.role_str()
    )
}

fn control_error(what: &str, url: &str, detail: impl std::fmt::Display) -> DockerError {
    DockerError::Control {
        what: what.to_string(),
        url: url.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> DockerTopology {
        DockerTopology::standard(b"tenants: []\n".to_vec())
    }

    #[test]
    fn standard_topology_has_twelve_instances_in_a_stable_order() {
        let ids = topology().instances();
        assert_eq!(ids.len(), 12);
        assert_eq!(ids[0].slug(), "config_server-A-primary");
        assert_eq!(ids[11].slug(), "stat_server-B-backup");
    }

    #[test]
    fn sip_servers_get_their_sync_link_and_the_other_sites_peers() {
        let t = topology();
        let host = |id: &InstanceId| container_name("run", id);
        let primary = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
        let args = t.mock_args(&primary, &host).join(" ");
        assert!(
            args.starts_with("sip-server --site A --role primary --listen 0.0.0.0:7000"),
            "{args}"
        );
        assert!(
            args.contains("--sync-to bc-run-sip-server-a-backup:7002"),
            "{args}"
        );
        assert!(
            args.contains("--peer http://bc-run-sip-server-b-primary:7001"),
            "{args}"
        );
        assert!(
            args.contains("--peer http://bc-run-sip-server-b-backup:7001"),
            "{args}"
        );
        assert!(
            !args.contains("sip-server-a-primary:7001"),
            "not its own peer: {args}"
        );
        let backup = InstanceId::new("A", ServerKind::SipServer, Role::Backup);
        assert!(t
            .mock_args(&backup, &host)
            .join(" ")
            .contains("--sync-listen 0.0.0.0:7002"));
        let stat = InstanceId::new("B", ServerKind::StatServer, Role::Backup);
        let args = t.mock_args(&stat, &host).join(" ");
        assert!(
            !args.contains("--peer") && !args.contains("--sync"),
            "{args}"
        );
    }

    #[test]
    fn bad_site_names_are_refused() {
        let mut t = topology();
        t.sites = vec!["A".into(), "a".into()];
        assert!(
            t.validate().is_err(),
            "container names are lowercase: A and a collide"
        );
        t.sites = vec!["A.B".into()];
        assert!(t.validate().is_err());
        t.sites = Vec::new();
        assert!(t.validate().is_err());
        t.sites = vec!["east-1".into()];
        assert!(t.validate().is_ok());
    }
}
