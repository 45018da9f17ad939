//! Shared test helpers: in-process servers, TCP echo upstreams, timed reads.
//! Everything listens on 127.0.0.1 and is torn down when dropped.

pub mod conformance;

use std::net::SocketAddr;
use std::time::Duration;

use bc_toxiproxy::client::{Client, ProxyConfig};
use bc_toxiproxy::server::{self, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Upper bound for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(5);

pub async fn server() -> (ServerHandle, Client) {
    let s = server::spawn("127.0.0.1:0", 42)
        .await
        .expect("server starts");
    let c = Client::new(&s.url()).expect("client");
    (s, c)
}

/// A TCP upstream: optionally greets each connection, then echoes (or closes at once).
pub struct Upstream {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Default)]
pub struct UpstreamMode {
    pub greeting: Vec<u8>,
    pub close_after_greeting: bool,
}

pub async fn echo() -> Upstream {
    upstream(UpstreamMode::default()).await
}

pub async fn upstream(mode: UpstreamMode) -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = l.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mode = mode.clone();
            conns.spawn(async move {
                let _ = s.set_nodelay(true);
                if !mode.greeting.is_empty() && s.write_all(&mode.greeting).await.is_err() {
                    return;
                }
                if mode.close_after_greeting {
                    return;
                }
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    Upstream { addr, task }
}

/// Creates proxy `name` on a free port to `up`; returns the proxy's listen address.
pub async fn proxy_to(c: &Client, name: &str, up: SocketAddr) -> String {
    c.create_proxy(&ProxyConfig::new(name, "127.0.0.1:0", up.to_string()))
        .await
        .expect("create proxy")
        .listen
}

pub async fn connect(addr: &str) -> TcpStream {
    let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Reads exactly `n` bytes, failing the test after `WAIT`.
pub async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf))
        .await
        .expect("data in time")
        .expect("read");
    buf
}

/// What a read saw within `within`.
#[derive(Debug, PartialEq)]
pub enum ReadOutcome {
    Data(Vec<u8>),
    Eof,
    Reset,
    OtherError(std::io::ErrorKind),
    Nothing,
}

pub async fn read_within(s: &mut TcpStream, within: Duration) -> ReadOutcome {
    let mut buf = vec![0u8; 64 * 1024];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Err(_) => ReadOutcome::Nothing,
        Ok(Ok(0)) => ReadOutcome::Eof,
        Ok(Ok(n)) => ReadOutcome::Data(buf[..n].to_vec()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => ReadOutcome::Reset,
        Ok(Err(e)) => ReadOutcome::OtherError(e.kind()),
    }
}

/// One echo round trip of `msg`; returns how long it took.
pub async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Duration {
    let t = std::time::Instant::now();
    s.write_all(msg).await.expect("write");
    let got = read_n(s, msg.len()).await;
    assert_eq!(got, msg);
    t.elapsed()
}
