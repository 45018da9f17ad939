//! The connection file from a topology and proxy addresses, without starting anything: version 1
//! for one group of four SIP Servers (no group keys at all), version 2 for several (each agent's
//! group, every group's SIP Server pairs, `sites` holding the agent's own group's pair).

use std::collections::HashMap;
use std::net::SocketAddr;

use bc_engine::env::{ConnectionFile, InstanceId, Topology};

/// The default database with agent1002's DN (7002) moved to group 2's switch.
fn two_group_db(dir: &std::path::Path) -> std::path::PathBuf {
    let base = bc_test_support::workspace_root().join("fixtures/config/default.yaml");
    let text = std::fs::read_to_string(base).unwrap().replacen(
        "    number: \"7002\"\n    tenant_dbid: 1\n",
        "    number: \"7002\"\n    tenant_dbid: 1\n    group: 2\n",
        1,
    );
    assert!(text.contains("group: 2"), "the fixture's DN 7002 moved");
    let path = dir.join("groups.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A made-up proxy address per instance, distinct for every one.
fn proxies(topo: &Topology) -> HashMap<InstanceId, SocketAddr> {
    topo.instances()
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, SocketAddr::from(([127, 0, 0, 1], 40_000 + i as u16))))
        .collect()
}

#[test]
fn one_group_writes_version_1_without_group_keys() {
    let dir = tempfile::tempdir().unwrap();
    let topo = Topology::load(two_group_db(dir.path())).unwrap();
    let agent = topo.agent("agent1002").unwrap();
    assert_eq!(
        agent.group, 2,
        "the database says so, whatever the topology"
    );
    let file = ConnectionFile::build(&topo, agent, &proxies(&topo), &[]).unwrap();
    let v = serde_json::to_value(&file).unwrap();
    assert_eq!(v["version"], 1);
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent_id",
            "application",
            "dn",
            "password",
            "sites",
            "username",
            "version"
        ],
        "a version 1 file has exactly the keys it always had"
    );
    let floor = serde_json::to_value(file.floor_agent(agent)).unwrap();
    assert!(floor.get("group").is_none(), "{floor}");
    assert_eq!(topo.instances().len(), 12, "2 sites x 3 kinds x 2 members");
}

#[test]
fn two_groups_write_version_2_with_each_groups_sip_servers() {
    let dir = tempfile::tempdir().unwrap();
    let topo = Topology::load(two_group_db(dir.path()))
        .unwrap()
        .with_groups(2);
    let addrs = proxies(&topo);
    assert_eq!(
        topo.instances().len(),
        16,
        "one more SIP Server pair per site"
    );
    let at = |s: &str| addrs[&InstanceId::parse(s).unwrap()].to_string();
    let agent = topo.agent("agent1002").unwrap();
    let file = ConnectionFile::build(&topo, agent, &addrs, &[]).unwrap();
    let v = serde_json::to_value(&file).unwrap();
    assert_eq!(
        (v["version"].as_u64(), v["group"].as_u64()),
        (Some(2), Some(2))
    );
    // The top-level `sites` hold the agent's group's SIP Servers, the shared CS Proxy.
    assert_eq!(
        v["sites"]["A"]["sip_server"]["primary"],
        at("A.sip_server.g2.primary")
    );
    assert_eq!(
        v["sites"]["B"]["sip_server"]["backup"],
        at("B.sip_server.g2.backup")
    );
    assert_eq!(
        v["sites"]["A"]["config_server"]["primary"],
        at("A.config_server.primary")
    );
    // `groups`: every group's pair at every site.
    assert_eq!(v["groups"]["1"]["A"]["primary"], at("A.sip_server.primary"));
    assert_eq!(v["groups"]["1"]["B"]["backup"], at("B.sip_server.backup"));
    assert_eq!(
        v["groups"]["2"]["B"]["primary"],
        at("B.sip_server.g2.primary")
    );
    assert_eq!(v["groups"].as_object().unwrap().len(), 2);
    // Each entry of a multi-agent file names its group.
    let one = topo.agent("agent1001").unwrap();
    assert_eq!(
        serde_json::to_value(file.floor_agent(one)).unwrap()["group"],
        1
    );
    assert_eq!(
        serde_json::to_value(file.floor_agent(agent)).unwrap()["group"],
        2
    );
}

#[test]
fn instance_names_keep_group_1_as_before_and_parse_back() {
    for s in [
        "A.sip_server.primary",
        "B.sip_server.g2.backup",
        "A.stat_server.backup",
    ] {
        assert_eq!(InstanceId::parse(s).unwrap().to_string(), s);
    }
    let g2 = InstanceId::parse("A.sip_server.g2.primary").unwrap();
    assert_eq!(
        (g2.group, g2.partner().to_string().as_str()),
        (2, "A.sip_server.g2.backup")
    );
    for bad in [
        "A.sip_server.g1.primary",
        "A.sip_server.gx.primary",
        "A.sip",
    ] {
        assert!(InstanceId::parse(bad).is_none(), "{bad}");
    }
}
