//! REGISTER throughput of the SIP listener, with sipp as the load generator: for each target rate a
//! fresh release mock (pinned to one core with taskset when present) takes N REGISTERs of distinct AORs.
//!
//! `cargo run --release -p bc-mock --example sip_register_bench [-- COUNT RATE...]` (docs/benchmarks.md).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn has(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

fn main() {
    if !has("sipp") {
        eprintln!("SKIPPED: sipp is not installed (Debian package sip-tester)");
        return;
    }
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = args.first().copied().unwrap_or(30_000);
    let rates: Vec<u64> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![2_000, 5_000, 8_000, 12_000]
    };
    let bins = bc_test_support::freshly_built(&["bc-mock"], &["bc-mock"]);
    let scenario =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sipp/register_load.xml");
    let pin = has("taskset");
    println!("REGISTER load: {count} distinct AORs per run, sipp -r RATE; mock pinned to one core: {pin}");
    println!(
        "{:>8} {:>10} {:>10} {:>8} {:>9} {:>12}",
        "target/s", "achieved/s", "seconds", "sipp rc", "bindings", "KiB/binding"
    );
    for rate in rates {
        run(&bins, &scenario, pin, count, rate);
    }
}

/// One run: a fresh mock, COUNT REGISTERs from sipp at RATE, one line of results.
fn run(bins: &std::path::Path, scenario: &std::path::Path, pin: bool, count: u64, rate: u64) {
    let mut cmd = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(bins.join("bc-mock"));
        c
    } else {
        Command::new(bins.join("bc-mock"))
    };
    let mut mock = cmd
        .args([
            "sip-server",
            "--site",
            "A",
            "--sip-listen",
            "127.0.0.1:0",
            "--sip-expires-secs",
            "3600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bc-mock");
    let mut line = String::new();
    BufReader::new(mock.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
            .expect("field in the ready line")
    };
    let (sip, control) = (field("sip"), field("control"));
    let before = rss_kib(mock.id());
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = Instant::now();
    let mut sipp = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "sipp"]);
        c
    } else {
        Command::new("sipp")
    };
    let rc = sipp
        .arg(&sip)
        .arg("-sf")
        .arg(scenario)
        .args([
            "-r",
            &rate.to_string(),
            "-rp",
            "1000",
            "-m",
            &count.to_string(),
        ])
        .args([
            "-l",
            &(rate * 2).to_string(),
            "-p",
            &free_udp_port().to_string(),
        ])
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "120s",
            "-timeout_error",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.code().unwrap_or(-1))
        .unwrap_or(-1);
    let secs = t0.elapsed().as_secs_f64();
    let after = rss_kib(mock.id());
    let bindings = http::blocking_bindings(&control);
    let per = if bindings > 0 {
        (after.saturating_sub(before)) as f64 / bindings as f64
    } else {
        0.0
    };
    println!(
        "{rate:>8} {:>10.0} {secs:>10.2} {rc:>8} {bindings:>9} {per:>12.2}",
        count as f64 / secs
    );
    let _ = mock.kill();
    let _ = mock.wait();
}

/// The number of bindings held (`GET /sip/bindings`), over a plain HTTP/1.0 request.
mod http {
    use std::io::{Read, Write};
    pub fn blocking_bindings(control: &str) -> usize {
        let Ok(mut s) = std::net::TcpStream::connect(control) else {
            return 0;
        };
        let _ = write!(s, "GET /sip/bindings HTTP/1.0\r\nHost: {control}\r\n\r\n");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.matches("\"aor\":").count()
    }
}
