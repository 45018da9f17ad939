//! Client-level API conformance checks, run against bc-toxiproxy and (when TOXIPROXY_URL is
//! set) a real Toxiproxy, so both are held to the same observable behaviour.

use std::net::SocketAddr;

use bc_toxiproxy::client::{Client, Error, ProxyConfig, ProxyUpdate, Stream, Toxic, ToxicUpdate};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn api_err<T: std::fmt::Debug>(r: Result<T, Error>, status: u16, message: &str) {
    match r {
        Err(Error::Api {
            status: s,
            message: m,
            ..
        }) => {
            assert_eq!(
                s,
                StatusCode::from_u16(status).unwrap(),
                "status for {message}"
            );
            assert_eq!(m, message);
        }
        other => panic!("expected API error {status} {message:?}, got {other:?}"),
    }
}

async fn echo_through(listen: &str) {
    let mut s = tokio::net::TcpStream::connect(listen)
        .await
        .expect("connect through proxy");
    s.write_all(b"hello").await.expect("write");
    let mut buf = [0u8; 5];
    tokio::time::timeout(super::WAIT, s.read_exact(&mut buf))
        .await
        .expect("echo in time")
        .expect("echo");
    assert_eq!(&buf, b"hello");
}

/// Runs every check; proxy names start with `prefix`; `upstream` must echo.
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
pub async fn run(c: &Client, prefix: &str, upstream: SocketAddr) {
    let name = format!("{prefix}p1");
    let up = upstream.to_string();
    assert!(!c.version().await.expect("version").is_empty());

    let p = c
        .create_proxy(&ProxyConfig::new(&name, "127.0.0.1:0", &up))
        .await
        .expect("create");
    assert_eq!(p.name, name);
    assert_eq!(p.upstream, up);
    assert!(p.enabled);
    assert!(p.toxics.is_empty());
    assert!(
        !p.listen.ends_with(":0"),
        "the real port is reported: {}",
        p.listen
    );
    echo_through(&p.listen).await;

    api_err(
        c.create_proxy(&ProxyConfig::new(&name, "127.0.0.1:0", &up))
            .await,
        409,
        "proxy already exists",
    );
    api_err(
        c.create_proxy(&ProxyConfig::new("", "127.0.0.1:0", &up))
            .await,
        400,
        "missing required field: name",
    );
    api_err(
        c.create_proxy(&ProxyConfig::new(format!("{prefix}nu"), "127.0.0.1:0", ""))
            .await,
        400,
        "missing required field: upstream",
    );
    api_err(
        c.proxy(&format!("{prefix}missing")).await,
        404,
        "proxy not found",
    );
    assert_eq!(c.proxy(&name).await.expect("get"), p);
    assert_eq!(c.proxies().await.expect("list").get(&name), Some(&p));

    let lat = c
        .add_toxic(
            &name,
            &Toxic::new(
                "latency",
                Stream::Downstream,
                serde_json::json!({"latency": 300}),
            ),
        )
        .await;
    let lat = lat.expect("add latency");
    assert_eq!(lat.name, "latency_downstream");
    assert_eq!(lat.r#type, "latency");
    assert_eq!(lat.stream, Stream::Downstream);
    assert_eq!(lat.toxicity, 1.0);
    assert_eq!(
        serde_json::Value::Object(lat.attributes.clone()),
        serde_json::json!({"latency": 300, "jitter": 0})
    );
    api_err(
        c.add_toxic(
            &name,
            &Toxic::new("latency", Stream::Downstream, serde_json::json!({})),
        )
        .await,
        409,
        "toxic already exists",
    );
    api_err(
        c.add_toxic(
            &name,
            &Toxic::new("no_such_toxic", Stream::Downstream, serde_json::json!({})),
        )
        .await,
        400,
        "invalid toxic type",
    );
    api_err(
        c.add_toxic(
            &format!("{prefix}missing"),
            &Toxic::timeout(Stream::Upstream, 0),
        )
        .await,
        404,
        "proxy not found",
    );
    let tim = c
        .add_toxic(
            &name,
            &Toxic::timeout(Stream::Upstream, 0).with_toxicity(0.5),
        )
        .await
        .expect("add timeout");
    assert_eq!(tim.name, "timeout_upstream");
    assert_eq!(tim.toxicity, 0.5);
    let lim = c
        .add_toxic(
            &name,
            &Toxic::limit_data(Stream::Downstream, 4).named("lim"),
        )
        .await
        .expect("add lim");
    assert_eq!(lim.name, "lim");
    let names: Vec<String> = c
        .toxics(&name)
        .await
        .expect("toxics")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["timeout_upstream", "latency_downstream", "lim"],
        "upstream chain first, then downstream"
    );
    api_err(c.toxic(&name, "nope").await, 404, "toxic not found");

    let mut attrs = serde_json::Map::new();
    attrs.insert("latency".into(), 100.into());
    let upd = c
        .update_toxic(
            &name,
            "latency_downstream",
            &ToxicUpdate {
                attributes: Some(attrs),
                toxicity: None,
            },
        )
        .await
        .expect("update toxic");
    assert_eq!(
        serde_json::Value::Object(upd.attributes),
        serde_json::json!({"latency": 100, "jitter": 0})
    );
    assert_eq!(upd.toxicity, 1.0);
    c.remove_toxic(&name, "latency_downstream")
        .await
        .expect("remove");
    api_err(
        c.remove_toxic(&name, "latency_downstream").await,
        404,
        "toxic not found",
    );
    api_err(
        c.remove_toxic(&format!("{prefix}missing"), "x").await,
        404,
        "proxy not found",
    );

    let off = c
        .update_proxy(
            &name,
            &ProxyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await;
    let off = off.expect("disable");
    assert!(!off.enabled);
    assert_eq!(off.toxics.len(), 2, "toxics survive a disable");
    assert!(
        tokio::net::TcpStream::connect(&p.listen).await.is_err(),
        "a disabled proxy refuses connections"
    );

    c.reset().await.expect("reset");
    let after = c.proxy(&name).await.expect("get after reset");
    assert!(after.enabled);
    assert!(after.toxics.is_empty());
    echo_through(&after.listen).await;

    // populate is idempotent: an unchanged proxy is kept with its toxics.
    c.add_toxic(&name, &Toxic::slow_close(Stream::Downstream, 10))
        .await
        .expect("add slow_close");
    let cfg = [ProxyConfig::new(&name, &after.listen, &up)];
    let pop = c.populate(&cfg).await.expect("populate");
    assert_eq!(pop.len(), 1);
    assert_eq!(pop[0].listen, after.listen);
    assert_eq!(
        c.toxics(&name).await.expect("toxics").len(),
        1,
        "unchanged proxy kept"
    );
    assert!(c.populate(&[]).await.expect("populate nothing").is_empty());

    c.delete_proxy(&name).await.expect("delete");
    api_err(c.delete_proxy(&name).await, 404, "proxy not found");
    assert!(!c.proxies().await.expect("list").contains_key(&name));
}
