//! Toxic behaviour through real TCP on 127.0.0.1: a client, the proxy, an echo upstream.
//! Timings assert generous lower bounds and loose upper bounds only.

use std::time::{Duration, Instant};

use crate::common::{connect, read_n, read_within, round_trip, ReadOutcome, UpstreamMode};
use bc_toxiproxy::client::{ProxyUpdate, Stream, Toxic};
use tokio::io::AsyncWriteExt;

const MS: fn(u64) -> Duration = Duration::from_millis;

#[tokio::test]
async fn latency_delays_each_round_trip() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 150, 0))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    let rtt = round_trip(&mut s, b"ping").await;
    assert!(rtt >= MS(145) && rtt < MS(2000), "rtt {rtt:?}");
    // Both directions add up.
    c.add_toxic("p", &Toxic::latency(Stream::Upstream, 100, 0))
        .await
        .unwrap();
    let rtt = round_trip(&mut s, b"ping").await;
    assert!(rtt >= MS(245) && rtt < MS(2500), "rtt {rtt:?}");
}

#[tokio::test]
async fn latency_keeps_a_stream_pipelined() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 200, 0))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    let t = Instant::now();
    // Ten writes 20 ms apart: pipelined latency delivers all by ~400 ms, not 10 x 200 ms.
    for _ in 0..10 {
        s.write_all(b"0123456789").await.unwrap();
        tokio::time::sleep(MS(20)).await;
    }
    read_n(&mut s, 100).await;
    let took = t.elapsed();
    // The last write leaves after 9 sleeps (>= 180 ms) and is delayed 200 ms: 380 ms is the exact floor
    // (the 10th sleep runs while it is in flight; a floor of 390 ms once failed at 389.9 ms).
    assert!(took >= MS(380) && took < MS(1500), "took {took:?}");
}

#[tokio::test]
async fn upstream_and_downstream_toxics_affect_only_their_direction() {
    let up = crate::common::upstream(UpstreamMode {
        greeting: b"hi".to_vec(),
        close_after_greeting: false,
    })
    .await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;

    c.add_toxic("p", &Toxic::latency(Stream::Upstream, 600, 0))
        .await
        .unwrap();
    let t = Instant::now();
    let mut s = connect(&listen).await;
    assert_eq!(read_n(&mut s, 2).await, b"hi");
    assert!(
        t.elapsed() < MS(500),
        "server-to-client not delayed: {:?}",
        t.elapsed()
    );
    let rtt = round_trip(&mut s, b"x").await;
    assert!(rtt >= MS(595), "client-to-server delayed: {rtt:?}");

    c.remove_toxic("p", "latency_upstream").await.unwrap();
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 600, 0))
        .await
        .unwrap();
    let t = Instant::now();
    let mut s = connect(&listen).await;
    assert_eq!(read_n(&mut s, 2).await, b"hi");
    assert!(
        t.elapsed() >= MS(595),
        "server-to-client delayed: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn toxics_apply_to_live_connections() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    let mut s = connect(&listen).await;
    assert!(round_trip(&mut s, b"a").await < MS(450));
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 500, 0))
        .await
        .unwrap();
    assert!(round_trip(&mut s, b"b").await >= MS(495));
    c.remove_toxic("p", "latency_downstream").await.unwrap();
    assert!(round_trip(&mut s, b"c").await < MS(450));
}

#[tokio::test]
async fn removing_a_toxic_with_data_in_flight_returns_promptly() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 10_000, 0))
        .await
        .unwrap();
    c.add_toxic("p", &Toxic::bandwidth(Stream::Upstream, 1).named("slow"))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    s.write_all(&[7u8; 2000]).await.unwrap();
    tokio::time::sleep(MS(100)).await;
    let t = Instant::now();
    c.remove_toxic("p", "latency_downstream").await.unwrap();
    c.remove_toxic("p", "slow").await.unwrap();
    assert!(t.elapsed() < MS(1000), "API calls took {:?}", t.elapsed());
    // The held data now flows without the removed delays.
    let got = read_n(&mut s, 2000).await;
    assert!(got.iter().all(|&b| b == 7));
    assert!(
        t.elapsed() < MS(3000),
        "data released after {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn timeout_zero_is_a_black_hole_until_removed() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::timeout(Stream::Downstream, 0))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    s.write_all(b"anyone?").await.unwrap();
    assert_eq!(
        read_within(&mut s, MS(400)).await,
        ReadOutcome::Nothing,
        "held open, nothing flows"
    );
    // As Toxiproxy: removing the timeout toxic closes the connections it dropped data on.
    c.remove_toxic("p", "timeout_downstream").await.unwrap();
    assert_eq!(
        read_within(&mut s, crate::common::WAIT).await,
        ReadOutcome::Eof
    );
    // New connections work again.
    let mut s = connect(&listen).await;
    round_trip(&mut s, b"ok").await;
}

#[tokio::test]
async fn timeout_zero_holds_the_upstream_close_too() {
    // A silent partition leaks nothing, not even the server closing its end: a client without
    // keep-alive must not learn of it (Toxiproxy's timeout toxic never reads its input).
    let up = crate::common::upstream(UpstreamMode {
        greeting: b"hi".to_vec(),
        close_after_greeting: true,
    })
    .await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::timeout(Stream::Downstream, 0))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    assert_eq!(
        read_within(&mut s, MS(500)).await,
        ReadOutcome::Nothing,
        "neither the greeting nor the close crosses the black hole"
    );
    c.remove_toxic("p", "timeout_downstream").await.unwrap();
    assert_eq!(
        read_within(&mut s, crate::common::WAIT).await,
        ReadOutcome::Eof
    );
}

#[tokio::test]
async fn timeout_closes_after_the_delay() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::timeout(Stream::Upstream, 250))
        .await
        .unwrap();
    let t = Instant::now();
    let mut s = connect(&listen).await;
    s.write_all(b"dropped").await.unwrap();
    assert_eq!(
        read_within(&mut s, crate::common::WAIT).await,
        ReadOutcome::Eof
    );
    assert!(
        t.elapsed() >= MS(245) && t.elapsed() < MS(3000),
        "closed after {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn reset_peer_resets_the_connection() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    let mut live = connect(&listen).await;
    round_trip(&mut live, b"before").await;
    c.add_toxic("p", &Toxic::reset_peer(Stream::Downstream, 150))
        .await
        .unwrap();
    let t = Instant::now();
    assert_eq!(
        read_within(&mut live, crate::common::WAIT).await,
        ReadOutcome::Reset,
        "live connection reset"
    );
    assert!(
        t.elapsed() >= MS(100),
        "after the timeout: {:?}",
        t.elapsed()
    );
    let mut fresh = connect(&listen).await;
    let _ = fresh.write_all(b"x").await;
    assert_eq!(
        read_within(&mut fresh, crate::common::WAIT).await,
        ReadOutcome::Reset,
        "new connection reset"
    );
}

#[tokio::test]
async fn disabling_refuses_new_connections_and_closes_live_ones() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    let mut live = connect(&listen).await;
    round_trip(&mut live, b"hi").await;
    let p = c
        .update_proxy(
            "p",
            &ProxyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!p.enabled);
    let seen = read_within(&mut live, crate::common::WAIT).await;
    assert!(
        matches!(seen, ReadOutcome::Eof | ReadOutcome::Reset),
        "live connection closed: {seen:?}"
    );
    let refused = tokio::net::TcpStream::connect(&listen).await;
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    c.update_proxy(
        "p",
        &ProxyUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut again = connect(&listen).await;
    round_trip(&mut again, b"back").await;
}

#[tokio::test]
async fn bandwidth_limits_throughput() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::bandwidth(Stream::Downstream, 100))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    let payload = vec![1u8; 60_000];
    let t = Instant::now();
    s.write_all(&payload).await.unwrap();
    read_n(&mut s, payload.len()).await;
    // 60 kB at 100 kB/s is 600 ms.
    assert!(
        t.elapsed() >= MS(500) && t.elapsed() < MS(4000),
        "took {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn limit_data_closes_after_n_bytes() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::limit_data(Stream::Downstream, 10))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    s.write_all(b"0123456789abcdefghij").await.unwrap();
    let mut got = Vec::new();
    loop {
        match read_within(&mut s, crate::common::WAIT).await {
            ReadOutcome::Data(d) => got.extend(d),
            ReadOutcome::Eof => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"0123456789");
}

#[tokio::test]
async fn slow_close_delays_the_close() {
    let up = crate::common::upstream(UpstreamMode {
        greeting: b"bye".to_vec(),
        close_after_greeting: true,
    })
    .await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::slow_close(Stream::Downstream, 600))
        .await
        .unwrap();
    let t = Instant::now();
    let mut s = connect(&listen).await;
    assert_eq!(read_n(&mut s, 3).await, b"bye");
    assert!(t.elapsed() < MS(500), "data is not delayed");
    assert_eq!(
        read_within(&mut s, crate::common::WAIT).await,
        ReadOutcome::Eof
    );
    assert!(t.elapsed() >= MS(595), "close delayed: {:?}", t.elapsed());
}

#[tokio::test]
async fn slicer_keeps_the_bytes_intact() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::slicer(Stream::Downstream, 7, 3, 50))
        .await
        .unwrap();
    c.add_toxic("p", &Toxic::latency(Stream::Upstream, 5, 5))
        .await
        .unwrap();
    let mut s = connect(&listen).await;
    let payload: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    s.write_all(&payload).await.unwrap();
    assert_eq!(read_n(&mut s, payload.len()).await, payload);
}

#[tokio::test]
async fn toxicity_is_decided_per_connection() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic(
        "p",
        &Toxic::timeout(Stream::Downstream, 0).with_toxicity(0.5),
    )
    .await
    .unwrap();
    let mut conns = Vec::new();
    for _ in 0..24 {
        let mut s = connect(&listen).await;
        s.write_all(b"?").await.unwrap();
        conns.push(s);
    }
    let mut answered = 0;
    for s in &mut conns {
        if let ReadOutcome::Data(_) = read_within(s, MS(300)).await {
            answered += 1;
        }
    }
    assert!(
        answered > 0 && answered < 24,
        "some but not all connections affected: {answered}/24"
    );
    c.update_toxic(
        "p",
        "timeout_downstream",
        &bc_toxiproxy::client::ToxicUpdate {
            toxicity: Some(0.0),
            attributes: None,
        },
    )
    .await
    .unwrap();
    let mut s = connect(&listen).await;
    round_trip(&mut s, b"free").await;
}

#[tokio::test]
async fn unreachable_upstream_accepts_then_closes() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", dead).await;
    let mut s = connect(&listen).await;
    let seen = read_within(&mut s, crate::common::WAIT).await;
    assert!(
        matches!(seen, ReadOutcome::Eof | ReadOutcome::Reset),
        "{seen:?}"
    );
}

#[tokio::test]
async fn deleting_a_proxy_closes_its_connections_and_port() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    let mut s = connect(&listen).await;
    round_trip(&mut s, b"x").await;
    c.delete_proxy("p").await.unwrap();
    let seen = read_within(&mut s, crate::common::WAIT).await;
    assert!(
        matches!(seen, ReadOutcome::Eof | ReadOutcome::Reset),
        "{seen:?}"
    );
    assert!(tokio::net::TcpStream::connect(&listen).await.is_err());
}

#[tokio::test]
async fn split_and_truncated_chunks_return_their_credit() {
    // More than the 4 MiB in-flight budget per direction: a credit leak would stall the stream.
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::slicer(Stream::Upstream, 16_384, 4096, 0))
        .await
        .unwrap();
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 0, 0))
        .await
        .unwrap();
    c.add_toxic("p", &Toxic::limit_data(Stream::Downstream, 1 << 40))
        .await
        .unwrap();
    let s = connect(&listen).await;
    let (mut r, mut w) = s.into_split();
    const TOTAL: usize = 12 << 20;
    let writer = tokio::spawn(async move {
        let block = vec![3u8; 64 * 1024];
        for _ in 0..TOTAL / block.len() {
            w.write_all(&block).await.unwrap();
        }
        w
    });
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    while got < TOTAL {
        use tokio::io::AsyncReadExt;
        let n = tokio::time::timeout(Duration::from_secs(20), r.read(&mut buf))
            .await
            .expect("no stall")
            .unwrap();
        assert!(n > 0, "closed early at {got}");
        got += n;
    }
    drop(writer.await.unwrap());
}

/// Which of `n` sequential connections a 50% black hole affects, on a server seeded with `seed`.
async fn affected_pattern(seed: u64, n: usize) -> Vec<bool> {
    let up = crate::common::echo().await;
    let s = bc_toxiproxy::server::spawn("127.0.0.1:0", seed)
        .await
        .unwrap();
    let c = bc_toxiproxy::Client::new(&s.url()).unwrap();
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic(
        "p",
        &Toxic::timeout(Stream::Downstream, 0).with_toxicity(0.5),
    )
    .await
    .unwrap();
    let mut conns = Vec::new();
    for _ in 0..n {
        let mut s = connect(&listen).await;
        s.write_all(b"?").await.unwrap();
        // One at a time, so connections are accepted (and seeded) in a fixed order.
        tokio::time::sleep(MS(5)).await;
        conns.push(s);
    }
    let reads = conns
        .iter_mut()
        .map(|s| async move { !matches!(read_within(s, MS(400)).await, ReadOutcome::Data(_)) });
    futures::future::join_all(reads).await
}

#[tokio::test]
async fn the_seed_makes_toxicity_reproducible() {
    let a = affected_pattern(7, 16).await;
    let b = affected_pattern(7, 16).await;
    assert_eq!(a, b, "same seed, same decisions");
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
}

#[tokio::test]
async fn disabling_returns_promptly_while_a_client_does_not_read() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    c.add_toxic("p", &Toxic::latency(Stream::Downstream, 1, 0))
        .await
        .unwrap();
    let s = connect(&listen).await;
    let (_r, mut w) = s.into_split();
    // Fill every buffer on the way back: the proxy's writer to us blocks.
    let writer = tokio::spawn(async move {
        let block = vec![9u8; 64 * 1024];
        for _ in 0..256 {
            if w.write_all(&block).await.is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(MS(300)).await;
    let t = Instant::now();
    let p = c
        .update_proxy(
            "p",
            &ProxyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!p.enabled);
    assert!(t.elapsed() < MS(1500), "disable took {:?}", t.elapsed());
    c.delete_proxy("p").await.unwrap();
    writer.abort();
}

/// A connection from `from` (any 127.x.y.z is a local address on Linux) to the proxy.
async fn connect_from(from: &str, listen: &str) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let s = tokio::time::timeout(crate::common::WAIT, sock.connect(listen.parse().unwrap()))
        .await
        .expect("connect in time")
        .expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

#[tokio::test]
async fn a_toxic_for_some_clients_leaves_the_others_alone() {
    let up = crate::common::echo().await;
    let (server, c) = crate::common::server().await;
    let listen = crate::common::proxy_to(&c, "p", up.addr).await;
    let mut hit = connect_from("127.0.0.2", &listen).await;
    let mut spared = connect_from("127.0.0.3", &listen).await;
    let toxic =
        Toxic::timeout(Stream::Downstream, 0).for_clients(vec!["127.0.0.2".parse().unwrap()]);
    let shown = c.add_toxic("p", &toxic).await.unwrap();
    assert_eq!(shown.clients, toxic.clients, "the API shows whom it is for");
    // Live connections: only the chosen client's is black-holed.
    hit.write_all(b"anyone?").await.unwrap();
    assert_eq!(read_within(&mut hit, MS(400)).await, ReadOutcome::Nothing);
    round_trip(&mut spared, b"fine").await;
    // New connections from the same address are keyed the same (a new source port each time).
    let mut again = connect_from("127.0.0.2", &listen).await;
    again.write_all(b"still?").await.unwrap();
    assert_eq!(read_within(&mut again, MS(400)).await, ReadOutcome::Nothing);
    round_trip(&mut connect_from("127.0.0.3", &listen).await, b"fine").await;
    // Not an address: a clear error.
    let bad = reqwest::Client::new()
        .post(format!("{}/proxies/p/toxics", server.url()))
        .body(r#"{"type":"latency","stream":"upstream","attributes":{"latency":1},"clients":["127.0.0.2:4000"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let text = bad.text().await.unwrap();
    assert!(text.contains("is not an IP address"), "{text}");
}
