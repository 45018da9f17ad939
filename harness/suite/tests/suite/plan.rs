//! `plan()`: parameters expand into concrete runs, symbolic sites resolve, defaults and
//! budgets follow their precedence, markers are named as documented, heal targets resolve.

use std::time::Duration;

use bc_suite::*;

fn load(body: &str) -> LoadedSuite {
    let text =
        format!("version: 1\nid: p\nconfig: fixtures/suites/config.yaml\nrules: [BC-4]\n{body}");
    let dir = crate::common::repo().join("fixtures/suites");
    match load_str("plan.yaml", &text, &dir) {
        Ok(l) => l,
        Err(d) => panic!("{}", render_plain(&d.errors)),
    }
}

#[test]
fn for_each_preferred_site_yields_two_resolved_runs() {
    let l = load(
        "agent: agent1001\nscenarios:\n  - id: s\n    for_each_preferred_site: true\n    steps:\n      - kill_site: preferred\n      - expect_logged_in: {site: other}\n",
    );
    let runs = plan(&l, &PlanOptions::default()).unwrap();
    assert_eq!(runs.len(), 2);
    for (run, p) in runs.iter().zip([Site::A, Site::B]) {
        assert_eq!(run.id, format!("p/s[preferred={p}]"));
        assert_eq!(run.preferred_site, Some(p));
        assert!(run.pin_preferred_site);
        assert_eq!(run.steps[0].action, Action::StartDesktop);
        assert_eq!(run.steps[0].marker.as_deref(), Some("start"));
        assert_eq!(run.steps[1].action, Action::KillSite(p));
        match &run.steps[2].action {
            Action::ExpectLoggedIn {
                site, within, from, ..
            } => {
                assert_eq!(*site, Some(p.other()));
                assert_eq!(*within, Duration::from_secs(60));
                assert_eq!(from, "kill_site");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn preferred_site_comes_from_the_configuration_hierarchy() {
    // agent1002: no Person value, groups Support (none) then Sales (B): B.
    let l = load("agent: agent1002\nscenarios:\n  - id: s\n    steps:\n      - expect_logged_in: {site: preferred}\n");
    let runs = plan(&l, &PlanOptions::default()).unwrap();
    assert_eq!(runs[0].preferred_site, Some(Site::B));
    assert!(!runs[0].pin_preferred_site);
    assert_eq!(runs[0].id, "p/s");
    assert!(matches!(
        &runs[0].steps[1].action,
        Action::ExpectLoggedIn {
            site: Some(Site::B),
            ..
        }
    ));
    // agent1003: the Tenant's A; agent1004: Person A over Sales B.
    assert_eq!(l.config.preferred_site("agent1003"), Some(Site::A));
    assert_eq!(l.config.preferred_site("agent1004"), Some(Site::A));
    assert_eq!(l.config.preferred_site("agent1001"), Some(Site::B));
}

#[test]
fn budget_precedence_is_command_line_then_scenario_then_suite() {
    let l = load(
        "agent: agent1001\nbudget: 30s\nscenarios:\n  - id: a\n    steps:\n      - expect_logged_in: {site: B}\n  - id: b\n    budget: 10s\n    steps:\n      - expect_logged_in: {site: B}\n      - expect_logged_in: {site: B, within: 2s}\n",
    );
    let runs = plan(&l, &PlanOptions::default()).unwrap();
    assert_eq!(runs[0].budget, Duration::from_secs(30));
    assert_eq!(runs[1].budget, Duration::from_secs(10));
    assert!(
        matches!(runs[1].steps[1].action, Action::ExpectLoggedIn { within, .. } if within == Duration::from_secs(10))
    );
    assert!(
        matches!(runs[1].steps[2].action, Action::ExpectLoggedIn { within, .. } if within == Duration::from_secs(2))
    );
    let cli = PlanOptions {
        budget: Some(Duration::from_secs(5)),
    };
    let runs = plan(&l, &cli).unwrap();
    assert!(runs.iter().all(|r| r.budget == Duration::from_secs(5)));
}

#[test]
fn markers_heal_targets_and_measurements() {
    let l = load(
        "agent: agent1001\nscenarios:\n  - id: s\n    steps:\n      - refuse: A/sip_server\n      - refuse: {link: B, marker: cut}\n      - refuse: A\n      - start_desktop\n      - heal: refuse_3\n      - deliver_call: B\n      - expect_call_answered: {measure: answer}\n      - heal: all\n    measurements:\n      - {name: detection, from: cut, until: {first_contact: B}}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    let markers: Vec<Option<&str>> = run.steps.iter().map(|s| s.marker.as_deref()).collect();
    assert_eq!(
        markers,
        [
            Some("refuse"),
            Some("cut"),
            Some("refuse_3"),
            Some("start"),
            Some("heal"),
            Some("deliver_call"),
            None,
            Some("heal_2")
        ]
    );
    assert_eq!(
        run.steps[4].action,
        Action::Heal(HealTarget::Marker {
            marker: "refuse_3".into(),
            step: 2
        })
    );
    assert_eq!(run.steps[7].action, Action::Heal(HealTarget::All));
    assert!(
        matches!(&run.steps[6].action, Action::ExpectCallAnswered { from, .. } if from == "deliver_call")
    );
    assert_eq!(run.steps[0].line, 9);
    let names: Vec<&str> = run.measurements.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["answer", "detection"]);
    assert_eq!(
        run.measurements[1].until,
        PlannedObservation::FirstContact(Site::B)
    );
}

#[test]
fn configuration_changes_resolve_their_object() {
    let l = load(
        "agent: agent1002\nscenarios:\n  - id: s\n    steps:\n      - set_preferred_site: {level: agent_group, site: A}\n      - set_preferred_site: {level: tenant, site: B}\n      - clear_preferred_site: {level: person}\n      - start_desktop\n      - expect_logged_in: {site: A}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    assert_eq!(
        run.steps[0].action,
        Action::SetPreferredSite {
            level: Level::AgentGroup,
            name: "Support".into(),
            site: Some(Site::A)
        }
    );
    assert_eq!(
        run.steps[1].action,
        Action::SetPreferredSite {
            level: Level::Tenant,
            name: "Environment".into(),
            site: Some(Site::B)
        }
    );
    assert_eq!(
        run.steps[2].action,
        Action::SetPreferredSite {
            level: Level::Person,
            name: "agent1002".into(),
            site: None
        }
    );
}

#[test]
fn skip_reasons_follow_capabilities() {
    let l = load(
        "agent: agent1001\nrequires: [failback]\nscenarios:\n  - id: s\n    skip_if: [stat_loss_triggers_dr]\n    steps:\n      - expect_logged_in: {site: B}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    assert!(run.skip_reason(&[]).unwrap().contains("failback"));
    assert_eq!(run.skip_reason(&[Capability::Failback]), None);
    assert!(run
        .skip_reason(&[Capability::Failback, Capability::StatLossTriggersDr])
        .unwrap()
        .contains("stat_loss_triggers_dr"));
}

#[test]
fn links_and_servers_keep_kind_and_role() {
    let l = load(
        "agent: agent1001\nscenarios:\n  - id: s\n    preferred_site: A\n    steps:\n      - kill_server: other/stat_server/backup\n      - latency: {link: preferred/sip_server, ms: 200, jitter_ms: 20}\n      - flap: {link: B, period: 4s, count: 3, mode: reset}\n      - expect_logged_in: {site: A}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    assert!(run.pin_preferred_site);
    assert_eq!(
        run.steps[1].action,
        Action::KillServer(ServerTarget {
            site: Site::B,
            server: ServerKind::StatServer,
            group: None,
            role: Some(Role::Backup)
        })
    );
    assert_eq!(
        run.steps[2].action,
        Action::Link {
            link: LinkTarget {
                site: Site::A,
                server: Some(ServerKind::SipServer),
                group: None,
                role: None
            },
            fault: LinkFault::Latency {
                ms: 200,
                jitter_ms: 20
            }
        }
    );
    assert_eq!(
        run.steps[3].action,
        Action::Flap {
            link: LinkTarget {
                site: Site::B,
                server: None,
                group: None,
                role: None
            },
            mode: FlapMode::Reset,
            period: Duration::from_secs(4),
            count: 3
        }
    );
}

#[test]
fn one_way_partitions_plan_to_a_link_fault_with_their_direction_and_heal() {
    let l = load(
        "agent: agent1001\nscenarios:\n  - id: s\n    preferred_site: B\n    steps:\n      - partition_one_way: {link: preferred/sip_server/backup, direction: to_desktop}\n      - partition_one_way: {link: other, direction: to_server, marker: up}\n      - heal: partition_one_way\n      - expect_logged_in: {site: A}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    assert_eq!(
        run.steps[1].action,
        Action::Link {
            link: LinkTarget {
                site: Site::B,
                server: Some(ServerKind::SipServer),
                group: None,
                role: Some(Role::Backup)
            },
            fault: LinkFault::OneWay {
                direction: Direction::ToDesktop
            }
        }
    );
    assert_eq!(run.steps[1].marker.as_deref(), Some("partition_one_way"));
    assert_eq!(
        run.steps[2].action,
        Action::Link {
            link: LinkTarget {
                site: Site::A,
                server: None,
                group: None,
                role: None
            },
            fault: LinkFault::OneWay {
                direction: Direction::ToServer
            }
        }
    );
    assert_eq!(run.steps[2].marker.as_deref(), Some("up"));
    assert_eq!(
        run.steps[3].action,
        Action::Heal(HealTarget::Marker {
            marker: "partition_one_way".into(),
            step: 1
        })
    );
}

#[test]
fn a_flap_in_a_herd_is_aimed_like_the_other_link_faults() {
    let l = load(
        "agent: agent1001\ntopology: {stat_server: false}\nscenarios:\n  - id: s\n    herd: {agents: 40}\n    steps:\n      - flap: {link: A, period: 2s, count: 3, mode: black_hole, share: 10%, marker: wobble}\n      - flap: {link: B/sip_server, period: 1s, count: 2, agents: [herd0007, herd0002]}\n      - expect_logged_in: {site: B, agents: hit}\n      - expect_stays_logged_in: {site: A, for: 5s, agents: spared}\n",
    );
    let run = &plan(&l, &PlanOptions::default()).unwrap()[0];
    assert_eq!(
        run.steps[1].action,
        Action::Flap {
            link: LinkTarget {
                site: Site::A,
                server: None,
                group: None,
                role: None
            },
            mode: FlapMode::BlackHole,
            period: Duration::from_secs(2),
            count: 3
        }
    );
    assert_eq!(run.steps[1].marker.as_deref(), Some("wobble"));
    assert_eq!(run.steps[1].aim, Some(Aim::Share(10)));
    // Named agents by herd index, in order, whatever order the suite lists them in.
    assert_eq!(run.steps[2].aim, Some(Aim::Agents(vec![1, 6])));
    assert_eq!(run.steps[3].among, Some(AgentGroup::Hit));
    assert_eq!(run.steps[4].among, Some(AgentGroup::Spared));
}

#[test]
fn declared_capacity_is_planned_per_server_kind_with_defaults() {
    let l = load(
        "agent: agent1001\ntopology:\n  capacity:\n    sip_server: {login_rate: 500, retry_after: 2s}\n    config_server: {max_clients: 10, answer: refuse}\nscenarios:\n  - id: s\n    steps:\n      - expect_logged_in: {site: A}\n",
    );
    let runs = plan(&l, &PlanOptions::default()).unwrap();
    let c = &runs[0].capacity;
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].server, ServerKind::ConfigServer);
    assert_eq!(c[0].max_clients, Some(10));
    assert_eq!(c[0].answer, OverloadAnswer::Refuse);
    assert_eq!(c[1].server, ServerKind::SipServer);
    assert_eq!(c[1].login_rate, Some(500.0));
    assert_eq!(c[1].login_burst, None);
    assert_eq!(c[1].retry_after_ms, Some(2000));
    assert_eq!(c[1].answer, OverloadAnswer::Error);
}

#[test]
fn a_herd_s_bounds_default_and_are_declared_each_from_one_to_a_hundred() {
    let herd = |bounds: &str| {
        format!("agent: agent1001\ntopology: {{stat_server: false}}\nscenarios:\n  - id: s\n    herd: {{agents: 40{bounds}}}\n    steps:\n      - expect_logged_in: {{site: A}}\n")
    };
    let run = &plan(&load(&herd("")), &PlanOptions::default()).unwrap()[0];
    let h = run.herd.as_ref().unwrap();
    assert_eq!((h.max_burst_percent, h.max_round_percent), (20, 60));
    let declared = load(&herd(", max_burst_percent: 30, max_round_percent: 70"));
    let h = plan(&declared, &PlanOptions::default()).unwrap()[0]
        .herd
        .clone()
        .unwrap();
    assert_eq!((h.max_burst_percent, h.max_round_percent), (30, 70));
    let text = format!(
        "version: 1\nid: p\nconfig: fixtures/suites/config.yaml\nrules: [BC-4]\n{}",
        herd(", max_round_percent: 0")
    );
    let dir = crate::common::repo().join("fixtures/suites");
    let Err(d) = load_str("plan.yaml", &text, &dir) else {
        panic!("a bound of 0 % is refused")
    };
    let errors = render_plain(&d.errors);
    assert!(
        errors.contains("`herd.max_round_percent` must be 1 to 100, not 0"),
        "{errors}"
    );
}
