//! Property tests: random API call sequences keep the server consistent with a simple model,
//! and malformed bodies get a 4xx answer, never a crash. Case counts stay small for speed.

use std::collections::BTreeMap;

use bc_toxiproxy::client::{Client, Error, ProxyConfig, ProxyUpdate, Stream, Toxic, ToxicUpdate};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create(usize, bool),
    Delete(usize),
    Enable(usize, bool),
    AddToxic(usize, usize, usize, bool),
    RemoveToxic(usize, usize),
    UpdateToxic(usize, usize, u8),
    Reset,
}

const PROXIES: [&str; 3] = ["a", "b", "c"];
const TOXICS: [&str; 3] = ["t1", "t2", "t3"];
const TYPES: [&str; 4] = ["latency", "timeout", "bandwidth", "limit_data"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, any::<bool>()).prop_map(|(p, e)| Op::Create(p, e)),
        (0..3usize).prop_map(Op::Delete),
        (0..3usize, any::<bool>()).prop_map(|(p, e)| Op::Enable(p, e)),
        (0..3usize, 0..3usize, 0..4usize, any::<bool>())
            .prop_map(|(p, t, k, up)| Op::AddToxic(p, t, k, up)),
        (0..3usize, 0..3usize).prop_map(|(p, t)| Op::RemoveToxic(p, t)),
        (0..3usize, 0..3usize, 0..=100u8).prop_map(|(p, t, x)| Op::UpdateToxic(p, t, x)),
        Just(Op::Reset),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct MToxic {
    name: String,
    kind: String,
    stream: Stream,
    toxicity: f32,
}

#[derive(Debug, Clone, PartialEq)]
struct MProxy {
    enabled: bool,
    toxics: Vec<MToxic>,
}

fn status<T>(r: &Result<T, Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().map(|s| s.as_u16()).unwrap_or(0),
    }
}

async fn run_ops(ops: Vec<Op>) {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    let mut model: BTreeMap<String, MProxy> = BTreeMap::new();
    for op in ops {
        apply(&c, &mut model, &op, up.addr).await;
    }
    let real = c.proxies().await.expect("list");
    assert_eq!(
        real.keys().collect::<Vec<_>>(),
        model.keys().collect::<Vec<_>>()
    );
    for (name, m) in &model {
        let p = &real[name];
        assert_eq!(p.enabled, m.enabled, "{name} enabled");
        // Listing order: upstream chain first, then downstream, each in insertion order.
        let want: Vec<&MToxic> = m
            .toxics
            .iter()
            .filter(|t| t.stream == Stream::Upstream)
            .chain(m.toxics.iter().filter(|t| t.stream == Stream::Downstream))
            .collect();
        let got: Vec<MToxic> = p
            .toxics
            .iter()
            .map(|t| MToxic {
                name: t.name.clone(),
                kind: t.r#type.clone(),
                stream: t.stream,
                toxicity: t.toxicity,
            })
            .collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "{name} toxics");
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn apply(
    c: &Client,
    model: &mut BTreeMap<String, MProxy>,
    op: &Op,
    up: std::net::SocketAddr,
) {
    match *op {
        Op::Create(p, enabled) => {
            let name = PROXIES[p];
            let cfg = ProxyConfig {
                enabled: Some(enabled),
                ..ProxyConfig::new(name, "127.0.0.1:0", up.to_string())
            };
            let r = c.create_proxy(&cfg).await;
            if model.contains_key(name) {
                assert_eq!(status(&r), 409, "{op:?}");
            } else {
                assert!(r.is_ok(), "{op:?}: {r:?}");
                model.insert(
                    name.into(),
                    MProxy {
                        enabled,
                        toxics: vec![],
                    },
                );
            }
        }
        Op::Delete(p) => {
            let r = c.delete_proxy(PROXIES[p]).await;
            let want = if model.remove(PROXIES[p]).is_some() {
                200
            } else {
                404
            };
            assert_eq!(status(&r), want, "{op:?}");
        }
        Op::Enable(p, enabled) => {
            let r = c
                .update_proxy(
                    PROXIES[p],
                    &ProxyUpdate {
                        enabled: Some(enabled),
                        ..Default::default()
                    },
                )
                .await;
            match model.get_mut(PROXIES[p]) {
                Some(m) => {
                    assert!(
                        r.as_ref().is_ok_and(|x| x.enabled == enabled),
                        "{op:?}: {r:?}"
                    );
                    m.enabled = enabled;
                }
                None => assert_eq!(status(&r), 404),
            }
        }
        Op::AddToxic(p, t, k, upstream) => {
            let stream = if upstream {
                Stream::Upstream
            } else {
                Stream::Downstream
            };
            let toxic = Toxic::new(TYPES[k], stream, serde_json::json!({})).named(TOXICS[t]);
            let r = c.add_toxic(PROXIES[p], &toxic).await;
            match model.get_mut(PROXIES[p]) {
                None => assert_eq!(status(&r), 404, "{op:?}"),
                Some(m) if m.toxics.iter().any(|x| x.name == TOXICS[t]) => {
                    assert_eq!(status(&r), 409, "{op:?}")
                }
                Some(m) => {
                    assert!(r.is_ok(), "{op:?}: {r:?}");
                    m.toxics.push(MToxic {
                        name: TOXICS[t].into(),
                        kind: TYPES[k].into(),
                        stream,
                        toxicity: 1.0,
                    });
                }
            }
        }
        Op::RemoveToxic(p, t) => {
            let r = c.remove_toxic(PROXIES[p], TOXICS[t]).await;
            match model.get_mut(PROXIES[p]) {
                None => assert_eq!(status(&r), 404),
                Some(m) => {
                    let before = m.toxics.len();
                    m.toxics.retain(|x| x.name != TOXICS[t]);
                    assert_eq!(
                        status(&r),
                        if before != m.toxics.len() { 200 } else { 404 },
                        "{op:?}"
                    );
                }
            }
        }
        Op::UpdateToxic(p, t, x) => {
            let toxicity = f32::from(x) / 100.0;
            let upd = ToxicUpdate {
                toxicity: Some(toxicity),
                attributes: None,
            };
            let r = c.update_toxic(PROXIES[p], TOXICS[t], &upd).await;
            match model
                .get_mut(PROXIES[p])
                .and_then(|m| m.toxics.iter_mut().find(|x| x.name == TOXICS[t]))
            {
                None => assert_eq!(status(&r), 404, "{op:?}"),
                Some(m) => {
                    assert!(r.is_ok(), "{op:?}: {r:?}");
                    m.toxicity = toxicity;
                }
            }
        }
        Op::Reset => {
            c.reset().await.expect("reset");
            for m in model.values_mut() {
                m.enabled = true;
                m.toxics.clear();
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn api_sequences_match_the_model(ops in proptest::collection::vec(op(), 1..24)) {
        runtime().block_on(run_ops(ops));
    }

    #[test]
    fn malformed_bodies_get_a_4xx(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            "\\{[a-z\":,0-9\\[\\]{} ]{0,40}",
            Just(r#"{"type":"latency","attributes":[]}"#.to_string()),
            Just(r#"{"type":"latency","attributes":{"latency":-1e99}}"#.to_string()),
            Just(r#"{"name":5}"#.to_string()),
            Just(r#"[{"name":"x"}]"#.to_string()),
        ],
        target in 0..5usize,
    ) {
        runtime().block_on(async move {
            let up = crate::common::echo().await;
            let (s, c) = crate::common::server().await;
            crate::common::proxy_to(&c, "p", up.addr).await;
            c.add_toxic("p", &Toxic::latency(Stream::Downstream, 1, 0).named("t")).await.expect("toxic");
            let (method, path) = [
                (reqwest::Method::POST, "/proxies"),
                (reqwest::Method::POST, "/populate"),
                (reqwest::Method::POST, "/proxies/p"),
                (reqwest::Method::POST, "/proxies/p/toxics"),
                (reqwest::Method::PATCH, "/proxies/p/toxics/t"),
            ][target].clone();
            let res = reqwest::Client::new()
                .request(method.clone(), format!("{}{}", s.url(), path))
                .body(body.clone())
                .send()
                .await
                .expect("answer");
            let code = res.status().as_u16();
            // Valid JSON can legitimately succeed (e.g. `{}` on a PATCH); anything else is a 4xx.
            let parses = serde_json::from_str::<serde_json::Value>(&body).is_ok();
            assert!((400..500).contains(&code) || (parses && code < 300), "{method} {path} {body:?} -> {code}");
            assert!(c.version().await.is_ok(), "server still answers");
        });
    }
}
