//! Process and HA faults on real bc-mock processes: kill, stop, freeze/thaw, sites, HA; confirmed,
//! observed and healed. What no fault requested (an outside kill, a silent proxy) is reported.

use crate::env_support;

use bc_engine::env::infra::DETECTION_BOUND;
use bc_engine::env::{Component, DownCause, InfraEvent, InfraWatch, InstanceId, InstanceState};
use bc_engine::fault::{Fault, FaultError, Faults, LinkFault, LinkSelector, ServerSelector};
use bc_engine::observe::InfraCause;
use bc_protocol::{EventKind, Message, Role, ServerKind};
use env_support::*;
use std::time::Duration;

fn sel(site: &str, server: ServerKind, role: Option<Role>) -> ServerSelector {
    ServerSelector {
        site: site.into(),
        server,
        role,
        group: None,
    }
}

fn id(site: &str, server: ServerKind, role: Role) -> InstanceId {
    InstanceId::new(site, server, role)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn kill_stop_freeze_and_thaw_servers() {
    let mut env = start(false).await;
    let mut events = env.take_events().unwrap();
    let sip_a = id("A", ServerKind::SipServer, Role::Primary);

    // Kill: a connected client loses its connection; a new one through the proxy is closed at once.
    let mut c = Client::connect(env.proxy_address(&sip_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    let before = bc_engine::env::now_us();
    let mut g = env
        .inject(&Fault::KillServer(sel(
            "A",
            ServerKind::SipServer,
            Some(Role::Primary),
        )))
        .await
        .expect("kill");
    assert!(g.applied_at_us() >= before && g.is_healable());
    assert!(
        g.actions()[0].starts_with("SIGKILL A.sip_server.primary"),
        "{:?}",
        g.actions()
    );
    assert!(matches!(c.recv(WAIT).await, Seen::Closed | Seen::Reset));
    assert_eq!(
        env.instance_status(&sip_a).unwrap().state,
        InstanceState::Down
    );
    assert!(env.health(&sip_a).await.is_err());
    let mut c2 = Client::connect(env.proxy_address(&sip_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c2.register(None).await,
        Seen::Closed | Seen::Reset
    ));
    // Heal: restarted (new incarnation), active again, reachable through the proxy.
    let r = g.heal().await.expect("heal");
    assert!(r.healed_at_us >= g.applied_at_us());
    assert_eq!(env.instance_status(&sip_a).unwrap().incarnation, 2);
    assert!(env.health(&sip_a).await.unwrap().active);
    let mut c3 = Client::connect(env.proxy_address(&sip_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c3.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    assert!(
        g.heal().await.unwrap().actions == r.actions,
        "a second heal changes nothing"
    );

    // Stop (graceful): a registered CS client gets EventLinkDisconnected; the feed sees shutting_down.
    let cs_b = id("B", ServerKind::ConfigServer, Role::Primary);
    let mut c = Client::connect(env.proxy_address(&cs_b).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(Some(("agent1003", "pass1003"))).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    drain(&mut events);
    let mut g = env
        .inject(&Fault::StopServer(sel(
            "B",
            ServerKind::ConfigServer,
            Some(Role::Primary),
        )))
        .await
        .expect("stop");
    assert!(
        g.actions()[0].contains("exited gracefully"),
        "{:?}",
        g.actions()
    );
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Msg(Message::EventLinkDisconnected { .. })
    ));
    wait_event(&mut events, "shutting_down", |e| {
        e.site == "B"
            && e.server == ServerKind::ConfigServer
            && matches!(e.kind, EventKind::ShuttingDown)
    })
    .await;
    g.heal().await.expect("heal stop");
    assert!(env.health(&cs_b).await.unwrap().active);

    // Freeze: the connection stays open and nothing answers; thaw lets the answer through.
    let sip_b = id("B", ServerKind::SipServer, Role::Primary);
    let mut c = Client::connect(env.proxy_address(&sip_b).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    let g = env
        .inject(&Fault::FreezeServer(sel(
            "B",
            ServerKind::SipServer,
            Some(Role::Primary),
        )))
        .await
        .expect("freeze");
    assert_eq!(
        env.instance_status(&sip_b).unwrap().state,
        InstanceState::Frozen
    );
    let pid = env.instance_status(&sip_b).unwrap().pid.unwrap();
    assert_eq!(bc_engine::env::process::proc_state(pid), Some('T'));
    let reference_id = c.next_ref();
    c.send(&Message::RequestRegisterAddress {
        reference_id,
        this_dn: "7003".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv(Duration::from_millis(400)).await,
        Seen::Silence
    ));
    let t = env
        .inject(&Fault::ThawServer(sel(
            "B",
            ServerKind::SipServer,
            Some(Role::Primary),
        )))
        .await
        .expect("thaw");
    assert!(!t.is_healable());
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Msg(Message::EventRegistered { .. })
    ));
    assert_eq!(
        env.instance_status(&sip_b).unwrap().state,
        InstanceState::Running
    );
    // The freeze guard is still registered; heal_all thaws nothing more and empties the registry.
    assert_eq!(env.pending_faults(), 1);
    env.heal_all().await.expect("heal_all");
    assert_eq!(env.pending_faults(), 0);
    drop(g);

    // Freezing a down instance is refused with a reason.
    env.inject(&Fault::KillServer(sel("A", ServerKind::ConfigServer, None)))
        .await
        .expect("kill pair");
    let e = env
        .inject(&Fault::FreezeServer(sel(
            "A",
            ServerKind::ConfigServer,
            Some(Role::Backup),
        )))
        .await
        .expect_err("freeze of a down instance fails");
    assert!(matches!(e, FaultError::Invalid { .. }), "{e}");
    env.heal_all().await.expect("heal_all revives");
    for r in [Role::Primary, Role::Backup] {
        let h = env
            .health(&id("A", ServerKind::ConfigServer, r))
            .await
            .unwrap();
        assert_eq!(h.active, r == Role::Primary);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_kill_stop_and_restore() {
    let env = start(true).await;
    let site_b: Vec<InstanceId> = env
        .instances()
        .into_iter()
        .filter(|i| i.site == "B")
        .collect();
    assert_eq!(site_b.len(), 6);

    let g = env
        .inject(&Fault::KillSite { site: "B".into() })
        .await
        .expect("kill site");
    assert_eq!(g.actions().len(), 6);
    for i in &site_b {
        assert_eq!(env.instance_status(i).unwrap().state, InstanceState::Down);
    }
    // Site A is untouched.
    assert!(
        env.health(&id("A", ServerKind::StatServer, Role::Primary))
            .await
            .unwrap()
            .active
    );
    let r = env
        .inject(&Fault::RestoreSite { site: "B".into() })
        .await
        .expect("restore site");
    assert!(!r.is_healable());
    for i in &site_b {
        assert_eq!(
            env.health(i).await.unwrap().active,
            i.role == Role::Primary,
            "{i}"
        );
    }
    drop(g);
    env.heal_all()
        .await
        .expect("kill heal after restore is a no-op");

    let mut g = env
        .inject(&Fault::StopSite { site: "A".into() })
        .await
        .expect("stop site");
    assert!(
        g.actions().iter().all(|a| a.starts_with("SIGTERM")),
        "{:?}",
        g.actions()
    );
    for i in env.instances().iter().filter(|i| i.site == "A") {
        assert!(env.health(i).await.is_err());
    }
    g.heal().await.expect("heal stop site");
    for i in env.instances().iter().filter(|i| i.site == "A") {
        assert_eq!(
            env.health(i).await.unwrap().active,
            i.role == Role::Primary,
            "{i}"
        );
    }

    // Bad selectors are refused before anything is touched.
    let e = env
        .inject(&Fault::KillSite { site: "C".into() })
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("unknown site `C`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn ha_failover_and_switchover() {
    let env = start(false).await;
    let p = id("A", ServerKind::SipServer, Role::Primary);
    let b = p.partner();

    // Failover: the active primary is killed, the backup promoted.
    let mut g = env
        .inject(&Fault::HaFailover {
            site: "A".into(),
            server: ServerKind::SipServer,
            group: None,
        })
        .await
        .expect("failover");
    assert_eq!(
        g.actions(),
        [
            "SIGKILL A.sip_server.primary",
            "promoted A.sip_server.backup"
        ]
    );
    // The failover says how long the backup waited for its promotion (a bound of the contract).
    let timing = g.timing().expect("a failover reports its timing");
    assert!(
        timing
            .note
            .starts_with("ha failover: A.sip_server.backup promoted ")
            && timing
                .note
                .contains("after SIGKILL was sent to A.sip_server.primary"),
        "{}",
        timing.note
    );
    assert!(env.health(&p).await.is_err());
    assert!(env.health(&b).await.unwrap().active);
    // Through the backup's proxy a client registers now.
    let mut c = Client::connect(env.proxy_address(&b).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    // Heal: the old primary comes back as standby; the backup stays active.
    let r = g.heal().await.expect("heal failover");
    assert!(
        r.actions
            .iter()
            .any(|a| a.starts_with("demoted A.sip_server.primary")),
        "{:?}",
        r.actions
    );
    assert!(!env.health(&p).await.unwrap().active);
    assert!(env.health(&b).await.unwrap().active);

    // Switchover moves the active role back to the primary; the backup's clients are closed.
    let s = env
        .inject(&Fault::HaSwitchover {
            site: "A".into(),
            server: ServerKind::SipServer,
            group: None,
        })
        .await
        .expect("switchover");
    assert_eq!(
        s.actions(),
        [
            "promoted A.sip_server.primary",
            "demoted A.sip_server.backup"
        ]
    );
    assert!(env.health(&p).await.unwrap().active);
    assert!(!env.health(&b).await.unwrap().active);
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Closed | Seen::Reset | Seen::Msg(Message::EventLinkDisconnected { .. })
    ));

    // No failover without a running standby.
    env.inject(&Fault::KillServer(sel(
        "B",
        ServerKind::ConfigServer,
        Some(Role::Backup),
    )))
    .await
    .unwrap();
    let e = env
        .inject(&Fault::HaFailover {
            site: "B".into(),
            server: ServerKind::ConfigServer,
            group: None,
        })
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("nothing to fail over to"), "{e}");

    // heal_all and reset bring everything back, also after a link fault.
    env.inject(&Fault::Link {
        links: LinkSelector {
            site: "A".into(),
            server: None,
            role: None,
            group: None,
        },
        fault: LinkFault::Refuse,
    })
    .await
    .unwrap();
    // A frozen instance, stopped gracefully: it gets SIGCONT so it can handle the SIGTERM.
    env.inject(&Fault::FreezeServer(sel(
        "B",
        ServerKind::SipServer,
        Some(Role::Backup),
    )))
    .await
    .unwrap();
    let g = env
        .inject(&Fault::StopServer(sel(
            "B",
            ServerKind::SipServer,
            Some(Role::Backup),
        )))
        .await
        .unwrap();
    assert!(
        g.actions()[0].contains("exited gracefully"),
        "{:?}",
        g.actions()
    );
    // And one left frozen for the reset to thaw.
    env.inject(&Fault::FreezeServer(sel(
        "B",
        ServerKind::SipServer,
        Some(Role::Primary),
    )))
    .await
    .unwrap();
    env.reset().await.expect("reset");
    assert_eq!(env.pending_faults(), 0);
    for i in env.instances() {
        assert_eq!(
            env.health(&i).await.unwrap().active,
            i.role == Role::Primary,
            "{i}"
        );
    }
    let mut c = Client::connect(env.proxy_address(&p).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
}

/// The infrastructure events reported next, waiting up to `wait` for the first.
async fn next_infra(w: &mut InfraWatch, wait: Duration) -> Vec<InfraEvent> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let new = w.take_new();
        if !new.is_empty() {
            return new;
        }
        if tokio::time::timeout_at(until, w.changed()).await.is_err() {
            return Vec::new();
        }
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: a plain syscall on a process this test's environment started.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrequested_exits_and_a_silent_proxy_are_reported_and_faults_are_not() {
    let env = start(false).await;
    let mut infra = env.infrastructure();

    // What faults do is requested: down with that cause, frozen, and nothing reported.
    let sip_a = id("A", ServerKind::SipServer, Role::Primary);
    let cs_a = id("A", ServerKind::ConfigServer, Role::Primary);
    let sip_b = id("B", ServerKind::SipServer, Role::Primary);
    let kill = Fault::KillServer(sel("A", ServerKind::SipServer, Some(Role::Primary)));
    let stop = Fault::StopServer(sel("A", ServerKind::ConfigServer, Some(Role::Primary)));
    let freeze = Fault::FreezeServer(sel("B", ServerKind::SipServer, Some(Role::Primary)));
    for f in [&kill, &stop, &freeze] {
        env.inject(f).await.expect("fault applied");
    }
    for i in [&sip_a, &cs_a] {
        assert_eq!(
            env.instance_status(i).unwrap().down,
            Some(DownCause::Requested)
        );
    }
    assert_eq!(
        env.instance_status(&sip_b).unwrap().state,
        InstanceState::Frozen
    );

    // A mock killed from outside is reported with its signal.
    let cs_b = id("B", ServerKind::ConfigServer, Role::Backup);
    signal(
        env.instance_status(&cs_b).unwrap().pid.unwrap(),
        libc::SIGKILL,
    );
    let got = next_infra(&mut infra, WAIT).await;
    let exited = InfraCause::Exited {
        code: None,
        signal: Some(9),
    };
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].component, Component::Instance(cs_b.clone()));
    assert_eq!(got[0].cause, exited);
    assert_eq!(
        env.instance_status(&cs_b).unwrap().down,
        Some(DownCause::Exited {
            code: None,
            signal: Some(9)
        })
    );

    // A proxy stopped from outside keeps its sockets open and answers nothing: the probe reports
    // it within the detection bound; the server a fault froze is probed by nobody meanwhile.
    let proxy = env.runtime().proxy_watch().borrow().pid.expect("proxy pid");
    signal(proxy, libc::SIGSTOP);
    let got = next_infra(&mut infra, DETECTION_BOUND + WAIT).await;
    signal(proxy, libc::SIGCONT);
    assert_eq!(got.len(), 1, "only the proxy: {got:?}");
    assert_eq!(got[0].component, Component::Proxy);
    assert!(
        matches!(&got[0].cause, InfraCause::Unresponsive { api, probes: 2, .. } if api == "API"),
        "{got:?}"
    );
    assert!(
        got[0]
            .cause
            .to_string()
            .starts_with("API stopped answering (2 probes in a row"),
        "{}",
        got[0].cause
    );
    env.shutdown().await.unwrap();
}
