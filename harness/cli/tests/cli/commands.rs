//! End-to-end tests of the bc-harness binary: validate and list on real suite files,
//! exit codes (0 valid, 2 invalid or usage error), errors on stderr, schema output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bc-harness"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("bc-harness runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_accepts_every_committed_suite() {
    let out = run(&["validate", "suites"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ok    suites/certification/bc03-initial-login.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("suites/examples/01-first-suite.yaml"),
        "{stdout}"
    );
}

#[test]
fn validate_rejects_a_broken_suite_with_a_located_error() {
    let out = run(&["validate", "fixtures/suites/invalid/unknown-step-typo.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("unknown-step-typo.yaml:11:9"), "{stderr}");
    assert!(stderr.contains("did you mean `kill_site`?"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colours when NO_COLOR is set"
    );
}

#[test]
fn validate_of_a_directory_reports_every_broken_file() {
    let out = run(&["validate", "fixtures/suites/invalid"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let n = std::fs::read_dir(repo().join("fixtures/suites/invalid"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yaml")
        })
        .count();
    assert!(n >= 30);
    assert!(
        stderr.contains(&format!("0 valid, {n} invalid suite files")),
        "{stderr}"
    );
}

#[test]
fn validate_of_a_missing_path_is_a_usage_error() {
    let out = run(&["validate", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no such file or directory"));
    let out = run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn duplicate_suite_ids_across_files_are_rejected_by_validate_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("suites/examples/01-first-suite.yaml");
    let text_in = std::fs::read_to_string(&src).unwrap().replace(
        "fixtures/config/default.yaml",
        &repo()
            .join("fixtures/config/default.yaml")
            .display()
            .to_string(),
    );
    std::fs::write(dir.path().join("a.yaml"), &text_in).unwrap();
    std::fs::write(dir.path().join("b.yaml"), &text_in).unwrap();
    let out = run(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("duplicate suite id `example-first`"));
    // `run` loads through the same set: it refuses before starting anything (no desktop runs).
    let out = run(&[
        "run",
        "--jobs",
        "1",
        dir.path().to_str().unwrap(),
        "--runtime",
        "local",
        "--desktop",
        "false",
        "--junit",
        dir.path().join("j.xml").to_str().unwrap(),
        "--journal",
        dir.path().join("j.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("duplicate suite id `example-first`"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("j.xml").exists(), "nothing ran");
}

#[test]
fn list_shows_runs_rules_tags_and_capabilities() {
    let out = run(&[
        "list",
        "suites/certification/bc12-failback.yaml",
        "suites/examples",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout.lines().next().unwrap();
    for col in [
        "RUN", "RULES", "TAGS", "REQUIRES", "SKIP_IF", "STEPS", "BUDGET",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = stdout
        .lines()
        .find(|l| l.starts_with("cert-failback/failback-after-restore[preferred=B]"))
        .expect("parameterised run listed");
    assert!(
        row.contains("BC-12") && row.contains("failback") && row.contains("certification"),
        "{row}"
    );
    assert!(stdout.contains("example-both-sites/refuse-sip-server[preferred=A]"));
    assert!(stdout.contains("45s"), "suite budget shown: {stdout}");
    assert!(stdout.trim_end().ends_with("in 5 suites"), "{stdout}");
}

#[test]
fn list_applies_a_command_line_budget() {
    let out = run(&[
        "list",
        "--budget",
        "15s",
        "suites/examples/02-both-sites.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("15s") && !stdout.contains("45s"),
        "{stdout}"
    );
    let out = run(&["list", "--budget", "soon", "suites/examples"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn schema_command_matches_the_committed_schema() {
    let out = run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo().join("suites/schema.json")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn coverage_command_matches_the_committed_table() {
    let out = run(&["coverage"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let committed = std::fs::read_to_string(repo().join("docs/coverage.md")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn a_toxiproxy_image_without_the_docker_runtime_is_a_usage_error() {
    let suite = repo().join("suites/examples");
    let out = run(&[
        "run",
        "--jobs",
        "1",
        suite.to_str().unwrap(),
        "--runtime",
        "local",
        "--toxiproxy-image",
        "ghcr.io/shopify/toxiproxy:2.12.0",
        "--desktop",
        "/bin/true",
        "--junit",
        "/dev/null",
        "--journal",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("--toxiproxy-image ghcr.io/shopify/toxiproxy:2.12.0 needs the docker runtime")
            && err.contains("hint: add --runtime docker"),
        "{err}"
    );
}
