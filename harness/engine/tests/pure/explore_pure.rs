//! Pure tests of chaos exploration: the generator is deterministic and state-aware, every
//! schedule becomes a valid suite, and the shrinker (driven by a closure) finds small failures.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bc_engine::explore::{
    emit, generate, resolve, shrink, Candidate, FaultOp, GenConfig, HealVia, Link, LinkKind, Model,
    Op, Outcome, Schedule, ShrinkLimits, Shrinker, Spec, StopReason, SuiteMeta, TimedOp, Trigger,
    FAULT_KINDS,
};
use bc_suite::{PlanOptions, Site};
use proptest::prelude::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec() -> Spec {
    Spec::new(5000, Site::B)
}

fn meta(seed: u64) -> SuiteMeta {
    SuiteMeta {
        suite_id: format!("explore-{seed}"),
        scenario_id: "case".into(),
        agent: "agent1001".into(),
        config: "fixtures/config/default.yaml".into(),
        header: vec![format!("seed {seed}"), "two\nlines".into()],
    }
}

fn suite_text(s: &Schedule) -> String {
    emit(&resolve(s, &spec()), &spec(), &meta(s.seed))
}

#[test]
fn the_same_seed_gives_the_same_schedule() {
    let cfg = GenConfig::default();
    for seed in [0u64, 1, 42, 7_777_777, u64::MAX] {
        let a = generate(seed, &spec(), &cfg);
        let b = generate(seed, &spec(), &cfg.clone());
        assert_eq!(a, b, "seed {seed}");
        assert_eq!(suite_text(&a), suite_text(&b));
    }
    // Different seeds explore different schedules.
    let distinct: BTreeSet<String> = (0..20u64)
        .map(|s| format!("{:?}", generate(s, &spec(), &cfg).ops))
        .collect();
    assert!(distinct.len() >= 19, "{}", distinct.len());
}

#[test]
fn every_fault_kind_is_drawn_and_faults_overlap() {
    let cfg = GenConfig::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut overlapping = 0;
    let mut zero_waits = 0;
    for seed in 0..300u64 {
        let s = generate(seed, &spec(), &cfg);
        let mut m = Model::new(&spec());
        for t in &s.ops {
            if let Op::Fault { fault, .. } = t.op {
                seen.insert(fault.keyword());
            }
            if t.wait_ms == 0 {
                zero_waits += 1;
            }
            m.apply(t);
            if m.active().len() >= 2 {
                overlapping += 1;
            }
        }
    }
    let missing: Vec<&&str> = FAULT_KINDS.iter().filter(|k| !seen.contains(**k)).collect();
    assert!(missing.is_empty(), "never drawn: {missing:?}");
    assert!(overlapping > 50, "faults rarely overlap: {overlapping}");
    assert!(zero_waits > 50);
}

/// Every fault step of the suite language is drawn by exploration, so a new fault cannot be
/// added to the language and silently left out of exploration.
#[test]
fn exploration_draws_every_fault_of_the_suite_language() {
    // The steps that are not faults: the desktop's start, heals and restores (drawn as heals),
    // waits, markers and expectations (drawn as checkpoints), and triggers.
    const NOT_FAULTS: &[&str] = &[
        "start_desktop",
        "restore_site",
        "thaw_server",
        "restore_server",
        "heal",
        "wait",
        "mark",
        "expect_logged_in",
        "expect_stays_logged_in",
        "expect_disconnected",
        "expect_call_answered",
        "on",
        // The phone's own action (PH-3), not a fault; runs with `--phone` only.
        "phone_dials",
    ];
    let faults: Vec<&str> = bc_suite::Step::KEYWORDS
        .iter()
        .copied()
        .filter(|k| !NOT_FAULTS.contains(k))
        .collect();
    let missing: Vec<&&str> = faults.iter().filter(|k| !FAULT_KINDS.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "faults exploration never draws: {missing:?}"
    );
    let unknown: Vec<&&str> = FAULT_KINDS.iter().filter(|k| !faults.contains(k)).collect();
    assert!(
        unknown.is_empty(),
        "not faults of the suite language: {unknown:?}"
    );
}

#[test]
fn focus_restricts_the_fault_kinds() {
    let cfg = GenConfig {
        focus: vec!["black_hole".into(), "freeze_server".into()],
        ..GenConfig::default()
    };
    for seed in 0..50u64 {
        for t in generate(seed, &spec(), &cfg).ops {
            if let Op::Fault { fault, .. } = t.op {
                assert!(
                    matches!(
                        fault,
                        FaultOp::Link(_, LinkKind::BlackHole) | FaultOp::FreezeServer(_)
                    ),
                    "{fault:?}"
                );
            }
        }
    }
    assert!(GenConfig {
        focus: vec!["kil_site".into()],
        ..GenConfig::default()
    }
    .validate()
    .unwrap_err()
    .contains("unknown fault kind `kil_site`"));
}

#[test]
fn a_checkpoint_expects_the_clean_site_when_the_other_is_broken() {
    let s = Schedule {
        seed: 1,
        ops: vec![
            TimedOp {
                wait_ms: 100,
                op: Op::Fault {
                    id: 1,
                    fault: FaultOp::Link(
                        Link {
                            site: Site::B,
                            kind: Some(bc_suite::ServerKind::SipServer),
                            role: None,
                        },
                        LinkKind::BlackHole,
                    ),
                },
                on: None,
            },
            TimedOp::at(0, Op::Checkpoint),
            TimedOp {
                wait_ms: 0,
                op: Op::Heal {
                    id: 1,
                    via: HealVia::Marker,
                },
                on: None,
            },
            // Healing twice is healing what is not broken: dropped.
            TimedOp {
                wait_ms: 0,
                op: Op::Heal {
                    id: 1,
                    via: HealVia::Marker,
                },
                on: None,
            },
        ],
    };
    let r = resolve(&s, &spec());
    assert_eq!(r.ops.len(), 3);
    assert_eq!(r.ops[1].expect_site, Some(Site::A));
    assert_eq!(r.max_switchovers, 1);
    let text = suite_text(&s);
    assert!(
        text.contains("black_hole: {link: B/sip_server, marker: f1}"),
        "{text}"
    );
    assert!(
        text.contains("wait: 5s\n      - expect_logged_in: {site: A, from: f1}"),
        "{text}"
    );
    assert!(text.contains("- heal: f1\n"), "{text}");
    assert!(
        text.contains("max_switchovers: {count: 1, per: 1h}"),
        "{text}"
    );
    assert!(
        text.starts_with("# seed 1\n# two\n# lines\nversion: 1\n"),
        "{text}"
    );
}

fn load_and_plan(text: &str) -> Result<usize, String> {
    let loaded = bc_suite::load_str("explore.yaml", text, &repo())
        .map_err(|d| bc_suite::render_plain(&d.errors))?;
    let planned = bc_suite::plan(&loaded, &PlanOptions::default()).map_err(|e| e.to_string())?;
    Ok(planned[0].steps.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn generated_schedules_are_valid_healed_suites(seed in any::<u64>(), min in 1usize..8, extra in 0usize..25) {
        let cfg = GenConfig { min_ops: min, max_ops: min + extra, ..GenConfig::default() };
        let s = generate(seed, &spec(), &cfg);
        prop_assert!(s.ops.len() <= cfg.max_ops);
        // Generated in model order: resolving keeps every operation (only heals what is broken).
        prop_assert_eq!(&resolve(&s, &spec()).schedule(seed), &s);
        let mut m = Model::new(&spec());
        let mut injected = HashMap::new();
        for t in &s.ops {
            let mut probe = m.clone();
            probe.advance(t.wait_ms);
            prop_assert!(probe.can(&t.op), "{:?}", t);
            if let Some(on) = t.on {
                prop_assert!(probe.can_trigger(&on, &t.op), "{:?}", t);
            }
            if let Op::Heal { id, .. } = t.op {
                prop_assert!(injected.contains_key(&id), "heal before its fault");
                prop_assert!(probe.active().contains_key(&id), "healing what is not broken");
            }
            if let Op::Fault { id, fault } = t.op {
                injected.insert(id, fault);
            }
            m.apply(t);
        }
        let text = suite_text(&s);
        prop_assert!(text.contains("      - mark: final\n      - heal: all\n"));
        let steps = load_and_plan(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(steps >= s.ops.len());
    }

    #[test]
    fn resolving_is_idempotent_on_any_sub_schedule(seed in any::<u64>(), drop_mask in any::<u32>()) {
        let s = generate(seed, &spec(), &GenConfig { min_ops: 5, max_ops: 20, ..GenConfig::default() });
        let ops: Vec<TimedOp> = s.ops.iter().enumerate().filter(|(i, _)| drop_mask & (1 << (i % 32)) == 0).map(|(_, o)| *o).collect();
        let once = resolve(&Schedule { seed, ops }, &spec()).schedule(seed);
        let twice = resolve(&once, &spec()).schedule(seed);
        prop_assert_eq!(&once, &twice);
        let text = suite_text(&once);
        load_and_plan(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    }
}

/// A fake desktop without keep-alive: it fails whenever a black hole at the site it sits on is
/// followed by a checkpoint.
fn fake_no_keepalive(s: &Schedule) -> Outcome {
    let r = resolve(s, &spec());
    let mut m = Model::new(&spec());
    let mut desk = Site::B;
    let mut holed = false;
    for o in &r.ops {
        m.apply(&o.op);
        match o.op.op {
            Op::Fault {
                fault: FaultOp::Link(l, LinkKind::BlackHole),
                ..
            } if l.site == desk && l.kind != Some(bc_suite::ServerKind::StatServer) => holed = true,
            Op::Checkpoint if holed && o.expect_site.is_some_and(|s| s != desk) => {
                return Outcome::Fail {
                    signatures: vec!["expect_logged_in".into()],
                }
            }
            _ => {}
        }
        if !holed {
            desk = m.current;
        }
    }
    Outcome::Pass
}

/// The first `k` schedules drawn with `cfg` from seeds `0..seeds` that the fake desktop fails.
fn failing(cfg: &GenConfig, seeds: u64, k: usize, fake: fn(&Schedule) -> Outcome) -> Vec<Schedule> {
    (0..seeds)
        .map(|seed| generate(seed, &spec(), cfg))
        .filter(|s| fake(s) != Outcome::Pass)
        .take(k)
        .collect()
}

#[test]
fn the_shrinker_finds_one_minimal_failures() {
    let cfg = GenConfig {
        min_ops: 15,
        max_ops: 30,
        focus: vec!["black_hole".into(), "latency".into(), "kill_server".into()],
        ..GenConfig::default()
    };
    let schedules = failing(&cfg, 200, 5, fake_no_keepalive);
    assert!(
        schedules.len() >= 3,
        "too few failing schedules: {}",
        schedules.len()
    );
    let mut sizes = Vec::new();
    for s in &schedules {
        let mut runs = 0;
        let out = shrink(
            s,
            "expect_logged_in",
            &spec(),
            ShrinkLimits {
                max_runs: 500,
                max_time: Duration::from_secs(60),
                ..ShrinkLimits::default()
            },
            None,
            |c| {
                runs += 1;
                fake_no_keepalive(&c.schedule)
            },
        );
        assert_eq!(out.runs, runs);
        assert_eq!(out.stop, StopReason::Minimal);
        assert!(matches!(
            fake_no_keepalive(&out.schedule),
            Outcome::Fail { .. }
        ));
        // 1-minimal: without any single operation it passes.
        let best = &out.schedule;
        assert!(best.ops.len() <= 4, "{best:?}");
        for i in 0..best.ops.len() {
            let mut c = best.clone();
            c.ops.remove(i);
            assert_eq!(fake_no_keepalive(&c), Outcome::Pass, "{best:?} without {i}");
        }
        sizes.push(best.ops.len());
        assert!(out.schedule.ops.iter().all(|o| o.wait_ms == 0));
        // The fake fails whatever the timing: a trigger only makes the schedule harder to read.
        assert_eq!(out.schedule.triggers(), 0, "{best:?}");
    }
    // A black hole and the checkpoint that catches it is the usual minimum.
    assert!(sizes.contains(&2), "{sizes:?}");
}

/// A fake desktop that notices a black hole at its site only after a 4 s timer: it fails when a
/// checkpoint expecting another site comes at least 4 s of pauses after the black hole.
fn fake_slow_timer(s: &Schedule) -> Outcome {
    let r = resolve(s, &spec());
    let mut holed_for: Option<u64> = None;
    for o in &r.ops {
        if let Some(t) = holed_for.as_mut() {
            *t += o.op.wait_ms;
        }
        match o.op.op {
            Op::Fault {
                fault: FaultOp::Link(l, LinkKind::BlackHole),
                ..
            } if l.site == Site::B
                && l.kind != Some(bc_suite::ServerKind::StatServer)
                && holed_for.is_none() =>
            {
                holed_for = Some(0)
            }
            Op::Checkpoint
                if holed_for.is_some_and(|t| t >= 4_000)
                    && o.expect_site.is_some_and(|s| s != Site::B) =>
            {
                return Outcome::Fail {
                    signatures: vec!["expect_logged_in".into()],
                }
            }
            _ => {}
        }
    }
    Outcome::Pass
}

#[test]
fn the_shrinker_halves_pauses_down_to_the_timer_that_matters() {
    let cfg = GenConfig {
        min_ops: 10,
        max_ops: 20,
        focus: vec!["black_hole".into()],
        ..GenConfig::default()
    };
    let schedules = failing(&cfg, 300, 3, fake_slow_timer);
    assert!(
        !schedules.is_empty(),
        "no schedule fails the slow-timer desktop"
    );
    for s in &schedules {
        let out = shrink(
            s,
            "expect_logged_in",
            &spec(),
            ShrinkLimits {
                max_runs: 2_000,
                max_time: Duration::from_secs(60),
                ..ShrinkLimits::default()
            },
            None,
            |c| fake_slow_timer(&c.schedule),
        );
        assert_eq!(out.stop, StopReason::Minimal);
        let best = &out.schedule;
        assert!(matches!(fake_slow_timer(best), Outcome::Fail { .. }));
        let total: u64 = best.ops.iter().map(|o| o.wait_ms).sum();
        let before: u64 = s.ops.iter().map(|o| o.wait_ms).sum();
        // The pauses shrink to the timer, within one halving of it (zeroing alone cannot).
        assert!(
            (4_000..8_000).contains(&total),
            "{total} ms (from {before}): {best:?}"
        );
        assert!(best.ops.len() <= 4, "{best:?}");
    }
}

#[test]
fn the_shrinker_respects_its_caps_and_the_signature() {
    let cfg = GenConfig {
        min_ops: 20,
        max_ops: 30,
        focus: vec!["black_hole".into()],
        ..GenConfig::default()
    };
    let s = (0..100u64)
        .map(|seed| generate(seed, &spec(), &cfg))
        .find(|s| fake_no_keepalive(s) != Outcome::Pass)
        .expect("a failing schedule");
    let out = shrink(
        &s,
        "expect_logged_in",
        &spec(),
        ShrinkLimits {
            max_runs: 3,
            max_time: Duration::from_secs(60),
            ..ShrinkLimits::default()
        },
        None,
        |c| fake_no_keepalive(&c.schedule),
    );
    assert_eq!(out.runs, 3);
    assert_eq!(out.stop, StopReason::Runs);
    // A failure of another kind never counts as reproducing.
    let out = shrink(
        &s,
        "invariant never_logged_in_at_both_peers",
        &spec(),
        ShrinkLimits::default(),
        None,
        |c| fake_no_keepalive(&c.schedule),
    );
    assert_eq!(out.accepted, 0);
    assert_eq!(out.schedule, resolve(&s, &spec()).schedule(s.seed));
    let out = shrink(
        &s,
        "expect_logged_in",
        &spec(),
        ShrinkLimits {
            max_runs: 100,
            max_time: Duration::ZERO,
            ..ShrinkLimits::default()
        },
        None,
        |c| fake_no_keepalive(&c.schedule),
    );
    assert_eq!((out.runs, out.stop), (0, StopReason::Time));
}

/// A no-keepalive schedule at the domain's budget (60 s) and the limits of the budget tests.
fn failing_at_60s() -> (Schedule, Spec) {
    let spec = Spec::new(60_000, Site::B);
    let cfg = GenConfig {
        min_ops: 8,
        max_ops: 16,
        focus: vec!["black_hole".into()],
        ..GenConfig::default()
    };
    let s = (0..200u64)
        .map(|seed| generate(seed, &spec, &cfg))
        .find(|s| fake_no_keepalive(s) != Outcome::Pass)
        .expect("a failing schedule");
    (s, spec)
}

fn budget_limits(min_budget_s: u64) -> ShrinkLimits {
    ShrinkLimits {
        max_runs: 1_000,
        max_time: Duration::from_secs(60),
        min_budget: Duration::from_secs(min_budget_s),
    }
}

/// Shrinks with a fake no-keepalive desktop that fails only at budgets of at least `threshold_ms`;
/// returns the result and the budget of every candidate run, in order.
fn shrink_budget(
    s: &Schedule,
    spec: &Spec,
    limits: ShrinkLimits,
    hint: Option<usize>,
    threshold_ms: u64,
) -> (bc_engine::explore::Shrunk, Vec<u64>) {
    let mut budgets = Vec::new();
    let out = shrink(
        s,
        "expect_logged_in",
        spec,
        limits,
        hint,
        |c: &Candidate| {
            budgets.push(c.budget_ms);
            // Each candidate comes resolved at its own budget.
            let at = Spec {
                budget_ms: c.budget_ms,
                ..spec.clone()
            };
            assert_eq!(
                resolve(&c.schedule, &at).schedule(c.schedule.seed),
                c.schedule
            );
            match fake_no_keepalive(&c.schedule) {
                Outcome::Fail { .. } if c.budget_ms < threshold_ms => Outcome::Pass,
                o => o,
            }
        },
    );
    (out, budgets)
}

#[test]
fn the_budget_halves_down_to_the_floor_after_the_prefix() {
    let (s, spec) = failing_at_60s();
    let (out, budgets) = shrink_budget(&s, &spec, budget_limits(10), Some(s.ops.len() - 1), 0);
    // The prefix at the original budget, then 60 -> 30 -> 15 -> the floor (half would be 7.5 s).
    assert_eq!(
        budgets[..4],
        [60_000, 30_000, 15_000, 10_000],
        "{budgets:?}"
    );
    assert!(budgets[4..].iter().all(|b| *b == 10_000), "{budgets:?}");
    assert_eq!((out.budget_ms, out.original_budget_ms), (10_000, 60_000));
    assert_eq!(out.stop, StopReason::Minimal);
    assert!(out.schedule.ops.len() <= 4, "{:?}", out.schedule);
    assert!(matches!(
        fake_no_keepalive(&out.schedule),
        Outcome::Fail { .. }
    ));
    let best = Candidate {
        schedule: out.schedule.clone(),
        budget_ms: out.budget_ms,
    };
    assert!(
        best.waits_ms() <= 15_000,
        "{} ms: {best:?}",
        best.waits_ms()
    );
    // Without a hint the budget goes first; a floor that is no whole halving is tried once.
    let spec45 = Spec::new(45_000, Site::B);
    let (out, budgets) = shrink_budget(&s, &spec45, budget_limits(10), None, 0);
    assert_eq!(budgets[..3], [22_500, 11_250, 10_000], "{budgets:?}");
    assert!(budgets.iter().all(|b| *b >= 10_000), "{budgets:?}");
    assert_eq!(out.budget_ms, 10_000);
}

#[test]
fn a_shorter_budget_that_passes_is_rejected() {
    let (s, spec) = failing_at_60s();
    // Fails only from 20 s on: 30 s is kept, 15 s passes, so the suite keeps 30 s.
    let (out, budgets) = shrink_budget(&s, &spec, budget_limits(10), None, 20_000);
    assert_eq!(budgets[..2], [30_000, 15_000], "{budgets:?}");
    assert_eq!(out.budget_ms, 30_000);
    assert!(budgets.iter().all(|b| *b >= 15_000), "{budgets:?}");
    // 15 s is tried again only for a smaller schedule, once the operations are minimal.
    let retries = budgets.iter().filter(|b| **b == 15_000).count();
    assert!(retries <= 2, "{budgets:?}");
    assert_eq!(budgets.last(), Some(&15_000), "{budgets:?}");
    assert!(matches!(
        fake_no_keepalive(&out.schedule),
        Outcome::Fail { .. }
    ));
    // A desktop that only fails at the full budget keeps it.
    let (out, budgets) = shrink_budget(&s, &spec, budget_limits(10), None, 60_000);
    assert_eq!(out.budget_ms, 60_000);
    assert_eq!(budgets[0], 30_000);
    assert!(out.accepted > 0 && out.schedule.ops.len() <= 4);
}

#[test]
fn the_budget_never_goes_below_the_floor_and_counts_as_runs() {
    let (s, spec) = failing_at_60s();
    // A budget already at or under the floor is never shrunk.
    let (out, budgets) = shrink_budget(&s, &spec, budget_limits(60), None, 0);
    assert!(budgets.iter().all(|b| *b == 60_000), "{budgets:?}");
    assert_eq!(out.budget_ms, 60_000);
    let (_, budgets) = shrink_budget(&s, &spec, budget_limits(90), None, 0);
    assert!(budgets.iter().all(|b| *b == 60_000), "{budgets:?}");
    // Budget candidates are runs like any other.
    let limits = ShrinkLimits {
        max_runs: 2,
        ..budget_limits(10)
    };
    let (out, budgets) = shrink_budget(&s, &spec, limits, None, 0);
    assert_eq!(budgets, [30_000, 15_000]);
    assert_eq!(
        (out.runs, out.stop, out.budget_ms),
        (2, StopReason::Runs, 15_000)
    );
    // The state machine shows the best candidate with its budget as it goes.
    let mut m = Shrinker::new(&s, "expect_logged_in", &spec, budget_limits(10), None);
    let c = m.next_candidate().unwrap();
    assert_eq!(c.budget_ms, 30_000);
    assert!(m.report(&Outcome::Fail {
        signatures: vec!["expect_logged_in".into()]
    }));
    assert_eq!(m.best(), &c);
    assert_eq!(m.next_candidate().unwrap().budget_ms, 15_000);
    assert!(!m.report(&Outcome::Pass));
    assert_eq!(m.best().budget_ms, 30_000);
    assert_eq!(m.next_candidate().unwrap().budget_ms, 30_000);
}

#[test]
#[ignore]
fn print_example() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let cfg = GenConfig {
        min_ops: env("MIN", 5),
        max_ops: env("MAX", 30),
        focus: std::env::var("FOCUS")
            .map(|f| f.split(',').map(String::from).collect())
            .unwrap_or_default(),
        ..GenConfig::default()
    };
    let spec = Spec::new(6000, Site::B);
    let s = generate(env("SEED", 3) as u64, &spec, &cfg);
    println!("{}", emit(&resolve(&s, &spec), &spec, &meta(s.seed)));
}

#[test]
fn triggers_follow_a_move_to_their_site_and_are_written_as_on_steps() {
    let cfg = GenConfig {
        min_ops: 10,
        max_ops: 20,
        ..GenConfig::default()
    };
    let mut seen = 0;
    for seed in 0..60u64 {
        let s = generate(seed, &spec(), &cfg);
        let mut m = Model::new(&spec());
        for t in &s.ops {
            if let Some(on) = t.on {
                seen += 1;
                assert_eq!(m.moved_to, Some(on.site()), "seed {seed}: {t:?}");
                assert_eq!(t.wait_ms, 0, "armed as the move begins");
                assert!(matches!(t.op, Op::Fault { .. } | Op::Heal { .. }));
            }
            m.apply(t);
        }
        if s.triggers() > 0 {
            let text = suite_text(&s);
            assert_eq!(
                text.matches("      - on: {").count(),
                s.triggers(),
                "{text}"
            );
            load_and_plan(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }
    assert!(seen >= 10, "only {seen} triggers in 60 schedules");
    let off = GenConfig {
        triggers: 0.0,
        ..cfg.clone()
    };
    assert!((0..60u64).all(|seed| generate(seed, &spec(), &off).triggers() == 0));
    assert!(GenConfig {
        triggers: 1.5,
        ..cfg
    }
    .validate()
    .unwrap_err()
    .contains("--triggers"));
}

/// The desktop sits at B: a black hole there moves it to A, and a heal placed on its connection
/// to A's CS Proxy is the preferred site returning mid-switchover.
fn returning_mid_switchover() -> Schedule {
    let hole = Op::Fault {
        id: 1,
        fault: FaultOp::Link(
            Link {
                site: Site::B,
                kind: None,
                role: None,
            },
            LinkKind::BlackHole,
        ),
    };
    let heal = Op::Heal {
        id: 1,
        via: HealVia::Marker,
    };
    Schedule {
        seed: 3,
        ops: vec![
            TimedOp::at(200, hole),
            TimedOp {
                wait_ms: 0,
                op: heal,
                on: Some(Trigger::Connects(
                    Site::A,
                    bc_suite::ServerKind::ConfigServer,
                )),
            },
            TimedOp::at(0, Op::Checkpoint),
        ],
    }
}

#[test]
fn a_trigger_is_written_before_its_operation_and_dropped_with_its_cause() {
    let s = returning_mid_switchover();
    assert_eq!(resolve(&s, &spec()).schedule(s.seed), s);
    let text = suite_text(&s);
    assert!(
        text.contains(
            "      - on: {connects: A/config_server, timeout: 5s, marker: on1}\n      - heal: f1\n"
        ),
        "{text}"
    );
    load_and_plan(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // A login trigger holds the answer, and a pause carried onto it becomes its `after`.
    let mut login = s.clone();
    login.ops[1].on = Some(Trigger::Login(Site::A));
    login.ops[1].wait_ms = 300;
    let text = suite_text(&login);
    assert!(
        text.contains("on: {desktop_sends: RequestAgentLogin, at: A/sip_server, hold: reply, timeout: 5s, after: 300ms, marker: on1}"),
        "{text}"
    );
    load_and_plan(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // Without the black hole the desktop never moves: the heal is dropped, and a trigger placed
    // after an operation that moves nothing stays at its time.
    let mut wrong = s.clone();
    wrong.ops[1].on = Some(Trigger::Connects(Site::B, bc_suite::ServerKind::SipServer));
    assert_eq!(resolve(&wrong, &spec()).schedule(3).triggers(), 0);
}

/// A fake desktop that only a race breaks: it fails when an operation lands on a trigger.
fn fake_race(s: &Schedule) -> Outcome {
    if resolve(s, &spec()).schedule(s.seed).triggers() > 0 {
        Outcome::Fail {
            signatures: vec!["expect_logged_in".into()],
        }
    } else {
        Outcome::Pass
    }
}

#[test]
fn shrinking_keeps_a_trigger_that_matters_and_drops_one_that_does_not() {
    let cfg = GenConfig {
        min_ops: 12,
        max_ops: 20,
        ..GenConfig::default()
    };
    let s = (0..200u64)
        .map(|seed| generate(seed, &spec(), &cfg))
        .find(|s| s.triggers() > 0 && s.ops.len() >= 8)
        .expect("a schedule with a trigger");
    let limits = ShrinkLimits {
        max_runs: 500,
        max_time: Duration::from_secs(60),
        ..ShrinkLimits::default()
    };
    let out = shrink(&s, "expect_logged_in", &spec(), limits, None, |c| {
        fake_race(&c.schedule)
    });
    assert_eq!(out.stop, StopReason::Minimal);
    // The move and the operation on its trigger: nothing else matters.
    assert_eq!(out.schedule.ops.len(), 2, "{:?}", out.schedule);
    assert_eq!(out.schedule.triggers(), 1);
}

#[test]
fn a_batch_shrink_keeps_the_first_reproducing_candidate_and_ends_as_small() {
    let cfg = GenConfig {
        min_ops: 15,
        max_ops: 30,
        focus: vec!["black_hole".into(), "latency".into(), "kill_server".into()],
        ..GenConfig::default()
    };
    let limits = ShrinkLimits {
        max_runs: 500,
        max_time: Duration::from_secs(60),
        ..ShrinkLimits::default()
    };
    let schedules = failing(&cfg, 200, 4, fake_no_keepalive);
    assert!(schedules.len() >= 3);
    for s in &schedules {
        let sequential = shrink(s, "expect_logged_in", &spec(), limits, None, |c| {
            fake_no_keepalive(&c.schedule)
        });
        let mut sh = Shrinker::new(s, "expect_logged_in", &spec(), limits, None);
        let mut batches = 0;
        loop {
            let batch = sh.next_batch(3);
            if batch.is_empty() {
                break;
            }
            batches += 1;
            assert!(batch.len() <= 3);
            let outcomes: Vec<Outcome> = batch
                .iter()
                .map(|c| fake_no_keepalive(&c.schedule))
                .collect();
            let first = outcomes.iter().position(|o| *o != Outcome::Pass);
            assert_eq!(sh.report_batch(&outcomes), first);
            if let Some(i) = first {
                assert_eq!(sh.best(), &batch[i]);
            }
        }
        let batched = sh.finish();
        assert_eq!(batched.stop, StopReason::Minimal);
        assert!(matches!(
            fake_no_keepalive(&batched.schedule),
            Outcome::Fail { .. }
        ));
        assert_eq!(
            batched.schedule.ops.len(),
            sequential.schedule.ops.len(),
            "seed {}",
            s.seed
        );
        assert!(batches < batched.runs, "candidates ran side by side");
    }
}
