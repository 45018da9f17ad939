//! The bc-harness binary on the Docker runtime: SIGINT or SIGTERM mid-scenario reports an error and leaves
//! no container or network; after a SIGKILL, the next run's sweep removes what the killed run left.

use crate::support;

use std::time::Duration;

use support::*;

/// Waits until the run `pid` has containers and its desktop process is up: a scenario is running.
fn wait_scenario_running(pid: u32) -> bool {
    // Generous: the first run may build images (minutes on a cold target/static).
    wait_until(Duration::from_secs(300), || {
        !owned_ids(&["ps"], pid).is_empty()
            && descendants(pid)
                .iter()
                .any(|(_, c)| c.starts_with("bc-reference-de"))
    })
}

#[test]
fn sigint_reports_the_scenario_as_error_and_leaves_no_container_or_network() {
    let Some(_turn) =
        docker_turn("sigint_reports_the_scenario_as_error_and_leaves_no_container_or_network")
    else {
        return;
    };
    interrupted_run_leaves_nothing("INT", "int");
}

/// SIGTERM (what CI runners and `docker stop` send) is handled like Ctrl-C.
#[test]
fn sigterm_reports_the_scenario_as_error_and_leaves_no_container_or_network() {
    let Some(_turn) =
        docker_turn("sigterm_reports_the_scenario_as_error_and_leaves_no_container_or_network")
    else {
        return;
    };
    interrupted_run_leaves_nothing("TERM", "term");
}

/// Signals a docker run mid-fault and checks: exit 3, the scenario an `<error>` in the JUnit, nothing left.
fn interrupted_run_leaves_nothing(sig: &str, tag: &str) {
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let suite = long_suite(tmp.path());
    let mut run = spawn_run(tmp.path(), &suite, "docker", tag);
    let pid = run.pid();
    assert!(
        wait_scenario_running(pid),
        "no scenario started within 300 s"
    );
    let containers = owned_ids(&["ps", "-a"], pid);
    let networks = owned_ids(&["network", "ls"], pid);
    assert_eq!(containers.len(), 13, "12 mocks and a proxy: {containers:?}");
    assert_eq!(networks.len(), 1, "{networks:?}");
    // Interrupt while the fault is in place: `kill_site B` leaves B's 6 containers stopped.
    let killed = wait_until(Duration::from_secs(60), || {
        owned_ids(&["ps"], pid).len() == 7
    });
    assert!(killed, "site B was not killed within 60 s");

    signal(pid, sig);
    let status = run
        .wait(Duration::from_secs(90))
        .unwrap_or_else(|| panic!("harness exits after SIG{sig}"));
    let out = std::fs::read_to_string(tmp.path().join(format!("{tag}.out"))).unwrap();
    let err = std::fs::read_to_string(tmp.path().join(format!("{tag}.err"))).unwrap();
    assert_eq!(status.code(), Some(3), "stdout:\n{out}\nstderr:\n{err}");
    let xml = std::fs::read_to_string(tmp.path().join(format!("{tag}-junit.xml"))).unwrap();
    assert!(xml.contains("<error"), "{xml}");
    assert!(xml.contains("interrupted"), "{xml}");
    assert!(xml.contains("only"), "{xml}");
    assert_no_docker_leftovers(pid, "the interrupted run's");
}

#[test]
fn after_a_sigkill_the_next_run_sweeps_the_leftovers() {
    let Some(_turn) = docker_turn("after_a_sigkill_the_next_run_sweeps_the_leftovers") else {
        return;
    };
    let _ = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let mut run = spawn_run(tmp.path(), &long_suite(tmp.path()), "docker", "killed");
    let pid = run.pid();
    assert!(
        wait_scenario_running(pid),
        "no scenario started within 300 s"
    );
    let orphans: Vec<(u32, String)> = descendants(pid);
    signal(pid, "KILL");
    run.wait(Duration::from_secs(10))
        .expect("SIGKILL ends the harness");
    // The desktop is a local child: it dies with the harness by its parent-death signal.
    let survivors = survivors_of_sigkill(&orphans);
    assert!(
        survivors.is_empty(),
        "local processes survived the harness's SIGKILL: {survivors:?}"
    );
    // The killed run really left containers and its network behind: otherwise the sweep proves nothing.
    let left = owned_ids(&["ps", "-a"], pid);
    let left_net = owned_ids(&["network", "ls"], pid);
    assert!(!left.is_empty(), "a SIGKILLed harness left no container");
    assert_eq!(left_net.len(), 1);

    let mut next = spawn_run(tmp.path(), &short_suite(tmp.path()), "docker", "next");
    let st = next
        .wait(Duration::from_secs(180))
        .expect("the next run finishes");
    let out = std::fs::read_to_string(tmp.path().join("next.out")).unwrap();
    assert_eq!(st.code(), Some(0), "{out}");
    assert_no_docker_leftovers(pid, "the killed run's");
}
