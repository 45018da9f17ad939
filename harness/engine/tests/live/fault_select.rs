//! Selectors and toxics as data (no processes): which instances / links a fault covers, which
//! toxics a link fault adds, and the topology and configuration database they come from.

use crate::env_support;

use bc_engine::env::{ConfigDb, InstanceId, Topology};
use bc_engine::fault::{
    link_toxics, resolve_links, resolve_servers, Fault, LinkFault, LinkSelector, ServerSelector,
};
use bc_protocol::{Role, ServerKind};

fn topo(stat: bool) -> Topology {
    Topology::load(env_support::config_db())
        .unwrap()
        .with_stat_server(stat)
}

fn names(v: Vec<InstanceId>) -> Vec<String> {
    v.into_iter().map(|i| i.to_string()).collect()
}

#[test]
fn server_selectors() {
    let t = topo(true);
    let both = resolve_servers(
        &t,
        &ServerSelector {
            site: "A".into(),
            server: ServerKind::SipServer,
            role: None,
            group: None,
        },
    )
    .unwrap();
    assert_eq!(names(both), ["A.sip_server.primary", "A.sip_server.backup"]);
    let one = resolve_servers(
        &t,
        &ServerSelector {
            site: "B".into(),
            server: ServerKind::StatServer,
            role: Some(Role::Backup),
            group: None,
        },
    )
    .unwrap();
    assert_eq!(names(one), ["B.stat_server.backup"]);
    let e = resolve_servers(
        &topo(false),
        &ServerSelector {
            site: "B".into(),
            server: ServerKind::StatServer,
            role: None,
            group: None,
        },
    )
    .unwrap_err();
    assert!(e.contains("stat_server is off"), "{e}");
}

#[test]
fn link_selectors() {
    let t = topo(true);
    let sel = |site: &str, server, role| LinkSelector {
        site: site.into(),
        server,
        role,
        group: None,
    };
    assert_eq!(resolve_links(&t, &sel("A", None, None)).unwrap().len(), 6);
    assert_eq!(
        resolve_links(&topo(false), &sel("A", None, None))
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        names(resolve_links(&t, &sel("B", None, Some(Role::Primary))).unwrap()),
        [
            "B.config_server.primary",
            "B.sip_server.primary",
            "B.stat_server.primary"
        ]
    );
    let e = resolve_links(&t, &sel("C", None, None)).unwrap_err();
    assert_eq!(e, "unknown site `C` (sites: A, B)");
}

#[test]
fn link_fault_toxics() {
    assert!(link_toxics(&LinkFault::Refuse, "t").is_none());
    let bh = link_toxics(&LinkFault::BlackHole, "t1").unwrap();
    let summary: Vec<(String, String, String)> = bh
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.r#type.clone(),
                t.stream.as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "t1_black_hole_upstream".into(),
                "timeout".into(),
                "upstream".into()
            ),
            (
                "t1_black_hole_downstream".into(),
                "timeout".into(),
                "downstream".into()
            ),
        ]
    );
    assert_eq!(bh[0].attributes["timeout"], 0);
    let reset = link_toxics(&LinkFault::Reset, "t").unwrap();
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].r#type, "reset_peer");
    let lat = link_toxics(
        &LinkFault::Latency {
            ms: 250,
            jitter_ms: 20,
        },
        "t",
    )
    .unwrap();
    assert_eq!(lat.len(), 2);
    assert_eq!(lat[1].attributes["latency"], 250);
    assert_eq!(lat[1].attributes["jitter"], 20);
    let bw = link_toxics(&LinkFault::Bandwidth { kb_per_s: 8 }, "t").unwrap();
    assert_eq!(bw[0].attributes["rate"], 8);
    let sl = link_toxics(
        &LinkFault::Slicer {
            average_size: 10,
            size_variation: 2,
            delay_us: 5,
        },
        "t",
    )
    .unwrap();
    assert_eq!(sl[0].attributes["delay"], 5);
}

#[test]
fn faults_display_for_reports() {
    let f = Fault::Link {
        links: LinkSelector {
            site: "A".into(),
            server: Some(ServerKind::SipServer),
            role: None,
            group: None,
        },
        fault: LinkFault::BlackHole,
    };
    assert_eq!(f.to_string(), "black_hole A.sip_server.*");
    let f = Fault::KillServer(ServerSelector {
        site: "B".into(),
        server: ServerKind::ConfigServer,
        role: Some(Role::Backup),
        group: None,
    });
    assert_eq!(f.to_string(), "kill_server B.config_server.backup");
}

#[test]
fn topology_and_config_db() {
    let t = topo(true);
    assert_eq!(t.sites(), ["A", "B"]);
    assert_eq!(t.instances().len(), 12);
    let a = t.agent("agent1002").unwrap();
    assert_eq!(
        (a.password.as_str(), a.agent_id.as_str(), a.dn.as_str()),
        ("pass1002", "1002", "7002")
    );
    assert_eq!(a.agent_group_dbids, [102, 101]);
    assert!(t.agent("nobody").is_err());
    assert_eq!(t.config_db().agent_group("Sales").unwrap().dbid, 101);
    assert_eq!(t.config_db().tenant("Environment").unwrap().dbid, 1);

    let t3 = topo(false).with_sites(["East", "West", "North"]).unwrap();
    assert_eq!(t3.instances().len(), 12);
    assert!(topo(true).with_sites(Vec::<String>::new()).is_err());
    assert!(topo(true).with_sites(["A", "A"]).is_err());
    assert!(topo(true).with_sites(["A.1"]).is_err());

    let e = Topology::load("/no/such/db.yaml").unwrap_err();
    assert!(e.to_string().contains("/no/such/db.yaml"), "{e}");
    assert!(ConfigDb::parse("persons: [{dbid: x}]").is_err());
    let db = ConfigDb::parse("persons: [{dbid: 1, username: u}]").unwrap();
    assert_eq!(
        db.persons[0].agent_id, "1",
        "no agent login: falls back to the dbid"
    );
}
