//! The SIP transports of the listener: one UDP socket and a TCP listener on the same port; a flow
//! (transport + source address) is where answers and mock-started requests go back (RFC 3581/5626 style).

use super::msg::{frame_len, MAX_MESSAGE};
use super::SipWire;
use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
    /// The Via transport token.
    pub fn via(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Where a message came from, and so where answers go.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flow {
    pub transport: Transport,
    pub source: SocketAddr,
}

/// Receives datagrams until the instance has finished (a graceful shutdown still answers, with
/// its reject); each is handled in turn.
pub async fn run_udp(w: Arc<SipWire>) {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        let r = tokio::select! {
            _ = w.inst.finished.cancelled() => return,
            r = w.udp.recv_from(&mut buf) => r,
        };
        match r {
            Ok((n, source)) => {
                let flow = Flow {
                    transport: Transport::Udp,
                    source,
                };
                if n > MAX_MESSAGE {
                    w.malformed(source, "datagram too large");
                    continue;
                }
                w.handle(Bytes::copy_from_slice(&buf[..n]), flow);
            }
            // ICMP port unreachable from an earlier send shows up here on Linux: not fatal.
            Err(e) => tracing::debug!(error = %e, "sip udp recv"),
        }
    }
}

/// Accepts TCP connections until the instance stops.
pub async fn run_tcp(w: Arc<SipWire>, l: TcpListener) {
    loop {
        let a = tokio::select! {
            _ = w.inst.finished.cancelled() => return,
            a = l.accept() => a,
        };
        match a {
            Ok((s, peer)) => {
                tokio::spawn(serve_tcp(w.clone(), s, peer));
            }
            Err(e) => {
                tracing::warn!(error = %e, "sip tcp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve_tcp(w: Arc<SipWire>, s: TcpStream, source: SocketAddr) {
    let _ = s.set_nodelay(true);
    let (mut rd, mut wr) = s.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    w.tcp_writers().insert(source, tx);
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
    });
    let flow = Flow {
        transport: Transport::Tcp,
        source,
    };
    let mut buf = BytesMut::with_capacity(4096);
    'read: loop {
        let n = tokio::select! {
            _ = w.inst.finished.cancelled() => break,
            n = rd.read_buf(&mut buf) => n,
        };
        if !matches!(n, Ok(n) if n > 0) {
            break;
        }
        loop {
            // Keep-alive CRLFs between messages (RFC 5626 §3.5.1) are skipped.
            while buf.first().is_some_and(|b| *b == b'\r' || *b == b'\n') {
                buf.advance(1);
            }
            match frame_len(&buf) {
                Ok(Some(len)) => {
                    let msg = buf.split_to(len).freeze();
                    w.handle(msg, flow.clone());
                }
                Ok(None) => break,
                Err(e) => {
                    // A stream whose framing is lost cannot be resynchronised: close it.
                    w.malformed(source, &e.reason);
                    break 'read;
                }
            }
        }
    }
    w.tcp_writers().remove(&source);
    writer.abort();
}

/// Sends over a flow: a datagram to the source, or onto its TCP connection if still open.
pub fn send(w: &SipWire, flow: &Flow, data: Bytes) -> bool {
    match flow.transport {
        Transport::Udp => w.udp.try_send_to(&data, flow.source).is_ok(),
        Transport::Tcp => w
            .tcp_writers()
            .get(&flow.source)
            .is_some_and(|tx| tx.send(data).is_ok()),
    }
}

/// Binds UDP and TCP on one port (port 0: the kernel's pick for UDP, then TCP on the same).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).await?;
        let a = udp.local_addr()?;
        match TcpListener::bind(a).await {
            Ok(t) => return Ok((udp, t)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no common port")))
}
