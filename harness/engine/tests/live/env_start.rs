//! The local environment starts 12 instances behind 12 proxies, feeds their events, writes the
//! connection file, resets, and leaves no process behind (shutdown, drop, panic).

use crate::env_support;

use bc_engine::env::{InstanceId, InstanceState, RuntimeKind};
use bc_protocol::{EventKind, Message, Role, ServerKind};
use env_support::*;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_twelve_instances_behind_proxies_and_resets() {
    let mut env = start(true).await;
    let mut events = env.take_events().expect("events");
    assert!(env.take_events().is_none(), "events can be taken once");
    let ids = env.instances();
    assert_eq!(ids.len(), 12);
    assert_eq!(env.runtime().kind(), RuntimeKind::Local);

    // Every instance answers, in its start role, and sits behind its own proxy.
    let mut proxy_addrs = HashSet::new();
    for id in &ids {
        let h = env.health(id).await.expect("health");
        assert_eq!(
            (h.server, h.site.as_str(), h.role),
            (id.server, id.site.as_str(), id.role)
        );
        assert_eq!(h.active, id.role == Role::Primary, "{id} start role");
        let st = env.instance_status(id).unwrap();
        assert_eq!(st.state, InstanceState::Running);
        assert_eq!(st.incarnation, 1);
        let p = env.proxy_address(id).unwrap();
        assert_ne!(
            p, st.addrs.listen,
            "the desktop must dial the proxy, not the mock"
        );
        assert!(proxy_addrs.insert(p), "proxy addresses are distinct");
    }

    // The connection file has proxy addresses only.
    let path = env.write_connection_file("agent1001").unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["username"], "agent1001");
    assert_eq!(v["password"], "pass1001");
    assert_eq!(v["agent_id"], "1001");
    assert_eq!(v["dn"], "7001");
    assert_eq!(v["version"], 1);
    for id in &ids {
        let got = &v["sites"][&id.site][id.server.as_str()][id.role.as_str()];
        assert_eq!(
            got,
            &serde_json::json!(env.proxy_address(id).unwrap().to_string()),
            "{id}"
        );
    }
    assert!(env.write_connection_file("nobody").is_err());

    // A client through the proxy reaches the CS Proxy and the feed reports it.
    let a_cs = InstanceId::new("A", ServerKind::ConfigServer, Role::Primary);
    let mut c = Client::connect(env.proxy_address(&a_cs).unwrap())
        .await
        .unwrap();
    match c.register(Some(("agent1001", "pass1001"))).await {
        Seen::Msg(Message::EventClientRegistered { site, .. }) => assert_eq!(site, "A"),
        other => panic!("unexpected {other:?}"),
    }
    let ev = wait_event(&mut events, "client_registered on A cs primary", |e| {
        e.site == "A"
            && e.server == ServerKind::ConfigServer
            && e.role == Role::Primary
            && matches!(&e.kind, EventKind::ClientRegistered { user_name: Some(u), .. } if u == "agent1001")
    })
    .await;
    assert!(ev.ts_us > 0);

    // Reset closes the connection and keeps everything in its start role.
    let took = env.reset().await.expect("reset");
    assert!(matches!(c.recv(WAIT).await, Seen::Closed | Seen::Reset));
    for id in &ids {
        assert_eq!(
            env.health(id).await.unwrap().active,
            id.role == Role::Primary
        );
    }
    eprintln!("start {:?}, reset {took:?}", env.start_duration());

    let pids: Vec<u32> = ids
        .iter()
        .filter_map(|id| env.instance_status(id).unwrap().pid)
        .collect();
    assert_eq!(pids.len(), 12);
    env.shutdown().await.expect("shutdown");
    for p in pids {
        assert!(!alive(p), "pid {p} survived shutdown");
    }
}

// Single-threaded runtime on purpose: the environment must work there too.
#[tokio::test]
async fn without_stat_server_there_are_eight_instances_and_no_stat_entry() {
    let env = start(false).await;
    assert_eq!(env.instances().len(), 8);
    assert!(env
        .instances()
        .iter()
        .all(|i| i.server != ServerKind::StatServer));
    let file = env.connection_file("agent1002").unwrap();
    for site in ["A", "B"] {
        let servers: Vec<&String> = file.sites[site].keys().collect();
        assert_eq!(servers, ["config_server", "sip_server"]);
    }
    assert_eq!(file.dn, "7002");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_and_panic_leave_no_process() {
    // Plain drop.
    let env = start(false).await;
    let pids: Vec<u32> = env
        .instances()
        .iter()
        .filter_map(|id| env.instance_status(id).unwrap().pid)
        .collect();
    assert_eq!(pids.len(), 8);
    assert!(pids.iter().all(|p| alive(*p)));
    // The fault proxy: its API and a proxy port answer now, and must not after the drop.
    let api: std::net::SocketAddr = env
        .proxy_api_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = env.proxy_address(&env.instances()[0]).unwrap();
    assert!(tokio::net::TcpStream::connect(api).await.is_ok());
    drop(env);
    for p in &pids {
        assert!(!alive(*p), "pid {p} survived drop");
    }
    assert!(
        tokio::net::TcpStream::connect(api).await.is_err(),
        "bc-toxiproxy survived drop"
    );
    assert!(tokio::net::TcpStream::connect(proxy).await.is_err());

    // A panicking task that owns an environment.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let env = start(false).await;
        let pids: Vec<u32> = env
            .instances()
            .iter()
            .filter_map(|id| env.instance_status(id).unwrap().pid)
            .collect();
        let _ = tx.send(pids);
        panic!("deliberate panic with a live environment");
    });
    assert!(task.await.is_err(), "the task panicked");
    let pids = rx.await.unwrap();
    assert_eq!(pids.len(), 8);
    for p in &pids {
        assert!(!alive(*p), "pid {p} survived the panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_follows_a_restarted_instance_from_seq_zero() {
    let mut env = start(false).await;
    let mut events = env.take_events().unwrap();
    let id = InstanceId::new("B", ServerKind::SipServer, Role::Backup);
    // First incarnation: its Started event (seq 0).
    wait_event(&mut events, "started of B sip backup", |e| {
        e.site == "B" && e.server == ServerKind::SipServer && e.role == Role::Backup && e.seq == 0
    })
    .await;
    env.runtime().restart(&id).await.expect("restart");
    assert_eq!(env.instance_status(&id).unwrap().incarnation, 2);
    // The new process numbers from 0 again and the feed follows it.
    let ev = wait_event(&mut events, "started of the new incarnation", |e| {
        e.site == "B"
            && e.server == ServerKind::SipServer
            && e.role == Role::Backup
            && matches!(e.kind, EventKind::Started { .. })
    })
    .await;
    assert_eq!(ev.seq, 0);
}
