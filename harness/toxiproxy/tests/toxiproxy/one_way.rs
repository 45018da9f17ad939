//! One-way partitions as the harness builds them: a `timeout` 0 toxic on one stream only.
//! Pins the documented semantics (docs/toxiproxy.md): which data and which closes cross, and heal.

use std::time::Duration;

use crate::common::{connect, read_n, read_within, ReadOutcome, WAIT};
use bc_toxiproxy::client::{Client, Stream, Toxic};
use bc_toxiproxy::server::ServerHandle;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const QUIET: Duration = Duration::from_millis(400);

/// An upstream that hands every accepted server-side socket to the test.
async fn upstream() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            if tx.send(s).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// A proxy with a one-way cut on `stream`, and a connected (desktop, server) pair through it.
async fn cut(
    stream: Stream,
) -> (
    (ServerHandle, Client),
    String,
    mpsc::UnboundedReceiver<TcpStream>,
) {
    let (up, rx) = upstream().await;
    let (s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up).await;
    c.add_toxic("p", &Toxic::timeout(stream, 0).named("cut"))
        .await
        .expect("add the cut");
    ((s, c), listen, rx)
}

async fn pair(listen: &str, rx: &mut mpsc::UnboundedReceiver<TcpStream>) -> (TcpStream, TcpStream) {
    let desktop = connect(listen).await;
    let server = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("upstream reached in time")
        .expect("upstream socket");
    (desktop, server)
}

async fn heal(c: &Client) {
    c.remove_toxic("p", "cut").await.expect("remove the cut");
}

#[tokio::test]
async fn to_server_cut_drops_the_desktops_data_and_close_but_passes_the_servers() {
    let ((_s, c), listen, mut rx) = cut(Stream::Upstream).await;
    let (mut desktop, mut server) = pair(&listen, &mut rx).await;
    desktop.write_all(b"request").await.unwrap();
    assert_eq!(read_within(&mut server, QUIET).await, ReadOutcome::Nothing);
    server.write_all(b"event").await.unwrap();
    assert_eq!(read_n(&mut desktop, 5).await, b"event");
    // The desktop's close is held like its data: the server cannot see the old session end.
    desktop.shutdown().await.unwrap();
    assert_eq!(read_within(&mut server, QUIET).await, ReadOutcome::Nothing);
    // Heal closes the connection the cut applied to.
    heal(&c).await;
    assert_eq!(read_within(&mut server, WAIT).await, ReadOutcome::Eof);
}

#[tokio::test]
async fn to_server_cut_passes_the_servers_close_to_the_desktop() {
    let ((_s, _c), listen, mut rx) = cut(Stream::Upstream).await;
    let (mut desktop, server) = pair(&listen, &mut rx).await;
    drop(server);
    assert_eq!(read_within(&mut desktop, WAIT).await, ReadOutcome::Eof);
}

#[tokio::test]
async fn to_desktop_cut_drops_the_servers_data_and_close_but_passes_the_desktops() {
    let ((_s, c), listen, mut rx) = cut(Stream::Downstream).await;
    let (mut desktop, mut server) = pair(&listen, &mut rx).await;
    desktop.write_all(b"request").await.unwrap();
    assert_eq!(read_n(&mut server, 7).await, b"request");
    server.write_all(b"answer").await.unwrap();
    // The server's close is held too: the desktop sees nothing at all.
    server.shutdown().await.unwrap();
    assert_eq!(read_within(&mut desktop, QUIET).await, ReadOutcome::Nothing);
    heal(&c).await;
    assert_eq!(read_within(&mut desktop, WAIT).await, ReadOutcome::Eof);
    // New connections are clean after the heal.
    let (mut desktop, mut server) = pair(&listen, &mut rx).await;
    server.write_all(b"hello").await.unwrap();
    assert_eq!(read_n(&mut desktop, 5).await, b"hello");
}

#[tokio::test]
async fn to_desktop_cut_passes_the_desktops_close_to_the_server() {
    let ((_s, _c), listen, mut rx) = cut(Stream::Downstream).await;
    let (desktop, mut server) = pair(&listen, &mut rx).await;
    drop(desktop);
    assert_eq!(read_within(&mut server, WAIT).await, ReadOutcome::Eof);
}
