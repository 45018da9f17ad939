//! The udp proxy kind (an extension: real Toxiproxy is TCP-only): a per-flow datagram relay. Each
//! client address gets its own upstream socket (a flow), kept while datagrams pass and at least
//! [`FLOW_IDLE`], so the server sees one stable source per client, as behind a NAT.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::collection::ToxicCollection;
use crate::model::Stream;
use crate::toxics::ToxicKind;

/// How long a flow without traffic is kept: longer than any registration a phone refreshes.
pub const FLOW_IDLE: Duration = Duration::from_secs(3600);
/// The most flows one proxy keeps; the least recently used goes first beyond it.
pub const MAX_FLOWS: usize = 16_384;
const MAX_DATAGRAM: usize = 65_535;

/// One client's flow: its upstream socket and the toxicity rolls made for it.
struct Flow {
    up: Arc<UdpSocket>,
    last: Instant,
    stop: CancellationToken,
    rolls: HashMap<(u64, u64), bool>,
    rng: ChaCha8Rng,
}

/// The live state of a running udp proxy, shared by its tasks and the API.
pub struct UdpProxy {
    listen: Arc<UdpSocket>,
    upstream: Mutex<SocketAddr>,
    toxics: Arc<ToxicCollection>,
    flows: Mutex<HashMap<SocketAddr, Flow>>,
    stop: CancellationToken,
    seed: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves `host:port` to one socket address (the first the resolver gives).
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .map_err(|e| format!("resolve udp {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("resolve udp {addr}: no address"))
}

impl UdpProxy {
    /// Binds the listen socket and starts relaying; returns the proxy and its bound address.
    pub fn start(
        listen: &str,
        upstream: &str,
        toxics: Arc<ToxicCollection>,
        stop: CancellationToken,
        seed: u64,
    ) -> Result<(Arc<UdpProxy>, SocketAddr), String> {
        let up = resolve(upstream)?;
        let std = std::net::UdpSocket::bind(resolve(listen)?)
            .map_err(|e| format!("listen udp {listen}: bind: {e}"))?;
        std.set_nonblocking(true)
            .map_err(|e| format!("listen udp {listen}: {e}"))?;
        let sock = UdpSocket::from_std(std).map_err(|e| format!("listen udp {listen}: {e}"))?;
        let addr = sock.local_addr().map_err(|e| e.to_string())?;
        let p = Arc::new(UdpProxy {
            listen: Arc::new(sock),
            upstream: Mutex::new(up),
            toxics,
            flows: Mutex::new(HashMap::new()),
            stop,
            seed,
        });
        tokio::spawn(p.clone().run());
        tokio::spawn(p.clone().sweep());
        Ok((p, addr))
    }

    /// Points every flow at a new upstream without closing any: the clients' flows, and so the
    /// source addresses the new server sees, stay the same (an HA virtual IP moving).
    pub fn set_upstream(&self, upstream: &str) -> Result<(), String> {
        *lock(&self.upstream) = resolve(upstream)?;
        Ok(())
    }

    /// Forgets every flow (a NAT losing its state): the next datagram of a client opens a new flow
    /// with a new source port. Returns how many were forgotten.
    pub fn forget_flows(&self) -> usize {
        let all: Vec<Flow> = lock(&self.flows).drain().map(|(_, f)| f).collect();
        for f in &all {
            f.stop.cancel();
        }
        all.len()
    }

    pub fn flow_count(&self) -> usize {
        lock(&self.flows).len()
    }

    async fn run(self: Arc<Self>) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let r = tokio::select! {
                _ = self.stop.cancelled() => break,
                r = self.listen.recv_from(&mut buf) => r,
            };
            let Ok((n, client)) = r else { continue };
            let data = Bytes::copy_from_slice(&buf[..n]);
            let Some(up) = self.flow(client).await else {
                continue;
            };
            let to = *lock(&self.upstream);
            match self.judge(client, Stream::Upstream) {
                None => {}
                Some(0) => {
                    let _ = up.send_to(&data, to).await;
                }
                Some(ms) => self.later(ms, async move {
                    let _ = up.send_to(&data, to).await;
                }),
            }
        }
        self.forget_flows();
        // Dropping the last reference closes the socket: clients then get ICMP port unreachable.
    }

    /// The flow of a client, opened (with its downstream task) on its first datagram.
    async fn flow(self: &Arc<Self>, client: SocketAddr) -> Option<Arc<UdpSocket>> {
        if let Some(f) = lock(&self.flows).get_mut(&client) {
            f.last = Instant::now();
            return Some(f.up.clone());
        }
        let bind: SocketAddr = if lock(&self.upstream).is_ipv6() {
            "[::]:0".parse().ok()?
        } else {
            "0.0.0.0:0".parse().ok()?
        };
        let up = Arc::new(UdpSocket::bind(bind).await.ok()?);
        let stop = self.stop.child_token();
        let seed = self.seed ^ u64::from(client.port()) ^ (u64::from(crc(&client)) << 16);
        {
            let mut flows = lock(&self.flows);
            if flows.len() >= MAX_FLOWS {
                if let Some(oldest) = flows.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k) {
                    if let Some(f) = flows.remove(&oldest) {
                        f.stop.cancel();
                    }
                }
            }
            flows.insert(
                client,
                Flow {
                    up: up.clone(),
                    last: Instant::now(),
                    stop: stop.clone(),
                    rolls: HashMap::new(),
                    rng: ChaCha8Rng::seed_from_u64(seed),
                },
            );
        }
        tokio::spawn(self.clone().downstream(client, up.clone(), stop));
        Some(up)
    }

    /// Server to client: whatever reaches the flow's socket goes back to its client.
    async fn downstream(
        self: Arc<Self>,
        client: SocketAddr,
        up: Arc<UdpSocket>,
        stop: CancellationToken,
    ) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let r = tokio::select! {
                _ = stop.cancelled() => return,
                r = up.recv_from(&mut buf) => r,
            };
            // ICMP errors from the server side (port unreachable) surface here: ignore them.
            let Ok((n, _)) = r else { continue };
            if let Some(f) = lock(&self.flows).get_mut(&client) {
                f.last = Instant::now();
            }
            let data = Bytes::copy_from_slice(&buf[..n]);
            match self.judge(client, Stream::Downstream) {
                None => {}
                Some(0) => {
                    let _ = self.listen.send_to(&data, client).await;
                }
                Some(ms) => {
                    let listen = self.listen.clone();
                    self.later(ms, async move {
                        let _ = listen.send_to(&data, client).await;
                    });
                }
            }
        }
    }

    /// What the direction's toxics do to one datagram: None when it is dropped (timeout, loss),
    /// else its delay in ms (latency ± jitter, per datagram, so delayed ones may reorder).
    fn judge(&self, client: SocketAddr, stream: Stream) -> Option<u64> {
        let chain = self.toxics.chain(stream, Some(client.ip()));
        let mut delay_ms: i64 = 0;
        let mut flows = lock(&self.flows);
        let f = flows.get_mut(&client)?;
        for t in &chain {
            let key = (t.id, t.generation);
            let toxicity = t.toxicity;
            let Flow { rolls, rng, .. } = &mut *f;
            // Toxicity is rolled once per flow and toxic version, as per connection on tcp.
            let on = *rolls
                .entry(key)
                .or_insert_with(|| toxicity >= 1.0 || rng.random::<f32>() < toxicity);
            if !on {
                continue;
            }
            match &t.kind {
                ToxicKind::Timeout(_) => return None,
                ToxicKind::Loss(l) if f.rng.random::<f64>() < l.probability => return None,
                ToxicKind::Latency(l) => {
                    let mut d = l.latency;
                    if l.jitter > 0 {
                        d += f.rng.random_range(0..l.jitter.saturating_mul(2)) - l.jitter;
                    }
                    delay_ms += d.max(0);
                }
                // Other kinds are refused on udp proxies by the API.
                _ => {}
            }
        }
        Some(delay_ms as u64)
    }

    /// Runs `send` after `ms` unless the proxy stops first.
    fn later(&self, ms: u64, send: impl std::future::Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(ms)) => send.await,
            }
        });
    }

    /// Forgets flows idle longer than [`FLOW_IDLE`].
    async fn sweep(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
            let now = Instant::now();
            lock(&self.flows).retain(|_, f| {
                let keep = now.duration_since(f.last) < FLOW_IDLE;
                if !keep {
                    f.stop.cancel();
                }
                keep
            });
        }
    }
}

/// A small hash of an address, to give each flow its own random sequence from one seed.
fn crc(a: &SocketAddr) -> u32 {
    a.to_string().bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16_777_619)
    })
}
