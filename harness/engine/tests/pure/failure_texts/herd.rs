//! The words of a herd's failures about a group of its agents (`agents: hit|spared`), replayed from
//! a recorded herd timeline and pinned in fixtures/failures/ like the single agent's.

use bc_engine::check::fleet::Group;
use bc_engine::check::{Activation, CheckSpec, Evaluator, Outcome};
use bc_engine::observe::{EntryKind, Subject, Timeline};
use bc_protocol::ServerKind;

use super::{render, root};

/// Recorded from a run of 4 agents at A in one reference desktop (pings, pongs and the desktop's
/// log lines left out: they decide nothing here): `cut` black-holes A for 25 % of them, step 3
/// follows it.
const TIMELINE: &str = "herd-quarter-black-holed";
const AGENTS: usize = 4;
const PINNED: &str = "herd-group-logged-in";

/// The herd's agents as the runner makes them: `herdNNNN`, agent ids from 20001, DNs from 30001.
fn agents(t: &Timeline) -> Vec<Subject> {
    (0..AGENTS)
        .map(|i| Subject {
            username: bc_suite::herd_username(i),
            agent_id: (20_001 + i).to_string(),
            dn: (30_001 + i).to_string(),
            ..t.subject.clone()
        })
        .collect()
}

/// The agents the fault marked `cut` hit, as its timeline entry lists them.
fn hit_by_cut(t: &Timeline) -> Vec<usize> {
    t.entries
        .iter()
        .find_map(|e| match &e.kind {
            EntryKind::Fault { marker, agents, .. } if marker.as_deref() == Some("cut") => Some(
                agents
                    .iter()
                    .filter_map(|a| bc_suite::herd_index(a))
                    .collect(),
            ),
            _ => None,
        })
        .expect("the timeline has the aimed fault `cut`")
}

fn at_b_within(within_ms: u64) -> CheckSpec {
    CheckSpec::LoggedIn {
        site: Some("B".into()),
        servers: vec![ServerKind::ConfigServer, ServerKind::SipServer],
        within_ms,
        from: "cut".into(),
        measure: None,
    }
}

/// The hit agent switches to B, but not within 1 s; the spared ones never go there.
fn replay(t: &Timeline) -> Outcome {
    let hit = hit_by_cut(t);
    let spared: Vec<usize> = (0..AGENTS).filter(|k| !hit.contains(k)).collect();
    let mut ev = Evaluator::herd(t.subject.clone(), agents(t), 0);
    let cut = vec!["cut".to_string()];
    let after_cut = Activation::Step(3);
    ev.add_among(at_b_within(1_000), after_cut, &hit, Group::Hit(cut.clone()));
    ev.add_among(at_b_within(2_000), after_cut, &spared, Group::Spared(cut));
    for e in &t.entries {
        ev.push(e.ts_us, e.kind.clone());
    }
    ev.finish(t.end_us().unwrap_or(0))
}

#[test]
fn a_failure_about_a_group_of_a_herd_names_the_group() {
    let t = Timeline::load(&root().join(format!("fixtures/timelines/{TIMELINE}.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    let got = render(&replay(&t), &t);
    let pinned = root().join(format!("fixtures/failures/{PINNED}.txt"));
    if std::env::var_os("UPDATE_FAILURES").is_some() {
        std::fs::write(&pinned, &got).expect("write pinned text");
        return;
    }
    let want = std::fs::read_to_string(&pinned).unwrap_or_default();
    assert_eq!(
        got, want,
        "differs from {PINNED}.txt (UPDATE_FAILURES=1 regenerates the pinned texts)"
    );
}
