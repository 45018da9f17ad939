//! Link faults through the real fault proxy: refuse, black hole (caught by the server keep-alive),
//! reset, latency, data limit, slicer, bandwidth and slow close, flapping; each observed and healed.

use crate::env_support;

use bc_engine::env::InstanceId;
use bc_engine::fault::{Direction, Fault, Faults, LinkFault, LinkSelector};
use bc_protocol::{DisconnectHow, EventKind, Message, Role, ServerKind};
use bc_toxiproxy::client::Client as Toxi;
use env_support::*;
use std::time::{Duration, Instant};

fn links(site: &str, server: Option<ServerKind>, role: Option<Role>) -> LinkSelector {
    LinkSelector {
        site: site.into(),
        server,
        role,
        group: None,
    }
}

fn link(site: &str, server: ServerKind, role: Role, fault: LinkFault) -> Fault {
    Fault::Link {
        links: links(site, Some(server), Some(role)),
        fault,
    }
}

fn registered(s: &Seen) -> bool {
    matches!(s, Seen::Msg(Message::EventClientRegistered { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_black_hole_and_reset() {
    let mut env = start(false).await;
    let mut events = env.take_events().unwrap();
    let sip = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    let addr = env.proxy_address(&sip).unwrap();

    // Refuse: the live connection is closed and new ones are refused; other links are untouched.
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));
    let mut g = env
        .inject(&link(
            "A",
            ServerKind::SipServer,
            Role::Primary,
            LinkFault::Refuse,
        ))
        .await
        .unwrap();
    assert!(matches!(c.recv(WAIT).await, Seen::Closed | Seen::Reset));
    let e = tokio::net::TcpStream::connect(addr)
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    let other = env.proxy_address(&sip.partner()).unwrap();
    assert!(tokio::net::TcpStream::connect(other).await.is_ok());
    g.heal().await.unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));

    // Black hole: nothing flows either way; the server's keep-alive drops the silent client.
    drain(&mut events);
    let mut g = env
        .inject(&link(
            "A",
            ServerKind::SipServer,
            Role::Primary,
            LinkFault::BlackHole,
        ))
        .await
        .unwrap();
    let reference_id = c.next_ref();
    c.send(&Message::RequestRegisterAddress {
        reference_id,
        this_dn: "7001".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv(Duration::from_millis(500)).await,
        Seen::Silence
    ));
    let mut fresh = Client::connect(addr)
        .await
        .expect("a black hole still accepts");
    assert!(matches!(
        fresh.register(None).await,
        Seen::Silence | Seen::Closed
    ));
    wait_event(&mut events, "keep-alive timeout on A sip primary", |e| {
        e.site == "A"
            && e.server == ServerKind::SipServer
            && matches!(
                e.kind,
                EventKind::ClientDisconnected {
                    how: DisconnectHow::Timeout
                }
            )
    })
    .await;
    g.heal().await.unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));

    // Reset: live and new connections are torn down with RST.
    let mut g = env
        .inject(&link(
            "A",
            ServerKind::SipServer,
            Role::Primary,
            LinkFault::Reset,
        ))
        .await
        .unwrap();
    assert!(
        matches!(c.recv(WAIT).await, Seen::Reset),
        "live connection reset"
    );
    // A new connection is reset too, possibly before connect() even returns.
    match Client::connect(addr).await {
        Ok(mut c) => assert!(matches!(c.register(None).await, Seen::Reset | Seen::Closed)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
    g.heal().await.unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn latency_limit_slicer_bandwidth_slow_close() {
    let env = start(false).await;
    let toxi = Toxi::new(&env.proxy_api_url()).unwrap();
    let cs = InstanceId::new("B", ServerKind::ConfigServer, Role::Primary);
    let addr = env.proxy_address(&cs).unwrap();
    let creds = Some(("agent1002", "pass1002"));

    // Latency on both directions: one request/answer round trip takes at least twice the delay.
    let mut g = env
        .inject(&link(
            "B",
            ServerKind::ConfigServer,
            Role::Primary,
            LinkFault::Latency {
                ms: 150,
                jitter_ms: 0,
            },
        ))
        .await
        .unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    let t = Instant::now();
    assert!(registered(&c.register(creds).await));
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    g.heal().await.unwrap();
    assert!(toxi
        .proxy(&cs.proxy_name())
        .await
        .unwrap()
        .toxics
        .is_empty());

    // Data limit: the connection is closed after a few bytes, mid-answer.
    let mut g = env
        .inject(&link(
            "B",
            ServerKind::ConfigServer,
            Role::Primary,
            LinkFault::LimitData { bytes: 20 },
        ))
        .await
        .unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(matches!(
        c.register(creds).await,
        Seen::Closed | Seen::Reset
    ));
    g.heal().await.unwrap();

    // Slicer: answers arrive in pieces but intact.
    let mut g = env
        .inject(&link(
            "B",
            ServerKind::ConfigServer,
            Role::Primary,
            LinkFault::Slicer {
                average_size: 8,
                size_variation: 4,
                delay_us: 200,
            },
        ))
        .await
        .unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(creds).await));
    g.heal().await.unwrap();

    // Bandwidth and slow close: confirmed on the proxy, traffic still flows, healed away.
    for fault in [
        LinkFault::Bandwidth { kb_per_s: 64 },
        LinkFault::SlowClose {
            delay: Duration::from_millis(100),
        },
    ] {
        let mut g = env
            .inject(&link(
                "B",
                ServerKind::ConfigServer,
                Role::Primary,
                fault.clone(),
            ))
            .await
            .unwrap();
        let state = toxi.proxy(&cs.proxy_name()).await.unwrap();
        assert_eq!(state.toxics.len(), 2, "{fault:?}: both directions");
        let mut c = Client::connect(addr).await.unwrap();
        assert!(registered(&c.register(creds).await), "{fault:?}");
        g.heal().await.unwrap();
        assert!(toxi
            .proxy(&cs.proxy_name())
            .await
            .unwrap()
            .toxics
            .is_empty());
    }

    // Invalid parameters are refused with a reason.
    let e = env
        .inject(&link(
            "B",
            ServerKind::ConfigServer,
            Role::Primary,
            LinkFault::Bandwidth { kb_per_s: 0 },
        ))
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("at least 1 KB/s"), "{e}");
    let e = env
        .inject(&Fault::Link {
            links: links("A", Some(ServerKind::StatServer), None),
            fault: LinkFault::Refuse,
        })
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("stat_server is off"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_covers_a_whole_site_and_flapping_is_bounded() {
    let env = start(true).await;
    let toxi = Toxi::new(&env.proxy_api_url()).unwrap();

    // Site-wide refuse: all six links of B, none of A.
    let mut g = env
        .inject(&Fault::Link {
            links: links("B", None, None),
            fault: LinkFault::Refuse,
        })
        .await
        .unwrap();
    assert_eq!(g.actions().len(), 6);
    for i in env.instances() {
        let p = toxi.proxy(&i.proxy_name()).await.unwrap();
        assert_eq!(p.enabled, i.site != "B", "{i}");
    }
    g.heal().await.unwrap();
    for i in env.instances() {
        assert!(toxi.proxy(&i.proxy_name()).await.unwrap().enabled, "{i}");
    }

    // Flap: down at once, up again within the period, and up for good at the end.
    let sip = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    let addr = env.proxy_address(&sip).unwrap();
    let period = Duration::from_millis(300);
    let mut g = env
        .inject(&Fault::Flap {
            links: links("A", Some(ServerKind::SipServer), Some(Role::Primary)),
            fault: LinkFault::Refuse,
            period,
            count: 2,
            aim: None,
        })
        .await
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "down at first"
    );
    let mut states = Vec::new();
    let t = Instant::now();
    while t.elapsed() < period * 3 {
        states.push(toxi.proxy(&sip.proxy_name()).await.unwrap().enabled);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flips = states.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(flips >= 3, "down-up-down-up expected, saw {states:?}");
    assert_eq!(states.last(), Some(&true), "up after the last cycle");
    g.heal().await.unwrap();
    assert!(toxi.proxy(&sip.proxy_name()).await.unwrap().enabled);

    // Heal while still flapping: the task stops and the link stays up.
    let mut g = env
        .inject(&Fault::Flap {
            links: links("A", Some(ServerKind::SipServer), Some(Role::Primary)),
            fault: LinkFault::Refuse,
            period: Duration::from_millis(100),
            count: 50,
            aim: None,
        })
        .await
        .unwrap();
    g.heal().await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(toxi.proxy(&sip.proxy_name()).await.unwrap().enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_partitions_cut_one_direction() {
    let mut env = start(false).await;
    let mut events = env.take_events().unwrap();
    let toxi = Toxi::new(&env.proxy_api_url()).unwrap();
    let sip = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    let addr = env.proxy_address(&sip).unwrap();
    let one_way = |cut| {
        link(
            "A",
            ServerKind::SipServer,
            Role::Primary,
            LinkFault::OneWay { direction: cut },
        )
    };
    let register_dn = |c: &mut Client| Message::RequestRegisterAddress {
        reference_id: c.next_ref(),
        this_dn: "7001".into(),
    };

    // to_desktop: the server hears the request, its answer is lost.
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));
    drain(&mut events);
    let mut g = env.inject(&one_way(Direction::ToDesktop)).await.unwrap();
    let state = toxi.proxy(&sip.proxy_name()).await.unwrap();
    let names: Vec<(&str, &str)> = state
        .toxics
        .iter()
        .map(|t| (t.stream.as_str(), t.r#type.as_str()))
        .collect();
    assert_eq!(names, [("downstream", "timeout")], "one stream only");
    let m = register_dn(&mut c);
    c.send(&m).await.unwrap();
    wait_event(&mut events, "DN registered through the cut", |e| {
        e.site == "A" && matches!(e.kind, EventKind::DnRegistered { .. })
    })
    .await;
    assert!(matches!(
        c.recv(Duration::from_millis(500)).await,
        Seen::Silence
    ));
    g.heal().await.unwrap();
    assert!(
        matches!(c.recv(WAIT).await, Seen::Closed | Seen::Reset),
        "the heal closes the connection the cut lost data on"
    );
    assert!(toxi
        .proxy(&sip.proxy_name())
        .await
        .unwrap()
        .toxics
        .is_empty());

    // to_server: the request is lost, the server's keep-alive drops the silent client and that
    // close reaches the client (while the client answered the server's Pings in vain).
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));
    drain(&mut events);
    let mut g = env.inject(&one_way(Direction::ToServer)).await.unwrap();
    let m = register_dn(&mut c);
    c.send(&m).await.unwrap();
    let t = Instant::now();
    assert!(matches!(c.recv(WAIT).await, Seen::Closed | Seen::Reset));
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "closed by the server's client timeout, not at once: {:?}",
        t.elapsed()
    );
    wait_event(&mut events, "keep-alive timeout behind the cut", |e| {
        e.site == "A"
            && matches!(
                e.kind,
                EventKind::ClientDisconnected {
                    how: DisconnectHow::Timeout
                }
            )
    })
    .await;
    g.heal().await.unwrap();
    let mut c = Client::connect(addr).await.unwrap();
    assert!(registered(&c.register(None).await));
}
