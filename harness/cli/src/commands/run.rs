//! `bc-harness run PATH... --desktop "CMD ARGS"`: runs suites against a desktop and writes the
//! console summary, JUnit XML and a JSON journal (default under ./reports/); exit code per outcome.

use std::io::IsTerminal;
use std::path::PathBuf;

use bc_engine::env::RuntimeKind;
use bc_engine::report::{Console, Journal, JunitReport, Reporters};
use bc_engine::run::{load_profile, parse_capabilities, run_and_report, signal_cancel, RunOptions};

use bc_engine::exit::ExitCode;

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct Args {
    /// Suite files or directories (searched recursively for *.yaml / *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The desktop command line; `{config}` is replaced by the connection file path (also in
    /// env BC_DESKTOP_CONFIG).
    #[arg(long, value_name = "CMD ARGS")]
    desktop: String,
    /// Where the servers run: auto (Docker when available), local or docker.
    #[arg(long, default_value = "auto", value_parser = ["auto", "local", "docker"])]
    runtime: String,
    /// Docker runtime: run this Toxiproxy image as the fault proxy instead of ours, e.g.
    /// `ghcr.io/shopify/toxiproxy:2.12.0` (pulled when the engine lacks it).
    #[arg(long, value_name = "IMAGE")]
    toxiproxy_image: Option<String>,
    /// Budget override for every scenario, e.g. `20s` (default: the suites' budgets, else 60s).
    #[arg(long, value_name = "DURATION")]
    budget: Option<String>,
    /// Capabilities the desktop declares, comma separated (stat_server, failback,
    /// stat_loss_triggers_dr, auto_answer).
    #[arg(long, value_name = "a,b", conflicts_with = "profile")]
    capabilities: Option<String>,
    /// A desktop profile file (YAML/JSON: `capabilities: [..]`).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Scenarios run in parallel, each in its own environment.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// JUnit XML output (default reports/junit.xml).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// JSON journal output with every timeline (default reports/journal.json).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Only runs whose id matches (`*` wildcards, else a substring).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Seed recorded in reports and passed to the desktop as BC_HARNESS_SEED (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::Usage
}

/// Runs the subcommand.
pub fn run(a: Args) -> ExitCode {
    let budget = match a
        .budget
        .as_deref()
        .map(humantime::parse_duration)
        .transpose()
    {
        Ok(b) => b,
        Err(e) => return usage(format!("invalid --budget: {e} (examples: `20s`, `1m 30s`)")),
    };
    if budget.is_some_and(|b| b.is_zero()) {
        return usage("--budget must be positive");
    }
    let caps = match (&a.capabilities, &a.profile) {
        (Some(list), _) => parse_capabilities(list),
        (None, Some(p)) => load_profile(p),
        (None, None) => Ok(Vec::new()),
    };
    let caps = match caps {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let runtime: RuntimeKind = match a.runtime.parse() {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    });
    let mut opts = RunOptions::new(a.paths, a.desktop);
    opts.runtime = runtime;
    opts.proxy_image = a.toxiproxy_image;
    opts.budget = budget;
    opts.capabilities = caps;
    opts.jobs = a.jobs;
    opts.filter = a.filter;
    opts.seed = seed;
    let reporters = Reporters {
        console: Some(Console::stderr(std::io::stderr().is_terminal())),
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: Some(
            a.junit
                .unwrap_or_else(|| PathBuf::from("reports/junit.xml")),
        ),
        journal_path: Some(
            a.journal
                .unwrap_or_else(|| PathBuf::from("reports/journal.json")),
        ),
    };
    let result = match super::block_on(async {
        let cancel = signal_cancel();
        run_and_report(opts, reporters, cancel).await
    }) {
        Ok(result) => result,
        Err(code) => return code,
    };
    match result {
        Ok((c, problems)) => {
            for p in problems {
                eprintln!("error: {p}");
            }
            c
        }
        Err(e) => usage(e),
    }
}
