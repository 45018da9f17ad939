//! The bc-toxiproxy binary: a Toxiproxy 2.x compatible server (like toxiproxy-server).
//! Prints `bc-toxiproxy listening on ADDR` on stdout once the API accepts connections.

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
    let args = Args::parse();
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
