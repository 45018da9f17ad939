//! Benchmark: added latency per hop (p50, p99) of a proxied loopback echo round trip vs
//! direct, and echo throughput proxied vs direct. Run with
//! `cargo run --release -p bc-toxiproxy --example bench` (about 10 s).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bc_toxiproxy::client::{Client, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ROUND_TRIPS: usize = 5000;
const WARMUP: usize = 500;
const THROUGHPUT_FOR: Duration = Duration::from_secs(1);

async fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Round-trip times of 64-byte messages, sorted.
async fn round_trips(addr: &str) -> Vec<Duration> {
    let mut s = connect(addr).await;
    let msg = [42u8; 64];
    let mut buf = [0u8; 64];
    let mut out = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..WARMUP + ROUND_TRIPS {
        let t = Instant::now();
        s.write_all(&msg).await.expect("write");
        s.read_exact(&mut buf).await.expect("read");
        if i >= WARMUP {
            out.push(t.elapsed());
        }
    }
    out.sort();
    out
}

fn pct(v: &[Duration], p: f64) -> Duration {
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// Echoed bytes per second over one connection, writer and reader running concurrently.
async fn throughput(addr: &str) -> f64 {
    let s = connect(addr).await;
    let (mut r, mut w) = s.into_split();
    let stop = Instant::now() + THROUGHPUT_FOR;
    let writer = tokio::spawn(async move {
        let chunk = vec![7u8; 64 * 1024];
        while Instant::now() < stop {
            if w.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    });
    let start = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), r.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => total += n as u64,
        }
        if Instant::now() > stop + Duration::from_secs(5) {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = writer.await;
    total as f64 / secs
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let echo = echo_server().await;
    let server = bc_toxiproxy::server::spawn("127.0.0.1:0", 1).await?;
    let client = Client::new(&server.url())?;
    let proxied = client
        .create_proxy(&ProxyConfig::new("bench", "127.0.0.1:0", echo.to_string()))
        .await?
        .listen;
    let direct = echo.to_string();

    let d = round_trips(&direct).await;
    let p = round_trips(&proxied).await;
    let (d50, d99, p50, p99) = (pct(&d, 0.5), pct(&d, 0.99), pct(&p, 0.5), pct(&p, 0.99));
    // A round trip through the proxy crosses it twice (one hop each way).
    let per_hop = |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() * 1e6 / 2.0;
    println!("round trip, {ROUND_TRIPS} x 64 B echo");
    println!(
        "  direct : p50 {:>7.1} us  p99 {:>7.1} us",
        d50.as_secs_f64() * 1e6,
        d99.as_secs_f64() * 1e6
    );
    println!(
        "  proxied: p50 {:>7.1} us  p99 {:>7.1} us",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    println!(
        "  added per hop: p50 {:.1} us  p99 {:.1} us",
        per_hop(p50, d50),
        per_hop(p99, d99)
    );

    // Alternate short runs and keep the best of each, so other load on the machine skews less.
    let (mut td, mut tp) = (0f64, 0f64);
    for _ in 0..3 {
        td = td.max(throughput(&direct).await);
        tp = tp.max(throughput(&proxied).await);
    }
    println!(
        "echo throughput, one connection, best of 3 x {} s",
        THROUGHPUT_FOR.as_secs()
    );
    println!("  direct : {:>8.1} MB/s", td / 1e6);
    println!(
        "  proxied: {:>8.1} MB/s ({:.0}% of direct)",
        tp / 1e6,
        100.0 * tp / td
    );
    server.shutdown().await;
    Ok(())
}
