//! Property tests: every message round-trips through the line codec, `name()` matches the wire
//! `message` attribute, and every observation event kind round-trips inside its envelope.

use bc_protocol::*;
use proptest::prelude::*;
use serde_json::{json, Value};

fn s() -> impl Strategy<Value = String> {
    // Any unicode, including quotes, backslashes, control characters and newlines (escaped by JSON).
    ".{0,10}"
}

fn opt_s() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(s())
}

fn value() -> impl Strategy<Value = Value> {
    // Integers, strings, bools and null: floats are excluded because JSON cannot round-trip every f64 bit pattern.
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        s().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn annex() -> impl Strategy<Value = Annex> {
    proptest::collection::btree_map(s(), proptest::collection::btree_map(s(), s(), 0..3), 0..3)
}

fn object_type() -> impl Strategy<Value = ObjectType> {
    prop_oneof![
        Just(ObjectType::CfgTenant),
        Just(ObjectType::CfgAgentGroup),
        Just(ObjectType::CfgPerson),
        Just(ObjectType::CfgDN)
    ]
}

fn agent_state() -> impl Strategy<Value = AgentState> {
    prop_oneof![
        Just(AgentState::LoggedOut),
        Just(AgentState::NotReady),
        Just(AgentState::Ready)
    ]
}

fn cfg_object() -> impl Strategy<Value = CfgObject> {
    (
        any::<i64>(),
        s(),
        annex(),
        (
            opt_s(),
            opt_s(),
            proptest::option::of(proptest::collection::vec(s(), 0..3)),
        ),
        (
            proptest::option::of(any::<i64>()),
            proptest::option::of(proptest::collection::vec(any::<i64>(), 0..4)),
            opt_s(),
            opt_s(),
        ),
    )
        .prop_map(
            |(dbid, name, annex, (u, e, l), (t, g, dn, number))| CfgObject {
                dbid,
                name,
                annex,
                user_name: u,
                employee_id: e,
                agent_logins: l,
                tenant_dbid: t,
                agent_group_dbids: g,
                dn,
                number,
            },
        )
}

fn dn_agent() -> impl Strategy<Value = (i64, String, String)> {
    (any::<i64>(), s(), s())
}

#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
fn message() -> impl Strategy<Value = Message> {
    use Message::*;
    let rid = any::<i64>;
    prop_oneof![
        (rid(), s(), any::<u32>(), opt_s(), opt_s()).prop_map(|(r, c, v, u, p)| {
            RequestRegisterClient {
                reference_id: r,
                client_name: c,
                protocol_version: v,
                user_name: u,
                password: p,
            }
        }),
        (rid(), s(), s(), any::<bool>(), any::<u32>()).prop_map(|(r, n, site, b, v)| {
            EventClientRegistered {
                reference_id: r,
                server_name: n,
                site,
                role: if b { Role::Primary } else { Role::Backup },
                protocol_version: v,
            }
        }),
        (rid(), any::<i64>(), s()).prop_map(|(r, c, m)| Message::error(r, c, m)),
        any::<i64>().prop_map(|seq| Ping { seq }),
        any::<i64>().prop_map(|seq| Pong { seq }),
        opt_s().prop_map(|reason| EventLinkDisconnected { reason }),
        (
            rid(),
            object_type(),
            proptest::collection::btree_map(s(), value(), 0..3)
        )
            .prop_map(|(r, t, f)| RequestReadObjects {
                reference_id: r,
                object_type: t,
                filter: f
            }),
        (
            rid(),
            object_type(),
            proptest::collection::vec(cfg_object(), 0..3)
        )
            .prop_map(|(r, t, o)| {
                EventObjectsRead {
                    reference_id: r,
                    object_type: t,
                    objects: o,
                }
            }),
        rid().prop_map(|r| EventObjectsSent { reference_id: r }),
        (object_type(), cfg_object()).prop_map(|(t, o)| EventObjectUpdated {
            object_type: t,
            object: o
        }),
        (rid(), s()).prop_map(|(r, d)| RequestRegisterAddress {
            reference_id: r,
            this_dn: d
        }),
        (rid(), s(), opt_s(), proptest::option::of(agent_state())).prop_map(|(r, d, a, st)| {
            EventRegistered {
                reference_id: r,
                this_dn: d,
                agent_id: a,
                agent_state: st,
            }
        }),
        (rid(), s()).prop_map(|(r, d)| RequestUnregisterAddress {
            reference_id: r,
            this_dn: d
        }),
        (rid(), s()).prop_map(|(r, d)| EventUnregistered {
            reference_id: r,
            this_dn: d
        }),
        dn_agent().prop_map(|(r, d, a)| RequestAgentLogin {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (dn_agent(), agent_state()).prop_map(|((r, d, a), st)| EventAgentLogin {
            reference_id: r,
            this_dn: d,
            agent_id: a,
            agent_state: st
        }),
        dn_agent().prop_map(|(r, d, a)| RequestAgentReady {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        dn_agent().prop_map(|(r, d, a)| EventAgentReady {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        dn_agent().prop_map(|(r, d, a)| RequestAgentNotReady {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        dn_agent().prop_map(|(r, d, a)| EventAgentNotReady {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        dn_agent().prop_map(|(r, d, a)| RequestAgentLogout {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (proptest::option::of(rid()), s(), s()).prop_map(|(r, d, a)| EventAgentLogout {
            reference_id: r,
            this_dn: d,
            agent_id: a
        }),
        (s(), s(), s(), s()).prop_map(|(d, c, o, t)| EventRinging {
            this_dn: d,
            conn_id: c,
            other_dn: o,
            call_type: t
        }),
        dn_agent().prop_map(|(r, d, c)| RequestAnswerCall {
            reference_id: r,
            this_dn: d,
            conn_id: c
        }),
        (proptest::option::of(rid()), s(), s(), opt_s()).prop_map(|(r, d, c, o)| {
            EventEstablished {
                reference_id: r,
                this_dn: d,
                conn_id: c,
                other_dn: o,
            }
        }),
        dn_agent().prop_map(|(r, d, c)| RequestReleaseCall {
            reference_id: r,
            this_dn: d,
            conn_id: c
        }),
        (proptest::option::of(rid()), s(), s()).prop_map(|(r, d, c)| EventReleased {
            reference_id: r,
            this_dn: d,
            conn_id: c
        }),
        dn_agent().prop_map(|(r, d, o)| RequestMakeCall {
            reference_id: r,
            this_dn: d,
            other_dn: o
        }),
        (dn_agent(), s()).prop_map(|((r, d, c), o)| EventDialing {
            reference_id: r,
            this_dn: d,
            conn_id: c,
            other_dn: o
        }),
        (
            rid(),
            any::<i64>(),
            s(),
            s(),
            s(),
            any::<bool>(),
            proptest::option::of(any::<u32>())
        )
            .prop_map(
                |(r, id, ot, oid, st, periodical, frequency)| RequestOpenStatistic {
                    reference_id: r,
                    statistic_id: id,
                    object: StatObject {
                        object_type: ot,
                        id: oid
                    },
                    statistic_type: st,
                    notification: Notification {
                        mode: if periodical {
                            NotificationMode::Periodical
                        } else {
                            NotificationMode::Changes
                        },
                        frequency
                    }
                }
            ),
        (rid(), any::<i64>()).prop_map(|(r, id)| EventStatisticOpened {
            reference_id: r,
            statistic_id: id
        }),
        (any::<i64>(), value()).prop_map(|(id, v)| EventInfo {
            statistic_id: id,
            value: v
        }),
        (rid(), any::<i64>()).prop_map(|(r, id)| RequestCloseStatistic {
            reference_id: r,
            statistic_id: id
        }),
        (rid(), any::<i64>()).prop_map(|(r, id)| EventStatisticClosed {
            reference_id: r,
            statistic_id: id
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips(m in message()) {
        let line = encode_line(&m);
        prop_assert!(line.ends_with('\n'));
        // One line: JSON escapes every newline inside strings.
        prop_assert_eq!(line.matches('\n').count(), 1);
        let back = decode_line(&line);
        prop_assert_eq!(back.as_ref(), Ok(&m), "{}", line);
        let v: Value = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(v["message"].as_str(), Some(m.name()));
        prop_assert!(Message::NAMES.contains(&m.name()));
        // ReferenceID on the wire is what reference_id() says.
        prop_assert_eq!(v.get("ReferenceID").and_then(Value::as_i64), m.reference_id());
    }
}

#[test]
fn the_strategy_covers_every_message_name() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = message();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..5000 {
        seen.insert(strategy.new_tree(&mut runner).unwrap().current().name());
    }
    let all: std::collections::BTreeSet<_> = Message::NAMES.iter().copied().collect();
    assert_eq!(seen, all);
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
fn every_observed_event_kind_round_trips_in_its_envelope() {
    let kinds = vec![
        EventKind::Started {
            listen: "127.0.0.1:1".into(),
            active: true,
        },
        EventKind::ClientConnected {
            peer: "127.0.0.1:2".into(),
        },
        EventKind::ClientDisconnected {
            how: DisconnectHow::Timeout,
        },
        EventKind::ClientRegistered {
            client_name: "d".into(),
            user_name: Some("u".into()),
        },
        EventKind::Request {
            message: "RequestAgentLogin".into(),
            reference_id: Some(3),
        },
        EventKind::ErrorSent {
            code: 503,
            message: "not primary".into(),
            reference_id: None,
        },
        EventKind::Ping {
            seq: 9,
            inbound: false,
        },
        EventKind::Pong {
            seq: 9,
            inbound: true,
        },
        EventKind::ObjectsRead {
            object_type: ObjectType::CfgPerson,
            count: 1,
        },
        EventKind::DnRegistered {
            dn: "7001".into(),
            agent_id: Some("1001".into()),
            agent_state: Some(AgentState::Ready),
        },
        EventKind::DnUnregistered { dn: "7001".into() },
        EventKind::AgentLogin {
            dn: "7001".into(),
            agent_id: "1001".into(),
            state: AgentState::NotReady,
        },
        EventKind::AgentStateChanged {
            dn: "7001".into(),
            agent_id: "1001".into(),
            state: AgentState::Ready,
        },
        EventKind::AgentLogout {
            dn: "7001".into(),
            agent_id: "1001".into(),
            reason: "shutdown".into(),
        },
        EventKind::CallRinging {
            dn: "7001".into(),
            conn_id: "c".into(),
            other_dn: "5001".into(),
            call_type: "Inbound".into(),
        },
        EventKind::CallRedirected {
            dn: "7001".into(),
            to_site: "B".into(),
        },
        EventKind::CallAnswered {
            dn: "7001".into(),
            conn_id: "c".into(),
        },
        EventKind::CallReleased {
            dn: "7001".into(),
            conn_id: "c".into(),
        },
        EventKind::StatisticOpened {
            statistic_id: 1,
            statistic_type: "t".into(),
        },
        EventKind::StatisticClosed { statistic_id: 1 },
        EventKind::RoleChanged { active: false },
        EventKind::LoginRejection { enabled: true },
        EventKind::Overloaded {
            limit: "login_rate".into(),
            retry_after_ms: 1000,
            answer: "error".into(),
            user_name: Some("agent1001".into()),
        },
        EventKind::ConfigUpdated {
            object_type: ObjectType::CfgTenant,
            dbid: 1,
        },
        EventKind::ShuttingDown,
        EventKind::AgentMirrored {
            dn: "7001".into(),
            agent_id: None,
            state: None,
        },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let ev = ObservedEvent {
            seq: 100 + i as u64,
            ts_us: 1_700_000_000_000_000,
            server: ServerKind::SipServer,
            site: "A".into(),
            role: Role::Backup,
            group: (i % 2 == 1).then_some(2),
            conn: Some(4),
            kind,
        };
        let text = serde_json::to_string(&ev).unwrap();
        // The envelope's keys are never shadowed by the kind's (flattened) keys.
        assert_eq!(text.matches("\"seq\"").count(), 1, "{text}");
        let back: ObservedEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ev, "{text}");
    }
}
