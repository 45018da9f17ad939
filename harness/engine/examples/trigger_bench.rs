//! Trigger latency: runs the certification races (`suites/certification/bc03-bc05-races.yaml`) N
//! times and prints, from each timeline, how long after the mock saw the triggering message the
//! harness heard of it and had the fault applied. Asserts nothing (docs/benchmarks.md).

use std::time::Duration;

use bc_engine::env::RuntimeKind;
use bc_engine::observe::EntryKind;
use bc_engine::run::{parse_capabilities, run, RunEvent, RunOptions};
use bc_test_support::{harness_bins, workspace_root};
use tokio::sync::{mpsc, watch};

/// The milliseconds in a note such as `trigger latency: 1.234 ms from ...`, after `key`.
fn ms_after(note: &str, key: &str) -> Option<f64> {
    let rest = &note[note.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

fn print(name: &str, mut v: Vec<f64>) {
    if v.is_empty() {
        println!("{name:<40} no samples");
        return;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<40} n={:<3} min {:>7.3}  p50 {:>7.3}  p95 {:>7.3}  max {:>7.3} ms",
        v.len(),
        v[0],
        at(0.5),
        at(0.95),
        v[v.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = match args.next().as_deref() {
        Some("docker") => RuntimeKind::Docker,
        _ => RuntimeKind::Local,
    };
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let suite = workspace_root().join("suites/certification/bc03-bc05-races.yaml");
    let (mut heard, mut applied, mut verdicts) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let desktop = harness_bins().join("bc-reference-desktop");
        let mut o = RunOptions::new(vec![suite.clone()], desktop.display().to_string());
        o.runtime = runtime;
        o.capabilities = parse_capabilities("stat_server,auto_answer").expect("capabilities");
        o.bin_dir = Some(harness_bins());
        o.budget = Some(Duration::from_secs(10));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_keep, cancel) = watch::channel(false);
        let handle = tokio::spawn(run(o, cancel, tx));
        while let Some(e) = rx.recv().await {
            let RunEvent::ScenarioFinished { result } = e else {
                continue;
            };
            verdicts.push(format!("{} {}", result.info.id, result.verdict));
            for entry in result.timeline.iter().flat_map(|t| &t.entries) {
                if let EntryKind::Note { message } = &entry.kind {
                    heard.extend(ms_after(message, "the harness heard "));
                    applied.extend(ms_after(message, "trigger latency: "));
                }
            }
        }
        handle.await.expect("runner").expect("usable suite");
    }
    let passed = verdicts.iter().filter(|v| v.ends_with(" pass")).count();
    println!(
        "runtime {runtime:?}, {rounds} rounds, {passed}/{} runs passed",
        verdicts.len()
    );
    for v in verdicts.iter().filter(|v| !v.ends_with(" pass")) {
        println!("  not passed: {v}");
    }
    print("message seen -> harness heard", heard);
    print("message seen -> fault applied", applied);
}
