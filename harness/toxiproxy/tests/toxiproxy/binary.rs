//! The bc-toxiproxy binary as the harness runs it: ready line on stdout, --port 0, --config.
//! The binary comes from the cargo target dir (BC_BIN_DIR overrides).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The bc-toxiproxy binary, built once (`cargo build -p bc-toxiproxy --bins`) if it is missing.
fn binary() -> PathBuf {
    bc_test_support::ensure_built(&["bc-toxiproxy"], &["bc-toxiproxy"]).join("bc-toxiproxy")
}

/// Starts the binary and waits for its ready line; returns the child and the API address.
async fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bc-toxiproxy");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("ready line in time")
        .expect("read stdout")
        .expect("a ready line");
    let addr = line
        .strip_prefix("bc-toxiproxy listening on ")
        .unwrap_or_else(|| panic!("ready line: {line}"));
    (child, addr.to_string())
}

#[tokio::test]
async fn binary_prints_the_real_port_and_serves_the_api() {
    let up = crate::common::echo().await;
    let (mut child, addr) = start(&["--port", "0", "--seed", "7"]).await;
    assert!(!addr.ends_with(":0"));
    let c = bc_toxiproxy::Client::new(&format!("http://{addr}")).unwrap();
    assert_eq!(c.version().await.unwrap(), "2.12.0");
    crate::common::conformance::run(&c, "bin-", up.addr).await;
    child.kill().await.unwrap();
}

#[tokio::test]
async fn binary_populates_from_a_config_file() {
    let up = crate::common::echo().await;
    let dir = std::env::temp_dir().join(format!("bc-toxiproxy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("proxies.json");
    std::fs::write(
        &cfg,
        format!(
            r#"[{{"name":"site-a","listen":"127.0.0.1:0","upstream":"{}"}}]"#,
            up.addr
        ),
    )
    .unwrap();
    let (mut child, addr) = start(&["--port", "0", "--config", cfg.to_str().unwrap()]).await;
    let c = bc_toxiproxy::Client::new(&format!("http://{addr}")).unwrap();
    let p = c.proxy("site-a").await.unwrap();
    assert!(p.enabled);
    let mut s = crate::common::connect(&p.listen).await;
    crate::common::round_trip(&mut s, b"via config").await;
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn binary_rejects_a_bad_config_with_a_message() {
    let dir = std::env::temp_dir().join(format!("bc-toxiproxy-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad.json");
    std::fs::write(&cfg, r#"{"not": "an array"}"#).unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        Command::new(binary())
            .args(["--port", "0", "--config", cfg.to_str().unwrap()])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exits in time")
    .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid config"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
