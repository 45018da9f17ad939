//! Benchmark: the fault proxy's hop latency under load. Pings one mock every few milliseconds over
//! two links at once, through the proxy and directly, and prints the round trips' p50/p99/max.
//! Run beside a herd (docs/benchmarks.md "Herds"):
//! `cargo run --release -p bc-mock --example proxy_rtt -- THROUGH_ADDR DIRECT_ADDR [SECONDS] [EVERY_MS]`.

use bc_protocol::{decode_line, encode_line, Message};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Round trips of Pings on one link, in microseconds; the mock's own Pings are answered so that
/// its client timeout never closes the link.
async fn measure(addr: String, for_how_long: Duration, every: Duration) -> Vec<u64> {
    let stream = match TcpStream::connect(&addr).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot connect to {addr}: {e}");
            return Vec::new();
        }
    };
    stream.set_nodelay(true).ok();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut rtts = Vec::new();
    let end = Instant::now() + for_how_long;
    let mut seq = 1_000_000i64;
    while Instant::now() < end {
        seq += 1;
        let sent = Instant::now();
        if write
            .write_all(encode_line(&Message::Ping { seq }).as_bytes())
            .await
            .is_err()
        {
            break;
        }
        loop {
            let line = match tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await {
                Ok(Ok(Some(l))) => l,
                _ => return rtts,
            };
            match decode_line(&line) {
                Ok(Message::Pong { seq: s }) if s == seq => {
                    rtts.push(sent.elapsed().as_micros() as u64);
                    break;
                }
                Ok(Message::Ping { seq: s }) => {
                    let pong = encode_line(&Message::Pong { seq: s });
                    if write.write_all(pong.as_bytes()).await.is_err() {
                        return rtts;
                    }
                }
                _ => {}
            }
        }
        tokio::time::sleep(every).await;
    }
    rtts
}

fn summary(name: &str, mut v: Vec<u64>) -> Option<(u64, u64)> {
    if v.is_empty() {
        println!("{name}: no round trip measured");
        return None;
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    let (p50, p99) = (at(0.5), at(0.99));
    println!(
        "{name}: {} round trips, p50 {p50} µs, p99 {p99} µs, max {} µs",
        v.len(),
        v[v.len() - 1]
    );
    Some((p50, p99))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let v: Vec<String> = std::env::args().skip(1).collect();
    if v.len() < 2 {
        eprintln!("usage: proxy_rtt THROUGH_ADDR DIRECT_ADDR [SECONDS] [EVERY_MS]");
        std::process::exit(2);
    }
    let secs: u64 = v.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let every: u64 = v.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (d, e) = (Duration::from_secs(secs), Duration::from_millis(every));
    let (through, direct) = tokio::join!(measure(v[0].clone(), d, e), measure(v[1].clone(), d, e));
    let t = summary("through the proxy", through);
    let n = summary("direct", direct);
    if let (Some(t), Some(n)) = (t, n) {
        println!(
            "the proxy's two hops (there and back): p50 {} µs, p99 {} µs",
            t.0.saturating_sub(n.0),
            t.1.saturating_sub(n.1)
        );
    }
}
