//! Property tests: arbitrary bytes, truncated lines and over-long lines fed to each server kind
//! (in-process instances on 127.0.0.1:0) never crash it and get EventError as specified.

use bc_mock::{start, Options, Running};
use bc_protocol::{encode_line, error_code, Message, Role, ServerKind, MAX_LINE_BYTES};
use proptest::prelude::*;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct World {
    rt: tokio::runtime::Runtime,
    servers: Vec<Running>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let servers = rt.block_on(async {
            let mut v = Vec::new();
            for kind in ServerKind::ALL {
                let mut o = Options::new(kind, "A", Role::Primary);
                o.config = Some(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../../fixtures/config/default.yaml"),
                );
                v.push(start(o).await.expect("start"));
            }
            v
        });
        World { rt, servers }
    })
}

const T: Duration = Duration::from_secs(5);

/// Sends `bytes`, then a Ping; reads until the Pong. Returns every message before it.
async fn feed_then_ping(addr: std::net::SocketAddr, bytes: &[u8], register: bool) -> Vec<Message> {
    let s = TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = s.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = String::new();
    if register {
        let reg = Message::RequestRegisterClient {
            reference_id: 1,
            client_name: "fuzz".into(),
            protocol_version: 1,
            user_name: Some("agent1001".into()),
            password: Some("pass1001".into()),
        };
        wr.write_all(encode_line(&reg).as_bytes()).await.unwrap();
        tokio::time::timeout(T, rd.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
    }
    wr.write_all(bytes).await.unwrap();
    wr.write_all(b"\n").await.unwrap();
    wr.write_all(encode_line(&Message::Ping { seq: 424242 }).as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        line.clear();
        let n = tokio::time::timeout(T, rd.read_line(&mut line))
            .await
            .expect("server answers in time")
            .expect("read");
        assert!(n > 0, "server closed a usable connection; saw {seen:?}");
        let m = bc_protocol::decode_line(&line).expect("server lines are valid messages");
        if m == (Message::Pong { seq: 424242 }) {
            return seen;
        }
        seen.push(m);
    }
}

fn samples() -> Vec<String> {
    use std::collections::BTreeMap;
    vec![
        encode_line(&Message::RequestRegisterClient {
            reference_id: 5,
            client_name: "desk".into(),
            protocol_version: 1,
            user_name: Some("agent1001".into()),
            password: Some("pass1001".into()),
        }),
        encode_line(&Message::RequestAgentLogin {
            reference_id: 6,
            this_dn: "7001".into(),
            agent_id: "1001".into(),
        }),
        encode_line(&Message::RequestReadObjects {
            reference_id: 7,
            object_type: bc_protocol::ObjectType::CfgPerson,
            filter: BTreeMap::new(),
        }),
        encode_line(&Message::RequestCloseStatistic {
            reference_id: 8,
            statistic_id: 3,
        }),
    ]
}

/// Random structurally valid requests over a small vocabulary, so they collide and hit real paths.
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
fn request() -> impl Strategy<Value = Message> {
    use bc_protocol::{Notification, NotificationMode, ObjectType, StatObject};
    let dn = prop_oneof![
        Just("7001".to_string()),
        Just("7002".to_string()),
        Just(String::new())
    ];
    let agent = prop_oneof![
        Just("1001".to_string()),
        Just("1002".to_string()),
        Just(String::new())
    ];
    let conn_id = prop_oneof![Just("AP00000000000001".to_string()), Just("x".to_string())];
    let rid = 1i64..1000;
    prop_oneof![
        (rid.clone(), any::<u32>().prop_map(|v| v % 3)).prop_map(|(r, v)| {
            Message::RequestRegisterClient {
                reference_id: r,
                client_name: "p".into(),
                protocol_version: v,
                user_name: Some("agent1001".into()),
                password: Some("pass1001".into()),
            }
        }),
        (rid.clone(), dn.clone()).prop_map(|(r, d)| Message::RequestRegisterAddress {
            reference_id: r,
            this_dn: d
        }),
        (rid.clone(), dn.clone()).prop_map(|(r, d)| Message::RequestUnregisterAddress {
            reference_id: r,
            this_dn: d
        }),
        (rid.clone(), dn.clone(), agent.clone()).prop_map(|(r, d, a)| Message::RequestAgentLogin {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (rid.clone(), dn.clone(), agent.clone()).prop_map(|(r, d, a)| Message::RequestAgentReady {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (rid.clone(), dn.clone(), agent.clone()).prop_map(|(r, d, a)| {
            Message::RequestAgentNotReady {
                reference_id: r,
                this_dn: d,
                agent_id: a,
            }
        }),
        (rid.clone(), dn.clone(), agent).prop_map(|(r, d, a)| Message::RequestAgentLogout {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (rid.clone(), dn.clone(), conn_id.clone()).prop_map(|(r, d, c)| {
            Message::RequestAnswerCall {
                reference_id: r,
                this_dn: d,
                conn_id: c,
            }
        }),
        (rid.clone(), dn.clone(), conn_id).prop_map(|(r, d, c)| Message::RequestReleaseCall {
            reference_id: r,
            this_dn: d,
            conn_id: c
        }),
        (rid.clone(), dn.clone(), dn).prop_map(|(r, d, o)| Message::RequestMakeCall {
            reference_id: r,
            this_dn: d,
            other_dn: o
        }),
        (rid.clone(), 0usize..4).prop_map(|(r, t)| Message::RequestReadObjects {
            reference_id: r,
            object_type: [
                ObjectType::CfgTenant,
                ObjectType::CfgAgentGroup,
                ObjectType::CfgPerson,
                ObjectType::CfgDN
            ][t],
            filter: Default::default(),
        }),
        (rid.clone(), 1i64..4, any::<bool>(), 0u32..3).prop_map(|(r, id, periodical, f)| {
            Message::RequestOpenStatistic {
                reference_id: r,
                statistic_id: id,
                object: StatObject {
                    object_type: "Agent".into(),
                    id: "1001".into(),
                },
                statistic_type: "CurrentAgentState".into(),
                notification: Notification {
                    mode: if periodical {
                        NotificationMode::Periodical
                    } else {
                        NotificationMode::Changes
                    },
                    frequency: Some(f * 3600),
                },
            }
        }),
        (rid, 1i64..4).prop_map(|(r, id)| Message::RequestCloseStatistic {
            reference_id: r,
            statistic_id: id
        }),
        // Events a client must not send.
        Just(Message::EventObjectsSent { reference_id: 5 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_break_a_server(kind in 0usize..3, bytes in proptest::collection::vec(any::<u8>(), 0..2048), register in any::<bool>()) {
        let w = world();
        let addr = w.servers[kind].listen;
        // Keep the junk below the line limit; over-long lines have their own property.
        let seen = w.rt.block_on(feed_then_ping(addr, &bytes, register));
        for m in &seen {
            // Junk may happen to be a valid request; anything else must be an EventError.
            if let Message::EventError { error_code, .. } = m {
                prop_assert!([400, 401, 403, 404, 409, 412, 422, 426].contains(error_code), "{m:?}");
            }
        }
        let lines = bytes.split(|&b| b == b'\n').filter(|l| !l.iter().all(|b| b.is_ascii_whitespace())).count();
        prop_assert!(seen.len() >= lines.min(1), "no answer to junk: {seen:?}");
    }

    #[test]
    fn truncated_lines_get_event_error(kind in 0usize..3, which in 0usize..4, cut in 1usize..200) {
        let w = world();
        let line = samples()[which].trim_end().to_string();
        let cut = cut.min(line.len() - 1);
        let seen = w.rt.block_on(feed_then_ping(w.servers[kind].listen, &line.as_bytes()[..cut], true));
        prop_assert_eq!(seen.len(), 1);
        let Message::EventError { error_code, .. } = &seen[0] else { panic!("{seen:?}") };
        prop_assert!([error_code::MALFORMED, error_code::INVALID_ATTRIBUTE].contains(error_code), "{seen:?}");
    }

    #[test]
    fn over_long_lines_get_413_and_close(kind in 0usize..3, extra in 1usize..70_000, newline in any::<bool>()) {
        let w = world();
        let addr = w.servers[kind].listen;
        let (first, closed) = w.rt.block_on(async move {
            let s = TcpStream::connect(addr).await.unwrap();
            let (rd, mut wr) = s.into_split();
            let mut rd = BufReader::new(rd);
            let mut body = vec![b'x'; MAX_LINE_BYTES + extra];
            if newline { body.push(b'\n'); }
            // The server may close while we still write: ignore write errors.
            let _ = wr.write_all(&body).await;
            let mut line = String::new();
            tokio::time::timeout(T, rd.read_line(&mut line)).await.unwrap().unwrap();
            let first = bc_protocol::decode_line(&line).unwrap();
            line.clear();
            let closed = matches!(tokio::time::timeout(T, rd.read_line(&mut line)).await, Ok(Ok(0)) | Ok(Err(_)));
            (first, closed)
        });
        prop_assert!(matches!(first, Message::EventError { error_code: 413, .. }), "{first:?}");
        prop_assert!(closed);
        // The server is still alive for others.
        let seen = w.rt.block_on(feed_then_ping(addr, b"", false));
        prop_assert!(seen.is_empty());
    }

    #[test]
    fn random_requests_are_answered_with_their_reference_id(kind in 0usize..3, reqs in proptest::collection::vec(request(), 1..16)) {
        let w = world();
        let addr = w.servers[kind].listen;
        let mut bytes = Vec::new();
        // Unique ReferenceIDs, so every answer can be matched to its request.
        let reqs: Vec<Message> = reqs.into_iter().enumerate().map(|(i, m)| {
            let mut v = serde_json::to_value(&m).unwrap();
            v["ReferenceID"] = serde_json::json!(i as i64 + 1);
            serde_json::from_value(v).unwrap()
        }).collect();
        for m in &reqs {
            bytes.extend_from_slice(encode_line(m).as_bytes());
        }
        let seen = w.rt.block_on(feed_then_ping(addr, &bytes, false));
        for (i, _) in reqs.iter().enumerate() {
            let rid = i as i64 + 1;
            prop_assert!(seen.iter().any(|m| m.reference_id() == Some(rid)), "request {rid} unanswered: {seen:?}");
        }
        for m in &seen {
            if let Some(r) = m.reference_id() {
                prop_assert!(r >= 1 && r <= reqs.len() as i64, "{m:?}");
            }
        }
    }
}
