//! A small herd on the local runtime: a floor of agents (a generated configuration database, a few
//! multi-agent reference desktop processes) loses site A at once; the fleet rules judge what the
//! servers saw. The jittered reference passes HERD-1/2/4/5; `no-jitter` and `tight-retry` fail
//! HERD-2, `no-jitter` HERD-5 where every site turns the floor away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bc_engine::check::herd::{self, HerdBounds};
use bc_engine::check::Status;
use bc_engine::env::{EnvConfig, Environment, InstanceId, RuntimeKind, Topology};
use bc_protocol::{EventKind, ObservedEvent, ServerKind};
use bc_test_support::{harness_bins, temp_suite};

mod flap;
mod groups;

/// How long after the fault the herd has to be logged in at B (HERD-1's deadline).
const BUDGET: Duration = Duration::from_secs(10);

/// A configuration database of `n` agents (agent2001.., DNs 8001..), all preferring site A
/// (Tenant level), so that losing A moves every one of them.
fn write_floor_db(dir: &Path, n: usize) -> PathBuf {
    let mut y = String::from(
        "tenants:\n  - dbid: 1\n    name: Environment\n    annex:\n      business-continuity:\n        preferred-site: A\nagent_groups: []\npersons:\n",
    );
    for i in 0..n {
        let id = 2001 + i;
        y.push_str(&format!(
            "  - dbid: {id}\n    name: Agent {id}\n    username: agent{id}\n    password: pass{id}\n    employee_id: \"{id}\"\n    tenant_dbid: 1\n    agent_group_dbids: []\n    agent_logins: [\"{id}\"]\n    dn: \"{}\"\n    annex: {{}}\n",
            id + 6000
        ));
    }
    y.push_str("dns:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - dbid: {0}\n    number: \"{0}\"\n    tenant_dbid: 1\n",
            2001 + i + 6000
        ));
    }
    let path = dir.join("floor.yaml");
    std::fs::write(&path, y).unwrap();
    path
}

/// One multi-agent connection file per desktop process, agents dealt out in order.
fn floor_files(env: &Environment, dir: &Path, n: usize, procs: usize) -> Vec<PathBuf> {
    let per = n.div_ceil(procs);
    (0..procs)
        .map(|p| {
            let ids: Vec<usize> = (p * per..((p + 1) * per).min(n)).map(|i| 2001 + i).collect();
            let base = env.connection_file(&format!("agent{}", ids[0])).unwrap();
            let mut v = serde_json::to_value(&base).unwrap();
            v["agents"] = ids
                .iter()
                .map(|id| {
                    serde_json::json!({"username": format!("agent{id}"), "password": format!("pass{id}"),
                        "agent_id": id.to_string(), "dn": (id + 6000).to_string()})
                })
                .collect();
            let path = dir.join(format!("desktop{p}.json"));
            std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
            path
        })
        .collect()
}

/// How site A goes down.
#[derive(Clone, Copy, PartialEq)]
enum Loss {
    /// Every A instance killed (SIGKILL): a hard site loss; attempts at A are not seen.
    Kill,
    /// Every A instance refuses every client (capacity `max_clients: 0`, `answer: refuse`) and
    /// drops the ones it has: attempts at A stay visible (`overloaded` events).
    Refuse,
}

/// What the servers saw after the fault.
struct Seen {
    /// The agents at A when it went down.
    herd: usize,
    fault_us: i64,
    first_contact_b: Vec<i64>,
    logins_b: BTreeMap<String, i64>,
    attempts_a: Vec<i64>,
}

/// Takes every instance of site A down the `loss` way; returns the fault's instant.
async fn take_site_a_down(env: &Environment, loss: Loss) -> i64 {
    let a: Vec<InstanceId> = env
        .instances()
        .into_iter()
        .filter(|i| i.site == "A")
        .collect();
    let fault_us = env.now_us();
    match loss {
        Loss::Kill => {
            let kills = a.iter().map(|id| env.runtime().kill(id));
            for r in futures::future::join_all(kills).await {
                r.expect("kill");
            }
        }
        Loss::Refuse => {
            let http = reqwest::Client::new();
            for id in &a {
                let url = env.control_url(id).unwrap();
                let cap = serde_json::json!({"max_clients": 0, "answer": "refuse"});
                let r = http.post(format!("{url}/capacity")).json(&cap).send();
                assert!(r.await.unwrap().status().is_success());
                let r = http.post(format!("{url}/reset")).send().await.unwrap();
                assert!(r.status().is_success());
            }
        }
    }
    fault_us
}

/// One herd at a time: two at once on two cores would measure the machine, not the desktops.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_herd(defect: Option<&str>, n: usize, procs: usize, loss: Loss) -> Seen {
    let _one = ONE_AT_A_TIME.lock().await;
    let bins = harness_bins();
    let dir = tempfile::tempdir().unwrap();
    let topo = Topology::load(write_floor_db(dir.path(), n))
        .unwrap()
        .with_stat_server(false);
    let mut cfg = EnvConfig::new(topo).with_runtime(RuntimeKind::Local);
    cfg.bin_dir = Some(bins.clone());
    let mut env = Environment::start(cfg).await.expect("environment starts");
    let mut events = env.take_events().unwrap();
    let mut desktops = Vec::new();
    for file in floor_files(&env, dir.path(), n, procs) {
        let mut cmd = tokio::process::Command::new(bins.join("bc-reference-desktop"));
        cmd.arg("--config").arg(&file).env("BC_HARNESS_SEED", "1");
        if let Some(d) = defect {
            cmd.args(["--defect", d]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("desktop starts");
        desktops.push(child);
    }
    // The whole floor logged in first; the herd is whoever is at A then (a login that timed out
    // on a loaded machine may have sent an agent to B, which the loss of A does not move).
    let mut site_of: BTreeMap<String, String> = BTreeMap::new();
    let started = tokio::time::Instant::now();
    while site_of.len() < n {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        let e = tokio::time::timeout(left, events.recv())
            .await
            .unwrap_or_else(|_| panic!("only {}/{n} agents logged in", site_of.len()))
            .expect("event feed open");
        if let EventKind::AgentLogin { agent_id, .. } = &e.kind {
            site_of.insert(agent_id.clone(), e.site.clone());
        }
    }
    // Then the floor settles: on a loaded machine a login at A can be answered after the desktop
    // gave up on it and moved to B; such an agent is not in the herd (it is not at A), so the
    // floor is taken once no login or registration has been seen for a while (bounded).
    let settle = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last_move = tokio::time::Instant::now();
    loop {
        let quiet_at = (last_move + Duration::from_millis(700)).min(settle);
        let Ok(Some(e)) = tokio::time::timeout_at(quiet_at, events.recv()).await else {
            break;
        };
        match &e.kind {
            EventKind::AgentLogin { agent_id, .. } => {
                site_of.insert(agent_id.clone(), e.site.clone());
                last_move = tokio::time::Instant::now();
            }
            EventKind::ClientRegistered { .. }
            | EventKind::ClientConnected { .. }
            | EventKind::ClientDisconnected { .. } => last_move = tokio::time::Instant::now(),
            _ => {}
        }
    }
    let herd: std::collections::BTreeSet<String> = site_of
        .into_iter()
        .filter(|(_, s)| s == "A")
        .map(|(a, _)| a)
        .collect();
    let fault_us = take_site_a_down(&env, loss).await;
    let end = tokio::time::Instant::now() + BUDGET;
    let mut seen: Vec<ObservedEvent> = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout_at(end, events.recv()).await {
        if e.ts_us >= fault_us {
            seen.push(e);
        }
    }
    drop(desktops);
    let _ = env.shutdown().await;
    classify(&seen, &herd, fault_us)
}

/// What the servers saw after the fault, per rule.
fn classify(
    seen: &[ObservedEvent],
    herd: &std::collections::BTreeSet<String>,
    fault_us: i64,
) -> Seen {
    let mut first_contact_b: BTreeMap<String, i64> = BTreeMap::new();
    let mut logins_b = BTreeMap::new();
    let mut attempts_a = Vec::new();
    for e in seen {
        match (&e.site[..], e.server, &e.kind) {
            (
                "B",
                ServerKind::ConfigServer,
                EventKind::ClientRegistered {
                    user_name: Some(u), ..
                },
                // Only the herd's agents (username agentNNNN, agent id NNNN) count.
            ) if herd.contains(u.trim_start_matches("agent")) => {
                first_contact_b.entry(u.clone()).or_insert(e.ts_us);
            }
            ("B", ServerKind::SipServer, EventKind::AgentLogin { agent_id, .. })
                if herd.contains(agent_id) =>
            {
                logins_b.entry(agent_id.clone()).or_insert(e.ts_us);
            }
            ("A", _, EventKind::Overloaded { .. }) => attempts_a.push(e.ts_us),
            _ => {}
        }
    }
    Seen {
        herd: herd.len(),
        fault_us,
        first_contact_b: first_contact_b.into_values().collect(),
        logins_b,
        attempts_a,
    }
}

fn report(name: &str, s: &Seen) -> [Status; 3] {
    let n = s.herd;
    let b = HerdBounds::default();
    let deadline = s.fault_us + BUDGET.as_micros() as i64;
    let h1 = herd::herd1_logged_in(n, &s.logins_b, 0, s.fault_us, deadline, &b);
    let h2 = herd::herd2_dispersed("HERD-2", n, &s.first_contact_b, s.fault_us, &b);
    let h4 = herd::herd4_no_hammering(n, &s.attempts_a, &b);
    let [p50, p95, max] = herd::switchover_percentiles(&s.logins_b, s.fault_us);
    let (most, _) = herd::busiest_window(&s.first_contact_b, b.window_us);
    eprintln!(
        "{name}: {}/{n} logged in at B; switchover p50 {p50} p95 {p95} max {max} µs; busiest 100 ms: {most} first contacts; {} attempts at A ({:.1}/agent/min)",
        s.logins_b.len(),
        s.attempts_a.len(),
        herd::attempts_per_agent_minute(&s.attempts_a, n)
    );
    eprintln!("  HERD-1 {h1:?}\n  HERD-2 {h2:?}\n  HERD-4 {h4:?}");
    // The first contacts' offsets from the fault, in ms: what a HERD-2 failure was made of.
    let mut offsets: Vec<i64> = s
        .first_contact_b
        .iter()
        .map(|t| (t - s.fault_us) / 1000)
        .collect();
    offsets.sort_unstable();
    eprintln!("  first contacts at B (ms after the fault): {offsets:?}");
    [h1, h2, h4]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jittered_herd_disperses_and_a_lock_step_one_does_not() {
    let n = 120;
    let reference = run_herd(None, n, 3, Loss::Kill).await;
    let [h1, h2, _] = report("reference", &reference);
    assert_eq!(h1, Status::Pass, "HERD-1");
    assert_eq!(h2, Status::Pass, "HERD-2");
    let lock_step = run_herd(Some("no-jitter"), n, 3, Loss::Kill).await;
    let [h1, h2, _] = report("no-jitter", &lock_step);
    assert_eq!(h1, Status::Pass, "no-jitter still gets everyone logged in");
    assert!(matches!(h2, Status::Fail(_)), "no-jitter must fail HERD-2");
}

/// A site that refuses every client keeps the attempts visible: the jittered herd's are bounded
/// (HERD-4) and it still gets everyone logged in at B. `tight-retry` is caught here by HERD-2 (no
/// random delay: lock-step), not yet by HERD-4: its 5 ms HA rounds are paced by each refused
/// attempt's own round trip through the proxy, so it makes no more attempts than the reference
/// within the 2 s HA window (docs/rules.md, HERD-4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_site_sees_bounded_attempts_from_a_jittered_herd() {
    let n = 40;
    let reference = run_herd(None, n, 2, Loss::Refuse).await;
    let [h1, _, h4] = report("reference", &reference);
    assert_eq!(h1, Status::Pass, "HERD-1");
    assert_eq!(
        h4,
        Status::Pass,
        "HERD-4 (attempts seen: {})",
        reference.attempts_a.len()
    );
    assert!(
        !reference.attempts_a.is_empty(),
        "attempts at the refusing site are seen"
    );
    let tight = run_herd(Some("tight-retry"), n, 2, Loss::Refuse).await;
    let [_, h2, _] = report("tight-retry", &tight);
    assert!(
        matches!(h2, Status::Fail(_)),
        "tight-retry must fail HERD-2"
    );
}

/// The herd suite through the runner (`herd:` in the suite language): every agent checked against
/// every expectation, HERD-1 and HERD-2 over all of them, keep-alives summarised. The jittered
/// reference passes; `no-jitter` breaks HERD-2 and only HERD-2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_suite_passes_the_reference_and_catches_lock_step_reconnection() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = bc_test_support::workspace_root().join("suites/herds/herd-site-loss.yaml");
    let reference = run_suite_whole(&suite, None).await;
    assert_eq!(
        reference["verdict"], "pass",
        "the reference passes the herd: {:#}",
        reference["failures"]
    );
    // HERD-1 is a fleet check of a whole-site loss, and it passed.
    let herd1: Vec<&serde_json::Value> = reference["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["spec"].to_string().contains("herd_logged_in"))
        .collect();
    assert_eq!(
        herd1.len(),
        1,
        "one HERD-1 check: {:#}",
        reference["checks"]
    );
    assert_eq!(herd1[0]["status"]["status"], "pass", "{:#}", herd1[0]);
    // A floor's keep-alives are summarised per connection, never observed one by one.
    let kinds: Vec<&str> = reference["timeline"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"]["kind"].as_str())
        .collect();
    let count = |k: &str| kinds.iter().filter(|&&x| x == k).count();
    assert_eq!(count("ping") + count("pong"), 0, "no keep-alive one by one");
    // A killed site tells nothing more; the summaries are site B's (every 5 s, and at each close
    // the run still watches), so how many depends on timing, but there are some.
    assert!(
        count("keepalive_summary") > 0,
        "keep-alives summarised: {kinds:?}"
    );
    let measured = reference["measurements"].as_array().unwrap();
    for name in ["switchover p50", "switchover p95", "switchover max"] {
        assert!(
            measured
                .iter()
                .any(|m| m["name"] == name && m["micros"].is_i64()),
            "{name} measured over the agents: {measured:?}"
        );
    }
    let lock_step = run_suite(&suite, Some("no-jitter")).await;
    let observed = broken_only(&lock_step, &["HERD-2"]);
    assert!(observed.contains("first contacts"), "{observed}");
}

/// A declared capacity (`topology.capacity`): site B's SIP Server admits 5 logins a second when
/// the floor arrives from A. The reference waits as told and the herd is whole in time (HERD-1);
/// `ignore-overload` comes back at once and breaks HERD-3, judged agent by agent since the
/// reference names its agent to a SIP Server too, and only HERD-3; `tight-retry`, run to its end,
/// breaks HERD-2, HERD-3 and HERD-4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_meets_a_sip_server_with_a_login_rate() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = bc_test_support::workspace_root().join("suites/herds/herd-capacity.yaml");
    let reference = run_suite_whole(&suite, None).await;
    assert_eq!(
        reference["verdict"], "pass",
        "the reference passes: {:#}",
        reference["failures"]
    );
    let turned_away = reference["timeline"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "overloaded" && e["event"]["server"] == "sip_server")
        .count();
    assert!(turned_away > 0, "the SIP Servers' login rate was reached");
    let eager = run_suite(&suite, Some("ignore-overload")).await;
    let observed = broken_only(&eager, &["HERD-3"]);
    assert!(observed.contains("retried early by"), "{observed}");
    assert!(
        observed.contains("after being told to wait 1.000s"),
        "{observed}"
    );
    // Run to its end (a scenario stops at its first failure by default), `tight-retry` shows all
    // it breaks: lock-step (HERD-2), no wait for the answer's delay (HERD-3), and hammering the
    // rate-limited server (HERD-4: ~350 turn-aways for its worst agent, the reference's 3).
    let hammering = run_suite_tuned(&suite, "--defect tight-retry", |o| o.run_to_end = true).await;
    broken_only(&hammering, &["HERD-2", "HERD-3", "HERD-4"]);
    let texts: Vec<&str> = hammering["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["observed"].as_str())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("times within a minute")),
        "HERD-4 gives its count: {texts:#?}"
    );
}

/// HERD-7: a floor that fails back (BC-12, `--failback`) returns to its preferred site spread out,
/// as it left it; `no-jitter` returns in lock-step and breaks HERD-2 and HERD-7, and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_fails_back_spread_out() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = bc_test_support::workspace_root().join("suites/herds/herd-failback.yaml");
    let caps = || vec![bc_suite::Capability::Failback];
    let reference = run_suite_with(&suite, "--failback", caps()).await;
    assert_eq!(
        reference["verdict"], "pass",
        "the reference passes: {:#}",
        reference["failures"]
    );
    let herd7: Vec<&serde_json::Value> = reference["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["spec"]["check"] == "herd_return")
        .collect();
    assert_eq!(
        herd7.len(),
        1,
        "one HERD-7 check: {:#}",
        reference["checks"]
    );
    assert_eq!(herd7[0]["status"]["status"], "pass", "{:#}", herd7[0]);
    let lock_step = run_suite_with(&suite, "--failback --defect no-jitter", caps()).await;
    broken_only(&lock_step, &["HERD-2", "HERD-7"]);
}

/// HERD-5: a floor that every site turns away (both CS Proxy pairs answer `overloaded`) goes round
/// the sites in rounds until B has room. The jittered reference's agents come back after intervals
/// of their own (about 40 % of them within one 250 ms into round 4); `no-jitter`'s come back after
/// the same interval and break HERD-5, besides HERD-2 when the floor arrives at B in step too, and
/// nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_s_retry_rounds_do_not_stay_in_step() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = bc_test_support::workspace_root().join("suites/herds/herd-rounds.yaml");
    let herd5 = |result: &serde_json::Value| -> serde_json::Value {
        let found: Vec<&serde_json::Value> = result["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["spec"]["check"] == "herd_rounds")
            .collect();
        assert_eq!(found.len(), 1, "one HERD-5 check: {:#}", result["checks"]);
        found[0]["status"].clone()
    };
    let reference = run_suite(&suite, None).await;
    assert_eq!(
        reference["verdict"], "pass",
        "the reference passes: {:#}",
        reference["failures"]
    );
    assert_eq!(herd5(&reference)["status"], "pass", "{reference:#}");
    let lock_step = run_suite(&suite, Some("no-jitter")).await;
    assert_eq!(lock_step["verdict"], "fail", "{lock_step:#}");
    assert_eq!(herd5(&lock_step)["status"], "fail", "{lock_step:#}");
    let failures = lock_step["failures"].as_array().unwrap();
    let broken: Vec<&str> = failures
        .iter()
        .flat_map(|f| f["rules"].as_array().unwrap())
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        broken.iter().all(|r| ["HERD-2", "HERD-5"].contains(r)),
        "only the fleet rules break: {failures:#?}"
    );
    let observed = failures
        .iter()
        .find(|f| f["rules"][0] == "HERD-5")
        .and_then(|f| f["observed"].as_str())
        .unwrap();
    assert!(observed.starts_with("round 4: "), "{observed}");
}

/// Asserts that `result` failed breaking exactly `rules` (sorted); the first failure's observation.
fn broken_only(result: &serde_json::Value, rules: &[&str]) -> String {
    assert_eq!(result["verdict"], "fail", "{result:#}");
    let failures = result["failures"].as_array().unwrap();
    let mut broken: Vec<&str> = failures
        .iter()
        .flat_map(|f| f["rules"].as_array().unwrap())
        .filter_map(|r| r.as_str())
        .collect();
    broken.sort_unstable();
    // A rule may be broken by two checks (HERD-3: the scenario's `honours_overload` per agent
    // and the fleet's own); what counts is which rules.
    broken.dedup();
    assert_eq!(broken, rules, "only {rules:?} break: {failures:#?}");
    failures[0]["observed"].as_str().unwrap().to_string()
}

/// A herd synthesised from one desktop's repeated runs (`--repeat 20 --herd-of 2000`): the
/// reference's spread delays make a floor that passes HERD-1 and HERD-2; `no-jitter`'s equal
/// ones make a floor in lock-step, and the synthesised run fails HERD-2 alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_synthesised_from_repeated_runs_of_one_desktop() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite =
        bc_test_support::workspace_root().join("suites/certification/bc04-bc05-loss-of-login.yaml");
    let synthesised = |flags: &str| {
        let desktop = format!(
            "{} --config {{config}} {flags}",
            harness_bins().join("bc-reference-desktop").display()
        );
        let mut o = bc_engine::run::RunOptions::new(vec![suite.clone()], desktop);
        o.filter = Some("site-killed[preferred=A]".into());
        o.repeat = 20;
        o.herd_of = Some(2000);
        // The arithmetic herd alone; its replay is the next test's.
        o.herd_replay = false;
        o.jobs = Some(2);
        o.budget = Some(Duration::from_secs(10));
        async move {
            let results = journal_results(o).await;
            assert_eq!(results.len(), 21, "20 repetitions and the herd");
            results
                .into_iter()
                .find(|r| {
                    r["info"]["id"]
                        .as_str()
                        .unwrap()
                        .ends_with("(herd of 2000 from 20 runs)")
                })
                .expect("the synthesised herd is a run of its own")
        }
    };
    let reference = synthesised("").await;
    assert_eq!(reference["verdict"], "pass", "{reference:#}");
    let lock_step = synthesised("--defect no-jitter").await;
    assert_eq!(lock_step["verdict"], "fail", "{lock_step:#}");
    let failures = lock_step["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["rules"][0], "HERD-2");
    let observed = failures[0]["observed"].as_str().unwrap();
    assert!(observed.contains("measured runs"), "{observed}");
}

/// The same repeated runs replayed against the servers (`--repeat 10 --herd-of 200`): 200
/// reference desktop agents in 4 processes lose site A together, each first contacting B at a
/// delay drawn from the 10 measured first contacts. The reference's spread delays make a floor
/// that passes HERD-1 and HERD-2 on what the servers saw; `no-jitter`'s make one in lock-step,
/// which fails HERD-2 alone. Both are reported beside the arithmetic herd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_herd_replayed_from_repeated_runs_of_one_desktop() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite =
        bc_test_support::workspace_root().join("suites/certification/bc04-bc05-loss-of-login.yaml");
    let replayed = |flags: &str| {
        let desktop = format!(
            "{} --config {{config}} {flags}",
            harness_bins().join("bc-reference-desktop").display()
        );
        let mut o = bc_engine::run::RunOptions::new(vec![suite.clone()], desktop);
        o.filter = Some("site-killed[preferred=A]".into());
        o.repeat = 10;
        o.herd_of = Some(200);
        o.jobs = Some(2);
        o.budget = Some(Duration::from_secs(10));
        async move {
            let results = journal_results(o).await;
            let ids: Vec<&str> = results
                .iter()
                .filter_map(|r| r["info"]["id"].as_str())
                .collect();
            assert_eq!(results.len(), 12, "10 repetitions and two herds: {ids:?}");
            assert!(
                ids.contains(
                    &"cert-loss-of-login/site-killed[preferred=A] (herd of 200 from 10 runs)"
                ),
                "the arithmetic herd stays: {ids:?}"
            );
            results
                .into_iter()
                .find(|r| {
                    r["info"]["id"]
                        == "cert-loss-of-login/site-killed[preferred=A] (herd of 200 replayed from 10 runs)"
                })
                .expect("the replayed herd is a run of its own")
        }
    };
    let reference = replayed("").await;
    let (most, at) = busiest_first_contacts(&reference);
    eprintln!(
        "reference replayed: {} ({most} of 200 first contacts in the busiest 100 ms, from {at:.3}s), {} ms",
        reference["verdict"], reference["duration_ms"]
    );
    assert_eq!(reference["verdict"], "pass", "{:#}", reference["failures"]);
    let fleet: Vec<&str> = reference["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["spec"]["check"].as_str())
        .filter(|c| c.starts_with("herd_"))
        .collect();
    assert_eq!(fleet, ["herd_logged_in", "herd_burst"], "HERD-1 and HERD-2");
    // The report says where the floor's delays came from.
    let note = reference["timeline"]["entries"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.starts_with("herd replayed from 10 measured runs"),
        "{note}"
    );
    let lock_step = replayed("--defect no-jitter").await;
    let (most, at) = busiest_first_contacts(&lock_step);
    eprintln!(
        "no-jitter replayed: {} ({most} of 200 first contacts in the busiest 100 ms, from {at:.3}s), {} ms",
        lock_step["verdict"], lock_step["duration_ms"]
    );
    let observed = broken_only(&lock_step, &["HERD-2"]);
    assert!(observed.contains("of 200 first contacts"), "{observed}");
    let expected = lock_step["failures"][0]["expected"].as_str().unwrap();
    assert!(
        expected.contains("replaying the first contacts of 10 measured runs"),
        "{expected}"
    );
}

/// The most of a herd's first CS Proxy registrations after its first fault in one 100 ms window,
/// and where that window starts (s after the fault), from a result's timeline.
fn busiest_first_contacts(result: &serde_json::Value) -> (usize, f64) {
    let entries = result["timeline"]["entries"].as_array().unwrap();
    let fault = entries
        .iter()
        .find(|e| e["entry"] == "fault")
        .and_then(|e| e["ts_us"].as_i64())
        .unwrap();
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for e in entries {
        let ev = &e["event"];
        let ts = e["ts_us"].as_i64().unwrap_or(0);
        if ts > fault && ev["server"] == "config_server" && ev["kind"] == "client_registered" {
            if let Some(user) = ev["user_name"].as_str() {
                // Entries are in arrival order, not quite time order across the mocks.
                let t = first.entry(user).or_insert(ts - fault);
                *t = (*t).min(ts - fault);
            }
        }
    }
    let times: Vec<i64> = first.into_values().collect();
    let (most, at) = herd::busiest_window(&times, 100_000);
    (most, at as f64 / 1e6)
}

/// Runs one suite on the local runtime with the reference desktop (and a defect); returns the
/// journal's one scenario result, its timeline cut to the fault entries.
async fn run_suite(suite: &Path, defect: Option<&str>) -> serde_json::Value {
    let mut result = run_suite_whole(suite, defect).await;
    // The timeline is long: only its fault entries are asserted on.
    let faults: Vec<serde_json::Value> = result["timeline"]["entries"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter(|e| e["entry"] == "fault")
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    result["timeline"] = serde_json::json!({ "faults": faults });
    result
}

/// Runs one suite as [`run_suite`] does; returns the scenario result with its whole timeline.
async fn run_suite_whole(suite: &Path, defect: Option<&str>) -> serde_json::Value {
    let flags = defect.map(|d| format!("--defect {d}")).unwrap_or_default();
    run_suite_with(suite, &flags, Vec::new()).await
}

/// Runs one suite as [`run_suite_whole`] does, the desktop given `flags` and declaring
/// `capabilities`.
async fn run_suite_with(
    suite: &Path,
    flags: &str,
    capabilities: Vec<bc_suite::Capability>,
) -> serde_json::Value {
    run_suite_tuned(suite, flags, |o| o.capabilities = capabilities).await
}

/// Runs one suite as [`run_suite_whole`] does, the desktop given `flags` and the run's options
/// set by `tune` (e.g. `run_to_end`).
async fn run_suite_tuned(
    suite: &Path,
    flags: &str,
    tune: impl FnOnce(&mut bc_engine::run::RunOptions),
) -> serde_json::Value {
    let desktop = format!(
        "{} --config {{config}} {flags}",
        harness_bins().join("bc-reference-desktop").display()
    );
    let mut o = bc_engine::run::RunOptions::new(vec![suite.to_path_buf()], desktop);
    tune(&mut o);
    let finished = journal_results(o).await;
    assert_eq!(finished.len(), 1, "one herd scenario");
    finished[0].clone()
}

/// Runs `o` on the local runtime (seed 11 unless set); every scenario result of its journal.
async fn journal_results(mut o: bc_engine::run::RunOptions) -> Vec<serde_json::Value> {
    use bc_engine::report::{self, Journal, JunitReport, Reporters};
    let tmp = tempfile::tempdir().unwrap();
    o.runtime = RuntimeKind::Local;
    o.bin_dir = Some(harness_bins());
    if o.seed == 0 {
        o.seed = 11;
    }
    // A herd loads the 2 cores: a run the harness itself could not judge in time (`error`,
    // never `fail`) is run again rather than failing the test on the machine's load.
    o.retry_errors = o.retry_errors.max(2);
    let journal_path = tmp.path().join("journal.json");
    let reporters = Reporters {
        console: None,
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: None,
        journal_path: Some(journal_path.clone()),
        html: None,
    };
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let run = async {
        tokio::join!(
            bc_engine::run::run(o, cancel, tx),
            report::drive(rx, reporters)
        )
    };
    let (res, problems) = tokio::time::timeout(Duration::from_secs(480), run)
        .await
        .expect("the herd run finished");
    drop(cancel_tx);
    res.expect("usable input");
    assert!(problems.is_empty(), "{problems:?}");
    let journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal_path).unwrap()).unwrap();
    let finished: Vec<serde_json::Value> = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| e["result"].clone())
        .collect();
    finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_of_a_herd_loses_its_link_and_only_those_agents_switch() {
    let _one = ONE_AT_A_TIME.lock().await;
    // The committed suite's 200 agents, cut to 40 for the test's time (10 % of 40 is 4).
    let text = std::fs::read_to_string(
        bc_test_support::workspace_root().join("suites/herds/herd-share.yaml"),
    )
    .unwrap()
    .replace("agents: 200", "agents: 40");
    let suite = temp_suite(&text);
    let result = run_suite(suite.path(), None).await;
    assert_eq!(result["verdict"], "pass", "{result:#}");
    let faults = result["timeline"]["faults"].as_array().unwrap();
    let hit: Vec<&str> = faults[0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(hit.len(), 4, "exactly 10 % of 40 agents: {faults:#?}");
    let description = faults[0]["description"].as_str().unwrap();
    assert!(
        description.contains("(for 4 of 40 agents: "),
        "{description}"
    );
    // The spared agents' stay was checked (not vacuous) and held: the proxy cut nobody else.
    let checks = result["checks"].as_array().unwrap();
    let stays = checks
        .iter()
        .find(|c| c["spec"]["check"] == "stays_logged_in")
        .unwrap_or_else(|| panic!("the spared agents' stay is checked: {checks:#?}"));
    assert_eq!(stays["status"]["status"], "pass", "{stays:#}");
}

/// `herd.ramp`: the floor's processes start one after another over the ramp (here 4 processes
/// over 1.5 s: at +0, +0.5, +1.0 and +1.5 s), never all at once, and the floor still logs in.
/// Only lower bounds are asserted (a process cannot start before its turn); no agent of a later
/// process registers before that process exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramped_herd_starts_its_processes_one_after_another() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = temp_suite(
        "version: 1\nid: herd-ramp\nagent: agent1001\nbudget: 20s\ntopology:\n  stat_server: false\nscenarios:\n  - id: ramped\n    rules: [BC-4]\n    herd:\n      agents: 8\n      desktops: 4\n      ramp: 1500ms\n    steps:\n      - expect_logged_in: {within: 15s}\n",
    );
    let r = run_suite_whole(suite.path(), None).await;
    assert_eq!(r["verdict"], "pass", "{:#}", r["failures"]);
    let entries = r["timeline"]["entries"].as_array().unwrap();
    let starts: Vec<i64> = entries
        .iter()
        .filter(|e| e["entry"] == "desktop" && e["desktop"] == "started")
        .map(|e| e["ts_us"].as_i64().unwrap())
        .collect();
    assert_eq!(starts.len(), 4, "one start per process: {starts:?}");
    for (k, t) in starts.iter().enumerate() {
        assert!(
            t - starts[0] >= k as i64 * 500_000,
            "process {k} started {} µs after the first, before its turn at {} ms",
            t - starts[0],
            k * 500
        );
    }
    // Before the second process started, only the first one's agents (2 of 8) could register.
    let early: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter(|e| e["ts_us"].as_i64().unwrap() < starts[1])
        .filter(|e| e["event"]["kind"] == "client_registered")
        .filter_map(|e| e["event"]["user_name"].as_str())
        .collect();
    assert!(
        early.len() <= 2,
        "agents registered before process 2: {early:?}"
    );
}
