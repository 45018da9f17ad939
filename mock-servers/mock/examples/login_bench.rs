//! Benchmark: agent logins per second one SIP Server mock sustains, and its memory per session.
//! Run: `cargo run --release -p bc-mock --example login_bench -- [--sessions N] [--concurrency C]`.

use bc_protocol::{encode_line, Message};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

struct Args {
    sessions: usize,
    concurrency: usize,
    limit: Duration,
}

fn args() -> Args {
    let mut a = Args {
        sessions: 10_000,
        concurrency: 200,
        limit: Duration::from_secs(60),
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < v.len() {
        let n: u64 = v[i + 1]
            .parse()
            .unwrap_or_else(|_| panic!("{} needs a number", v[i]));
        match v[i].as_str() {
            "--sessions" => a.sessions = n as usize,
            "--concurrency" => a.concurrency = n.max(1) as usize,
            "--time-limit-s" => a.limit = Duration::from_secs(n),
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    a
}

/// The bc-mock binary: `$BC_BIN_DIR/bc-mock`, else the one in this example's target/<profile>, so
/// `cargo run --release` measures a release bc-mock. Always built first (with `--release` under a release
/// run; a no-op when fresh), since `cargo run --example` does not rebuild the package's binaries.
fn mock_bin() -> PathBuf {
    bc_test_support::freshly_built(&["bc-mock"], &["bc-mock"]).join("bc-mock")
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on our own process with a valid struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

async fn login(addr: &str, i: usize) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (rd, mut wr) = s.into_split();
    let mut rd = BufReader::new(rd);
    let dn = format!("{}", 100_000 + i);
    let agent = format!("{}", 500_000 + i);
    let msgs = [
        Message::RequestRegisterClient {
            reference_id: 1,
            client_name: "bench".into(),
            protocol_version: 1,
            user_name: None,
            password: None,
        },
        Message::RequestRegisterAddress {
            reference_id: 2,
            this_dn: dn.clone(),
        },
        Message::RequestAgentLogin {
            reference_id: 3,
            this_dn: dn,
            agent_id: agent,
        },
    ];
    let mut line = String::new();
    // One request at a time, as a desktop does: each waits for its answer.
    for m in &msgs {
        wr.write_all(encode_line(m).as_bytes()).await?;
        line.clear();
        rd.read_line(&mut line).await?;
        if line.contains("EventError") || line.is_empty() {
            return Err(std::io::Error::other(format!("unexpected answer: {line}")));
        }
    }
    Ok(rd.into_inner().reunite(wr).expect("same stream"))
}

#[tokio::main]
async fn main() {
    let a = args();
    raise_fd_limit();
    let mut child = Command::new(mock_bin())
        .args(["sip-server", "--site", "A", "--role", "primary"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn bc-mock");
    let pid = child.id().expect("pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("ready in time")
        .expect("stdout")
        .expect("ready line");
    let addr: Arc<str> = ready
        .split(' ')
        .find_map(|kv| kv.strip_prefix("listen="))
        .expect("listen=")
        .into();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss0 = rss_kb(pid);

    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + a.limit;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (next, addr, n) = (next.clone(), addr.clone(), a.sessions);
        tasks.push(tokio::spawn(async move {
            let mut held = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || Instant::now() > deadline {
                    return (held, errors);
                }
                match login(&addr, i).await {
                    Ok(s) => held.push(s),
                    Err(_) => errors += 1,
                }
            }
        }));
    }
    let mut held = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.expect("task");
        held.extend(h);
        errors += e;
    }
    let elapsed = t0.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss1 = rss_kb(pid);
    let ok = held.len();
    println!(
        "sessions={ok} errors={errors} concurrency={} elapsed={:.3}s logins_per_s={:.0}",
        a.concurrency,
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64()
    );
    println!(
        "rss_before={}KiB rss_after={}KiB per_session={:.1}KiB (includes the event history)",
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / ok.max(1) as f64
    );
    drop(held);
    let _ = child.start_kill();
    let _ = child.wait().await;
}
