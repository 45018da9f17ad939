//! Lab mode with real processes: `env up --detach`, the reference desktop started by the test as a
//! separate process on the printed connection file, `env fault`/`heal`/`status`/`down`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use bc_test_support::workspace_root;
use support::{bin_dir, descendants, is_run_process, wait_until};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("run bc-harness")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An `env up` process and the desktop; both are killed if the test fails half way.
struct Lab {
    dir: PathBuf,
    pid: u32,
    desktop: Option<Child>,
}

impl Lab {
    fn up(dir: &Path, extra: &[&str]) -> Lab {
        Lab::up_on("local", dir, extra)
    }

    fn up_on(runtime: &str, dir: &Path, extra: &[&str]) -> Lab {
        let d = dir.to_str().unwrap();
        let mut args = vec![
            "env",
            "up",
            "--detach",
            "--runtime",
            runtime,
            "--state-dir",
            d,
        ];
        args.extend_from_slice(extra);
        let o = harness(&args);
        assert!(o.status.success(), "env up: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("connection file: "), "{out}");
        assert!(out.contains("\"sip_server\""), "prints the file: {out}");
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap())
                .unwrap();
        Lab {
            dir: dir.to_path_buf(),
            pid: state["pid"].as_u64().unwrap() as u32,
            desktop: None,
        }
    }

    fn env(&self, args: &[&str]) -> Output {
        // The state dir before the words: `env fault` takes every word after the step as its own.
        let mut a = vec!["env", args[0], "--state-dir", self.dir.to_str().unwrap()];
        a.extend_from_slice(&args[1..]);
        harness(&a)
    }

    fn status(&self) -> serde_json::Value {
        let o = self.env(&["status", "--json"]);
        assert!(o.status.success(), "env status: {}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn start_desktop(&mut self) {
        let conn = self.dir.join("desktop-agent1001.json");
        let log = std::fs::File::create(self.dir.join("desktop.log")).unwrap();
        self.desktop = Some(
            Command::new(bin_dir().join("bc-reference-desktop"))
                .arg("--config")
                .arg(conn)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start the reference desktop"),
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(d) = self.desktop.as_mut() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // A desktop the start hook left running (its pid file sits beside the lab's directory,
        // see `hooks`) must not outlive a failed test either.
        if let Some(pid) = self.dir.parent().and_then(desktop_pid) {
            if bc_engine::lab::pid_alive(pid) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        if bc_engine::lab::pid_alive(self.pid) {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
        }
    }
}

/// `(site, role)` of every SIP Server holding agent1001's login.
fn logins(s: &serde_json::Value) -> Vec<String> {
    s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["server"] == "sip_server")
        .filter(|i| {
            i["agents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "agent1001")
        })
        .map(|i| i["site"].as_str().unwrap().to_string())
        .collect()
}

fn states(s: &serde_json::Value, site: &str) -> Vec<String> {
    s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["site"] == site)
        .map(|i| i["state"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn env_up_fault_heal_down_with_an_external_desktop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let lab = Lab::up(&dir, &[]);
    let owned: Vec<(u32, String)> = descendants(lab.pid)
        .into_iter()
        .filter(|(_, c)| is_run_process(c))
        .collect();
    assert_eq!(owned.len(), 13, "12 mocks and the fault proxy: {owned:?}");
    by_hand(lab, &dir);
    let left: Vec<_> = owned
        .iter()
        .filter(|(p, c)| support::alive(*p, c))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `env up --groups 2`: a second group's SIP Server pairs come up beside the first's, the
/// connection file lists both groups (version 2), and a fault typed by hand names its group: the
/// one instance it names is killed, the first group's untouched, and a SIP Server fault without a
/// group is refused with the suite's diagnostic.
#[test]
fn env_up_with_two_groups_faults_one_groups_sip_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let lab = Lab::up(&dir, &["--groups", "2"]);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("desktop-agent1001.json")).unwrap())
            .unwrap();
    assert_eq!(file["version"], 2, "{file:#}");
    let s = lab.status();
    let sip: Vec<&serde_json::Value> = s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["server"] == "sip_server")
        .collect();
    assert_eq!(sip.len(), 8, "two groups of four SIP Servers: {sip:#?}");
    let o = lab.env(&["fault", "kill_server", "A/sip_server"]);
    assert!(!o.status.success(), "no group named: {}", text(&o));
    assert!(text(&o).contains("group"), "{}", text(&o));
    let o = lab.env(&["fault", "kill_server", "A/sip_server/g2/primary"]);
    assert!(o.status.success(), "env fault: {}", text(&o));
    let killed: Vec<String> = lab.status()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] != "up")
        .map(|i| format!("{} {}", i["id"].as_str().unwrap(), i["state"]))
        .collect();
    assert_eq!(killed, ["A.sip_server.g2.primary \"killed\""]);
    let o = lab.env(&["down"]);
    assert!(o.status.success(), "env down: {}", text(&o));
}

#[test]
fn docker_env_up_fault_heal_attach_down() {
    let Some(_turn) = support::docker_turn("docker_env_up_fault_heal_attach_down") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let lab = Lab::up_on("docker", &dir, &[]);
    let pid = lab.pid;
    assert_eq!(
        support::owned_ids(&["ps", "-a"], pid).len(),
        13,
        "12 mock containers and the fault proxy's"
    );
    // `clean` removes every harness container except those of a live lab environment.
    let o = harness(&["clean"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        support::owned_ids(&["ps", "-a"], pid).len(),
        13,
        "clean kept the lab"
    );
    // The same attached run as on local processes.
    let o = attached_run(&lab, tmp.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for id in ["login", "kill-b", "black-hole-b"] {
        assert!(err.contains(&format!("PASS attached/{id} ")), "{id}: {err}");
    }
    assert!(err.contains("FAIL attached/wrong-site"), "{err}");
    by_hand(lab, &dir);
    assert!(
        support::owned_ids(&["ps", "-a"], pid).is_empty(),
        "containers left"
    );
    assert!(
        support::owned_ids(&["network", "ls"], pid).is_empty(),
        "networks left"
    );
}

/// The attached suite with the shell-script hooks, errors retried (a loaded machine).
fn attached_run(lab: &Lab, tmp: &Path) -> Output {
    let (start, stop) = hooks(tmp, "");
    let suite = attached_suite(tmp);
    let start_cmd = format!("{} {{config}}", start.display());
    harness(&[
        "run",
        "--jobs",
        "1",
        suite.to_str().unwrap(),
        "--retry-errors",
        "2",
        "--attach",
        lab.dir.to_str().unwrap(),
        "--desktop-start",
        &start_cmd,
        "--desktop-stop",
        stop.to_str().unwrap(),
        "--junit",
        tmp.join("attached.xml").to_str().unwrap(),
        "--journal",
        tmp.join("attached.json").to_str().unwrap(),
    ])
}

/// Desktop started by the test, faults by hand, the switchover in status, heal, down.
fn by_hand(mut lab: Lab, dir: &Path) {
    // `env watch` follows the timeline live from here to `env down`.
    let watch_out = dir.join("watch.txt");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(["env", "watch", "--state-dir", dir.to_str().unwrap()])
        .stdout(std::fs::File::create(&watch_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("env watch");
    // The watch shows what happens after it started: wait for its first line before the login.
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(
            &watch_out
        )
        .is_ok_and(|s| s.contains("watch started"))),
        "env watch announces itself"
    );
    lab.start_desktop();
    assert!(
        wait_until(Duration::from_secs(20), || logins(&lab.status()) == ["B"]),
        "agent1001 logs in at its preferred site B: {:#}",
        lab.status()
    );

    // A misspelt fault: the suite's diagnostic, located on the command line; nothing changes.
    let o = lab.env(&["fault", "kill_sit", "B"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown step `kill_sit`"), "{err}");
    assert!(err.contains("command line:1:2"), "{err}");
    assert!(err.contains("did you mean `kill_site`?"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let o = lab.env(&["fault", "kill_site", "C"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let s = lab.status();
    assert!(s["faults"].as_array().unwrap().is_empty(), "{s:#}");
    assert!(states(&s, "B").iter().all(|st| st == "up"), "{s:#}");

    // kill_site B by hand: B's instances are killed, the desktop switches over to A.
    let o = lab.env(&["fault", "kill_site", "B"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("#1 applied: kill_site B"),
        "{}",
        text(&o)
    );
    assert!(
        wait_until(Duration::from_secs(30), || logins(&lab.status()) == ["A"]),
        "switchover to A seen in env status: {:#}",
        lab.status()
    );
    let s = lab.status();
    assert!(states(&s, "B").iter().all(|st| st == "killed"), "{s:#}");
    assert_eq!(s["faults"][0]["fault"], "kill_site B", "{s:#}");
    let o = lab.env(&["status"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("#1   kill_site B"), "{table}");
    assert!(table.contains("logged in: agent1001 at A"), "{table}");

    // Heal: B is back (standby or active as it was), no fault left.
    let o = lab.env(&["heal", "--all"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = lab.status();
    assert!(s["faults"].as_array().unwrap().is_empty(), "{s:#}");
    assert!(states(&s, "B").iter().all(|st| st == "up"), "{s:#}");
    let o = lab.env(&["heal", "7"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    // Down: every process gone, the state file removed, the owner exited.
    let all: Vec<(u32, String)> = descendants(lab.pid)
        .into_iter()
        .filter(|(_, c)| is_run_process(c))
        .collect();
    let o = lab.env(&["down"]);
    assert!(o.status.success(), "env down: {}", text(&o));
    assert!(
        !bc_engine::lab::pid_alive(lab.pid),
        "the env up process exited"
    );
    let left: Vec<_> = all.iter().filter(|(p, c)| support::alive(*p, c)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!dir.join("state.json").exists());
    // The watch ended with the environment and saw the login, the fault and the switchover.
    let ended = wait_until(Duration::from_secs(10), || {
        watch.try_wait().ok().flatten().is_some()
    });
    if !ended {
        let _ = watch.kill();
    }
    let _ = watch.wait();
    assert!(ended, "env watch ends when the environment goes down");
    let seen = std::fs::read_to_string(&watch_out).unwrap();
    let pos = |f: &dyn Fn(&str) -> bool| seen.lines().position(f);
    let login_b = pos(&|l| l.contains("B/sip_server/primary") && l.contains("agent_login 1001"));
    let fault = pos(&|l| l.contains("fault #1 applied by hand: kill_site B"));
    let login_a = pos(&|l| l.contains("A/sip_server/") && l.contains("agent_login 1001"));
    assert!(
        login_b.is_some() && fault.is_some() && login_a.is_some(),
        "{seen}"
    );
    assert!(fault < login_a, "the switchover follows the fault: {seen}");
    assert!(
        seen.lines().all(|l| l.starts_with('+')),
        "one `+t.ttts  what` line each: {seen}"
    );
    let o = lab.env(&["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("env up --state-dir"));
}

/// Start and stop hooks as a vendor would write them: start the desktop in the background and
/// return; stop it and return once it is gone. Run by the harness without a shell (the hook is a
/// script file). `prefix` runs the desktop elsewhere (`ip netns exec NS`).
fn hooks(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    let start = dir.join("start-desktop");
    let stop = dir.join("stop-desktop");
    std::fs::write(
        &start,
        format!(
            "#!/bin/sh\necho \"$1\" > \"{d}/desktop.config\"\n{prefix} \"{}\" --config \"$1\" >> \"{d}/desktop.log\" 2>&1 < /dev/null &\necho $! > \"{d}/desktop.pid\"\n",
            bin_dir().join("bc-reference-desktop").display(),
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        &stop,
        format!(
            "#!/bin/sh\np=$(cat \"{d}/desktop.pid\")\nkill $p\nwhile kill -0 $p 2>/dev/null; do sleep 0.05; done\n",
            d = dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [&start, &stop] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (start, stop)
}

fn attached_suite(dir: &Path) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let text = format!(
        "version: 1\nid: attached\nagent: agent1001\nconfig: {}\nbudget: 15s\nscenarios:
  - id: login
    rules: [BC-1]
    steps:
      - expect_logged_in: {{site: B}}
  - id: kill-b
    rules: [BC-4]
    steps:
      - expect_logged_in: {{site: B}}
      - kill_site: B
      - expect_logged_in: {{site: A}}
  - id: black-hole-b
    rules: [BC-4]
    steps:
      - expect_logged_in: {{site: B}}
      - black_hole: B/sip_server
      - expect_logged_in: {{site: A}}
  - id: wrong-site
    rules: [BC-1]
    steps:
      - expect_logged_in: {{site: A, within: 2s}}
",
        config.display()
    );
    let p = dir.join("attached.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn desktop_pid(dir: &Path) -> Option<u32> {
    std::fs::read_to_string(dir.join("desktop.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[test]
fn run_attach_with_start_and_stop_hooks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let lab = Lab::up(&dir, &[]);
    let owned: Vec<(u32, String)> = descendants(lab.pid)
        .into_iter()
        .filter(|(_, c)| is_run_process(c))
        .collect();
    let (start, stop) = hooks(tmp.path(), "");
    let suite = attached_suite(tmp.path());
    let run = |stop_cmd: &str, tag: &str, retries: &str| {
        let start_cmd = format!("{} {{config}}", start.display());
        harness(&[
            "run",
            "--jobs",
            "1",
            suite.to_str().unwrap(),
            "--retry-errors",
            retries,
            "--attach",
            dir.to_str().unwrap(),
            "--desktop-start",
            &start_cmd,
            "--desktop-stop",
            stop_cmd,
            "--junit",
            tmp.path().join(format!("{tag}.xml")).to_str().unwrap(),
            "--journal",
            tmp.path().join(format!("{tag}.json")).to_str().unwrap(),
        ])
    };

    // On this loaded machine the harness may be late itself (an `error`, never a `fail`): retried.
    // A fault left applied by hand: the attached run heals it before its first scenario.
    let o = lab.env(&["fault", "black_hole", "A"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(stop.to_str().unwrap(), "hooks", "2");
    let err = String::from_utf8_lossy(&o.stderr);
    let desk_log = std::fs::read_to_string(tmp.path().join("desktop.log")).unwrap_or_default();
    assert_eq!(
        o.status.code(),
        Some(1),
        "one scenario fails: {}\ndesktop log:\n{desk_log}",
        text(&o)
    );
    for id in ["login", "kill-b", "black-hole-b"] {
        assert!(err.contains(&format!("PASS attached/{id} ")), "{id}: {err}");
    }
    assert!(err.contains("FAIL attached/wrong-site"), "{err}");
    assert!(err.contains("runtime attached (http://127.0.0.1:"), "{err}");
    let pid = desktop_pid(tmp.path()).expect("the start hook ran");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("desktop.config"))
            .unwrap()
            .trim(),
        dir.join("desktop-agent1001.json").to_str().unwrap(),
        "`{{config}}` of a hook is the environment's connection file"
    );
    assert!(!bc_engine::lab::pid_alive(pid), "the stop hook stopped it");
    // The environment is left as it started: every instance up, nobody logged in, no fault.
    let s = lab.status();
    assert!(logins(&s).is_empty(), "{s:#}");
    assert!(s["faults"].as_array().unwrap().is_empty(), "{s:#}");
    assert!(states(&s, "B").iter().all(|st| st == "up"), "{s:#}");

    // A stop hook that does not stop the desktop: the next scenario says so, as an error.
    let o = run("/bin/true", "stuck", "0");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(err.contains("PASS attached/login "), "{err}");
    assert!(
        err.contains("desktop not stopped: agent1001 still logged in at B"),
        "{err}"
    );
    if let Some(pid) = desktop_pid(tmp.path()) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }

    // A start hook that fails: the lab's tooling broke, not the desktop; an error, never a fail.
    let o = harness(&[
        "run",
        "--jobs",
        "1",
        suite.to_str().unwrap(),
        "--filter",
        "login",
        "--attach",
        dir.to_str().unwrap(),
        "--desktop-start",
        "/bin/false {config}",
        "--desktop-stop",
        stop.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(!err.contains("FAIL attached/"), "{err}");
    assert!(
        err.contains("infrastructure: the desktop's start hook failed: hook `/bin/false"),
        "{err}"
    );

    let o = lab.env(&["down"]);
    assert!(o.status.success(), "env down: {}", text(&o));
    let left: Vec<_> = owned
        .iter()
        .filter(|(p, c)| support::alive(*p, c))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A network namespace joined to this one by a veth pair; removed on drop.
struct Netns {
    name: String,
    host_if: String,
}

impl Netns {
    /// `Err(why)` where namespaces cannot be made (not root, no `ip`, no veth support).
    fn create(tag: u32) -> Result<(Netns, String, String), String> {
        let name = format!("bclab{tag}");
        let host_if = format!("bcl{tag}h");
        let ns_if = format!("bcl{tag}n");
        let subnet = 1 + tag % 250;
        let host_ip = format!("10.231.{subnet}.1");
        let ns_ip = format!("10.231.{subnet}.2");
        let ip = |args: &[&str]| -> Result<(), String> {
            let o = Command::new("ip")
                .args(args)
                .output()
                .map_err(|e| format!("ip: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
        };
        ip(&["netns", "add", &name])?;
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        ip(&["link", "set", &ns_if, "netns", &name])?;
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            &ns_if,
        ])?;
        ip(&["-n", &name, "link", "set", &ns_if, "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok((ns, host_ip, ns_ip))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn desktop_in_a_network_namespace_reaches_the_advertised_address() {
    let (ns, host_ip, _ns_ip) = match Netns::create(std::process::id() % 100_000) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("SKIPPED: cannot make a network namespace with a veth pair here ({e}); needs root and iproute2");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab");
    let lab = Lab::up(&dir, &["--listen", &host_ip]);
    let conn = std::fs::read_to_string(dir.join("desktop-agent1001.json")).unwrap();
    assert!(conn.contains(&format!("\"{host_ip}:")), "{conn}");
    assert!(
        !conn.contains("127.0.0.1"),
        "only the advertised address: {conn}"
    );
    let (start, stop) = hooks(tmp.path(), &format!("ip netns exec {}", ns.name));
    let suite = attached_suite(tmp.path());
    let start_cmd = format!("{} {{config}}", start.display());
    let o = harness(&[
        "run",
        "--jobs",
        "1",
        suite.to_str().unwrap(),
        "--retry-errors",
        "2",
        "--attach",
        dir.to_str().unwrap(),
        "--desktop-start",
        &start_cmd,
        "--desktop-stop",
        stop.to_str().unwrap(),
        "--junit",
        tmp.path().join("ns.xml").to_str().unwrap(),
        "--journal",
        tmp.path().join("ns.json").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for id in ["login", "kill-b", "black-hole-b"] {
        assert!(err.contains(&format!("PASS attached/{id} ")), "{id}: {err}");
    }
    assert!(err.contains("FAIL attached/wrong-site"), "{err}");
    // The desktop really came from the namespace: the mocks saw its address through the proxy's
    // listener on the veth (the proxy dials the mocks from loopback, so check the desktop's log).
    let log = std::fs::read_to_string(tmp.path().join("desktop.log")).unwrap_or_default();
    assert!(
        log.contains(&host_ip),
        "the desktop dialled {host_ip}: {log}"
    );
    let o = lab.env(&["down"]);
    assert!(o.status.success(), "env down: {}", text(&o));
}

/// The run process kept in the background; killed if the test fails half way.
struct KeptRun(Child);

impl Drop for KeptRun {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keep_env_on_failure_leaves_the_failed_scenarios_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("kept");
    let suite = keep_suite(tmp.path());
    let err_file = tmp.path().join("run.err");
    let junit = tmp.path().join("keep.xml");
    let desktop = format!(
        "{} --config {{config}}",
        bin_dir().join("bc-reference-desktop").display()
    );
    let mut run = KeptRun(
        Command::new(env!("CARGO_BIN_EXE_bc-harness"))
            .args([
                "run",
                "--jobs",
                "1",
                suite.to_str().unwrap(),
                "--runtime",
                "local",
                "--retry-errors",
                "2",
                "--keep-env",
                "--state-dir",
                dir.to_str().unwrap(),
                "--desktop",
                &desktop,
                "--junit",
                junit.to_str().unwrap(),
                "--journal",
                tmp.path().join("keep.json").to_str().unwrap(),
            ])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_file).unwrap())
            .spawn()
            .expect("run bc-harness"),
    );
    let stderr = || std::fs::read_to_string(&err_file).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(120), || stderr()
            .contains("environment kept (pid")),
        "the run keeps the failed scenario's environment: {}",
        stderr()
    );
    let err = stderr();
    assert!(err.contains("PASS keep/login "), "{err}");
    assert!(err.contains("FAIL keep/stays-at-dead-b"), "{err}");
    assert!(
        err.contains("not run: --keep-env kept the environment of keep/stays-at-dead-b"),
        "{err}"
    );
    // The reports are written before the environment is served.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("stays-at-dead-b"), "{xml}");

    // Exactly the failed scenario's environment: B killed by its step, the fault held, the
    // desktop still running and logged in at A.
    let kept = Lab {
        dir: dir.clone(),
        pid: run.0.id(),
        desktop: None,
    };
    let s = kept.status();
    assert!(states(&s, "B").iter().all(|st| st == "killed"), "{s:#}");
    assert_eq!(s["faults"][0]["fault"], "kill_site B", "{s:#}");
    assert_eq!(
        s["faults"][0]["step"], "keep/stays-at-dead-b step 2",
        "{s:#}"
    );
    // The desktop still runs: after its random reconnection delay it is logged in at A.
    assert!(
        wait_until(Duration::from_secs(20), || logins(&kept.status()) == ["A"]),
        "{:#}",
        kept.status()
    );
    let o = kept.env(&["heal", "--all"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(states(&kept.status(), "B").iter().all(|st| st == "up"));

    // Down: the run ends with its own exit code (a scenario failed) and leaves nothing behind.
    let all: Vec<(u32, String)> = descendants(run.0.id())
        .into_iter()
        .filter(|(_, c)| is_run_process(c) || c.contains("bc-reference"))
        .collect();
    assert!(
        all.iter().any(|(_, c)| c.contains("bc-reference")),
        "the desktop is kept running: {all:?}"
    );
    let o = kept.env(&["down"]);
    assert!(o.status.success(), "env down: {}", text(&o));
    let ended = wait_until(Duration::from_secs(20), || {
        run.0.try_wait().ok().flatten().is_some()
    });
    assert!(ended, "the run exits once its kept environment is down");
    assert_eq!(run.0.wait().unwrap().code(), Some(1), "{}", stderr());
    let left: Vec<_> = all.iter().filter(|(p, c)| support::alive(*p, c)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!dir.join("state.json").exists());
}

/// A passing scenario, one that fails with a fault applied, and one after it.
fn keep_suite(dir: &Path) -> PathBuf {
    let config = workspace_root().join("fixtures/config/default.yaml");
    let suite = dir.join("keep.yaml");
    std::fs::write(
        &suite,
        format!(
            "version: 1\nid: keep\nagent: agent1001\nconfig: {}\nbudget: 15s\nscenarios:
  - id: login
    rules: [BC-1]
    steps:
      - expect_logged_in: {{site: B}}
  - id: stays-at-dead-b
    rules: [BC-4]
    steps:
      - expect_logged_in: {{site: B}}
      - kill_site: B
      - expect_logged_in: {{site: B, within: 2s}}
  - id: after
    rules: [BC-1]
    steps:
      - expect_logged_in: {{site: B}}
",
            config.display()
        ),
    )
    .unwrap();
    suite
}
