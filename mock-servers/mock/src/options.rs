//! Command line of `bc-mock` (clap) and the resolved options one instance runs with.
//! One binary, one subcommand per server kind; flags follow docs/control.md.

use bc_protocol::{Role, ServerKind};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "bc-mock",
    version,
    about = "Mock Genesys servers for the bc-harness"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// SIP Server (T-Library names): DNs, agent login and state, calls; hot standby HA.
    SipServer(SipArgs),
    /// Configuration Server Proxy: client login with credentials, object reads, update pushes.
    ConfigProxy(CommonArgs),
    /// Stat Server: statistics opened and reported periodically or on change.
    StatServer(CommonArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Primary,
    Backup,
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Site name (A or B).
    #[arg(long)]
    pub site: String,
    /// HA slot; a backup starts inactive until promoted.
    #[arg(long, value_enum, default_value = "primary")]
    pub role: RoleArg,
    /// Protocol listen address (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Control API listen address (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub control: SocketAddr,
    /// Configuration database YAML (required by config-proxy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Send Ping to every client this often.
    #[arg(long)]
    pub ping_interval_ms: Option<u64>,
    /// Close a client from which no line arrived for this long.
    #[arg(long)]
    pub client_timeout_ms: Option<u64>,
    /// Observe keep-alives one by one (`each`) or as one summary per connection at its end
    /// (`summary`, for floors of thousands of clients; see `crate::keepalive`).
    #[arg(long, value_enum, default_value = "each")]
    pub keepalive_events: crate::keepalive::KeepaliveEvents,
    /// Capacity: at most this many registered clients at once (see docs/control.md, "Capacity").
    #[arg(long)]
    pub max_clients: Option<usize>,
    /// Capacity: client registrations admitted per second (token bucket).
    #[arg(long)]
    pub login_rate: Option<f64>,
    /// Capacity: registrations the bucket admits at once (default: one second's worth).
    #[arg(long)]
    pub login_burst: Option<f64>,
    /// Capacity: the retry delay advertised to a client turned away.
    #[arg(long)]
    pub overload_retry_ms: Option<u64>,
    /// Capacity: what a client past the limits gets.
    #[arg(long, value_enum, default_value = "error")]
    pub overload_answer: crate::capacity::OverloadAnswer,
}

#[derive(Debug, Clone, Args)]
pub struct SipArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Hot standby: listen here for the HA partner's agent-state stream (give it to the backup).
    #[arg(long)]
    pub sync_listen: Option<SocketAddr>,
    /// Hot standby: stream agent state to the partner's --sync-listen while active (give it to the primary).
    #[arg(long)]
    pub sync_to: Option<String>,
    /// Control URL of a SIP Server of the peer site (repeatable), e.g. http://127.0.0.1:40012.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    /// SIP listener (UDP and TCP on one port; off unless given), e.g. 127.0.0.1:5060 (port 0: any).
    #[arg(long)]
    pub sip_listen: Option<SocketAddr>,
    /// The longest registration the SIP registrar grants, in seconds.
    #[arg(long, default_value_t = crate::sipwire::DEFAULT_EXPIRES_SECS)]
    pub sip_expires_secs: u32,
    /// The peer site's SIP address as clients reach it (e.g. the fault proxy's listen address for
    /// it): the Contact of a 302.
    #[arg(long)]
    pub sip_peer_contact: Option<SocketAddr>,
    /// What a graceful shutdown answers new SIP INVITEs: 503, or 302 to the peer contact.
    #[arg(long, default_value = "503", value_parser = ["503", "302"])]
    pub sip_shutdown_reject: String,
    /// Keep an agent logged in when the connection that logged it in closes (the agent stays,
    /// ownerless, until a RequestAgentLogout or a new connection adopts its DN) instead of
    /// logging it out: a SIP Server whose agents outlive their desktop's connection.
    #[arg(long)]
    pub keep_agents_on_disconnect: bool,
    /// The group of four SIP Servers this instance belongs to (1, 2, ...): it then refuses to
    /// register a DN that the configuration database (`--config`, a DN's `group`, default 1)
    /// puts on another group's switch, and stamps the group on its events.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub group: Option<u32>,
}

/// Everything one instance needs to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: ServerKind,
    pub site: String,
    pub role: Role,
    pub listen: SocketAddr,
    pub control: SocketAddr,
    pub config: Option<PathBuf>,
    pub ping_interval: Option<Duration>,
    pub client_timeout: Option<Duration>,
    pub keepalive_events: crate::keepalive::KeepaliveEvents,
    pub sync_listen: Option<SocketAddr>,
    pub sync_to: Option<String>,
    pub peers: Vec<String>,
    /// Declared capacity limits (none by default).
    pub capacity: crate::capacity::Limits,
    /// The SIP listener, when configured (sip-server only).
    pub sip: Option<crate::sipwire::SipOptions>,
    /// A closed connection's agents stay logged in (`--keep-agents-on-disconnect`).
    pub keep_agents_on_disconnect: bool,
    /// The SIP Server group (`--group`); `None`: every DN is served.
    pub group: Option<u32>,
}

impl Options {
    /// Options with defaults for a kind, site and role (loopback, free ports, no keep-alive).
    pub fn new(kind: ServerKind, site: &str, role: Role) -> Self {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        Options {
            kind,
            site: site.to_string(),
            role,
            listen: any,
            control: any,
            config: None,
            ping_interval: None,
            client_timeout: None,
            keepalive_events: crate::keepalive::KeepaliveEvents::Each,
            sync_listen: None,
            sync_to: None,
            peers: Vec::new(),
            capacity: crate::capacity::Limits::default(),
            sip: None,
            keep_agents_on_disconnect: false,
            group: None,
        }
    }
}

impl From<Cli> for Options {
    fn from(cli: Cli) -> Self {
        let (kind, c, sip) = match cli.command {
            Command::SipServer(s) => (ServerKind::SipServer, s.common.clone(), Some(s)),
            Command::ConfigProxy(c) => (ServerKind::ConfigServer, c, None),
            Command::StatServer(c) => (ServerKind::StatServer, c, None),
        };
        let role = match c.role {
            RoleArg::Primary => Role::Primary,
            RoleArg::Backup => Role::Backup,
        };
        Options {
            kind,
            site: c.site,
            role,
            listen: c.listen,
            control: c.control,
            config: c.config,
            ping_interval: c
                .ping_interval_ms
                .filter(|&n| n > 0)
                .map(Duration::from_millis),
            client_timeout: c
                .client_timeout_ms
                .filter(|&n| n > 0)
                .map(Duration::from_millis),
            keepalive_events: c.keepalive_events,
            sync_listen: sip.as_ref().and_then(|s| s.sync_listen),
            sync_to: sip.as_ref().and_then(|s| s.sync_to.clone()),
            sip: sip.as_ref().and_then(|s| {
                s.sip_listen.map(|listen| crate::sipwire::SipOptions {
                    listen,
                    expires_secs: s.sip_expires_secs.max(1),
                    peer_contact: s.sip_peer_contact.map(|a| a.to_string()),
                    shutdown_reject: if s.sip_shutdown_reject == "302" {
                        302
                    } else {
                        503
                    },
                })
            }),
            keep_agents_on_disconnect: sip.as_ref().is_some_and(|s| s.keep_agents_on_disconnect),
            group: sip.as_ref().and_then(|s| s.group),
            peers: sip.map(|s| s.peers).unwrap_or_default(),
            capacity: crate::capacity::Limits {
                max_clients: c.max_clients,
                login_rate: c.login_rate,
                login_burst: c.login_burst,
                retry_after_ms: c.overload_retry_ms,
                answer: c.overload_answer,
            },
        }
    }
}
