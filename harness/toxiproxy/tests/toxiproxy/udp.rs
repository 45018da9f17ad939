//! The udp proxy kind (extension): per-flow relay with a stable source per client, toxics that
//! mean something for datagrams (timeout, loss, latency), refused when disabled, flows forgotten
//! on request, upstream re-pointed without losing flows, and reset_peer rejected.

use crate::common::WAIT;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;

/// A UDP upstream that answers each datagram with `<its source address>|<payload>`.
async fn echo_udp() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    let t = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let mut out = format!("{from}|").into_bytes();
            out.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&out, from).await;
        }
    });
    (addr, t)
}

async fn api(url: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = c
        .request(method.parse().unwrap(), format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// Sends `msg` through the proxy and returns the echo (the upstream-side source, the payload).
async fn roundtrip(c: &UdpSocket, proxy: SocketAddr, msg: &str) -> Option<(String, String)> {
    c.send_to(msg.as_bytes(), proxy).await.unwrap();
    recv(c, Duration::from_millis(400)).await
}

async fn recv(c: &UdpSocket, within: Duration) -> Option<(String, String)> {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(within, c.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    let s = String::from_utf8_lossy(&buf[..n]).into_owned();
    let (a, b) = s.split_once('|')?;
    Some((a.to_string(), b.to_string()))
}

async fn udp_proxy(url: &str, name: &str, upstream: SocketAddr) -> SocketAddr {
    let (s, p) = api(
        url,
        "POST",
        "/proxies",
        json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string(), "protocol": "udp"}),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["protocol"], "udp");
    p["listen"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn flows_relay_with_a_stable_source_per_client_and_survive_an_upstream_move() {
    let (srv, _c) = crate::common::server().await;
    let url = srv.url();
    let (up1, _t1) = echo_udp().await;
    let (up2, _t2) = echo_udp().await;
    let proxy = udp_proxy(&url, "sip_a", up1).await;
    let (c1, c2) = (client().await, client().await);
    let (src1, body) = roundtrip(&c1, proxy, "hello").await.expect("relayed");
    assert_eq!(body, "hello");
    let (src1b, _) = roundtrip(&c1, proxy, "again").await.expect("relayed");
    assert_eq!(src1, src1b, "one flow per client: the same source upstream");
    let (src2, _) = roundtrip(&c2, proxy, "other").await.expect("relayed");
    assert_ne!(src1, src2, "another client, another flow");

    // The upstream moves (HA failover behind a site address): flows, and sources, stay.
    let (s, p) = api(
        &url,
        "POST",
        "/proxies/sip_a",
        json!({"upstream": up2.to_string()}),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let (src1c, _) = roundtrip(&c1, proxy, "moved")
        .await
        .expect("relayed to the new upstream");
    assert_eq!(src1c, src1);

    // Forgetting flows: the next datagram gets a new flow and so a new source.
    let (s, f) = api(&url, "POST", "/proxies/sip_a/flows/forget", json!({})).await;
    assert_eq!((s, f["forgotten"].as_u64()), (200, Some(2)));
    let (src1d, _) = roundtrip(&c1, proxy, "new flow").await.expect("relayed");
    assert_ne!(src1d, src1);

    // A tcp proxy looks as in Toxiproxy (no protocol field) and has no flows.
    let (s, t) = api(
        &url,
        "POST",
        "/proxies",
        json!({"name": "tcp", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}),
    )
    .await;
    assert_eq!(s, 201);
    assert!(t.get("protocol").is_none(), "{t}");
    let (s, _) = api(&url, "POST", "/proxies/tcp/flows/forget", json!({})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn datagram_toxics_drop_delay_and_lose_and_reset_is_rejected() {
    let (srv, _c) = crate::common::server().await;
    let url = srv.url();
    let (up, _t) = echo_udp().await;
    let proxy = udp_proxy(&url, "sip", up).await;
    let c = client().await;
    assert!(roundtrip(&c, proxy, "warm").await.is_some());

    // reset_peer (and stream toxics) have no datagram meaning: clear 400s.
    let (s, e) = api(
        &url,
        "POST",
        "/proxies/sip/toxics",
        json!({"type": "reset_peer"}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("no connection to reset"),
        "{e}"
    );
    let (s, _) = api(
        &url,
        "POST",
        "/proxies/sip/toxics",
        json!({"type": "slicer"}),
    )
    .await;
    assert_eq!(s, 400);
    let bad = json!({"type": "loss", "attributes": {"probability": 2}});
    assert_eq!(api(&url, "POST", "/proxies/sip/toxics", bad).await.0, 400);

    // Black hole upstream: nothing reaches the server, so nothing comes back.
    let t = json!({"name": "bh", "type": "timeout", "stream": "upstream"});
    assert_eq!(api(&url, "POST", "/proxies/sip/toxics", t).await.0, 200);
    assert_eq!(roundtrip(&c, proxy, "lost").await, None);
    assert_eq!(
        api(&url, "DELETE", "/proxies/sip/toxics/bh", json!({}))
            .await
            .0,
        204
    );
    assert!(roundtrip(&c, proxy, "back").await.is_some());

    // Loss with probability 1 drops every answer; 0 none.
    let l = json!({"name": "l", "type": "loss", "stream": "downstream", "attributes": {"probability": 1.0}});
    assert_eq!(api(&url, "POST", "/proxies/sip/toxics", l).await.0, 200);
    assert_eq!(roundtrip(&c, proxy, "lost").await, None);
    let p0 = json!({"attributes": {"probability": 0.0}});
    assert_eq!(api(&url, "POST", "/proxies/sip/toxics/l", p0).await.0, 200);
    assert!(roundtrip(&c, proxy, "kept").await.is_some());

    // Latency: the answer comes, later than the delay.
    let lat = json!({"type": "latency", "stream": "downstream", "attributes": {"latency": 150}});
    assert_eq!(api(&url, "POST", "/proxies/sip/toxics", lat).await.0, 200);
    let t0 = std::time::Instant::now();
    c.send_to(b"slow", proxy).await.unwrap();
    assert!(recv(&c, WAIT).await.is_some());
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_disabled_udp_proxy_refuses_datagrams() {
    let (srv, _c) = crate::common::server().await;
    let url = srv.url();
    let (up, _t) = echo_udp().await;
    let proxy = udp_proxy(&url, "sip", up).await;
    let c = client().await;
    c.connect(proxy).await.unwrap();
    c.send(b"up").await.unwrap();
    let mut buf = [0u8; 256];
    assert!(tokio::time::timeout(WAIT, c.recv(&mut buf))
        .await
        .unwrap()
        .is_ok());
    let (s, p) = api(&url, "POST", "/proxies/sip", json!({"enabled": false})).await;
    assert_eq!((s, p["enabled"].as_bool()), (200, Some(false)));
    // The socket is closed: the kernel answers ICMP port unreachable, which a connected
    // socket reports as ECONNREFUSED.
    let mut refused = false;
    for _ in 0..20 {
        let _ = c.send(b"down").await;
        match tokio::time::timeout(Duration::from_millis(100), c.recv(&mut buf)).await {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => {}
        }
    }
    assert!(refused, "datagrams to a disabled udp proxy are refused");
}

#[tokio::test]
async fn the_client_creates_udp_proxies_and_forgets_their_flows() {
    use bc_toxiproxy::client::ProxyConfig;
    let (_srv, client) = crate::common::server().await;
    let (up, _t) = echo_udp().await;
    let p = client
        .create_proxy(&ProxyConfig::udp("sip", "127.0.0.1:0", up.to_string()))
        .await
        .expect("created");
    assert_eq!(p.protocol.as_deref(), Some("udp"));
    let c = client_socket().await;
    let addr: SocketAddr = p.listen.parse().unwrap();
    assert!(roundtrip(&c, addr, "x").await.is_some());
    assert_eq!(client.forget_flows("sip").await.expect("forgotten"), 1);
}

async fn client_socket() -> UdpSocket {
    client().await
}
