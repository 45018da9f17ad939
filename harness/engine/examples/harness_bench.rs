//! Benchmark of the runner itself: per-scenario overhead, delay from the deciding event to the decision,
//! and the error of the switchover measurement against a desktop that switches after a known delay.
//! Run: `cargo build -p bc-mock -p bc-toxiproxy -p bc-desktops --bins && cargo run -p bc-engine --example harness_bench -- [local|docker] [scenarios]`

use std::path::{Path, PathBuf};

use bc_engine::env::{now_us, RuntimeKind};
use bc_engine::observe::{DesktopEvent, EntryKind, Timeline};
use bc_engine::run::{run, RunEvent, RunOptions, ScenarioResult};
use bc_test_support::{bin_dir, workspace_root};
use tokio::sync::{mpsc, watch};

/// An event of the run with the wall-clock µs at which the bench received it.
struct Seen {
    at_us: i64,
    event: RunEvent,
}

fn write_suite(dir: &Path, name: &str, scenarios: usize, steps: &str) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let mut text = format!(
        "version: 1\nid: {name}\nagent: agent1001\nrules: [BC-4]\nconfig: {}\nbudget: 60s\nscenarios:\n",
        config.display()
    );
    for i in 0..scenarios {
        text.push_str(&format!("  - id: s{i:02}\n    steps:\n{steps}"));
    }
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).expect("write suite");
    p
}

async fn run_suite(suite: PathBuf, desktop: String, runtime: RuntimeKind) -> Vec<Seen> {
    let mut opts = RunOptions::new(vec![suite], desktop);
    opts.runtime = runtime;
    opts.bin_dir = Some(bin_dir());
    let (_cancel_tx, cancel) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collect = async {
        let mut seen = Vec::new();
        while let Some(event) = rx.recv().await {
            seen.push(Seen {
                at_us: now_us(),
                event,
            });
        }
        seen
    };
    let (res, seen) = tokio::join!(run(opts, cancel, tx), collect);
    if let Err(e) = res {
        eprintln!("error: the run did not start: {e}");
        std::process::exit(1);
    }
    seen
}

fn results(seen: &[Seen]) -> Vec<(i64, &ScenarioResult)> {
    seen.iter()
        .filter_map(|s| match &s.event {
            RunEvent::ScenarioFinished { result } => Some((s.at_us, result.as_ref())),
            _ => None,
        })
        .collect()
}

fn step_ts(t: &Timeline, index: usize) -> Option<i64> {
    t.entries.iter().find_map(|e| match &e.kind {
        EntryKind::Step { index: i, .. } if *i == index => Some(e.ts_us),
        _ => None,
    })
}

fn marker_ts(t: &Timeline, name: &str) -> Option<i64> {
    t.entries.iter().find_map(|e| match &e.kind {
        EntryKind::Marker { name: n } if n == name => Some(e.ts_us),
        _ => None,
    })
}

fn desktop_ts(t: &Timeline, pred: impl Fn(&DesktopEvent) -> bool) -> Option<i64> {
    t.entries.iter().find_map(|e| match &e.kind {
        EntryKind::Desktop(d) if pred(d) => Some(e.ts_us),
        _ => None,
    })
}

fn log_line_ts(t: &Timeline, prefix: &str) -> Option<i64> {
    desktop_ts(
        t,
        |d| matches!(d, DesktopEvent::Log { line, .. } if line.starts_with(prefix)),
    )
}

fn stats(name: &str, unit_ms: Vec<f64>) {
    let mut v = unit_ms;
    if v.is_empty() {
        println!("  {name:<44} no samples");
        return;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    // Nearest rank: with 10 samples the p95 is the largest.
    let p95 = v[((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "  {name:<44} n={:<3} min {:>8.1}  median {:>8.1}  p95 {:>8.1}  max {:>8.1} ms",
        v.len(),
        v[0],
        v[v.len() / 2],
        p95,
        v[v.len() - 1]
    );
}

/// The harness's own lateness as each result records it.
fn timing(res: &[(i64, &ScenarioResult)]) {
    let t: Vec<_> = res.iter().filter_map(|(_, r)| r.timing).collect();
    let pick = |f: fn(&bc_engine::run::HarnessTiming) -> i64| t.iter().map(|x| ms(f(x))).collect();
    stats(
        "harness timing: decision lag (max per scenario)",
        pick(|x| x.decision_lag_us),
    );
    stats(
        "harness timing: timer overshoot",
        pick(|x| x.timer_overshoot_us),
    );
    stats("harness timing: feed delay", pick(|x| x.feed_delay_us));
    let backlog = t.iter().map(|x| x.feed_backlog).max().unwrap_or(0);
    println!("  harness timing: feed backlog, largest          {backlog} events");
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// Many one-login scenarios in one environment: what the harness adds around each.
async fn overhead(dir: &Path, runtime: RuntimeKind, n: usize) {
    let steps = "      - expect_logged_in: {site: B, measure: login}\n      - mark: decided\n";
    let suite = write_suite(dir, "overhead", n, steps);
    let desktop = format!(
        "{} --config {{config}}",
        bin_dir().join("bc-reference-desktop").display()
    );
    let seen = run_suite(suite, desktop, runtime).await;
    let env_start = seen
        .iter()
        .find(|s| matches!(s.event, RunEvent::EnvironmentStarting { .. }))
        .map(|s| s.at_us);
    let first_started = seen
        .iter()
        .find(|s| matches!(s.event, RunEvent::ScenarioStarted { .. }))
        .map(|s| s.at_us);
    let res = results(&seen);
    let (mut wall, mut login, mut over, mut before, mut spawn, mut after, mut decide) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut verdicts = Vec::new();
    for (i, (fin, r)) in res.iter().enumerate() {
        verdicts.push(r.verdict.as_str());
        let t = r.timeline.as_ref().expect("timeline");
        let (Some(start), Some(l), Some(dec)) =
            (marker_ts(t, "start"), r.measured_ms("login"), step_ts(t, 2))
        else {
            continue;
        };
        let deciding = start + (l * 1000.0) as i64;
        login.push(l);
        decide.push(ms(dec - deciding));
        after.push(ms(fin - dec));
        if let Some(d) = desktop_ts(t, |d| matches!(d, DesktopEvent::Started { .. })) {
            spawn.push(ms(d - start));
        }
        // Steady state: from the previous scenario's result to this one's (one reset, one desktop).
        if i > 0 {
            let prev = res[i - 1].0;
            wall.push(ms(fin - prev));
            over.push(ms(fin - prev) - l);
            before.push(ms(r.started_us - prev));
        }
    }
    println!(
        "overhead: {n} scenarios `expect_logged_in B` on one {} environment, reference desktop",
        runtime.as_str()
    );
    println!("  verdicts: {verdicts:?}");
    if let (Some(a), Some(b)) = (env_start, first_started) {
        println!(
            "  environment start (once per run)              {:>8.1} ms",
            ms(b - a)
        );
    }
    stats("scenario wall time (result to result)", wall);
    stats("desktop login (start marker -> logged in)", login);
    stats("harness overhead per scenario (wall - login)", over);
    stats("  of which: previous result -> scenario start", before);
    stats("  of which: start marker -> desktop spawned", spawn);
    stats("  of which: decision -> result (stop, report)", after);
    stats("deciding event -> decision (next step)", decide);
    timing(&res);
}

/// A desktop that waits `delay_ms` before switching: the measured switchover against its own log.
async fn switchover(dir: &Path, runtime: RuntimeKind, delay_ms: u64, n: usize) {
    let steps = "      - expect_logged_in: {site: B}\n      - kill_site: B\n      - expect_logged_in: {site: A, within: 30s}\n      - mark: decided\n";
    let suite = write_suite(dir, &format!("switch{delay_ms}"), n, steps);
    let desktop = format!(
        "{} --config {{config}} --defect slow-switch --switch-delay-ms {delay_ms}",
        bin_dir().join("bc-reference-desktop").display()
    );
    let seen = run_suite(suite, desktop, runtime).await;
    let mut err_login = Vec::new();
    let (mut measured, mut err, mut delay, mut decide, mut rest) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut verdicts = Vec::new();
    for (_, r) in results(&seen) {
        verdicts.push(r.verdict.as_str());
        let t = r.timeline.as_ref().expect("timeline");
        let (Some(fault), Some(m)) = (marker_ts(t, "kill_site"), r.measured_ms("switchover"))
        else {
            continue;
        };
        measured.push(m);
        // The desktop's own view: its `logged_in site=A` decision line, relative to the fault.
        if let Some(own) = log_line_ts(t, "logged_in site=A") {
            err.push(m - ms(own - fault));
        }
        // Its SIP login acknowledged (before the stat server connection that precedes `logged_in`).
        if let Some(own) = log_line_ts(t, "agent_login site=A") {
            err_login.push(m - ms(own - fault));
        }
        if let (Some(a), Some(b)) = (
            log_line_ts(t, "switch_delayed"),
            log_line_ts(t, "switchover "),
        ) {
            delay.push(ms(b - a));
            rest.push(m - ms(b - a));
        }
        if let Some(dec) = step_ts(t, 4) {
            decide.push(ms(dec - (fault + (m * 1000.0) as i64)));
        }
    }
    println!(
        "switchover: slow-switch desktop, switch delay {delay_ms} ms, {n} scenarios, {}",
        runtime.as_str()
    );
    println!("  verdicts: {verdicts:?}");
    stats("measured switchover (fault -> logged in at A)", measured);
    stats("desktop's own delay (switch_delayed->switchover)", delay);
    stats("measured minus the desktop's delay", rest);
    stats("error vs desktop's `agent_login site=A` line", err_login);
    stats("error vs desktop's `logged_in site=A` line", err);
    stats("deciding event -> decision (next step)", decide);
}

#[tokio::main]
async fn main() {
    let runtime = match std::env::args().nth(1).as_deref() {
        None | Some("local") => RuntimeKind::Local,
        Some("docker") => RuntimeKind::Docker,
        Some(other) => {
            eprintln!("usage: harness_bench [local|docker] [scenarios]; unknown runtime `{other}`");
            std::process::exit(2);
        }
    };
    let n: usize = match std::env::args().nth(2).map(|a| a.parse()) {
        None => 10,
        Some(Ok(n)) if n >= 2 => n,
        Some(_) => {
            eprintln!("usage: harness_bench [local|docker] [scenarios >= 2]");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    overhead(dir.path(), runtime, n).await;
    for d in [1000, 3000] {
        switchover(dir.path(), runtime, d, 3).await;
    }
}
