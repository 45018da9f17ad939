//! The words of every check kind's failure (and of not-exercised and undecided checks), replayed
//! from recorded timelines and pinned in fixtures/failures/*.txt.
//! Regenerate them with `UPDATE_FAILURES=1 cargo test -p bc-engine --test pure failure_texts::`.

use std::collections::BTreeSet;
use std::path::PathBuf;

mod herd;

use bc_engine::check::{replay, text, Activation, CheckSpec, Outcome, Status};
use bc_engine::observe::Timeline;
use bc_protocol::ServerKind;

const SESSION: [ServerKind; 2] = [ServerKind::ConfigServer, ServerKind::SipServer];
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One pinned text: its file name, the timeline, the scenario's rules and its checks.
struct Case {
    name: &'static str,
    timeline: &'static str,
    rules: &'static [&'static str],
    checks: Vec<(Activation, CheckSpec)>,
}

fn logged_in(site: &str, within_ms: u64, from: &str, step: usize) -> (Activation, CheckSpec) {
    (
        Activation::Step(step),
        CheckSpec::LoggedIn {
            site: Some(site.into()),
            servers: ServerKind::ALL.to_vec(),
            within_ms,
            from: from.into(),
            measure: None,
        },
    )
}

fn stays_with_gaps(grace_ms: u64, max_gaps: u32) -> (Activation, CheckSpec) {
    (
        Activation::Step(2),
        CheckSpec::StaysLoggedIn {
            site: "A".into(),
            servers: SESSION.to_vec(),
            duration_ms: 10_000,
            grace_ms,
            max_gaps,
        },
    )
}

fn stays(grace_ms: u64) -> (Activation, CheckSpec) {
    stays_with_gaps(grace_ms, 1)
}

fn call(within_ms: u64) -> (Activation, CheckSpec) {
    (
        Activation::Step(2),
        CheckSpec::CallAnswered {
            within_ms,
            from: "deliver_call".into(),
            measure: None,
        },
    )
}

fn start(spec: CheckSpec) -> (Activation, CheckSpec) {
    (Activation::Start, spec)
}

fn no_switchover() -> CheckSpec {
    CheckSpec::MaxSwitchovers {
        count: 0,
        per_ms: 10_000,
    }
}

fn split() -> CheckSpec {
    CheckSpec::NeverSplit {
        longer_than_ms: 5_000,
    }
}

fn cases() -> Vec<Case> {
    let mut v = expectation_cases();
    v.extend(invariant_cases());
    v.extend(herd_cases());
    v.extend(phone_cases());
    v
}

/// The phone rules (PH-1..PH-3), from `run --phone` with the faulty builtin phones of
/// docs/kill-matrix.md ("Faulty phones") on suites/certification/ph-phones.yaml, preferred site A,
/// keep-alives left out.
fn phone_cases() -> Vec<Case> {
    let registered = start(CheckSpec::PhoneRegistered {
        within_ms: 5_000,
        return_within_ms: 11_000,
    });
    vec![
        // `builtin --no-reregister` on registers-again-after-peer-returns: B's SIP Server pair
        // is killed and started again; the phone never registers there again.
        Case {
            name: "phone-not-registered-again",
            timeline: "phone-not-registered-again",
            rules: &["BC-3"],
            checks: vec![registered.clone()],
        },
        // `builtin --no-answer`: the call is redirected from B to A and rings the phone there,
        // which never answers.
        Case {
            name: "phone-never-answers",
            timeline: "phone-never-answers",
            rules: &["BC-10"],
            checks: vec![(
                Activation::Step(2),
                CheckSpec::PhoneRang { within_ms: 10_000 },
            )],
        },
        // `builtin --dial-preferred-only`: with A killed, the phone still dials via A.
        Case {
            name: "phone-dials-preferred-only",
            timeline: "phone-dials-preferred-only",
            rules: &["BC-4", "BC-10"],
            checks: vec![(
                Activation::Step(5),
                CheckSpec::PhoneDialed {
                    number: "5000".into(),
                    site: "B".into(),
                    within_ms: 5_000,
                },
            )],
        },
    ]
}

/// The expectations' failures, and the undecided and not-exercised ones.
fn expectation_cases() -> Vec<Case> {
    vec![
        Case {
            name: "logged-in-late",
            timeline: "slow-switch",
            rules: &["BC-4", "BC-5"],
            checks: vec![logged_in("B", 60_000, "kill_site", 2), start(split())],
        },
        Case {
            name: "logged-in-never",
            timeline: "never-switches",
            rules: &["BC-4", "BC-5"],
            checks: vec![logged_in("B", 10_000, "kill_site", 2)],
        },
        Case {
            name: "stays-logged-in-reconnection-too-long",
            timeline: "ha-failover-stays",
            rules: &["BC-7"],
            checks: vec![stays(500)],
        },
        Case {
            name: "stays-logged-in-too-many-gaps",
            timeline: "ha-failover-stays",
            rules: &["BC-11"],
            checks: vec![stays_with_gaps(5_000, 0)],
        },
        Case {
            name: "reconnected-at-the-same-site",
            timeline: "ha-failover-stays",
            rules: &["BC-11"],
            checks: vec![start(CheckSpec::MaxReconnects {
                count: 0,
                per_ms: 10_000,
            })],
        },
        Case {
            name: "disconnected-still-connected",
            timeline: "ha-failover-stays",
            rules: &["BC-7"],
            checks: vec![(
                Activation::Step(2),
                CheckSpec::Disconnected {
                    site: "A".into(),
                    within_ms: 1_000,
                    from: "ha_failover".into(),
                },
            )],
        },
        Case {
            name: "disconnected-behind-partition",
            timeline: "black-hole-dual-login",
            rules: &["BC-6"],
            checks: vec![(
                Activation::Step(2),
                CheckSpec::Disconnected {
                    site: "A".into(),
                    within_ms: 1_000,
                    from: "black_hole".into(),
                },
            )],
        },
        Case {
            name: "call-answered-late",
            timeline: "call-answered",
            rules: &["BC-10"],
            checks: vec![call(100)],
        },
        Case {
            name: "call-not-delivered",
            timeline: "call-not-delivered",
            rules: &["BC-10"],
            checks: vec![call(2_000), start(CheckSpec::DesktopAlive)],
        },
        Case {
            name: "marker-never-set",
            timeline: "quiet",
            rules: &["BC-4"],
            checks: vec![logged_in("B", 5_000, "kill_site", 0)],
        },
    ]
}

/// The herds' fleet checks' failures, from recorded herd timelines.
fn herd_cases() -> Vec<Case> {
    vec![
        // Recorded from `--defect ignore-overload` on suites/herds/herd-capacity.yaml (40 agents;
        // B's SIP Server admits 5 logins/s): the first 50 of A's SIP Server's overload answers at
        // the initial login, 0.34 s of them, the servers' event numbers closed up.
        Case {
            name: "herd-overload-ignored",
            timeline: "herd-overload-ignored",
            rules: &["BC-4", "BC-5"],
            checks: vec![start(CheckSpec::HerdWaited { agents: 40 })],
        },
        // Recorded from `--defect no-jitter` on suites/herds/herd-site-loss.yaml (seed 11): the
        // fault, then each agent's first CS Proxy registration after it (30 agents preferred A).
        Case {
            name: "herd-lock-step-reconnection",
            timeline: "herd-lock-step-reconnection",
            rules: &["BC-4", "BC-5", "BC-6"],
            checks: vec![start(CheckSpec::HerdBurst {
                agents: 40,
                window_ms: 100,
                max_percent: 20,
            })],
        },
        // Recorded from the reference on suites/herds/herd-site-loss.yaml (seed 11), its SIP
        // logins and logouts; the logins at B of the last ten agents to arrive are removed, as
        // from a floor ten of whose agents never made it.
        Case {
            name: "herd-ten-never-arrive",
            timeline: "herd-ten-never-arrive",
            rules: &["BC-4", "BC-5", "BC-6"],
            checks: vec![start(CheckSpec::HerdLoggedIn {
                agents: 40,
                within_ms: 3_000,
            })],
        },
        // Recorded from `--failback --defect no-jitter` on suites/herds/herd-failback.yaml
        // (seed 13): the markers, then the agents' SIP logins at A after `back`.
        Case {
            name: "herd-lock-step-failback",
            timeline: "herd-lock-step-failback",
            rules: &["BC-4", "BC-12"],
            checks: vec![start(CheckSpec::HerdReturn {
                agents: 40,
                window_ms: 100,
                max_percent: 20,
                site: "A".into(),
                from: "back".into(),
            })],
        },
        // Recorded from `--defect no-jitter` on suites/herds/herd-rounds.yaml (seed 22): the steps
        // before B had room and every overload answer that named its agent, the servers' event
        // numbers closed up.
        Case {
            name: "herd-rounds-in-step",
            timeline: "herd-rounds-in-step",
            rules: &["BC-9"],
            checks: vec![start(CheckSpec::HerdRounds {
                agents: 40,
                max_percent: 60,
            })],
        },
        // Recorded from `--defect tight-retry` as a herd of 4 agents in one process, both CS Proxy
        // pairs refusing every new connection (`overload` with `answer: refuse`) for 12 s: the
        // first 500 of its 7,996 turned-away connections.
        Case {
            name: "herd-hammered",
            timeline: "herd-hammered",
            rules: &["BC-9"],
            checks: vec![start(CheckSpec::HerdAttempts {
                agents: 4,
                per_agent_minute: 120,
            })],
        },
    ]
}

/// The invariants' failures, each named with the rule of its scenario or its own, and a scenario
/// that exercised nothing.
fn invariant_cases() -> Vec<Case> {
    vec![
        Case {
            name: "ha-failover-switches-site",
            timeline: "ha-failover-switches-site",
            rules: &["BC-7"],
            checks: vec![
                stays(5_000),
                start(CheckSpec::NoSwitchoverOnHaFailover),
                start(no_switchover()),
            ],
        },
        Case {
            name: "stat-loss-switches-site",
            timeline: "kill-site-switchover",
            rules: &["BC-8"],
            checks: vec![start(no_switchover())],
        },
        Case {
            name: "both-peers",
            timeline: "black-hole-dual-login",
            rules: &["BC-4", "BC-6"],
            checks: vec![start(CheckSpec::NeverLoggedInAtBothPeers)],
        },
        Case {
            name: "split",
            timeline: "leave-config-server",
            rules: &["BC-4", "BC-5"],
            checks: vec![start(split())],
        },
        Case {
            name: "thrash",
            timeline: "flap-thrash",
            rules: &["BC-11"],
            checks: vec![start(CheckSpec::MaxSwitchovers {
                count: 1,
                per_ms: 30_000,
            })],
        },
        Case {
            name: "overload-retried-early",
            timeline: "overload-retried-early",
            rules: &["BC-3"],
            checks: vec![start(CheckSpec::HonoursOverload)],
        },
        Case {
            name: "attempts-hammered",
            timeline: "attempts-hammered",
            rules: &["BC-9"],
            checks: vec![start(CheckSpec::MaxAttempts {
                count: 40,
                per_ms: 10_000,
            })],
        },
        // Recorded from mutant 72 (`Policy::backoff` -> 0, docs/mutation.md) on
        // cert-liveness/backs-off-between-rounds; of each site's run of turned-away connections
        // only the first and the last two are kept (the check reads the runs' ends; of the last
        // run at B, which the excerpt shows, the last six), the servers' event numbers closed up.
        Case {
            name: "no-pause-between-rounds",
            timeline: "no-pause-between-rounds",
            rules: &["BC-9"],
            checks: vec![start(CheckSpec::BacksOff {
                min_mean_pause_ms: 100,
                rounds: 7,
            })],
        },
        Case {
            name: "early-exit",
            timeline: "early-exit",
            rules: &["BC-9"],
            checks: vec![start(CheckSpec::DesktopAlive)],
        },
        Case {
            name: "nothing-exercised",
            timeline: "quiet",
            rules: &["BC-7"],
            checks: vec![
                start(CheckSpec::NoSwitchoverOnHaFailover),
                start(no_switchover()),
                start(CheckSpec::DesktopAlive),
            ],
        },
    ]
}

/// Everything a reader is told about the checks that did not pass.
fn render(o: &Outcome, t: &Timeline) -> String {
    let start = t.start_us().unwrap_or(0);
    let mut out = format!("verdict: {}\n", o.verdict);
    for c in &o.checks {
        match &c.status {
            Status::Fail(f) => {
                out.push('\n');
                for l in text::lines(f, start) {
                    out.push_str(&format!("{l}\n"));
                }
                for l in &f.excerpt {
                    out.push_str(&format!("  {l}\n"));
                }
            }
            Status::NotExercised { reason } => {
                out.push_str(&format!(
                    "\nnot exercised: {}: {reason}\n",
                    c.spec.describe()
                ));
            }
            Status::Unknown { reason } => {
                out.push_str(&format!("\nundecided: {}: {reason}\n", c.spec.describe()));
            }
            _ => {}
        }
    }
    out
}

fn kind(spec: &CheckSpec) -> String {
    serde_json::to_value(spec).expect("serialisable")["check"]
        .as_str()
        .expect("tagged")
        .to_string()
}

#[test]
fn failure_texts_match_the_pinned_ones() {
    let update = std::env::var_os("UPDATE_FAILURES").is_some();
    let mut problems = Vec::new();
    let mut failing = BTreeSet::new();
    for case in cases() {
        let path = root().join(format!("fixtures/timelines/{}.json", case.timeline));
        let mut t = Timeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
        t.subject.rules = case.rules.iter().map(|r| r.to_string()).collect();
        let o = replay(&t, &case.checks, &[]);
        for c in &o.checks {
            if matches!(c.status, Status::Fail(_)) {
                failing.insert(kind(&c.spec));
            }
        }
        let got = render(&o, &t);
        let pinned = root().join(format!("fixtures/failures/{}.txt", case.name));
        if update {
            std::fs::write(&pinned, &got).expect("write pinned text");
        } else if std::fs::read_to_string(&pinned).ok().as_deref() != Some(got.as_str()) {
            problems.push(format!(
                "{}: differs from the pinned text:\n{got}",
                case.name
            ));
        }
    }
    let every = [
        "logged_in",
        "stays_logged_in",
        "disconnected",
        "call_answered",
        "never_logged_in_at_both_peers",
        "never_split",
        "max_switchovers",
        "no_switchover_on_ha_failover",
        "desktop_alive",
        "honours_overload",
        "max_attempts",
        "backs_off",
        "herd_waited",
        "herd_burst",
        "herd_logged_in",
        "herd_return",
        "herd_attempts",
        "herd_rounds",
        "max_reconnects",
        "phone_registered",
        "phone_rang",
        "phone_dialed",
    ];
    for k in every {
        if !failing.contains(k) {
            problems.push(format!("no pinned failure of the check kind `{k}`"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n(UPDATE_FAILURES=1 regenerates the pinned texts)",
        problems.join("\n")
    );
}

#[test]
fn the_reference_profile_declares_what_the_reference_desktop_does_without_flags() {
    let caps =
        bc_engine::run::load_profile(&root().join("fixtures/desktops/reference.profile.yaml"))
            .expect("profile loads");
    let names: Vec<&str> = caps.capabilities.iter().map(|c| c.as_str()).collect();
    assert_eq!(names, ["stat_server", "auto_answer"]);
    // Its declared timers are the reference desktop's defaults: 300 ms + 1 s + 2 s random delay +
    // 2 s HA retry per gap.
    let t = caps
        .timers
        .expect("the reference profile declares its timers");
    assert_eq!(t.gap_grace().as_millis(), 5300);
}
