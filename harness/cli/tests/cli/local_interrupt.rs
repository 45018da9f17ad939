//! The bc-harness binary on the local runtime: SIGINT mid-scenario exits 3, reports the scenario as an
//! error, and no bc-mock, bc-toxiproxy or bc-reference-desktop process of that run survives; nor after SIGKILL.

use crate::support;

use std::time::Duration;

use support::*;

/// Starts the long suite on the local runtime and waits until its scenario runs: 12 mocks, the proxy and
/// the desktop, all children of the harness. Returns the run's directory, the harness and those processes.
fn running_scenario(tag: &str) -> (tempfile::TempDir, Guard, Vec<(u32, String)>) {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let suite = long_suite(tmp.path());
    let run = spawn_run(tmp.path(), &suite, "local", tag);
    let pid = run.pid();
    let mut procs = Vec::new();
    let running = wait_until(Duration::from_secs(120), || {
        procs = descendants(pid)
            .into_iter()
            .filter(|(_, c)| is_run_process(c))
            .collect();
        procs.len() >= 14 && procs.iter().any(|(_, c)| c.starts_with("bc-reference-de"))
    });
    assert!(running, "scenario not running within 120 s: {procs:?}");
    (tmp, run, procs)
}

#[test]
fn sigint_reports_an_error_and_no_process_of_the_run_survives() {
    let (tmp, mut run, procs) = running_scenario("int");
    let pid = run.pid();
    // Interrupt while the fault is in place: `kill_site B` leaves 6 of the 12 mocks.
    let mocks = |pid| {
        descendants(pid)
            .iter()
            .filter(|(_, c)| c == "bc-mock")
            .count()
    };
    let killed = wait_until(Duration::from_secs(60), || mocks(pid) == 6);
    assert!(killed, "site B was not killed within 60 s");

    signal(pid, "INT");
    let status = run
        .wait(Duration::from_secs(60))
        .expect("harness exits after SIGINT");
    let out = std::fs::read_to_string(tmp.path().join("int.out")).unwrap();
    let err = std::fs::read_to_string(tmp.path().join("int.err")).unwrap();
    println!("{out}\n{err}\n{procs:?}");
    assert_eq!(status.code(), Some(3), "{out}");
    let xml = std::fs::read_to_string(tmp.path().join("int-junit.xml")).unwrap();
    assert!(
        xml.contains("<error") && xml.contains("interrupted"),
        "{xml}"
    );

    let survivors: Vec<_> = procs.iter().filter(|(p, c)| alive(*p, c)).collect();
    assert!(
        survivors.is_empty(),
        "processes of the run survived: {survivors:?}"
    );
}

/// SIGKILL runs none of the harness's cleanup: its children die by their parent-death signal instead.
#[test]
fn after_a_sigkill_no_process_of_the_run_survives() {
    let (_tmp, mut run, procs) = running_scenario("kill");
    let pid = run.pid();

    signal(pid, "KILL");
    run.wait(Duration::from_secs(30))
        .expect("the harness dies on SIGKILL");
    let survivors = survivors_of_sigkill(&procs);
    assert!(
        survivors.is_empty(),
        "processes of the run survived a SIGKILLed harness: {survivors:?}"
    );
}
