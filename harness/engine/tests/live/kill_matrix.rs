//! The kill matrix: the certification suites against the reference desktop (every run passes) and
//! against each faulty desktop (`--defect NAME`: some run of the rule it breaks must fail).
//! Slow (tens of minutes): `cargo test -p bc-engine --test live kill_matrix:: -- --ignored --nocapture`;
//! `BC_KILL_MATRIX_ONLY=reference,thrash` selects rows, `BC_KILL_MATRIX_JOBS` sets parallelism.
//! `kill_matrix_quick` (not ignored, a few minutes) runs each defect's catching run, and the reference on it;
//! two docker tests compare verdicts across runtimes and with a Toxiproxy-layout proxy image.

use std::time::{Duration, Instant};

use bc_engine::check::{text, Verdict};
use bc_engine::docker::{images, BuildOptions};
use bc_engine::env::RuntimeKind;
use bc_engine::run::{parse_capabilities, run, RunEvent, RunOptions, ScenarioResult};
use bc_test_support::{harness_bins, workspace_root};
use testcontainers::GenericBuildableImage;
use tokio::sync::{mpsc, watch};

/// What a row must show.
#[derive(Clone, Copy)]
enum Expect {
    /// Every run passes (or is skipped as inapplicable).
    Pass,
    /// Some run fails; the rule the defect breaks.
    Killed(&'static str),
}

/// One row: name, desktop flags, declared capabilities, suite files, expectation.
struct Row {
    name: &'static str,
    flags: &'static str,
    caps: &'static str,
    suites: &'static [&'static str],
    expect: Expect,
}

const BASE: &str = "stat_server,auto_answer";

const ROWS: &[Row] = &[
    Row {
        name: "reference",
        flags: "",
        caps: BASE,
        suites: &[""],
        expect: Expect::Pass,
    },
    Row {
        name: "reference --failback",
        flags: "--failback",
        caps: "stat_server,auto_answer,failback",
        suites: &["bc12-failback.yaml"],
        expect: Expect::Pass,
    },
    Row {
        name: "reference --stat-loss-triggers-dr",
        flags: "--stat-loss-triggers-dr",
        caps: "stat_server,auto_answer,stat_loss_triggers_dr",
        suites: &["bc08-stat-server.yaml"],
        expect: Expect::Pass,
    },
    Row {
        name: "never-switches",
        flags: "--defect never-switches",
        caps: BASE,
        suites: &["bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-4"),
    },
    Row {
        name: "slow-switch",
        flags: "--defect slow-switch",
        caps: BASE,
        suites: &["bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-4"),
    },
    Row {
        name: "no-keepalive",
        flags: "--defect no-keepalive",
        caps: BASE,
        // Black holes alone do not catch it: the mocks' client timeout closes the silent connection
        // and the close reaches the desktop. A frozen server (bc04 sip-server-frozen) does.
        suites: &["bc06-one-peer.yaml", "bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-4"),
    },
    Row {
        name: "switch-on-ha",
        flags: "--defect switch-on-ha",
        caps: BASE,
        suites: &["bc07-ha-failover.yaml"],
        expect: Expect::Killed("BC-7"),
    },
    Row {
        name: "dual-login",
        flags: "--defect dual-login",
        caps: BASE,
        // Caught where the old SIP session really stays up (CS Proxy pair lost, SIP Server fine).
        suites: &["bc06-one-peer.yaml", "bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-6"),
    },
    Row {
        name: "ignore-hierarchy",
        flags: "--defect ignore-hierarchy",
        caps: BASE,
        suites: &["bc01-bc02-preferred-site.yaml"],
        expect: Expect::Killed("BC-2"),
    },
    Row {
        name: "leave-config-server",
        flags: "--defect leave-config-server",
        caps: BASE,
        suites: &["bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-5"),
    },
    Row {
        name: "leave-stat-server",
        flags: "--defect leave-stat-server",
        caps: BASE,
        suites: &["bc04-bc05-loss-of-login.yaml"],
        expect: Expect::Killed("BC-5"),
    },
    Row {
        name: "thrash",
        flags: "--defect thrash",
        caps: BASE,
        suites: &["bc11-flapping.yaml"],
        expect: Expect::Killed("BC-11"),
    },
    Row {
        name: "give-up",
        flags: "--defect give-up",
        caps: BASE,
        suites: &["bc09-liveness.yaml"],
        expect: Expect::Killed("BC-9"),
    },
    Row {
        name: "no-dn-reregister",
        flags: "--defect no-dn-reregister",
        caps: BASE,
        suites: &["bc10-calls.yaml"],
        expect: Expect::Killed("BC-10"),
    },
    Row {
        name: "cache-preferred --failback",
        // Without failback a re-read preference is never acted upon: only a failback shows it.
        flags: "--defect cache-preferred --failback",
        caps: "stat_server,auto_answer,failback",
        suites: &["bc01-bc02-preferred-site.yaml"],
        expect: Expect::Killed("BC-2"),
    },
    Row {
        name: "stat-loss-dr",
        flags: "--defect stat-loss-dr",
        caps: BASE,
        suites: &["bc08-stat-server.yaml"],
        expect: Expect::Killed("BC-8"),
    },
    Row {
        name: "late-close",
        flags: "--defect late-close",
        caps: BASE,
        // Only a one-way partition that lets the desktop's Pings through shows the kept session.
        suites: &["bc06-one-peer.yaml"],
        expect: Expect::Killed("BC-6"),
    },
    Row {
        name: "churn-on-latency",
        flags: "--defect churn-on-latency",
        caps: BASE,
        // Only a slow but working link shows it: the sessions are re-opened at the same site.
        suites: &["bc11-flapping.yaml"],
        expect: Expect::Killed("BC-11"),
    },
    Row {
        name: "last-group-wins",
        flags: "--defect last-group-wins",
        caps: BASE,
        // Only an agent with two groups that both set the option, against dbid order, shows it.
        suites: &["bc01-bc02-preferred-site.yaml"],
        expect: Expect::Killed("BC-2"),
    },
    Row {
        name: "stick-mid-login",
        flags: "--defect stick-mid-login",
        caps: BASE,
        // Only a race catches it: the site must die while it holds the desktop's RequestAgentLogin.
        suites: &["bc03-bc05-races.yaml"],
        expect: Expect::Killed("BC-3"),
    },
    Row {
        name: "half-switch",
        flags: "--defect half-switch",
        caps: BASE,
        // The SIP link must close during a login whose CS Proxy link is open (races; bc03 sip-server-reset).
        suites: &["bc03-bc05-races.yaml"],
        expect: Expect::Killed("BC-5"),
    },
    Row {
        name: "leak-lost-session",
        flags: "--defect leak-lost-session",
        caps: BASE,
        // Only mocks that keep silent clients past the freeze show the session the desktop left open.
        suites: &["bc06-old-session-unmasked.yaml"],
        expect: Expect::Killed("BC-6"),
    },
    Row {
        name: "ignore-overload",
        flags: "--defect ignore-overload",
        caps: BASE,
        // Only an overload answer shows it: both CS Proxy pairs say "retry after 3000 ms".
        suites: &["bc03-initial-login.yaml"],
        expect: Expect::Killed("BC-3"),
    },
    Row {
        name: "tight-retry",
        flags: "--defect tight-retry",
        caps: BASE,
        // Only servers that turn it away without an answer show its attempts (HERD-4).
        suites: &["bc09-liveness.yaml"],
        expect: Expect::Killed("BC-9"),
    },
    Row {
        name: "relogin",
        flags: "--defect relogin",
        caps: BASE,
        // The SIP Server refuses a second login of an agent the backup still holds.
        suites: &["bc07-ha-failover.yaml"],
        expect: Expect::Killed("BC-7"),
    },
    Row {
        name: "never-ready",
        flags: "--defect never-ready",
        caps: BASE,
        // Routed calls reach only a Ready agent.
        suites: &["bc10-calls.yaml"],
        expect: Expect::Killed("BC-10"),
    },
    Row {
        name: "skip-logout",
        flags: "--defect skip-logout",
        caps: BASE,
        // Only SIP Servers that keep agents past their connection show the agent left behind.
        suites: &["bc06-logout.yaml"],
        expect: Expect::Killed("BC-6"),
    },
];

async fn run_row(row: &Row, jobs: usize, budget: Duration) -> Vec<ScenarioResult> {
    run_options(options(
        row.suites,
        row.flags,
        row.caps,
        None,
        jobs,
        budget,
        RuntimeKind::Local,
    ))
    .await
}

/// The runner's options for suite files (`""` = the whole certification) against the reference desktop
/// with `flags`.
fn options(
    suites: &[&str],
    flags: &str,
    caps: &str,
    filter: Option<&str>,
    jobs: usize,
    budget: Duration,
    runtime: RuntimeKind,
) -> RunOptions {
    let cert = workspace_root().join("suites/certification");
    let paths = suites
        .iter()
        .map(|s| {
            if s.is_empty() {
                cert.clone()
            } else {
                cert.join(s)
            }
        })
        .collect();
    let desktop = format!(
        "{} {}",
        harness_bins().join("bc-reference-desktop").display(),
        flags
    );
    let mut o = RunOptions::new(paths, desktop.trim().to_string());
    o.runtime = runtime;
    o.capabilities = parse_capabilities(caps).unwrap();
    o.filter = filter.map(str::to_string);
    o.bin_dir = Some(harness_bins());
    o.budget = Some(budget);
    o.jobs = Some(jobs);
    o.seed = 1;
    // A starved test machine makes the harness refuse to judge (`error`); that says nothing
    // about the desktop, so such a run is re-run rather than failing the matrix.
    o.retry_errors = 2;
    o
}

/// Runs to the end and returns every scenario's result.
async fn run_options(o: RunOptions) -> Vec<ScenarioResult> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_keep, cancel) = watch::channel(false);
    let handle = tokio::spawn(run(o, cancel, tx));
    let mut results = Vec::new();
    while let Some(e) = rx.recv().await {
        if let RunEvent::ScenarioFinished { result } = e {
            results.push(*result);
        }
    }
    handle.await.expect("runner task").expect("usable suites");
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: runs the certification suites against the reference and 14 faulty desktops"]
async fn kill_matrix() {
    let only: Option<Vec<String>> = std::env::var("BC_KILL_MATRIX_ONLY")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let jobs = std::env::var("BC_KILL_MATRIX_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let budget = Duration::from_secs(10);
    let mut table = vec![
        "| desktop | suites | runs | pass | fail | inconclusive | error | skipped | verdict | first broken check |".to_string(),
        "|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut problems = Vec::new();
    for row in ROWS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == row.name))
        {
            continue;
        }
        let t0 = Instant::now();
        let results = run_row(row, jobs, budget).await;
        let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
        let (pass, fail, inc, err, skip) = (
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Inconclusive),
            count(Verdict::Error),
            count(Verdict::Skipped),
        );
        let first = results
            .iter()
            .find_map(|r| {
                r.failures
                    .first()
                    .map(|f| format!("{}: {}", r.info.id, text::title(f)))
            })
            .unwrap_or_else(|| "-".into());
        let verdict = match row.expect {
            Expect::Pass if fail + inc + err == 0 => "all pass".to_string(),
            Expect::Pass => {
                for r in results.iter().filter(|r| {
                    matches!(
                        r.verdict,
                        Verdict::Fail | Verdict::Inconclusive | Verdict::Error
                    )
                }) {
                    problems.push(format!(
                        "{}: {} {:?} {:?} {:?}",
                        row.name,
                        r.info.id,
                        r.verdict,
                        r.failures.first().map(|f| &f.observed),
                        r.errors
                    ));
                }
                "FALSE ALARM".to_string()
            }
            Expect::Killed(rule) if fail > 0 => format!("killed ({rule})"),
            Expect::Killed(rule) => {
                problems.push(format!(
                    "{}: no run failed ({rule} defect survived)",
                    row.name
                ));
                "SURVIVED".to_string()
            }
        };
        let suites = row
            .suites
            .iter()
            .map(|s| if s.is_empty() { "all" } else { s })
            .collect::<Vec<_>>()
            .join(", ");
        let line = format!(
            "| {} | {suites} | {} | {pass} | {fail} | {inc} | {err} | {skip} | {verdict} | {} |",
            row.name,
            results.len(),
            first.replace('|', "/")
        );
        println!("{line}  ({:.0}s)", t0.elapsed().as_secs_f64());
        table.push(line);
    }
    println!("\n{}", table.join("\n"));
    assert!(
        problems.is_empty(),
        "kill matrix problems:\n{}",
        problems.join("\n")
    );
}

/// The quick matrix: per defect, the one run that catches it (from docs/kill-matrix.md) must fail
/// against the defect and pass against the reference with the same declared capabilities.
/// `(defect flags, reference flags, capabilities, suite file, run id)`.
const QUICK: &[(&str, &str, &str, &str, &str)] = &[
    (
        "--defect ignore-overload",
        "",
        BASE,
        "bc03-initial-login.yaml",
        "cert-initial-login/config-servers-overloaded[preferred=A]",
    ),
    (
        "--defect tight-retry",
        "",
        BASE,
        "bc09-liveness.yaml",
        "cert-liveness/both-sites-turn-clients-away[preferred=B]",
    ),
    (
        "--defect never-switches",
        "",
        BASE,
        "bc04-bc05-loss-of-login.yaml",
        "cert-loss-of-login/site-killed[preferred=A]",
    ),
    (
        "--defect slow-switch",
        "",
        BASE,
        "bc04-bc05-loss-of-login.yaml",
        "cert-loss-of-login/site-killed[preferred=B]",
    ),
    (
        "--defect no-keepalive",
        "",
        BASE,
        "bc06-one-peer.yaml",
        "cert-one-peer/healed-partition-drops-old-session[preferred=A]",
    ),
    (
        "--defect switch-on-ha",
        "",
        BASE,
        "bc07-ha-failover.yaml",
        "cert-ha-failover/sip-server-failover[preferred=B]",
    ),
    (
        "--defect dual-login",
        "",
        BASE,
        "bc06-one-peer.yaml",
        "cert-one-peer/config-pair-killed-sip-stays-up[preferred=A]",
    ),
    (
        "--defect ignore-hierarchy",
        "",
        BASE,
        "bc01-bc02-preferred-site.yaml",
        "cert-preferred-site/start-at-preferred[preferred=B]",
    ),
    (
        "--defect leave-config-server",
        "",
        BASE,
        "bc04-bc05-loss-of-login.yaml",
        "cert-loss-of-login/site-killed[preferred=B]",
    ),
    (
        "--defect leave-stat-server",
        "",
        BASE,
        "bc04-bc05-loss-of-login.yaml",
        "cert-loss-of-login/site-killed[preferred=A]",
    ),
    (
        "--defect thrash",
        "",
        BASE,
        "bc11-flapping.yaml",
        "cert-flapping/sip-link-flapping-refused[preferred=B]",
    ),
    (
        "--defect give-up",
        "",
        BASE,
        "bc09-liveness.yaml",
        "cert-liveness/both-down-then-other-back[preferred=B]",
    ),
    (
        "--defect no-dn-reregister",
        "",
        BASE,
        "bc10-calls.yaml",
        "cert-calls/call-after-site-killed[preferred=A]",
    ),
    (
        "--defect cache-preferred --failback",
        "--failback",
        "stat_server,auto_answer,failback",
        "bc01-bc02-preferred-site.yaml",
        "cert-preferred-site/changed-during-outage-read-at-next-connection[preferred=A]",
    ),
    (
        "--defect stat-loss-dr",
        "",
        BASE,
        "bc08-stat-server.yaml",
        "cert-stat-server/stat-pair-killed-no-dr[preferred=A]",
    ),
    (
        "--defect late-close",
        "",
        BASE,
        "bc06-one-peer.yaml",
        "cert-one-peer/one-way-partition-to-desktop[preferred=A]",
    ),
    (
        "--defect churn-on-latency",
        "",
        BASE,
        "bc11-flapping.yaml",
        "cert-flapping/high-latency-no-switchover[preferred=B]",
    ),
    (
        "--defect last-group-wins",
        "",
        BASE,
        "bc01-bc02-preferred-site.yaml",
        "cert-preferred-site/first-group-in-order",
    ),
    (
        "--defect stick-mid-login",
        "",
        BASE,
        "bc03-bc05-races.yaml",
        "cert-races/site-killed-during-login[preferred=B]",
    ),
    (
        "--defect half-switch",
        "",
        BASE,
        "bc03-bc05-races.yaml",
        "cert-races/switch-cut-as-preferred-returns[preferred=A]",
    ),
    (
        "--defect leak-lost-session",
        "",
        BASE,
        "bc06-old-session-unmasked.yaml",
        "cert-one-peer-unmasked/thawed-server-finds-old-session-closed[preferred=A]",
    ),
    (
        "--defect relogin",
        "",
        BASE,
        "bc07-ha-failover.yaml",
        "cert-ha-failover/sip-server-failover[preferred=A]",
    ),
    (
        "--defect never-ready",
        "",
        BASE,
        "bc10-calls.yaml",
        "cert-calls/call-before-fault[preferred=B]",
    ),
    (
        "--defect skip-logout",
        "",
        BASE,
        "bc06-logout.yaml",
        "cert-logout/config-pair-killed-agent-logged-out[preferred=A]",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_matrix_quick() {
    let budget = Duration::from_secs(10);
    let mut problems = Vec::new();
    for (defect, reference, caps, suite, id) in QUICK {
        // The faulty desktop and the reference run side by side: each run mostly waits on its
        // fault's deadlines, so the pair takes the time of one (CI's wall time, not its CPU).
        let one = |flags: &'static str| {
            run_options(options(
                &[suite],
                flags,
                caps,
                Some(id),
                1,
                budget,
                RuntimeKind::Local,
            ))
        };
        let (faulty, clean) = tokio::join!(one(defect), one(reference));
        for (flags, want_fail, results) in [(*defect, true, faulty), (*reference, false, clean)] {
            let r = match results.as_slice() {
                [r] if r.info.id == *id => r,
                _ => {
                    problems.push(format!(
                        "{id}: expected exactly this run, got {}",
                        results.len()
                    ));
                    continue;
                }
            };
            let ok = if want_fail {
                r.verdict == Verdict::Fail
            } else {
                r.verdict == Verdict::Pass
            };
            println!(
                "{id} [{}] -> {:?}{}",
                if flags.is_empty() { "reference" } else { flags },
                r.verdict,
                r.failures
                    .first()
                    .map(|f| format!("; first broken check: {}", text::title(f)))
                    .unwrap_or_default()
            );
            if !ok {
                problems.push(format!(
                    "{id} with `{flags}`: {:?} (wanted {}) {:?} {:?}",
                    r.verdict,
                    if want_fail { "fail" } else { "pass" },
                    r.failures.first().map(|f| &f.observed),
                    r.errors
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "quick kill matrix:\n{}",
        problems.join("\n")
    );
}

/// One faulty desktop per kind of "site down" (killed, refused, black hole, reset), and the reference on
/// the same runs, plus a one-way partition: the Docker runtime must give the same verdicts as the local one.
/// `(defect flags, suite file, run id)`.
const SAME_ON_DOCKER: &[(&str, &str, &str)] = &[
    (
        "--defect never-switches",
        LOSS,
        "cert-loss-of-login/config-server-killed[preferred=A]",
    ),
    (
        "--defect never-switches",
        LOSS,
        "cert-loss-of-login/sip-server-refused[preferred=B]",
    ),
    (
        "--defect no-keepalive",
        LOSS,
        "cert-loss-of-login/sip-server-black-holed[preferred=A]",
    ),
    (
        "--defect leave-config-server",
        LOSS,
        "cert-loss-of-login/config-server-reset[preferred=B]",
    ),
    (
        "--defect late-close",
        "bc06-one-peer.yaml",
        "cert-one-peer/one-way-partition-to-desktop[preferred=B]",
    ),
    (
        "--defect stick-mid-login",
        "bc03-bc05-races.yaml",
        "cert-races/site-killed-during-login[preferred=B]",
    ),
    (
        "--defect half-switch",
        "bc03-bc05-races.yaml",
        "cert-races/switch-cut-as-preferred-returns[preferred=B]",
    ),
];

const LOSS: &str = "bc04-bc05-loss-of-login.yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_gives_the_same_verdicts_as_local() {
    if RuntimeKind::Auto.resolve().await != RuntimeKind::Docker {
        println!("SKIPPED docker_gives_the_same_verdicts_as_local: no docker engine answers");
        return;
    }
    let budget = Duration::from_secs(10);
    let mut table = Vec::new();
    for (defect, suite, id) in SAME_ON_DOCKER {
        for flags in [*defect, ""] {
            let mut verdicts = Vec::new();
            for runtime in [RuntimeKind::Local, RuntimeKind::Docker] {
                let r =
                    run_options(options(&[suite], flags, BASE, Some(id), 1, budget, runtime)).await;
                assert_eq!(r.len(), 1, "{id}: one run expected");
                verdicts.push(r[0].verdict);
            }
            let who = if flags.is_empty() { "reference" } else { flags };
            println!(
                "{id} [{who}] local {:?} docker {:?}",
                verdicts[0], verdicts[1]
            );
            table.push((id, who, verdicts[0], verdicts[1]));
        }
    }
    for (id, who, local, docker) in &table {
        assert_eq!(local, docker, "{id} [{who}]: local and docker disagree");
        let want = if *who == "reference" {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        assert_eq!(*local, want, "{id} [{who}]");
    }
}

/// A Toxiproxy image laid out like Shopify's (`/toxiproxy` as entrypoint, `CMD ["-host=0.0.0.0"]`, no ready
/// line we own) holding bc-toxiproxy, since no image can be pulled here: `--toxiproxy-image` must start it
/// by toxiproxy-server's flags, wait for its API, and give the same verdicts through it as through ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_with_a_toxiproxy_image_gives_the_same_verdicts() {
    let docker = match bc_engine::docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            println!("SKIPPED docker_with_a_toxiproxy_image_gives_the_same_verdicts: {e}");
            return;
        }
    };
    let missing = "bc-harness/never-built:none";
    let err = images::ensure_present(&docker, missing).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(missing) && text.contains("hint:"),
        "a missing image gets a clear error: {text}"
    );

    let build = BuildOptions::default();
    let dir = images::static_binary_dir(&build)
        .await
        .expect("static binaries");
    let binary = dir.join("bc-toxiproxy");
    let stand_in = images::build_once(
        &docker,
        GenericBuildableImage::new(
            "bc-harness/toxiproxy-shopify-layout",
            images::content_tag(&std::fs::read(&binary).unwrap()),
        )
        .with_dockerfile_string(images::scratch_dockerfile(
            "toxiproxy",
            "/toxiproxy",
            &["-host=0.0.0.0"],
        ))
        .with_file(&binary, "toxiproxy"),
    )
    .await
    .expect("stand-in image");

    let budget = Duration::from_secs(10);
    // The proxy-borne faults: a disabled proxy (refused), a timeout toxic (black hole), a reset_peer
    // toxic, a timeout toxic on one stream (one-way partition).
    let mut problems = Vec::new();
    for (defect, suite, id) in &SAME_ON_DOCKER[1..] {
        for flags in [*defect, ""] {
            let mut o = options(
                &[suite],
                flags,
                BASE,
                Some(id),
                1,
                budget,
                RuntimeKind::Docker,
            );
            o.proxy_image = Some(stand_in.clone());
            let r = run_options(o).await;
            assert_eq!(r.len(), 1, "{id}: one run expected");
            let want = if flags.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let who = if flags.is_empty() { "reference" } else { flags };
            println!("{id} [{who}] with {stand_in}: {:?}", r[0].verdict);
            if r[0].verdict != want {
                problems.push(format!(
                    "{id} [{who}]: {:?}, want {want:?} ({:?})",
                    r[0].verdict, r[0].errors
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
