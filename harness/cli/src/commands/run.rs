//! `bc-harness run PATH... --desktop "CMD ARGS"`: runs suites against a desktop and writes the
//! console summary, JUnit XML and a JSON journal (default under ./reports/); exit code per outcome.

use std::path::PathBuf;

use bc_engine::exit::ExitCode;
use bc_engine::run::{run_and_report, signal_cancel, RunOptions};

use super::shared::{duration, reporters, seed_or_clock, usage, DesktopArgs, RuntimeArgs};

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct Args {
    /// Suite files or directories (searched recursively for *.yaml / *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    desktop: DesktopArgs,
    #[command(flatten)]
    env: RuntimeArgs,
    /// Budget override for every scenario, e.g. `20s` (default: the suites' budgets, else 60s).
    #[arg(long, value_name = "DURATION")]
    budget: Option<String>,
    /// Scenarios run in parallel, each in its own environment.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// JUnit XML output.
    #[arg(long, value_name = "FILE", default_value = "reports/junit.xml")]
    junit: PathBuf,
    /// JSON journal output with every timeline.
    #[arg(long, value_name = "FILE", default_value = "reports/journal.json")]
    journal: PathBuf,
    /// Only runs whose id matches (`*` wildcards, else a substring).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Seed recorded in reports and passed to the desktop as BC_HARNESS_SEED (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

/// The run's options from the flags; `Err` is a usage error.
fn options(a: Args) -> Result<(RunOptions, PathBuf, PathBuf), String> {
    let budget = a
        .budget
        .as_deref()
        .map(|b| duration("budget", b))
        .transpose()?;
    let mut opts = RunOptions::new(a.paths, a.desktop.desktop.clone());
    opts.capabilities = a.desktop.capabilities()?;
    opts.runtime = a.env.runtime.into();
    opts.proxy_image = a.env.toxiproxy_image;
    opts.budget = budget;
    opts.jobs = a.jobs;
    opts.filter = a.filter;
    opts.seed = seed_or_clock(a.seed);
    Ok((opts, a.junit, a.journal))
}

/// Runs the subcommand.
pub fn run(a: Args) -> ExitCode {
    let (opts, junit, journal) = match options(a) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let reporters = reporters(junit, journal);
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

#[cfg(test)]
mod tests {
    use super::*;
    use bc_engine::env::RuntimeKind;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Result<(RunOptions, PathBuf, PathBuf), String> {
        let mut argv = vec!["run", "suites", "--desktop", "desk"];
        argv.extend_from_slice(extra);
        options(Cli::try_parse_from(argv).map_err(|e| e.to_string())?.args)
    }

    #[test]
    fn flags_become_options() {
        let (o, junit, journal) = parse(&[
            "--runtime",
            "local",
            "--seed",
            "7",
            "--budget",
            "20s",
            "--capabilities",
            "stat_server",
        ])
        .unwrap();
        assert_eq!(o.runtime, RuntimeKind::Local);
        assert_eq!(o.seed, 7);
        assert_eq!(o.budget, Some(std::time::Duration::from_secs(20)));
        assert_eq!(o.capabilities.len(), 1);
        assert_eq!(junit, PathBuf::from("reports/junit.xml"));
        assert_eq!(journal, PathBuf::from("reports/journal.json"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let e = parse(&["--runtime", "podman"]).err().unwrap();
        assert!(e.contains("possible values: auto, local, docker"), "{e}");
        let e = parse(&["--budget", "0s"]).err().unwrap();
        assert!(e.contains("--budget must be positive"), "{e}");
        let e = parse(&["--capabilities", "teleport"]).err().unwrap();
        assert!(e.contains("unknown capability `teleport`"), "{e}");
    }
}
