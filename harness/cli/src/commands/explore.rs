//! `bc-harness explore --desktop "CMD ARGS"`: seeded chaos schedules against a desktop; the first
//! failure is shrunk and written as a suite that `bc-harness run` reproduces (exit 1), else exit 0.

use std::path::PathBuf;

use bc_engine::exit::ExitCode;
use bc_engine::explore::{explore, ExploreOptions, GenConfig, ShrinkLimits};
use bc_engine::report;
use bc_engine::run::signal_cancel;

use super::shared::{
    duration, reported, reporters, seed_or_clock, usage, DesktopArgs, JunitFlavour, RuntimeArgs,
};

/// Arguments of `explore`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    desktop: DesktopArgs,
    /// Seed of the first case; case i uses SEED + i (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Cases (schedules) to explore; exploration stops at the first failure.
    #[arg(long, default_value_t = 10)]
    cases: usize,
    /// Start no new case after this long, e.g. `10m`.
    #[arg(long, value_name = "DURATION")]
    max_time: Option<String>,
    /// Where the minimal failing schedule is written as a suite.
    #[arg(long, value_name = "DIR", default_value = "explore-failures")]
    out: PathBuf,
    #[command(flatten)]
    env: RuntimeArgs,
    /// Budget: deadline of every expectation and length of every checkpoint.
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    budget: String,
    /// Settling period after the final heal.
    #[arg(long, value_name = "DURATION", default_value = "2500ms")]
    settle: String,
    /// Fewest operations per schedule.
    #[arg(long, default_value_t = 5)]
    min_ops: usize,
    /// Most operations per schedule.
    #[arg(long, default_value_t = 30)]
    max_ops: usize,
    /// Longest pause between operations.
    #[arg(long, value_name = "DURATION", default_value = "1500ms")]
    max_wait: String,
    /// Probability that a fault or heal right after the desktop was made to move waits for the
    /// desktop's connection or login at the site it moves to (an `on:` trigger) instead of a time;
    /// 0: never.
    #[arg(long, value_name = "P", default_value_t = GenConfig::default().triggers)]
    triggers: f64,
    /// Environments side by side: cases run in batches of this many, and so do shrink candidates
    /// (default: 2 per core on the local runtime, 1 per core on Docker).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Only these fault kinds, comma separated (e.g. `black_hole,freeze_server`; default all).
    #[arg(long, value_name = "a,b")]
    focus: Option<String>,
    /// The agent the desktop logs in as.
    #[arg(long, default_value = "agent1001")]
    agent: String,
    /// Configuration database (default: fixtures/config/default.yaml, searched upwards).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Most real runs while shrinking a failure.
    #[arg(long, default_value_t = 24)]
    shrink_runs: usize,
    /// Most time spent shrinking a failure.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    shrink_time: String,
    /// Shrinking halves the budget while the failure reproduces, never below this (keep it above
    /// the slowest recovery a conformant desktop may need).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    shrink_min_budget: String,
    /// JUnit XML output, one testcase per explored case.
    #[arg(long, value_name = "FILE", default_value = "reports/explore-junit.xml")]
    junit: PathBuf,
    /// JSON journal output with every case's timeline.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "reports/explore-journal.json"
    )]
    journal: PathBuf,
}

fn options(a: Args) -> Result<(ExploreOptions, PathBuf, PathBuf), String> {
    let mut o = ExploreOptions::new(a.desktop.command()?);
    o.seed = seed_or_clock(a.seed);
    o.cases = a.cases;
    o.max_time = a
        .max_time
        .as_deref()
        .map(|t| duration("max-time", t))
        .transpose()?;
    o.out_dir = a.out;
    o.runtime = a.env.runtime.into();
    o.proxy_image = a.env.toxiproxy_image;
    o.budget = duration("budget", &a.budget)?;
    o.settle = duration("settle", &a.settle)?;
    o.gen = GenConfig {
        min_ops: a.min_ops,
        max_ops: a.max_ops,
        focus: a
            .focus
            .map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        max_wait_ms: duration("max-wait", &a.max_wait)?.as_millis() as u64,
        triggers: a.triggers,
        ..GenConfig::default()
    };
    o.jobs = a.jobs;
    o.gen.validate()?;
    o.agent = a.agent;
    o.config = a.config;
    o.capabilities = a.desktop.capabilities()?;
    o.shrink = ShrinkLimits {
        max_runs: a.shrink_runs,
        max_time: duration("shrink-time", &a.shrink_time)?,
        min_budget: duration("shrink-min-budget", &a.shrink_min_budget)?,
    };
    Ok((o, a.junit, a.journal))
}

/// Runs the subcommand.
pub fn run(a: Args) -> ExitCode {
    let (opts, junit, journal) = match options(a) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    eprintln!(
        "explore: seed {} ({} case(s)); replay one case with --seed SEED --cases 1",
        opts.seed, opts.cases
    );
    let reporters = reporters(junit, journal, JunitFlavour::Strict);
    let (result, problems) = match super::block_on(async {
        let cancel = signal_cancel();
        reported(reporters, |events| explore(opts, cancel, events)).await
    }) {
        Ok(out) => out,
        Err(code) => return code,
    };
    for p in &problems {
        eprintln!("error: {p}");
    }
    match result {
        Ok(report) => {
            let code = report::exit_code(report.exit_code(), &problems);
            match &report.failure {
                Some(f) => println!(
                    "FAILED case seed {}: {}\n  minimal schedule ({} of {} operations, budget {} of {}, waits {:.1}s of {:.1}s): {}\n  reproduce: {}\n  replay the case: {}",
                    f.case_seed,
                    f.check,
                    f.shrunk_ops,
                    f.original_ops,
                    bc_engine::explore::emit::dur(f.budget_ms),
                    bc_engine::explore::emit::dur(f.original_budget_ms),
                    f.waits_ms as f64 / 1000.0,
                    f.original_waits_ms as f64 / 1000.0,
                    f.suite_path.display(),
                    f.run_command,
                    f.replay
                ),
                None => println!(
                    "no failure in {} case(s){}",
                    report.cases_run,
                    if report.stopped_by_time {
                        " (stopped by --max-time)"
                    } else {
                        ""
                    }
                ),
            }
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            match e {
                bc_engine::explore::ExploreError::Environment(_) => ExitCode::HarnessError,
                _ => ExitCode::Usage,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Result<(ExploreOptions, PathBuf, PathBuf), String> {
        let mut argv = vec!["explore", "--desktop", "desk --flag"];
        argv.extend_from_slice(extra);
        options(Cli::try_parse_from(argv).map_err(|e| e.to_string())?.args)
    }

    fn err(extra: &[&str]) -> String {
        match parse(extra) {
            Err(e) => e,
            Ok(_) => panic!("{extra:?} accepted"),
        }
    }

    #[test]
    fn defaults_and_flags_become_options() {
        let (o, junit, _) = parse(&[
            "--seed",
            "42",
            "--budget",
            "6s",
            "--focus",
            "black_hole, ha_failover",
        ])
        .unwrap();
        assert_eq!(o.seed, 42);
        assert_eq!(o.cases, 10);
        assert_eq!(o.budget, Duration::from_secs(6));
        assert_eq!(o.gen.focus, vec!["black_hole", "ha_failover"]);
        assert_eq!(o.shrink.min_budget, Duration::from_secs(10));
        assert_eq!((o.gen.min_ops, o.gen.max_ops), (5, 30));
        assert_eq!(o.out_dir, PathBuf::from("explore-failures"));
        assert_eq!(junit, PathBuf::from("reports/explore-junit.xml"));
        assert!(o
            .replay_command(43)
            .contains("--seed 43 --cases 1 --budget 6s"));
        assert!(o.replay_command(43).contains("--desktop 'desk --flag'"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let e = err(&["--focus", "kil_site"]);
        assert!(e.contains("unknown fault kind `kil_site`"), "{e}");
        let e = err(&["--budget", "6"]);
        assert!(e.contains("invalid --budget"), "{e}");
        let e = err(&["--budget", "0s"]);
        assert!(e.contains("--budget must be positive"), "{e}");
        let e = err(&["--shrink-min-budget", "0s"]);
        assert!(e.contains("--shrink-min-budget must be positive"), "{e}");
        let e = err(&["--min-ops", "9", "--max-ops", "3"]);
        assert!(e.contains("operation count"), "{e}");
        let e = err(&["--capabilities", "stat_srv"]);
        assert!(e.contains("unknown capability"), "{e}");
    }
}
