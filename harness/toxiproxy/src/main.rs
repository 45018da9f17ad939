//! The bc-toxiproxy binary: a Toxiproxy 2.x compatible server (like toxiproxy-server).
//! Prints `bc-toxiproxy listening on ADDR` on stdout once the API accepts connections; takes toxiproxy-server's
//! Go-style flags too (`-host=0.0.0.0 -port 8474`), so scripts and images written for Toxiproxy can start it.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "bc-toxiproxy",
    version,
    about = "Toxiproxy 2.x compatible fault-injection proxy"
)]
struct Args {
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// API port (0 picks a free one; the ready line shows it).
    #[arg(long, default_value_t = 8474)]
    port: u16,
    /// JSON file of proxies to create at start (same format as POST /populate).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the random generator (jitter, toxicity, slicer); random when absent.
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse_from(go_style_flags(std::env::args_os()));
    let seed = args.seed.unwrap_or_else(rand::random);
    let host = if args.host.contains(':') && !args.host.starts_with('[') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    let addr = format!("{host}:{}", args.port);
    let handle = match bc_toxiproxy::server::spawn_with(&addr, seed, args.config.as_deref()).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("bc-toxiproxy: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!(seed, "rng seeded");
    println!("bc-toxiproxy listening on {}", handle.local_addr());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    handle.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// toxiproxy-server's flags (Go's flag package: one dash, `-name=value` or `-name value`).
const GO_FLAGS: [&str; 4] = ["host", "port", "config", "seed"];

/// Rewrites toxiproxy-server's one-dash flags to clap's two-dash form; everything else passes unchanged.
fn go_style_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| {
            let rewritten = arg.to_str().and_then(|a| {
                let rest = a.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
                let name = rest.split('=').next().unwrap_or(rest);
                GO_FLAGS.contains(&name).then(|| format!("-{a}"))
            });
            rewritten.map(OsString::from).unwrap_or(arg)
        })
        .collect()
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(go_style_flags(args.iter().map(OsString::from))).unwrap()
    }

    #[test]
    fn toxiproxy_server_flags_are_accepted() {
        // What Shopify's image runs: ENTRYPOINT /toxiproxy, CMD -host=0.0.0.0, plus the usual extras.
        let a = parse(&["toxiproxy", "-host=0.0.0.0", "-port", "9000", "-seed=7"]);
        assert_eq!(
            (a.host.as_str(), a.port, a.seed),
            ("0.0.0.0", 9000, Some(7))
        );
        let b = parse(&["bc-toxiproxy", "--host", "::1", "--port=0"]);
        assert_eq!((b.host.as_str(), b.port), ("::1", 0));
    }

    #[test]
    fn other_single_dash_arguments_are_left_alone() {
        let out = go_style_flags(["x", "-h", "-hostile", "--seed=1", "-"].map(OsString::from));
        assert_eq!(
            out,
            ["x", "-h", "-hostile", "--seed=1", "-"].map(OsString::from)
        );
    }
}
