//! The runtime interface: how server instances and the fault proxy are started, signalled and found.
//! `LocalRuntime` implements it with processes on loopback; a Docker runtime implements the same trait.

use super::error::EnvError;
use super::topology::{InstanceId, Topology};
use futures::future::BoxFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// Which runtime runs the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// Docker when a Docker engine answers, else local processes.
    #[default]
    Auto,
    /// Processes on 127.0.0.1 (bc-mock, bc-toxiproxy from the cargo target dir).
    Local,
    /// Containers on a Docker engine.
    Docker,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Auto => "auto",
            RuntimeKind::Local => "local",
            RuntimeKind::Docker => "docker",
        }
    }

    /// Resolves `Auto`: `Docker` when a Docker engine answers `GET /_ping` on its socket, else `Local`.
    pub async fn resolve(self) -> RuntimeKind {
        match self {
            RuntimeKind::Auto => {
                if docker_engine_answers().await {
                    RuntimeKind::Docker
                } else {
                    RuntimeKind::Local
                }
            }
            k => k,
        }
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = EnvError;
    fn from_str(s: &str) -> Result<Self, EnvError> {
        match s {
            "auto" => Ok(RuntimeKind::Auto),
            "local" => Ok(RuntimeKind::Local),
            "docker" => Ok(RuntimeKind::Docker),
            other => Err(EnvError::Unsupported(format!(
                "`{other}` (expected auto, local or docker)"
            ))),
        }
    }
}

/// Whether a Docker engine answers on `DOCKER_HOST` (unix:// only) or /var/run/docker.sock, within 1 s.
async fn docker_engine_answers() -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let path = match std::env::var("DOCKER_HOST") {
        Ok(h) => match h.strip_prefix("unix://") {
            Some(p) => p.to_string(),
            // A TCP engine would need more than a quick probe; treat it as absent.
            None => return false,
        },
        Err(_) => "/var/run/docker.sock".to_string(),
    };
    let probe = async {
        let mut s = tokio::net::UnixStream::connect(&path).await.ok()?;
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await
            .ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"HTTP/1.") && buf[..n].windows(3).any(|w| w == b"200"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), probe).await,
        Ok(Some(true))
    )
}

/// Server keep-alive settings passed to every mock (`--ping-interval-ms`, `--client-timeout-ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Server pings each client this often; `None` = off.
    pub ping_interval_ms: Option<u64>,
    /// Server drops a client silent for this long; `None` = off.
    pub client_timeout_ms: Option<u64>,
    /// Keep-alives counted per connection and told once at its end (`keepalive_summary`)
    /// instead of one event per Ping and Pong (`--keepalive-events summary`): for herds, where
    /// they would be most of the event stream.
    pub summarise: bool,
}

impl KeepAlive {
    /// The mock's command-line arguments for these settings (both runtimes).
    pub fn mock_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(ms) = self.ping_interval_ms {
            args.extend(["--ping-interval-ms".into(), ms.to_string()]);
        }
        if let Some(ms) = self.client_timeout_ms {
            args.extend(["--client-timeout-ms".into(), ms.to_string()]);
        }
        if self.summarise {
            args.extend(["--keepalive-events".into(), "summary".into()]);
        }
        args
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            ping_interval_ms: Some(500),
            client_timeout_ms: Some(2000),
            summarise: false,
        }
    }
}

/// How an environment is run: the topology plus runtime settings.
#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub topology: Topology,
    pub runtime: RuntimeKind,
    /// Where `bc-mock` and `bc-toxiproxy` live; default: `BC_BIN_DIR`, else next to the current
    /// executable, else its parent (cargo's target/debug when run from target/debug/deps).
    pub bin_dir: Option<PathBuf>,
    pub keepalive: KeepAlive,
    /// How long one instance may take to print its ready line.
    pub ready_timeout: Duration,
    /// Graceful stop (SIGTERM) waits this long before SIGKILL.
    pub stop_grace: Duration,
    /// Capacity of the observation channel (the feed waits when it is full; nothing is dropped).
    pub event_capacity: usize,
    /// Timeout of each control / fault-proxy HTTP call.
    pub call_timeout: Duration,
    /// Docker runtime only: run this Toxiproxy image (e.g. `ghcr.io/shopify/toxiproxy:2.12.0`) as the fault
    /// proxy instead of ours; pulled when the engine does not have it.
    pub proxy_image: Option<String>,
    /// Local runtime: the address the fault proxy's desktop listeners bind to (`env up --listen`);
    /// loopback by default.
    pub proxy_host: std::net::IpAddr,
    /// SIP on the wire (local runtime): every SIP Server opens its SIP listener and each site gets
    /// one UDP link in the fault proxy, the site's SIP address for phones (see `env/sip.rs`).
    pub sip: bool,
}

impl EnvConfig {
    pub fn new(topology: Topology) -> EnvConfig {
        EnvConfig {
            topology,
            runtime: RuntimeKind::Auto,
            bin_dir: None,
            keepalive: KeepAlive::default(),
            ready_timeout: Duration::from_secs(10),
            stop_grace: Duration::from_secs(3),
            event_capacity: 65_536,
            call_timeout: Duration::from_secs(3),
            proxy_image: None,
            proxy_host: std::net::IpAddr::from([127, 0, 0, 1]),
            sip: false,
        }
    }

    pub fn with_runtime(mut self, runtime: RuntimeKind) -> EnvConfig {
        self.runtime = runtime;
        self
    }
}

/// One site's SIP address for phones: a UDP link of the fault proxy whose upstream is the site's
/// active SIP Server (a virtual IP in front of the HA pair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipLink {
    pub site: String,
    /// The fault proxy's name for the link (`A.sip`).
    pub name: String,
    /// Where the proxy listens for it (where phones and gateways send).
    pub listen: SocketAddr,
}

impl SipLink {
    /// The proxy name of a site's SIP link.
    pub fn name_for(site: &str) -> String {
        format!("{site}.sip")
    }
}

/// Run state of one instance as the runtime knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Running,
    /// SIGSTOP'ed: sockets open, nothing answers.
    Frozen,
    /// Not running (killed, stopped, crashed, or not started yet).
    Down,
}

/// Where an instance listens, as reachable from the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceAddrs {
    /// Desktop protocol port (the fault proxy's upstream).
    pub listen: SocketAddr,
    /// HTTP control and observation API.
    pub control: SocketAddr,
    /// SIP listener (UDP and TCP), when the environment has SIP on the wire.
    pub sip: Option<SocketAddr>,
}

impl InstanceAddrs {
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }
}

/// Why an instance or the fault proxy went down. Set by the runtime with the `Down` state, so that
/// what the harness did (a fault, a reset, the shutdown) is told from what happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownCause {
    /// The harness killed, stopped or removed it.
    Requested,
    /// It exited with nobody asking: its exit code, or the signal that ended it (a container's
    /// exit code 128+N is reported as signal N, the engine's convention).
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

impl std::fmt::Display for DownCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownCause::Requested => f.write_str("stopped by the harness"),
            DownCause::Exited {
                signal: Some(s), ..
            } => write!(f, "signal {s}"),
            DownCause::Exited { code: Some(c), .. } => write!(f, "exit code {c}"),
            DownCause::Exited { .. } => f.write_str("exit status unknown"),
        }
    }
}

/// Everything the runtime knows about one instance; published on a watch channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStatus {
    pub state: InstanceState,
    /// Bumped at every (re)start: a new incarnation restarts its event seq at 0.
    pub incarnation: u64,
    pub addrs: InstanceAddrs,
    /// Process id (local runtime) while running.
    pub pid: Option<u32>,
    /// How the current incarnation went down; `None` while it runs and before the first start.
    pub down: Option<DownCause>,
}

impl InstanceStatus {
    /// Records that `incarnation` ended, and how; `false` (nothing changed) when it is already down
    /// or a later incarnation runs, so a late exit report never touches the restarted process.
    pub fn end(&mut self, incarnation: u64, cause: DownCause) -> bool {
        let ended = self.incarnation == incarnation && self.state != InstanceState::Down;
        if ended {
            self.state = InstanceState::Down;
            self.pid = None;
            self.down = Some(cause);
        }
        ended
    }
}

/// What the runtime knows about the fault proxy; published on a watch channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStatus {
    /// Host process id (the container's process on Docker), for diagnostics and tests.
    pub pid: Option<u32>,
    /// `None` while it runs; how it went down once it has.
    pub down: Option<DownCause>,
}

/// Starts, signals and locates the server instances and the fault proxy of one environment.
/// Object-safe: the environment holds a `Box<dyn Runtime>`.
pub trait Runtime: Send + Sync {
    fn kind(&self) -> RuntimeKind;

    /// Every instance this runtime manages.
    fn instances(&self) -> Vec<InstanceId>;

    /// Current status of one instance.
    fn status(&self, id: &InstanceId) -> Result<InstanceStatus, EnvError>;

    /// Status updates of one instance (state changes and restarts).
    fn watch(&self, id: &InstanceId) -> Result<watch::Receiver<InstanceStatus>, EnvError>;

    /// Base URL of the Toxiproxy-compatible API, e.g. `http://127.0.0.1:8474`.
    fn proxy_api_url(&self) -> String;

    /// Status updates of the fault proxy (its exit, with the cause).
    fn proxy_watch(&self) -> watch::Receiver<ProxyStatus>;

    /// The upstream address the fault proxy uses to reach an instance's desktop port.
    fn proxy_upstream(&self, id: &InstanceId) -> Result<String, EnvError>;

    /// Each site's SIP address for phones: the name and listen address of the fault proxy's UDP
    /// link, planned before any mock starts so that 302 Contacts can name them. Empty without SIP.
    fn sip_links(&self) -> Vec<SipLink> {
        Vec::new()
    }

    /// The listen address to request for this instance's proxy (in the proxy's network namespace),
    /// e.g. `127.0.0.1:0` for a free loopback port.
    fn proxy_listen(&self, id: &InstanceId) -> Result<String, EnvError>;

    /// The address a desktop dials to reach the proxy that reported `reported` as its listen address.
    fn desktop_address(&self, id: &InstanceId, reported: &str) -> Result<SocketAddr, EnvError>;

    /// Starts a down instance on its addresses and waits until it is ready.
    fn start<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>>;

    /// SIGKILL; returns once the process is gone.
    fn kill<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>>;

    /// SIGTERM (graceful shutdown); SIGKILL after the grace period; returns once gone.
    /// Returns `true` when it exited gracefully within the grace period.
    fn stop<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<bool, EnvError>>;

    /// SIGSTOP: sockets stay open, nothing is answered.
    fn freeze<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>>;

    /// SIGCONT.
    fn thaw<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>>;

    /// Kill if running or frozen, then start again on the same addresses.
    fn restart<'a>(&'a self, id: &'a InstanceId) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            if self.status(id)?.state != InstanceState::Down {
                self.kill(id).await?;
            }
            self.start(id).await
        })
    }

    /// The last lines an instance wrote to its log (stderr), for diagnostics; empty when unknown.
    fn log_tail(&self, _id: &InstanceId) -> String {
        String::new()
    }

    /// Stops everything (instances and fault proxy) and waits for it to be gone.
    fn shutdown(&self) -> BoxFuture<'_, Result<(), EnvError>>;

    /// Synchronous last-resort cleanup for `Drop`: kill everything now, never block long.
    fn kill_all_now(&self);
}
