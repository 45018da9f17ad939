//! Shared helpers of the env/fault integration tests: binaries, environment start, a protocol
//! client speaking through the fault proxy, and waiting for observed events.
#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part (`expect` would be unfulfilled in some)"
)]

use bc_engine::env::{EnvConfig, Environment, RuntimeKind, Topology};
use bc_protocol::{decode_line, encode_line, Message, ObservedEvent, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Longest wait for anything expected in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Makes sure bc-mock and bc-toxiproxy exist (builds them once if missing); returns their dir.
pub fn ensure_bins() -> PathBuf {
    bc_test_support::ensure_built(&["bc-mock", "bc-toxiproxy"], &["bc-mock", "bc-toxiproxy"])
}

pub fn config_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config/default.yaml")
}

pub fn config(stat_server: bool) -> EnvConfig {
    let topo = Topology::load(config_db())
        .expect("config db")
        .with_stat_server(stat_server);
    let mut cfg = EnvConfig::new(topo).with_runtime(RuntimeKind::Local);
    cfg.bin_dir = Some(ensure_bins());
    cfg
}

pub async fn start(stat_server: bool) -> Environment {
    Environment::start(config(stat_server))
        .await
        .unwrap_or_else(|e| panic!("environment does not start: {e}"))
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').map(|i| i + 1).unwrap_or(0)..]
                .split_whitespace()
                .next()
                .map(str::to_string);
            state.as_deref() != Some("Z")
        }
        Err(_) => false,
    }
}

/// What a protocol client saw.
// Test-only value, moved a few times per test: boxing the message would only obscure the matches.
#[expect(
    clippy::large_enum_variant,
    reason = "boxing the message would only obscure the matches"
)]
#[derive(Debug)]
pub enum Seen {
    Msg(Message),
    /// The server (or proxy) closed the connection.
    Closed,
    /// The connection was reset.
    Reset,
    /// Nothing within the wait.
    Silence,
}

/// A desktop-protocol client (answers the server's Pings so keep-alive does not close it).
pub struct Client {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    next_ref: i64,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let (r, w) = s.into_split();
        Ok(Client {
            rd: BufReader::new(r),
            wr: w,
            next_ref: 0,
        })
    }

    pub fn next_ref(&mut self) -> i64 {
        self.next_ref += 1;
        self.next_ref
    }

    pub async fn send(&mut self, m: &Message) -> std::io::Result<()> {
        self.wr.write_all(encode_line(m).as_bytes()).await
    }

    /// The next non-Ping message, a close, a reset, or silence after `wait`.
    pub async fn recv(&mut self, wait: Duration) -> Seen {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut line = String::new();
            let r = tokio::time::timeout_at(deadline, self.rd.read_line(&mut line)).await;
            match r {
                Err(_) => return Seen::Silence,
                Ok(Ok(0)) => return Seen::Closed,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Seen::Reset
                }
                Ok(Err(_)) => return Seen::Closed,
                Ok(Ok(_)) => match decode_line(&line) {
                    Ok(Message::Ping { seq }) => {
                        let _ = self.send(&Message::Pong { seq }).await;
                    }
                    Ok(m) => return Seen::Msg(m),
                    Err(_) => continue,
                },
            }
        }
    }

    /// Registers (with credentials for the CS Proxy); returns what came back.
    pub async fn register(&mut self, user: Option<(&str, &str)>) -> Seen {
        let reference_id = self.next_ref();
        let m = Message::RequestRegisterClient {
            reference_id,
            client_name: "env-test".into(),
            protocol_version: PROTOCOL_VERSION,
            user_name: user.map(|u| u.0.to_string()),
            password: user.map(|u| u.1.to_string()),
        };
        if self.send(&m).await.is_err() {
            return Seen::Closed;
        }
        self.recv(WAIT).await
    }
}

/// Waits until an event matching `pred` arrives; returns it (panics after WAIT).
pub async fn wait_event(
    rx: &mut mpsc::Receiver<ObservedEvent>,
    what: &str,
    pred: impl Fn(&ObservedEvent) -> bool,
) -> ObservedEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event channel closed while waiting for {what}"),
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

/// Drops everything already queued.
pub fn drain(rx: &mut mpsc::Receiver<ObservedEvent>) {
    while rx.try_recv().is_ok() {}
}
