//! The desktop launcher: argv splitting without a shell, `{config}` and BC_DESKTOP_CONFIG, the
//! bounded log ring, early exit, termination of the whole process group; plus the reference desktop
//! logging in through the environment's proxies, seen only through the observation feed.

use crate::env_support;

use bc_engine::env::{DesktopSpec, EnvError, LogStream};
use bc_protocol::{EventKind, ServerKind};
use env_support::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[test]
fn commands_are_split_like_a_shell_without_one() {
    let s = DesktopSpec::parse(r#"my-desk --config {config} --name "two words" 'x y'"#).unwrap();
    assert_eq!(
        s.argv,
        [
            "my-desk",
            "--config",
            "{config}",
            "--name",
            "two words",
            "x y"
        ]
    );
    assert_eq!(
        s.argv_for(Path::new("/tmp/c.json")),
        [
            "my-desk",
            "--config",
            "/tmp/c.json",
            "--name",
            "two words",
            "x y"
        ]
    );
    // Shell syntax is not interpreted.
    let s = DesktopSpec::parse("desk; rm -rf / $HOME").unwrap();
    assert_eq!(s.argv, ["desk;", "rm", "-rf", "/", "$HOME"]);
    assert!(matches!(
        DesktopSpec::parse("desk 'open"),
        Err(EnvError::DesktopCommand(_))
    ));
    assert!(matches!(
        DesktopSpec::parse("   "),
        Err(EnvError::DesktopCommand(_))
    ));
}

#[tokio::test]
async fn output_is_captured_and_termination_reaches_the_group() {
    let cfg = PathBuf::from("/tmp/some config.json");
    let spec = DesktopSpec::parse(
        r#"sh -c 'echo "env=$BC_DESKTOP_CONFIG arg=$0"; echo oops >&2; sleep 30 & echo "child=$!"; wait' {config}"#,
    )
    .unwrap();
    let d = spec.spawn(&cfg).unwrap();
    // Wait for the three lines (bounded).
    let mut lines = Vec::new();
    for _ in 0..500 {
        lines = d.log_tail();
        if lines.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(
        out[0],
        "env=/tmp/some config.json arg=/tmp/some config.json"
    );
    assert!(lines
        .iter()
        .any(|l| l.stream == LogStream::Stderr && l.line == "oops"));
    assert!(lines.iter().all(|l| l.ts_us > 0));
    let child: u32 = out[1].strip_prefix("child=").unwrap().parse().unwrap();
    assert!(alive(child));
    assert!(d.exit_info().is_none(), "still running");
    let info = d.terminate().await.unwrap();
    assert!(!info.success());
    assert_eq!(d.exit_info(), Some(info));
    for _ in 0..200 {
        if !alive(child) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!alive(child), "the desktop's own child died with its group");
}

#[tokio::test]
async fn early_exit_and_bounded_log() {
    let mut spec =
        DesktopSpec::parse("sh -c 'for i in $(seq 1 100); do echo $i; done; exit 3'").unwrap();
    spec.log_capacity = 10;
    let d = spec.spawn(Path::new("/nonexistent.json")).unwrap();
    let info = tokio::time::timeout(WAIT, d.exited()).await.expect("exits");
    assert_eq!(info.code, Some(3));
    // Output may still be draining just after the exit.
    for _ in 0..200 {
        if d.log_tail().last().map(|l| l.line.as_str()) == Some("100") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tail: Vec<String> = d.log_tail().into_iter().map(|l| l.line).collect();
    assert_eq!(tail.len(), 10);
    assert_eq!(tail.first().map(String::as_str), Some("91"));
    assert_eq!(tail.last().map(String::as_str), Some("100"));
    // A missing program is a clear spawn error.
    let e = DesktopSpec::parse("/no/such/desktop")
        .unwrap()
        .spawn(Path::new("/x"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("/no/such/desktop"), "{e}");
}

/// A desktop that prints a 64 MiB line and a binary blob costs the harness one bounded line each,
/// and its pipe keeps draining (its last line arrives, it exits on its own).
#[tokio::test]
async fn huge_lines_and_binary_output_are_cut_not_kept_and_do_not_stall_the_desktop() {
    let mut spec = DesktopSpec::parse(
        "sh -c 'head -c 67108864 /dev/zero | tr \"\\000\" x; echo; head -c 1048576 /dev/urandom; echo; echo done; exit 4'",
    )
    .unwrap();
    // Room for every line the random megabyte splits into, so the first line is still held.
    spec.log_capacity = 100_000;
    let d = spec.spawn(Path::new("/nonexistent.json")).unwrap();
    let info = tokio::time::timeout(Duration::from_secs(60), d.exited())
        .await
        .expect("the desktop is not blocked on a full pipe");
    assert_eq!(info.code, Some(4));
    for _ in 0..200 {
        if d.log_tail().last().map(|l| l.line.as_str()) == Some("done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tail = d.log_tail();
    assert_eq!(tail.last().map(|l| l.line.as_str()), Some("done"));
    let first = &tail[0].line;
    let cut = 67_108_864 - bc_engine::env::MAX_LINE_BYTES;
    assert!(first.starts_with("xxxx"), "the 64 MiB line comes first");
    let end: String = first.chars().skip(bc_engine::env::MAX_LINE_BYTES).collect();
    assert_eq!(end, format!(" … [{cut} more bytes cut]"));
    let kept: usize = tail.iter().map(|l| l.line.len()).sum();
    // Random bytes hold newlines: many short lines, each bounded; all of it far below the output.
    assert!(
        tail.iter()
            .all(|l| l.line.len() <= 3 * bc_engine::env::MAX_LINE_BYTES + 64),
        "a line over the bound"
    );
    assert!(kept < 4 << 20, "kept {kept} bytes of 65 MiB");
}

/// bc-reference-desktop in the target dir, built once if missing (`start` builds the mocks and proxy).
fn reference_desktop() -> PathBuf {
    bc_test_support::ensure_built(&["bc-desktops"], &["bc-reference-desktop"])
        .join("bc-reference-desktop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_desktop_logs_in_at_its_preferred_site_through_the_proxies() {
    let bin = reference_desktop();
    let mut env = start(true).await;
    let mut events = env.take_events().unwrap();
    let config = env.write_connection_file("agent1001").unwrap();
    let spec = DesktopSpec::parse(&format!("'{}' --config {{config}}", bin.display())).unwrap();
    let d = spec.spawn(&config).unwrap();
    // agent1001 prefers B (person level): the SIP Server at B sees the agent login.
    let ev = wait_event(
        &mut events,
        "agent_login of 1001",
        |e| matches!(&e.kind, EventKind::AgentLogin { agent_id, .. } if agent_id == "1001"),
    )
    .await;
    assert_eq!((ev.site.as_str(), ev.server), ("B", ServerKind::SipServer));
    assert!(
        d.exit_info().is_none(),
        "desktop still running: {:?}",
        d.log_tail()
    );
    d.terminate().await.unwrap();
    env.shutdown().await.unwrap();
}
