//! Server-side faults through the control API: login rejection, preferred-site changes on every
//! CS Proxy (kept across a restart), and call delivery through a site's active SIP Server.

use crate::env_support;

use bc_engine::env::InstanceId;
use bc_engine::fault::{ConfigLevel, Fault, FaultError, FaultOutcome, Faults, ServerSelector};
use bc_protocol::{EventKind, Message, ObjectType, Role, ServerKind};
use env_support::*;
use std::collections::BTreeMap;

/// The person's preferred site as a CS Proxy reports it (read through the proxy).
async fn preferred_of(c: &mut Client, username: &str) -> Option<String> {
    let reference_id = c.next_ref();
    let mut filter = BTreeMap::new();
    filter.insert("UserName".to_string(), serde_json::json!(username));
    c.send(&Message::RequestReadObjects {
        reference_id,
        object_type: ObjectType::CfgPerson,
        filter,
    })
    .await
    .unwrap();
    let mut found = None;
    loop {
        match c.recv(WAIT).await {
            Seen::Msg(Message::EventObjectsRead { objects, .. }) => {
                found = Some(
                    objects[0]
                        .annex
                        .get("business-continuity")
                        .and_then(|s| s.get("preferred-site"))
                        .cloned(),
                );
            }
            // The read ends with EventObjectsSent.
            Seen::Msg(Message::EventObjectsSent { .. }) => {
                return found.expect("EventObjectsRead before EventObjectsSent")
            }
            Seen::Msg(_) => continue,
            other => panic!("no objects read: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn reject_logins_and_preferred_site() {
    let mut env = start(false).await;
    let mut events = env.take_events().unwrap();
    let cs_a = InstanceId::new("A", ServerKind::ConfigServer, Role::Primary);
    let creds = Some(("agent1001", "pass1001"));

    // Rejection: login answered with EventError 403 while on.
    let mut g = env
        .inject(&Fault::RejectLogins {
            site: "A".into(),
            server: ServerKind::ConfigServer,
            on: true,
        })
        .await
        .unwrap();
    assert_eq!(g.actions().len(), 2, "both instances of the pair");
    let mut c = Client::connect(env.proxy_address(&cs_a).unwrap())
        .await
        .unwrap();
    match c.register(creds).await {
        Seen::Msg(Message::EventError { error_code, .. }) => assert_eq!(error_code, 403),
        other => panic!("expected a 403, got {other:?}"),
    }
    g.heal().await.unwrap();
    let mut c = Client::connect(env.proxy_address(&cs_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(creds).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));

    // Preferred site on the person: pushed to the registered client, readable, healed to the old value.
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("B")
    );
    drain(&mut events);
    let mut g = env
        .inject(&Fault::SetPreferredSite {
            level: ConfigLevel::Person,
            object: "agent1001".into(),
            site: Some("A".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        g.actions().len(),
        4,
        "every CS Proxy instance: {:?}",
        g.actions()
    );
    match c.recv(WAIT).await {
        Seen::Msg(Message::EventObjectUpdated { object, .. }) => assert_eq!(object.dbid, 1001),
        other => panic!("expected EventObjectUpdated, got {other:?}"),
    }
    for site in ["A", "B"] {
        wait_event(&mut events, "config_updated", |e| {
            e.site == site && matches!(e.kind, EventKind::ConfigUpdated { dbid: 1001, .. })
        })
        .await;
    }
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("A")
    );

    // A CS Proxy restarted meanwhile reloads its file; the harness re-applies the change.
    let mut k = env
        .inject(&Fault::KillServer(ServerSelector {
            site: "A".into(),
            server: ServerKind::ConfigServer,
            role: Some(Role::Primary),
            group: None,
        }))
        .await
        .unwrap();
    let r = k.heal().await.unwrap();
    assert!(
        r.actions.iter().any(|a| a.starts_with("re-applied")),
        "{:?}",
        r.actions
    );
    let mut c = Client::connect(env.proxy_address(&cs_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(creds).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("A")
    );

    // Removing a value and healing back.
    let mut g2 = env
        .inject(&Fault::SetPreferredSite {
            level: ConfigLevel::Person,
            object: "agent1001".into(),
            site: None,
        })
        .await
        .unwrap();
    assert_eq!(preferred_of(&mut c, "agent1001").await, None);
    g2.heal().await.unwrap();
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("A")
    );
    g.heal().await.unwrap();
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("B")
    );

    // Tenant and group levels resolve by name; unknown names are refused.
    let g3 = env
        .inject(&Fault::SetPreferredSite {
            level: ConfigLevel::AgentGroup,
            object: "Support".into(),
            site: Some("B".into()),
        })
        .await
        .unwrap();
    assert!(
        g3.actions()[0].contains("CfgAgentGroup 102"),
        "{:?}",
        g3.actions()
    );
    for (level, object, site) in [
        (ConfigLevel::Tenant, "Nope", Some("A")),
        (ConfigLevel::Person, "agent9999", Some("A")),
        (ConfigLevel::Tenant, "Environment", Some("Z")),
    ] {
        let e = env
            .inject(&Fault::SetPreferredSite {
                level,
                object: object.into(),
                site: site.map(String::from),
            })
            .await
            .err()
            .unwrap();
        assert!(matches!(e, FaultError::Invalid { .. }), "{e}");
    }

    // A suite's `heal: all` (heal_faults) heals faults but keeps configuration changes;
    // the teardown's heal_all reverts them too.
    let _g4 = env
        .inject(&Fault::SetPreferredSite {
            level: ConfigLevel::Person,
            object: "agent1001".into(),
            site: Some("A".into()),
        })
        .await
        .unwrap();
    let _rej = env
        .inject(&Fault::RejectLogins {
            site: "B".into(),
            server: ServerKind::ConfigServer,
            on: true,
        })
        .await
        .unwrap();
    env.heal_faults().await.unwrap();
    assert_eq!(
        env.pending_faults(),
        2,
        "the two config changes stay registered"
    );
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("A")
    );
    env.heal_all().await.unwrap();
    assert_eq!(env.pending_faults(), 0);
    assert_eq!(
        preferred_of(&mut c, "agent1001").await.as_deref(),
        Some("B")
    );
    env.reset().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_call_through_either_peer() {
    let env = start(false).await;
    let sip_a = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    // An agent logged in at site A through the proxy.
    let mut c = Client::connect(env.proxy_address(&sip_a).unwrap())
        .await
        .unwrap();
    assert!(matches!(
        c.register(None).await,
        Seen::Msg(Message::EventClientRegistered { .. })
    ));
    let reference_id = c.next_ref();
    c.send(&Message::RequestRegisterAddress {
        reference_id,
        this_dn: "7004".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Msg(Message::EventRegistered { .. })
    ));
    let reference_id = c.next_ref();
    c.send(&Message::RequestAgentLogin {
        reference_id,
        this_dn: "7004".into(),
        agent_id: "1004".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Msg(Message::EventAgentLogin { .. })
    ));
    // Routed calls reach only a Ready agent.
    let reference_id = c.next_ref();
    c.send(&Message::RequestAgentReady {
        reference_id,
        this_dn: "7004".into(),
        agent_id: "1004".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        c.recv(WAIT).await,
        Seen::Msg(Message::EventAgentReady { .. })
    ));

    for (via, redirected) in [("A", false), ("B", true)] {
        let g = env
            .inject(&Fault::DeliverCall {
                site: via.into(),
                dn: "7004".into(),
            })
            .await
            .unwrap();
        match g.outcome() {
            FaultOutcome::Call(d) => {
                assert_eq!(d.delivered_via, "A");
                assert_eq!(d.redirected, redirected, "via {via}");
            }
            other => panic!("no call outcome: {other:?}"),
        }
        loop {
            match c.recv(WAIT).await {
                Seen::Msg(Message::EventRinging {
                    this_dn, other_dn, ..
                }) => {
                    assert_eq!((this_dn.as_str(), other_dn.as_str()), ("7004", "5001"));
                    break;
                }
                Seen::Msg(_) => continue,
                other => panic!("no ringing via {via}: {other:?}"),
            }
        }
    }

    // Nobody logged in on that DN: a clear error.
    let e = env
        .inject(&Fault::DeliverCall {
            site: "A".into(),
            dn: "7002".into(),
        })
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("404"), "{e}");
}
