//! Helpers shared by the tests of the bc-harness binary: binaries, suites, /proc and
//! docker queries, and bounded waits on external process state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bc_test_support::workspace_root;

/// target/debug (or BC_BIN_DIR) with bc-mock, bc-toxiproxy and bc-reference-desktop; built once if missing.
pub fn bin_dir() -> PathBuf {
    bc_test_support::harness_bins()
}

/// A one-scenario suite that logs in, kills site B and then waits long enough to be interrupted.
pub fn long_suite(dir: &Path) -> PathBuf {
    write_suite(
        dir,
        "long.yaml",
        // The 2 s wait keeps all 14 processes up long enough to be seen: the login is decided
        // within milliseconds, sooner than the tests' 200 ms polling would notice.
        "      - expect_logged_in: {site: B}\n      - wait: 2s\n      - kill_site: B\n      - wait: 120s\n",
    )
}

/// A one-scenario suite that only checks the initial login: a short run.
pub fn short_suite(dir: &Path) -> PathBuf {
    write_suite(dir, "short.yaml", "      - expect_logged_in: {site: B}\n")
}

fn write_suite(dir: &Path, name: &str, steps: &str) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        "version: 1\nid: cli-int\nagent: agent1001\nconfig: {}\nbudget: 10s\nscenarios:\n  - id: only\n    rules: [BC-4]\n    steps:\n{steps}",
        config.display()
    );
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts `bc-harness run` on `suite` with the reference desktop; output goes to files in `dir`.
pub fn spawn_run(dir: &Path, suite: &Path, runtime: &str, tag: &str) -> Guard {
    let desktop = format!(
        "{} --config {{config}}",
        bin_dir().join("bc-reference-desktop").display()
    );
    let out = std::fs::File::create(dir.join(format!("{tag}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{tag}.err"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(["run", "--jobs", "1"])
        .arg(suite)
        .args(["--runtime", runtime, "--desktop", &desktop])
        .arg("--junit")
        .arg(dir.join(format!("{tag}-junit.xml")))
        .arg("--journal")
        .arg(dir.join(format!("{tag}-journal.json")))
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn bc-harness");
    Guard(Some(child))
}

/// Kills the harness if a test fails half way, so no run outlives the test.
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn pid(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    /// Waits for the exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < limit {
            if let Some(st) = self.0.as_mut().unwrap().try_wait().unwrap() {
                self.0 = None;
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

pub use bc_test_support::processes;

/// Every live descendant of `root` as (pid, comm).
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let all = processes();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid, comm) in &all {
            if *ppid == p {
                out.push((*pid, comm.clone()));
                frontier.push(*pid);
            }
        }
    }
    out
}

/// The processes a run owns (comm is truncated to 15 characters by the kernel).
pub fn is_run_process(comm: &str) -> bool {
    comm == "bc-mock" || comm == "bc-toxiproxy" || comm.starts_with("bc-reference-de")
}

/// Is `pid` still alive with the same command name?
pub fn alive(pid: u32, comm: &str) -> bool {
    processes().iter().any(|(p, _, c)| *p == pid && c == comm)
}

/// Polls `cond` every 200 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cond()
}

/// The Docker tests take turns: `env_lab`'s `clean` removes every harness container but a lab's, so it
/// must not run while another test's run is on the engine (they share one test binary).
static DOCKER_TURN: Mutex<()> = Mutex::new(());

/// `Err(reason)` when no Docker engine answers.
fn docker_available() -> Result<(), String> {
    match Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// This test's turn on the Docker engine (held until dropped), or `None` after printing why `test`
/// is skipped (no engine answers).
pub fn docker_turn(test: &str) -> Option<MutexGuard<'static, ()>> {
    match docker_available() {
        // A test that panicked during its turn poisons the lock; the next one may still go.
        Ok(()) => Some(DOCKER_TURN.lock().unwrap_or_else(PoisonError::into_inner)),
        Err(e) => {
            println!("SKIPPED {test}: no docker engine answers: {e}");
            None
        }
    }
}

/// Ids printed by `docker <what> --filter label=bc-harness.owned=true --filter label=bc-harness.pid=<pid> -q`
/// (`what` is ["ps", "-a"] or ["network", "ls"]). Scoped to one harness pid because other runs may be
/// live on the same engine.
pub fn owned_ids(what: &[&str], harness_pid: u32) -> Vec<String> {
    let o = Command::new("docker")
        .args(what)
        .args(["--filter", "label=bc-harness.owned=true"])
        .args([
            "--filter",
            &format!("label=bc-harness.pid={harness_pid}"),
            "-q",
        ])
        .output()
        .expect("docker");
    assert!(
        o.status.success(),
        "docker {what:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// After the harness was SIGKILLed: waits (bounded) until its children are gone, which the kernel's
/// parent-death signals do as the harness's threads exit, and returns those still alive.
pub fn survivors_of_sigkill(procs: &[(u32, String)]) -> Vec<(u32, String)> {
    wait_until(Duration::from_secs(30), || {
        procs.iter().all(|(p, c)| !alive(*p, c))
    });
    procs
        .iter()
        .filter(|(p, c)| alive(*p, c))
        .cloned()
        .collect()
}

/// Asserts that no container and no network labelled with harness `pid` is left; `whose` names them.
pub fn assert_no_docker_leftovers(pid: u32, whose: &str) {
    assert_eq!(
        owned_ids(&["ps", "-a"], pid),
        Vec::<String>::new(),
        "{whose} containers left"
    );
    assert_eq!(
        owned_ids(&["network", "ls"], pid),
        Vec::<String>::new(),
        "{whose} network left"
    );
}
