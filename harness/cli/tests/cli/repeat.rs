//! `run --repeat 5` on the local runtime: the reference desktop is never flaky; the racy-switch
//! defect (late on even seeds) is reported flaky with its distribution; the pass policy decides the exit.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};

use bc_test_support::workspace_root;
use support::bin_dir;

fn suite(dir: &Path) -> std::path::PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        "version: 1\nid: rep\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n  - id: kill-preferred\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {{site: B}}\n      - kill_site: B\n      - expect_logged_in: {{site: A, within: 3s, measure: switchover}}\n",
        config.display()
    );
    let p = dir.join("rep.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `run --repeat 5` with seed 1 (repetition seeds odd, odd, even, odd, odd); exit code and stderr.
fn repeat(dir: &Path, defect: Option<&str>, extra: &[&str]) -> (Option<i32>, String) {
    // No random reconnection delay: the 3 s switchover window measures the HA retry alone, and
    // only the racy defect's late repetitions miss it.
    let mut desktop = format!(
        "{} --config {{config}} --reconnect-delay-max-ms 0",
        bin_dir().join("bc-reference-desktop").display()
    );
    if let Some(d) = defect {
        desktop.push_str(&format!(" --defect {d}"));
    }
    let suite = suite(dir);
    let out = Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args([
            "run",
            "--jobs",
            "1",
            suite.to_str().unwrap(),
            "--runtime",
            "local",
        ])
        .args(["--seed", "1", "--repeat", "5", "--retry-errors", "2"])
        .args([
            "--capabilities",
            "stat_server,auto_answer",
            "--desktop",
            &desktop,
        ])
        .arg("--journal")
        .arg(dir.join("j.json"))
        .arg("--junit")
        .arg(dir.join("j.xml"))
        .arg("--html")
        .arg(dir.join("p.html"))
        .args(extra)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("bc-harness runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_reference_desktop_is_not_flaky() {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = repeat(tmp.path(), None, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("repeated runs (pass policy all): 1 run(s), 0 flaky"),
        "{err}"
    );
    assert!(err.contains("5 runs: 5 pass, 0 fail"), "{err}");
    assert!(err.contains("switchover p50 "), "{err}");
}

#[test]
fn a_racy_switch_is_flaky_with_its_distribution() {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = repeat(tmp.path(), Some("racy-switch"), &[]);
    assert_eq!(code, Some(1), "one repetition failed, policy all: {err}");
    assert!(err.contains("1 run(s), 1 flaky"), "{err}");
    assert!(
        err.contains("rep/kill-preferred FLAKY: 5 runs: 4 pass, 1 fail"),
        "{err}"
    );
    assert!(
        err.contains("switchover p50 ") && err.contains("(n=4)"),
        "{err}"
    );
    let xml = std::fs::read_to_string(tmp.path().join("j.xml")).unwrap();
    assert!(
        xml.contains(r#"name="rep/kill-preferred#flaky" value="true""#),
        "{xml}"
    );
    let page = std::fs::read_to_string(tmp.path().join("p.html")).unwrap();
    assert!(
        page.contains(r#"<td class="v-flaky">flaky</td>"#),
        "the page says flaky"
    );
    assert!(page.contains(r#"class="hist-bar""#), "a histogram");
    // Four of five pass: `most` passes the run, and still calls it flaky.
    let (code, err) = repeat(tmp.path(), Some("racy-switch"), &["--pass-policy", "most"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("PASS         rep/kill-preferred FLAKY"),
        "{err}"
    );
}

#[test]
fn fail_fast_runs_nothing_after_the_first_failure() {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let (code, err) = repeat(tmp.path(), Some("never-switches"), &["--fail-fast"]);
    assert_eq!(code, Some(1), "{err}");
    let journal = std::fs::read_to_string(tmp.path().join("j.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&journal).unwrap();
    let verdicts: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| e["result"]["verdict"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        verdicts,
        ["fail", "skipped", "skipped", "skipped", "skipped"],
        "{err}"
    );
    assert!(
        journal.contains(
            "not run: --fail-fast stopped the run after rep/kill-preferred #1 did not pass"
        ),
        "{journal}"
    );
}

#[test]
fn fail_fast_cancels_the_runs_still_going() {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let config = workspace_root().join("fixtures/config/default.yaml");
    let suite = tmp.path().join("ff.yaml");
    std::fs::write(
        &suite,
        format!(
            "version: 1\nid: ff\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n  - id: stays\n    rules: [BC-1]\n    steps:\n      - expect_logged_in: {{site: B}}\n      - expect_stays_logged_in: {{site: B, for: 120s}}\n  - id: kill-preferred\n    rules: [BC-4]\n    steps:\n      - expect_logged_in: {{site: B}}\n      - kill_site: B\n      - expect_logged_in: {{site: A, within: 3s}}\n",
            config.display()
        ),
    )
    .unwrap();
    let desktop = format!(
        "{} --config {{config}} --defect never-switches",
        bin_dir().join("bc-reference-desktop").display()
    );
    let journal = tmp.path().join("j.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args([
            "run",
            suite.to_str().unwrap(),
            "--runtime",
            "local",
            "--jobs",
            "2",
        ])
        .args([
            "--seed",
            "1",
            "--fail-fast",
            "--capabilities",
            "stat_server",
        ])
        .args(["--desktop", &desktop])
        .arg("--journal")
        .arg(&journal)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("bc-harness runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let results: Vec<(String, String, String)> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "scenario_finished")
        .map(|e| {
            let r = &e["result"];
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            (
                s(&r["info"]["scenario_id"]),
                s(&r["verdict"]),
                s(&r["skip_reason"]),
            )
        })
        .collect();
    // The 120 s stay was cut short when the switchover failed: not run, not an error.
    assert!(
        results.contains(&(
            "stays".into(),
            "skipped".into(),
            "not run: cancelled, --fail-fast stopped the run after ff/kill-preferred did not pass"
                .into()
        )),
        "{results:?}\n{err}"
    );
    assert!(
        results
            .iter()
            .any(|(id, v, _)| id == "kill-preferred" && v == "fail"),
        "{results:?}"
    );
}
