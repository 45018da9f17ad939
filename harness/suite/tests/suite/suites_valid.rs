//! Every suite under suites/ (and fixtures/suites/valid/) validates and plans, carries the
//! schema header with the right relative path, and the certification set covers every rule
//! and every fault kind (the four "site down" kinds against both CS Proxy and SIP Server).

use std::collections::BTreeSet;

use crate::common::{files, rel, repo};
use bc_suite::{plan, Action, LinkFault, PlanOptions, RuleId, ServerKind, Step};

fn load_all(dir: &str) -> Vec<bc_suite::LoadedSuite> {
    let root = repo().join(dir);
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for p in files(&root, &["yaml", "yml"]) {
        match bc_suite::load_file(&p) {
            Ok(s) => out.push(s),
            Err(d) => failures.push(bc_suite::render_plain(&d.errors)),
        }
    }
    assert!(
        failures.is_empty(),
        "invalid suites:\n{}",
        failures.join("\n")
    );
    out
}

#[test]
fn every_suite_validates_and_plans() {
    let mut suites = load_all("suites");
    suites.extend(load_all("fixtures/suites/valid"));
    assert!(suites.len() >= 10, "only {} suites found", suites.len());
    let mut ids = BTreeSet::new();
    for s in &suites {
        assert!(
            ids.insert(s.suite.id.value.clone()),
            "duplicate suite id {}",
            s.suite.id.value
        );
        let runs = plan(s, &PlanOptions::default()).expect("valid suites plan");
        assert!(!runs.is_empty());
        for r in &runs {
            let starts = r
                .steps
                .iter()
                .filter(|s| s.action == Action::StartDesktop)
                .count();
            assert_eq!(starts, 1, "{}: exactly one start", r.id);
        }
    }
}

#[test]
fn every_suite_points_its_editor_at_the_schema() {
    let root = repo();
    for p in files(&root.join("suites"), &["yaml", "yml"]) {
        let text = std::fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let depth = p
            .strip_prefix(root.join("suites"))
            .unwrap()
            .components()
            .count()
            - 1;
        let want = format!(
            "# yaml-language-server: $schema={}schema.json",
            if depth == 0 {
                "./".to_string()
            } else {
                "../".repeat(depth)
            }
        );
        assert_eq!(first, want, "{}", rel(&p));
    }
}

#[test]
fn certification_covers_every_rule_and_fault() {
    let suites = load_all("suites/certification");
    let mut rules = BTreeSet::new();
    let mut keywords = BTreeSet::new();
    let mut site_down = BTreeSet::new();
    let mut ha = BTreeSet::new();
    for s in &suites {
        for sc in &s.suite.scenarios {
            assert!(
                !sc.value.rules.is_empty(),
                "{}: scenario {} must name its rules",
                rel(&s.path),
                sc.value.id.value
            );
            for st in &sc.value.steps {
                keywords.insert(st.value.keyword());
            }
        }
        for run in plan(s, &PlanOptions::default()).unwrap() {
            rules.extend(run.rules.iter().copied());
            for st in &run.steps {
                match &st.action {
                    Action::KillServer(t) => {
                        site_down.insert(("killed", t.server));
                    }
                    Action::Link { link, fault } => {
                        let kind = match fault {
                            LinkFault::Refuse => "refused",
                            LinkFault::BlackHole => "black hole",
                            LinkFault::Reset => "reset",
                            _ => continue,
                        };
                        if let Some(k) = link.server {
                            site_down.insert((kind, k));
                        }
                    }
                    Action::HaFailover { server, .. } => {
                        ha.insert(*server);
                    }
                    _ => {}
                }
            }
        }
    }
    assert_eq!(rules, RuleId::ALL.into_iter().collect(), "rules covered");
    let missing: Vec<_> = Step::KEYWORDS
        .iter()
        .filter(|k| !keywords.contains(*k))
        .collect();
    assert!(missing.is_empty(), "step kinds never used: {missing:?}");
    for kind in ["killed", "refused", "black hole", "reset"] {
        for server in [ServerKind::ConfigServer, ServerKind::SipServer] {
            assert!(
                site_down.contains(&(kind, server)),
                "{kind} against {server} missing"
            );
        }
    }
    assert_eq!(ha.len(), 3, "HA failover of every server kind: {ha:?}");
}
