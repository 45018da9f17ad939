//! `run --phone` on the local runtime: the built-in phone and a pjsua2 softphone pass every
//! scenario of `suites/certification/ph-phones.yaml` (PH-1 registrations; PH-2 calls as real
//! INVITEs: direct, redirected by a 302, through the survivor, after an HA failover; PH-3 outbound
//! calls via the right peer); each faulty phone fails by its rule.

use crate::support;

use std::process::{Command, Stdio};

use bc_test_support::workspace_root;
use support::bin_dir;

/// Runs `suites/certification/ph-phones.yaml` (the runs matching `filter`) with the given phone; exit code and the
/// console report (stderr) after stdout.
fn run(phone: &str, filter: &str) -> (Option<i32>, String) {
    let desktop = format!(
        "{} --config {{config}}",
        bin_dir().join("bc-reference-desktop").display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .current_dir(workspace_root())
        .args([
            "run",
            "--jobs",
            "1",
            "suites/certification/ph-phones.yaml",
            "--runtime",
            "local",
            "--seed",
            "1",
        ])
        .args(["--capabilities", "stat_server,auto_answer"])
        .args(["--filter", filter, "--retry-errors", "1"])
        .args(["--desktop", &desktop, "--phone", phone])
        .env("BC_BIN_DIR", bin_dir())
        .stdin(Stdio::null())
        .output()
        .expect("bc-harness runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn the_builtin_phone_passes_every_phone_scenario() {
    let (code, out) = run("builtin", "*[preferred=A]");
    assert_eq!(code, Some(0), "the built-in phone passes:\n{out}");
    assert!(out.contains("7 passed, 0 failed"), "{out}");
}

/// Runs a faulty phone on the runs matching `filter`: the run fails (exit 1) and the report
/// names the rule and says each of `texts`.
fn caught(phone: &str, filter: &str, rule: &str, texts: &[&str]) -> String {
    let (code, out) = run(phone, filter);
    assert_eq!(code, Some(1), "`{phone}` fails:\n{out}");
    assert!(out.contains(&format!("({rule})")), "{out}");
    for t in texts {
        assert!(out.contains(t), "missing `{t}`:\n{out}");
    }
    out
}

#[test]
fn a_phone_registered_only_at_its_preferred_peer_fails_ph1() {
    caught(
        "builtin --only-preferred",
        "registered-at-both-peers[preferred=A]",
        "PH-1",
        &["the phone was not registered at B within 5.0s of the phone's start"],
    );
}

#[test]
fn a_phone_that_never_registers_again_at_a_returned_peer_fails_ph1() {
    caught(
        "builtin --no-reregister",
        "registers-again-after-peer-returns[preferred=A]",
        "PH-1",
        &["the phone was not registered at B within 11.0s of sip_server at B coming back"],
    );
}

#[test]
fn a_phone_that_rings_but_never_answers_fails_ph2_after_the_302() {
    caught(
        "builtin --no-answer",
        "call-via-the-other-peer-is-redirected[preferred=A]",
        "PH-2",
        &[
            "the phone did not answer the delivered call within 10.0s; seen: 302 at B",
            "phone rung by A",
        ],
    );
}

#[test]
fn a_phone_that_always_dials_via_its_preferred_peer_fails_ph3_while_that_peer_is_down() {
    caught(
        "builtin --dial-preferred-only",
        "*dials-via-*[preferred=A]",
        "PH-3",
        &[
            // Only the run with the preferred peer down fails.
            "1 passed, 1 failed",
            "PH-3: no INVITE from the phone to 5000 reached any SIP Server peer within 5.0s",
        ],
    );
}

/// Whether the pjsua2 Python module is importable (CI installs `pjsua2-python`).
fn have_pjsua2() -> bool {
    Command::new("python3")
        .args(["-c", "import pjsua2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_pjsua2_softphone_passes_every_phone_scenario() {
    if !have_pjsua2() {
        eprintln!(
            "SKIPPED: python3 cannot import pjsua2 (pip install pjsua2-python; CI installs it)"
        );
        return;
    }
    let phone = format!(
        "python3 {} --config {{config}}",
        workspace_root()
            .join("fixtures/phones/pjsua2_phone.py")
            .display()
    );
    let (code, out) = run(&phone, "*[preferred=A]");
    assert_eq!(code, Some(0), "the pjsua2 phone passes:\n{out}");
    assert!(out.contains("7 passed, 0 failed"), "{out}");
}
