//! `run --partition hash:K/3` and `merge` with a faulty desktop (mixed verdicts) on the local
//! runtime: the shards cover every run exactly once, none is empty, and merging them gives the
//! verdicts of one unpartitioned run; shards of different runs are refused.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use bc_test_support::workspace_root;
use support::bin_dir;

/// Seven runs: passes, a failure (the desktop never switches), a skip (needs failback).
fn suite(dir: &Path) -> std::path::PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let mut text = format!(
        "version: 1\nid: shards\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n",
        config.display()
    );
    for id in ["login-a", "login-b", "login-c", "login-d", "login-e"] {
        text.push_str(&format!(
            "  - id: {id}\n    rules: [BC-1]\n    steps:\n      - expect_logged_in: {{site: B}}\n"
        ));
    }
    text.push_str(
        "  - id: kill-preferred\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {site: B}\n      - kill_site: B\n      - expect_logged_in: {site: A, within: 3s}\n",
    );
    text.push_str(
        "  - id: needs-failback\n    rules: [BC-12]\n    requires: [failback]\n    steps:\n      - expect_logged_in: {site: B}\n",
    );
    let p = dir.join("shards.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("bc-harness runs")
}

/// Runs the suite against the faulty desktop; the exit code, stderr and the journal's path.
fn run(dir: &Path, suite: &Path, tag: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let desktop = format!(
        "{} --config {{config}} --defect never-switches",
        bin_dir().join("bc-reference-desktop").display()
    );
    let journal = dir.join(format!("{tag}.json")).display().to_string();
    let junit = dir.join(format!("{tag}.xml")).display().to_string();
    let mut args = vec![
        "run",
        "--jobs",
        "1",
        suite.to_str().unwrap(),
        "--runtime",
        "local",
        "--seed",
        "5",
        // The verdicts are compared across runs: a harness overloaded by a busy machine is retried.
        "--retry-errors",
        "2",
        "--capabilities",
        "stat_server,auto_answer",
        "--desktop",
        &desktop,
        "--journal",
        &journal,
        "--junit",
        &junit,
    ];
    args.extend_from_slice(extra);
    let out = harness(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err, journal)
}

/// `merge` of `journals` into `dir`; its exit code and stderr.
fn merge(dir: &Path, journals: &[&str]) -> (Option<i32>, String) {
    let d = |f: &str| dir.join(f).display().to_string();
    let (journal, junit, html) = (d("merged.json"), d("merged.xml"), d("merged.html"));
    let mut args = vec!["merge"];
    args.extend_from_slice(journals);
    args.extend(["--journal", &journal, "--junit", &junit, "--html", &html]);
    let out = harness(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run id -> verdict of a journal.
fn verdicts(journal: &str) -> BTreeMap<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(journal).unwrap()).unwrap();
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| {
            let r = &e["result"];
            (
                r["info"]["id"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn three_hash_shards_cover_the_run_once_and_merge_to_its_verdicts() {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite(tmp.path());
    let (code, err, whole_journal) = run(tmp.path(), &suite, "whole", &[]);
    assert_eq!(
        code,
        Some(1),
        "one scenario fails, nothing else may:\n{err}"
    );
    let whole = verdicts(&whole_journal);
    assert_eq!(whole.len(), 7, "{whole:?}");
    let kinds: std::collections::BTreeSet<&str> = whole.values().map(String::as_str).collect();
    assert_eq!(
        kinds,
        ["fail", "pass", "skipped"].into_iter().collect(),
        "mixed verdicts: {whole:?}"
    );

    let mut shards = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for k in 1..=3 {
        let p = format!("hash:{k}/3");
        let (code, err, journal) = run(
            tmp.path(),
            &suite,
            &format!("shard{k}"),
            &["--partition", &p],
        );
        // A shard without the failing run passes.
        assert!(matches!(code, Some(0 | 1)), "{p}:\n{err}");
        assert!(
            err.contains(&format!("one shard (--partition {p})")),
            "{err}"
        );
        let v = verdicts(&journal);
        assert!(!v.is_empty(), "shard {p} is empty");
        for (id, verdict) in v {
            assert!(
                seen.insert(id.clone(), verdict).is_none(),
                "{id} in two shards"
            );
        }
        shards.push(journal);
    }
    assert_eq!(seen, whole, "the shards' verdicts are the whole run's");

    let s: Vec<&str> = shards.iter().map(String::as_str).collect();
    let (code, err) = merge(tmp.path(), &s);
    assert_eq!(code, Some(1), "the merged run has the failure:\n{err}");
    assert_eq!(
        verdicts(&tmp.path().join("merged.json").display().to_string()),
        whole
    );
    let xml = std::fs::read_to_string(tmp.path().join("merged.xml")).unwrap();
    assert!(xml.contains(r#"tests="7""#), "{xml}");
    let page = std::fs::read_to_string(tmp.path().join("merged.html")).unwrap();
    assert!(
        !page.contains("one shard (--partition"),
        "the merge is no shard"
    );

    // The third shard missing, a shard twice, a journal of another plan.
    let (code, err) = merge(tmp.path(), &s[..2]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("missing: shards/"), "{err}");
    let (code, err) = merge(tmp.path(), &[s[0], s[0], s[1], s[2]]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("duplicated: shards/"), "{err}");
    let (code, err) = merge(tmp.path(), &[s[0], &whole_journal]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not shards of one run"), "{err}");
}
