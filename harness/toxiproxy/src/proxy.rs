//! One proxy: its listener, accept loop and live connections, started and stopped by the API.
//! Stopping closes the listener and every live connection before it returns.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::collection::ToxicCollection;
use crate::link::{run_direction, ConnShared};
use crate::model::{Protocol, ProxyJson, Stream};
use crate::udp::UdpProxy;

/// How long stopping waits for tasks to wind down; they only need to notice a cancellation.
const STOP_GRACE: Duration = Duration::from_secs(2);
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the proxies of one server share.
pub struct Shared {
    /// Cancelled when the server shuts down: stops every listener and connection.
    pub root: CancellationToken,
    pub rng: Mutex<ChaCha8Rng>,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Shared {
            root: CancellationToken::new(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            next_conn: AtomicU64::new(1),
        }
    }

    fn next_seed(&self) -> u64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).random()
    }
}

type ConnMap = Arc<Mutex<HashMap<u64, (CancellationToken, JoinHandle<()>)>>>;

struct Running {
    stop: CancellationToken,
    accept: JoinHandle<()>,
}

/// A proxy and its runtime state.
pub struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub toxics: Arc<ToxicCollection>,
    /// tcp (Toxiproxy) or udp (extension); fixed when the proxy is created.
    pub protocol: Protocol,
    running: Option<Running>,
    conns: ConnMap,
    /// The relay of a running udp proxy.
    udp: Option<Arc<UdpProxy>>,
}

impl Proxy {
    pub fn new(name: String, listen: String, upstream: String) -> Self {
        Proxy {
            name,
            listen,
            upstream,
            toxics: Arc::new(ToxicCollection::default()),
            protocol: Protocol::Tcp,
            running: None,
            conns: Arc::default(),
            udp: None,
        }
    }

    /// The relay of a running udp proxy (None for tcp or while disabled).
    pub fn udp(&self) -> Option<&Arc<UdpProxy>> {
        self.udp.as_ref()
    }

    pub fn enabled(&self) -> bool {
        self.running.is_some()
    }

    pub fn to_json(&self) -> ProxyJson {
        ProxyJson {
            name: self.name.clone(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.enabled(),
            toxics: self.toxics.to_json(),
            protocol: self.protocol,
        }
    }

    /// Binds the listener and starts accepting; the listen address becomes the bound one.
    /// Errors read like Go's (`listen tcp ADDR: bind: address already in use`).
    pub fn start(&mut self, shared: &Arc<Shared>) -> Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        if self.protocol == Protocol::Udp {
            let stop = shared.root.child_token();
            let (udp, addr) = UdpProxy::start(
                &self.listen,
                &self.upstream,
                self.toxics.clone(),
                stop.clone(),
                shared.next_seed(),
            )?;
            self.listen = addr.to_string();
            self.udp = Some(udp);
            let accept = tokio::spawn(async {});
            self.running = Some(Running { stop, accept });
            tracing::info!(proxy = %self.name, listen = %self.listen, upstream = %self.upstream, "started udp proxy");
            return Ok(());
        }
        let std_listener = bind(&self.listen)?;
        let listener = TcpListener::from_std(std_listener)
            .map_err(|e| format!("listen tcp {}: {e}", self.listen))?;
        if let Ok(addr) = listener.local_addr() {
            self.listen = addr.to_string();
        }
        let stop = shared.root.child_token();
        let accept = tokio::spawn(accept_loop(
            listener,
            self.upstream.clone(),
            self.toxics.clone(),
            self.conns.clone(),
            stop.clone(),
            shared.clone(),
        ));
        self.running = Some(Running { stop, accept });
        tracing::info!(proxy = %self.name, listen = %self.listen, upstream = %self.upstream, "started proxy");
        Ok(())
    }

    /// Closes the listener and every live connection (the "down" fault).
    pub async fn stop(&mut self) {
        let Some(run) = self.running.take() else {
            return;
        };
        run.stop.cancel();
        self.udp = None;
        let _ = tokio::time::timeout(STOP_GRACE, run.accept).await;
        let conns: Vec<_> = {
            let mut map = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            map.drain().map(|(_, v)| v).collect()
        };
        for (kill, _) in &conns {
            kill.cancel();
        }
        let tasks = futures::future::join_all(conns.into_iter().map(|(_, task)| task));
        let _ = tokio::time::timeout(STOP_GRACE, tasks).await;
        tracing::info!(proxy = %self.name, "stopped proxy");
    }
}

fn bind(listen: &str) -> Result<std::net::TcpListener, String> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = listen
        .to_socket_addrs()
        .map_err(|e| format!("listen tcp {listen}: {}", lower(&e)))?
        .collect();
    let mut last = format!("listen tcp {listen}: no address");
    for addr in addrs {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => {
                l.set_nonblocking(true)
                    .map_err(|e| format!("listen tcp {listen}: {}", lower(&e)))?;
                return Ok(l);
            }
            Err(e) => last = format!("listen tcp {listen}: bind: {}", lower(&e)),
        }
    }
    Err(last)
}

/// `Address already in use (os error 98)` -> `address already in use`, as Go writes it.
fn lower(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    toxics: Arc<ToxicCollection>,
    conns: ConnMap,
    stop: CancellationToken,
    shared: Arc<Shared>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => r,
        };
        let client = match accepted {
            Ok((c, _)) => c,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let kill = stop.child_token();
        let seed = shared.next_seed();
        let mut map = conns.lock().unwrap_or_else(|e| e.into_inner());
        let task = tokio::spawn(connection(
            client,
            upstream.clone(),
            toxics.clone(),
            kill.clone(),
            seed,
            conns.clone(),
            id,
        ));
        map.insert(id, (kill, task));
    }
    // Dropping the listener here closes the port: new connections are refused.
}

async fn connection(
    client: TcpStream,
    upstream: String,
    toxics: Arc<ToxicCollection>,
    kill: CancellationToken,
    seed: u64,
    conns: ConnMap,
    id: u64,
) {
    let dial = tokio::time::timeout(
        UPSTREAM_CONNECT_TIMEOUT,
        TcpStream::connect(upstream.as_str()),
    );
    let server = tokio::select! {
        biased;
        _ = kill.cancelled() => None,
        r = dial => match r {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => { tracing::warn!(%upstream, error = %e, "upstream unreachable"); None }
            Err(_) => { tracing::warn!(%upstream, "upstream connect timed out"); None }
        },
    };
    if let Some(server) = server {
        // The client's address keys the toxics aimed at some clients only (an extension).
        let from = client.peer_addr().ok().map(|a| a.ip());
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let shared = Arc::new(ConnShared {
            kill: kill.clone(),
            closing: CancellationToken::new(),
            reset: Default::default(),
        });
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let up = tokio::spawn(run_direction(
            cr,
            sw,
            Stream::Upstream,
            toxics.clone(),
            shared.clone(),
            seed,
            from,
        ));
        let down = tokio::spawn(run_direction(
            sr,
            cw,
            Stream::Downstream,
            toxics,
            shared,
            seed.wrapping_add(0x9E37_79B9_7F4A_7C15),
            from,
        ));
        let _ = tokio::join!(up, down);
    }
    conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
}
