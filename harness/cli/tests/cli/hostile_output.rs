//! A desktop that prints one 400 MB line (and a binary blob) before it logs in: the harness keeps
//! its own memory and its reports bounded, and still judges the scenario (issue: verdicts under stress).

use crate::support;

use std::time::Duration;

use support::*;

/// Peak resident memory of a live process, from /proc (kB), if it is still there.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn a_400_mb_line_leaves_the_harness_and_its_reports_small() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = short_suite(tmp.path());
    let desktop = bin_dir().join("bc-reference-desktop");
    // sh runs the noise (a binary blob, then the long line, which the log's tail keeps), then
    // becomes the desktop; the connection file arrives as $1.
    let command = format!(
        "sh -c 'head -c 1048576 /dev/urandom; echo; head -c 419430400 /dev/zero | tr \"\\000\" x; echo; exec \"$0\" --config \"$1\"' {} {{config}}",
        desktop.display()
    );
    let journal = tmp.path().join("journal.json");
    let junit = tmp.path().join("junit.xml");
    let html = tmp.path().join("report.html");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(["run", "--jobs", "1"])
        .arg(&suite)
        .args([
            "--runtime",
            "local",
            "--budget",
            "60s",
            "--desktop",
            &command,
        ])
        .arg("--journal")
        .arg(&journal)
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .current_dir(bc_test_support::workspace_root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("err")).unwrap())
        .spawn()
        .expect("spawn bc-harness");
    let pid = child.id();
    let mut peak = 0;
    let mut status = None;
    // Bounded: the noise takes seconds, the scenario ends at the login.
    for _ in 0..3000 {
        if let Some(kb) = peak_rss_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the run did not end within 150 s");
    };
    let err = std::fs::read_to_string(tmp.path().join("err")).unwrap();
    assert_eq!(status.code(), Some(0), "the scenario passes: {err}");
    println!("harness peak RSS {} MB", peak / 1024);
    assert!(peak > 0, "no RSS sample was taken");
    assert!(peak < 300 * 1024, "harness peak RSS {peak} kB");
    for (name, path) in [("journal", &journal), ("JUnit", &junit), ("HTML", &html)] {
        let len = std::fs::metadata(path).unwrap().len();
        println!("{name}: {len} bytes");
        assert!(len < 20 << 20, "{name} is {len} bytes");
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains("more bytes cut"),
        "the long line is kept cut, with a marker"
    );
}
