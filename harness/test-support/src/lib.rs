//! bc-test-support: the one place where tests and examples find the workspace's built binaries.
//! Dev-only and std-only, so any crate (bc-desktops included) can use it without a dependency cycle.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

/// The packages whose binaries a harness run starts: the mocks, the fault proxy, the reference desktop.
pub const HARNESS_PACKAGES: &[&str] = &["bc-mock", "bc-toxiproxy", "bc-desktops", "bc-phones"];
/// The binaries of [`HARNESS_PACKAGES`].
pub const HARNESS_BINARIES: &[&str] = &[
    "bc-mock",
    "bc-toxiproxy",
    "bc-reference-desktop",
    "bc-phone",
];

/// The workspace root (this crate lives at `harness/test-support`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Where the workspace's binaries are: `BC_BIN_DIR`, else the running executable's target dir.
/// The engine's own lookup (`bc_engine::env::bins::find_binary`) searches the same places; tests
/// hand it this directory as its explicit `bin_dir` so both agree on one set of binaries.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("BC_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => target_dir(),
    }
}

/// `target/<profile>`: tests run from `target/<profile>/deps`, examples from `target/<profile>/examples`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the running executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile> above the running executable")
        .to_path_buf()
}

/// [`bin_dir`] once every one of `binaries` is in it; if one is missing, first runs
/// `cargo build -p <each of packages> --bins` (at most once per package set and process).
/// Panics, naming the command, when the build fails or leaves a binary missing.
pub fn ensure_built(packages: &[&str], binaries: &[&str]) -> PathBuf {
    built(packages, binaries, false)
}

/// Like [`ensure_built`], but runs the cargo build (once per process) even when the binaries exist, so a
/// benchmark never measures a binary older than its source (cargo has nothing to do when it is fresh).
pub fn freshly_built(packages: &[&str], binaries: &[&str]) -> PathBuf {
    built(packages, binaries, true)
}

fn built(packages: &[&str], binaries: &[&str], always: bool) -> PathBuf {
    // Package sets already built by this process; the lock also keeps parallel tests from
    // starting several cargo builds at once.
    static BUILT: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());
    let dir = bin_dir();
    let missing = |dir: &Path| -> Vec<&str> {
        binaries
            .iter()
            .copied()
            .filter(|b| !dir.join(b).is_file())
            .collect()
    };
    if missing(&dir).is_empty() && !always {
        return dir;
    }
    let args = build_args(packages);
    let command = format!("cargo {}", args.join(" "));
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut key: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    key.sort();
    // Another test may have built them while this one waited for the lock.
    if (always || !missing(&dir).is_empty()) && !built.contains(&key) {
        built.push(key);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(&args)
            .current_dir(workspace_root())
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("`{command}` failed ({s}); build the binaries or set BC_BIN_DIR"),
            Err(e) => panic!("`{command}` did not start: {e}"),
        }
    }
    let still = missing(&dir);
    assert!(
        still.is_empty(),
        "{} missing in {} after `{command}`; build them or set BC_BIN_DIR",
        still.join(", "),
        dir.display()
    );
    dir
}

/// [`ensure_built`] for the binaries of a harness run ([`HARNESS_PACKAGES`]).
pub fn harness_bins() -> PathBuf {
    ensure_built(HARNESS_PACKAGES, HARNESS_BINARIES)
}

/// `build -p <pkg>... --bins`, with `--release` when the running executable is a release build,
/// so the binaries land in the directory [`bin_dir`] looks at.
fn build_args(packages: &[&str]) -> Vec<String> {
    let mut args = vec!["build".to_string()];
    for p in packages {
        args.push("-p".into());
        args.push(p.to_string());
    }
    args.push("--bins".into());
    if target_dir().ends_with("release") {
        args.push("--release".into());
    }
    args
}

/// (pid, ppid, comm) of every live process, from /proc; zombies are left out (they hold no resources and
/// are their parent's business). Tests use it to find what a run started and what survived it.
pub fn processes() -> Vec<(u32, u32, String)> {
    let mut v = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return v;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // comm is in parentheses and may hold spaces; fields after the last ')' are fixed.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if rest.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = rest.get(1).and_then(|p| p.parse().ok()) {
            v.push((pid, ppid, comm));
        }
    }
    v
}

/// A suite text as a file under the workspace's `target/tmp`, so that its `config:` path resolves by
/// walking up to the repository; removed when dropped.
pub fn temp_suite(text: &str) -> tempfile::NamedTempFile {
    let dir = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    let suite = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile_in(&dir)
        .expect("a temporary suite file");
    std::fs::write(suite.path(), text).expect("write the temporary suite");
    suite
}

/// The committed groups suite (`suites/herds/herd-groups.yaml`) cut to one scenario and a floor
/// small enough for a test: 16 agents in 2 processes. Shared by the local and the Docker tests of
/// groups, so both run the same scenario.
pub fn small_groups_suite(scenario: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join("suites/herds/herd-groups.yaml"))
        .expect("suites/herds/herd-groups.yaml")
        .replace("agents: 40", "agents: 16")
        .replace("desktops: 4", "desktops: 2");
    let mut parts = text.split("  - id: ");
    let head = parts.next().unwrap_or_default().to_string();
    let body = parts
        .find(|p| p.starts_with(scenario))
        .unwrap_or_else(|| panic!("scenario {scenario} in the groups suite"));
    format!("{head}  - id: {body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_include_this_one_with_its_parent() {
        let me = std::process::id();
        let mine = processes().into_iter().find(|(p, _, _)| *p == me);
        let (_, ppid, _) = mine.expect("this process is listed");
        assert_eq!(ppid, std::os::unix::process::parent_id());
    }

    #[test]
    fn build_args_name_every_package() {
        let args = build_args(&["bc-mock", "bc-toxiproxy"]);
        assert_eq!(
            &args[..6],
            ["build", "-p", "bc-mock", "-p", "bc-toxiproxy", "--bins"]
        );
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("harness/test-support").is_dir());
    }
}
