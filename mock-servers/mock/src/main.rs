//! `bc-mock`: runs one mock server instance (sip-server, config-proxy or stat-server).
//! Prints one ready line on stdout; logs go to stderr; SIGTERM / SIGINT shut down gracefully.

use bc_mock::{start, Cli, Options};
use clap::Parser;
use std::io::Write;

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BC_MOCK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let opts = Options::from(cli);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bc-mock: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = rt.block_on(async move {
        let running = match start(opts).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("bc-mock: {e}");
                return 1;
            }
        };
        // Install the handlers before announcing readiness, so an early SIGTERM is graceful too.
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            _ => {
                eprintln!("bc-mock: cannot install signal handlers");
                return 1;
            }
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", running.ready_line());
            let _ = out.flush();
        }
        let inst = running.instance.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            inst.graceful_shutdown().await;
        });
        running.finished().await;
        0
    });
    // Exit at once: open /events streams and stray tasks must not delay the exit.
    std::process::exit(code);
}
