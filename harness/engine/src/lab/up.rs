//! `env up`: starts an environment that stays up, writes the state directory (state and desktop
//! connection file) and serves the control endpoint until `env down`, Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;

use super::owner::Lab;
use super::server::router;
use super::state::{LabState, STATE_FILE};
use crate::env::{now_us, ConnectionFile, EnvConfig, Environment, RuntimeKind, Topology};

/// Everything `env up` decides.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub runtime: RuntimeKind,
    /// The configuration database the mocks serve.
    pub config: PathBuf,
    /// The agent the connection file is written for.
    pub agent: String,
    /// Where the desktop links listen (local runtime); loopback by default.
    pub listen: IpAddr,
    /// The address written into the connection file (default: `listen`, or loopback when that
    /// is unspecified, `0.0.0.0`).
    pub advertise: Option<IpAddr>,
    /// Where the control endpoint listens (loopback port 0 by default).
    pub control_listen: SocketAddr,
    pub state_dir: PathBuf,
    pub bin_dir: Option<PathBuf>,
    /// Groups of four SIP Servers (1..=8; a suite's `topology.groups`).
    pub groups: u32,
}

/// What `env up` prints once it is ready.
#[derive(Debug, Clone)]
pub struct Ready {
    pub state: LabState,
    pub state_file: PathBuf,
    pub connection: ConnectionFile,
}

/// The connection file with every address on `host` (the proxy listens on all of `listen`).
fn advertised(mut file: ConnectionFile, host: IpAddr) -> ConnectionFile {
    let grouped = file.groups.values_mut().flat_map(|g| g.values_mut());
    let pairs = file.sites.values_mut().flat_map(|s| s.values_mut());
    for pair in pairs.chain(grouped) {
        for a in [&mut pair.primary, &mut pair.backup] {
            if let Ok(mut s) = a.parse::<SocketAddr>() {
                s.set_ip(host);
                *a = s.to_string();
            }
        }
    }
    for a in file.sip.values_mut() {
        if let Ok(mut s) = a.parse::<SocketAddr>() {
            s.set_ip(host);
            *a = s.to_string();
        }
    }
    file
}

/// The state directory, created and canonical; `Err` while a live environment owns it.
pub(super) fn free_state_dir(dir: &std::path::Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("state dir {}: {e}", dir.display()))?;
    let state_dir = std::fs::canonicalize(dir).map_err(|e| e.to_string())?;
    if let Ok(old) = LabState::read(&state_dir) {
        if old.is_alive() {
            return Err(format!(
                "an environment is already up at {} (pid {})\nhint: `bc-harness env down --state-dir {}` first, or choose another --state-dir",
                state_dir.display(),
                old.pid,
                state_dir.display()
            ));
        }
    }
    Ok(state_dir)
}

/// Starts, calls `ready` once the state directory is written, and serves until `stop` turns true
/// or a client asks `POST /down`. Everything is torn down and the state file removed on return.
pub async fn up(
    opts: UpOptions,
    stop: watch::Receiver<bool>,
    ready: impl FnOnce(&Ready),
) -> Result<(), String> {
    let config = std::fs::canonicalize(&opts.config)
        .map_err(|e| format!("configuration database {}: {e}", opts.config.display()))?;
    let state_dir = free_state_dir(&opts.state_dir)?;
    let topology = Topology::load(&config).map_err(|e| e.to_string())?;
    let mut cfg = EnvConfig::new(topology.with_groups(opts.groups)).with_runtime(opts.runtime);
    cfg.proxy_host = opts.listen;
    cfg.bin_dir = opts.bin_dir.clone();
    if opts.runtime == RuntimeKind::Docker && !opts.listen.is_loopback() {
        return Err("--listen other than loopback is for the local runtime only (the Docker runtime publishes its ports on loopback)".into());
    }
    let env = Environment::start(cfg).await.map_err(|e| e.to_string())?;
    let host = opts.advertise.unwrap_or(if opts.listen.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        opts.listen
    });
    let connection = advertised(
        env.connection_file(&opts.agent)
            .map_err(|e| e.to_string())?,
        host,
    );
    let connection_file = state_dir.join(format!("desktop-{}.json", opts.agent));
    connection
        .write(&connection_file)
        .map_err(|e| e.to_string())?;
    let lab = Lab::new(env, config.clone(), opts.agent.clone());
    let place = Place {
        state_dir,
        control_listen: opts.control_listen,
        config,
        agent: opts.agent,
    };
    serve(lab, place, connection, connection_file, stop, ready).await
}

/// Where an environment is served from, and what for.
pub(super) struct Place {
    pub state_dir: PathBuf,
    pub control_listen: SocketAddr,
    /// The configuration database (canonical path).
    pub config: PathBuf,
    /// The agent of the connection file.
    pub agent: String,
}

/// Serves `lab` on the control endpoint with its state file written, until `stop` or `POST
/// /down`; then tears everything down and removes the state file.
pub(super) async fn serve(
    lab: Lab,
    place: Place,
    connection: ConnectionFile,
    connection_file: PathBuf,
    mut stop: watch::Receiver<bool>,
    ready: impl FnOnce(&Ready),
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(place.control_listen)
        .await
        .map_err(|e| format!("control endpoint {}: {e}", place.control_listen))?;
    let control = listener.local_addr().map_err(|e| e.to_string())?;
    let state = LabState {
        version: 1,
        pid: std::process::id(),
        runtime: lab.runtime_kind().await,
        control_url: format!("http://{control}"),
        proxy_api_url: lab.proxy_api_url().await,
        config: place.config,
        agent: place.agent,
        connection_file,
        started_us: now_us(),
    };
    let lab = Arc::new(lab);
    let (down_tx, mut down_rx) = watch::channel(false);
    let app = router(lab.clone(), down_tx.clone());
    // Ctrl-C or SIGTERM: the same as `POST /down` for everything that waits on it (live watches).
    tokio::spawn(async move {
        if stop.wait_for(|s| *s).await.is_ok() {
            let _ = down_tx.send(true);
        }
    });
    let state_dir = place.state_dir;
    let state_file = state.write(&state_dir).map_err(|e| e.to_string())?;
    ready(&Ready {
        state,
        state_file: state_file.clone(),
        connection,
    });
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = down_rx.wait_for(|s| *s).await;
    });
    let r = served.await.map_err(|e| e.to_string());
    // After `POST /down` this finds nothing left; after Ctrl-C it does the teardown.
    let torn = lab.shutdown().await.map_err(|e| e.message);
    let _ = std::fs::remove_file(state_dir.join(STATE_FILE));
    r.and(torn)
}
