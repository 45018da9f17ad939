//! Two groups of four SIP Servers on the Docker runtime: the committed groups suite's first
//! scenario (cut to 16 agents in 2 processes) run in containers, where killing group 1's SIP
//! Server pair at A moves only group 1's agents, and nothing of the run is left behind.

use std::time::Duration;

use crate::support::{assert_no_docker_leftovers, docker_turn, spawn_run};

#[test]
fn docker_runs_two_groups_and_a_group_s_peer_loss_moves_only_its_agents() {
    let Some(_turn) =
        docker_turn("docker_runs_two_groups_and_a_group_s_peer_loss_moves_only_its_agents")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // 8 moving agents are too few for HERD-2's 20 % (two in one 100 ms is chance, and the run's
    // seed is not fixed here): what this test checks is where the agents go.
    let text = bc_test_support::small_groups_suite("group-1-peer-lost-at-a")
        .replace("desktops: 2", "desktops: 2\n      max_burst_percent: 50");
    let suite = bc_test_support::temp_suite(&text);
    let mut run = spawn_run(tmp.path(), suite.path(), "docker", "groups");
    let pid = run.pid();
    let status = run.wait(Duration::from_secs(240)).expect("the run ends");
    let out = std::fs::read_to_string(tmp.path().join("groups.out")).unwrap_or_default();
    let err = std::fs::read_to_string(tmp.path().join("groups.err")).unwrap_or_default();
    assert!(
        status.success(),
        "the reference passes on Docker:\n{out}\n{err}"
    );
    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("groups-journal.json")).unwrap(),
    )
    .unwrap();
    let result = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "scenario_finished")
        .map(|e| &e["result"])
        .expect("a result");
    assert_eq!(result["runtime"], "docker", "{}", result["runtime"]);
    // Group 1's agents are dealt in turn: herd0001, herd0003, ... (8 of 16); both kills hit them.
    let group_1: Vec<String> = (0..16)
        .step_by(2)
        .map(|i| format!("herd{:04}", i + 1))
        .collect();
    let faults: Vec<&serde_json::Value> = result["timeline"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entry"] == "fault")
        .collect();
    assert_eq!(faults.len(), 2, "{faults:#?}");
    for f in faults {
        let hit: Vec<&str> = f["agents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(hit, group_1, "{f:#}");
    }
    // Group 2's SIP Servers ran as containers of their own and logged group 2's agents in.
    let g2_started = result["timeline"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"]["kind"] == "agent_login" && e["event"]["group"] == 2);
    assert!(
        g2_started,
        "group 2's agents logged in at a group 2 SIP Server"
    );
    assert_no_docker_leftovers(pid, "the groups run");
}
