//! Two groups of four SIP Servers on the local runtime (suites/herds/herd-groups.yaml, cut to 16
//! agents): killing group 1's SIP Server pair at A moves only group 1's agents to B, group 2's stay
//! at A; an HA failover of group 2's pair moves nobody; one desktop of group 2 switches only on its
//! own group's loss; and a desktop that ignores its agents' groups is refused by the other group's
//! SIP Servers and judged fail.

use super::{run_suite, temp_suite, ONE_AT_A_TIME};

/// One scenario of the committed suite with a floor small enough for a test: 16 agents in 2
/// processes.
fn small_suite(scenario: &str) -> tempfile::NamedTempFile {
    temp_suite(&bc_test_support::small_groups_suite(scenario))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_group_1s_peer_at_a_moves_only_group_1s_agents() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = small_suite("group-1-peer-lost-at-a");
    let result = run_suite(suite.path(), None).await;
    assert_eq!(result["verdict"], "pass", "{result:#}");
    // Both kills hit group 1's agents, dealt in turn: herd0001, herd0003, ... (8 of 16).
    let faults = result["timeline"]["faults"].as_array().unwrap();
    let group_1: Vec<String> = (0..16)
        .step_by(2)
        .map(|i| format!("herd{:04}", i + 1))
        .collect();
    for f in faults {
        let hit: Vec<&str> = f["agents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(hit, group_1, "{f:#}");
        let d = f["description"].as_str().unwrap();
        assert!(d.starts_with("kill_server A.sip_server.g1."), "{d}");
    }
    // The spared agents (group 2) were checked staying at A, and did; the hit ones moved.
    let checks = result["checks"].as_array().unwrap();
    let status = |check: &str, site: &str| {
        checks
            .iter()
            .find(|c| c["spec"]["check"] == check && c["spec"]["site"] == site)
            .unwrap_or_else(|| panic!("{check} at {site}: {checks:#?}"))["status"]["status"]
            .clone()
    };
    assert_eq!(status("stays_logged_in", "A"), "pass");
    assert_eq!(status("logged_in", "B"), "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_that_ignores_its_group_is_refused_and_fails() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = small_suite("group-1-peer-lost-at-a");
    // The reference desktop given a file whose group keys are renamed away: it serves every agent
    // with the top-level SIP Server pair (group 1's, the first agent's), as a desktop that reads
    // version 2 but ignores the groups would.
    let bin = bc_test_support::harness_bins().join("bc-reference-desktop");
    let desktop = format!(
        r#"sh -c "sed -i 's/\"group/\"ignored_group/' \"$0\" && exec {} --config \"$0\"" {{config}}"#,
        bin.display()
    );
    let o = bc_engine::run::RunOptions::new(vec![suite.path().to_path_buf()], desktop);
    let result = super::journal_results(o).await.remove(0);
    assert_eq!(result["verdict"], "fail", "{result:#}");
    // The first login fails for group 2's agents only (herd0002, herd0004, ...): group 1's SIP
    // Servers refuse their DNs.
    let text = result.to_string();
    assert!(
        text.contains("8 of 16 agents broke it (herd0002, herd0004"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ha_failover_of_one_groups_pair_keeps_every_agent_at_its_site() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = small_suite("group-2-ha-failover-at-a");
    let result = run_suite(suite.path(), None).await;
    assert_eq!(result["verdict"], "pass", "{result:#}");
    let faults = result["timeline"]["faults"].as_array().unwrap();
    assert_eq!(
        faults[0]["description"], "ha_failover A.sip_server.g2",
        "{faults:#?}"
    );
    // Only group 2's primary was killed and promoted over: group 1's pair is untouched.
    assert_eq!(faults[0]["effects"][0]["target"]["group"], 2, "{faults:#?}");
    let checks = result["checks"].as_array().unwrap();
    for check in ["no_switchover_on_ha_failover", "stays_logged_in"] {
        let c = checks
            .iter()
            .find(|c| c["spec"]["check"] == check)
            .unwrap_or_else(|| panic!("{check}: {checks:#?}"));
        assert_eq!(c["status"]["status"], "pass", "{c:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_desktop_of_group_2_switches_only_when_its_own_groups_peer_dies() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = small_suite("one-desktop-of-group-2");
    let result = run_suite(suite.path(), None).await;
    assert_eq!(result["verdict"], "pass", "{result:#}");
    let faults: Vec<&str> = result["timeline"]["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["description"].as_str())
        .collect();
    assert_eq!(
        faults,
        [
            "kill_server A.sip_server.g1.primary",
            "kill_server A.sip_server.g2.backup",
            "kill_server A.sip_server.g2.primary"
        ]
    );
    // Group 1's loss was checked to leave it at A, then it switched to B.
    let checks = result["checks"].as_array().unwrap();
    for (check, site) in [("stays_logged_in", "A"), ("logged_in", "B")] {
        let c = checks
            .iter()
            .find(|c| c["spec"]["check"] == check && c["spec"]["site"] == site)
            .unwrap_or_else(|| panic!("{check} at {site}: {checks:#?}"));
        assert_eq!(c["status"]["status"], "pass", "{c:#}");
    }
}
