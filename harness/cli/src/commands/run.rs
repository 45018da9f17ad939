//! `bc-harness run PATH... --desktop "CMD"`: runs suites against a desktop; writes the console summary,
//! JUnit XML, a JSON journal (default under ./reports/) and, with `--html`, a page; exit code per outcome.

use std::path::PathBuf;

use bc_engine::event::repeat::PassPolicy;
use bc_engine::exit::ExitCode;
use bc_engine::lab::{LabClient, LabState};
use bc_engine::report;
use bc_engine::run::{signal_cancel, Attach, KeepSlot, KeptEnv, RunOptions};

use super::shared::{
    duration, reported, seed_or_clock, usage, DesktopArgs, ReportArgs, RuntimeArgs,
};

/// The pass policy of repeated runs, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Policy {
    /// Every repetition passes.
    All,
    /// More than half pass.
    Most,
    /// At least one passes.
    Any,
}

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
    /// Scenarios run in parallel, each in its own environment [default: 2 per core on the local
    /// runtime, 1 per core on Docker; 1 with --keep-env or --attach].
    #[arg(long)]
    jobs: Option<usize>,
    #[command(flatten)]
    reports: ReportArgs,
    /// Only runs whose id matches (`*` wildcards, else a substring).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Only one shard of the planned runs: `hash:K/N` (by run id, stable when scenarios are
    /// added) or `slice:K/N` (every Nth run); merge the shards' journals with `bc-harness merge`.
    #[arg(long, value_name = "hash:K/N|slice:K/N")]
    partition: Option<String>,
    /// Runs each scenario N times, each with a fresh desktop and a seed derived from the run seed;
    /// a run that both passed and failed is reported flaky, with its time distribution.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
    /// With --repeat: stop repeating a run after its first failure.
    #[arg(long, requires = "repeat")]
    until_fail: bool,
    /// Stop at the first scenario that fails or is inconclusive: the rest are not started, those
    /// running are cancelled; all are reported skipped ("not run"). A harness error does not stop it.
    #[arg(long)]
    fail_fast: bool,
    /// A scenario runs all its steps after a check failed, so that every check the desktop breaks
    /// is reported (by default it stops at its first failure, which is enough for a verdict).
    #[arg(long)]
    run_to_end: bool,
    /// With --repeat: how many passing repetitions make a run pass (the exit code follows it).
    #[arg(long, value_enum, default_value_t = Policy::All)]
    pass_policy: Policy,
    /// The agent's SIP phone: `builtin` (the harness's phone, registered at both sites; faulty
    /// variants with `builtin --only-preferred`, `--no-reregister`, `--ignore-302`) or the vendor's
    /// phone command (`{config}` is the connection file, which then lists each site's SIP address).
    /// Puts SIP on the wire: SIP listeners, one UDP link per site, deliver_call as a real INVITE.
    #[arg(long, value_name = "builtin|CMD")]
    phone: Option<String>,
    /// Seed recorded in reports and passed to the desktop as BC_HARNESS_SEED (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Runs a scenario that ended in `error` (harness or environment trouble, never a `fail`) again,
    /// up to N times; every report says how often.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry_errors: u32,
    /// With --repeat: judge a floor of N agents synthesised from each run's repetitions (HERD-1
    /// and HERD-2 on the measured delays, drawn for N agents; at least 10 repetitions), reported as
    /// a run `RUN-ID (herd of N from K runs)`; then replay it against the servers: the run's
    /// scenario once more as a herd of N bc-reference-desktop agents (2 to 5000, found next to
    /// bc-harness), each first contacting the other site after the loss at a delay drawn from the
    /// measured ones, judged like any herd: `RUN-ID (herd of N replayed from K runs)`. For a
    /// desktop that cannot be started N times.
    #[arg(long, value_name = "N")]
    herd_of: Option<u32>,
    /// With --herd-of: judge the synthesised herd on the measured delays alone, without
    /// replaying it against the servers.
    #[arg(long)]
    no_herd_replay: bool,
    /// The harness's own lateness (decision lag, timer overshoot; the feed delay may be twice it)
    /// past which a scenario is `error`, e.g. `2s` (default 500ms). Raising it lets a loaded
    /// machine or a large herd finish; the report then is not a certificate.
    #[arg(long, value_name = "DURATION")]
    max_lateness: Option<String>,
    #[command(flatten)]
    attach: AttachArgs,
    #[command(flatten)]
    keep: KeepArgs,
}

/// When a run keeps an environment up after its reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum KeepWhen {
    /// The first scenario that fails: its environment as the verdict saw it.
    OnFailure,
}

/// Keeping a failed scenario's environment for a person to look at.
#[derive(clap::Args)]
struct KeepArgs {
    /// Keep the first failed scenario's environment up after the reports (its faults applied,
    /// its desktop running), reachable with `bc-harness env status|watch|heal|down --state-dir`;
    /// the scenarios after it are not run. One job.
    #[arg(long, value_enum, value_name = "WHEN", num_args = 0..=1, default_missing_value = "on-failure")]
    keep_env: Option<KeepWhen>,
    /// The kept environment's state directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "bc-lab",
        requires = "keep_env"
    )]
    state_dir: PathBuf,
}

/// How `{config}` of a hook reaches the stand-in untouched by the runner's substitution.
const HOOK_CONFIG: &str = "{lab_config}";

/// Running on an environment `env up` started, with a desktop the harness does not launch.
#[derive(clap::Args)]
struct AttachArgs {
    /// Run on the environment of this state directory (`env up --state-dir`), not a new one.
    #[arg(long, value_name = "STATE_DIR")]
    attach: Option<PathBuf>,
    /// Starts the desktop before each scenario and returns (argv, no shell; `{config}` is the
    /// environment's connection file).
    #[arg(long, value_name = "CMD ARGS", requires = "attach")]
    desktop_start: Option<String>,
    /// Stops the desktop after each scenario and returns.
    #[arg(long, value_name = "CMD ARGS", requires = "attach")]
    desktop_stop: Option<String>,
    /// Ask at the console to start and stop the desktop (press Enter when done).
    #[arg(long, requires = "attach")]
    desktop_prompt: bool,
    /// How long the console prompt waits.
    #[arg(long, value_name = "DURATION", default_value = "300s")]
    prompt_timeout: String,
    /// The desktop's log file, tailed into each scenario's timeline.
    #[arg(long, value_name = "FILE", requires = "attach")]
    desktop_log: Option<PathBuf>,
}

impl AttachArgs {
    /// The stand-in desktop command and where to attach, or `None` without `--attach`.
    fn resolve(&self) -> Result<Option<(String, Attach)>, String> {
        let Some(dir) = &self.attach else {
            return Ok(None);
        };
        if self.desktop_start.is_none() && self.desktop_stop.is_none() && !self.desktop_prompt {
            return Err("--attach needs --desktop-start/--desktop-stop (commands) or --desktop-prompt (a person at the console)".into());
        }
        let st = LabState::read(dir)?;
        if !st.is_alive() {
            return Err(format!(
                "the environment at {} is gone (its process {} exited)\nhint: `bc-harness env up --state-dir {}`",
                dir.display(),
                st.pid,
                dir.display()
            ));
        }
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut argv = vec![
            exe.display().to_string(),
            "desktop-hooks".into(),
            "--connection".into(),
            st.connection_file.display().to_string(),
            "--prompt-timeout".into(),
            self.prompt_timeout.clone(),
        ];
        for (flag, v) in [
            ("--start", &self.desktop_start),
            ("--stop", &self.desktop_stop),
        ] {
            if let Some(v) = v {
                argv.push(flag.into());
                // The runner would put its own connection file in place of `{config}`: the
                // stand-in puts the environment's there instead.
                argv.push(v.replace("{config}", HOOK_CONFIG));
            }
        }
        if self.desktop_prompt {
            argv.push("--prompt".into());
        }
        if let Some(log) = &self.desktop_log {
            argv.push("--log".into());
            argv.push(log.display().to_string());
        }
        let cmd = shlex::try_join(argv.iter().map(String::as_str)).map_err(|e| e.to_string())?;
        Ok(Some((
            cmd,
            Attach {
                control_url: st.control_url,
                config: st.config,
            },
        )))
    }
}

/// The run's options from the flags; `Err` is a usage error.
fn options(a: Args) -> Result<(RunOptions, ReportArgs, PathBuf), String> {
    let budget = a
        .budget
        .as_deref()
        .map(|b| duration("budget", b))
        .transpose()?;
    let attach = a.attach.resolve()?;
    let desktop = match (&attach, &a.desktop.desktop) {
        (Some(_), Some(_)) => {
            return Err("--desktop is not used with --attach (the desktop runs elsewhere: --desktop-start/--desktop-stop or --desktop-prompt)".into())
        }
        (Some((cmd, _)), None) => cmd.clone(),
        (None, _) => a.desktop.command()?,
    };
    let mut opts = RunOptions::new(a.paths, desktop);
    opts.attach = attach.map(|(_, at)| at);
    let profile = a.desktop.profile()?;
    opts.capabilities = profile.capabilities;
    opts.timers = profile.timers;
    opts.runtime = a.env.runtime.into();
    opts.proxy_image = a.env.toxiproxy_image;
    opts.budget = budget;
    opts.jobs = a.jobs;
    opts.filter = a.filter;
    opts.seed = seed_or_clock(a.seed);
    opts.retry_errors = a.retry_errors;
    if let Some(l) = a.max_lateness.as_deref() {
        opts.max_lateness = duration("max-lateness", l)?;
    }
    if a.repeat == 0 {
        return Err("--repeat must be at least 1".into());
    }
    opts.repeat = a.repeat;
    if a.herd_of.is_some() && a.repeat < 2 {
        return Err("--herd-of needs --repeat (at least 10 repetitions to judge a herd)".into());
    }
    if a.herd_of == Some(0) {
        return Err("--herd-of must be at least 1".into());
    }
    if a.no_herd_replay && a.herd_of.is_none() {
        return Err("--no-herd-replay goes with --herd-of".into());
    }
    opts.herd_of = a.herd_of;
    opts.herd_replay = !a.no_herd_replay;
    opts.until_fail = a.until_fail;
    opts.fail_fast = a.fail_fast;
    opts.run_to_end = a.run_to_end;
    opts.phone = a.phone;
    opts.pass_policy = match a.pass_policy {
        Policy::All => PassPolicy::All,
        Policy::Most => PassPolicy::Most,
        Policy::Any => PassPolicy::Any,
    };
    opts.partition = a.partition.as_deref().map(str::parse).transpose()?;
    if a.keep.keep_env == Some(KeepWhen::OnFailure) {
        opts.keep_env = Some(KeepSlot::default());
    }
    Ok((opts, a.reports, a.keep.state_dir))
}

/// Runs the subcommand.
pub fn run(a: Args) -> ExitCode {
    let (opts, reports, state_dir) = match options(a) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let reporters = reports.reporters();
    let (result, problems) = match super::block_on(async {
        if let Some(a) = &opts.attach {
            // Each scenario starts from a reset environment: heal what was applied by hand first,
            // so `env status` does not list faults the reset removed.
            if let Err(e) = LabClient::at(&a.control_url).heal(None).await {
                eprintln!(
                    "warning: cannot heal the faults applied by hand: {}",
                    e.message
                );
            }
        }
        let cancel = signal_cancel();
        let stop = cancel.clone();
        let slot = opts.keep_env.clone();
        let out = reported(reporters, |events| {
            bc_engine::run::run(opts, cancel, events)
        })
        .await;
        // After the reports: they are written whatever happens to the kept environment.
        if let Some(kept) = slot.and_then(|s| s.take()) {
            keep(kept, &state_dir, stop).await;
        }
        out
    }) {
        Ok(out) => out,
        Err(code) => return code,
    };
    for p in &problems {
        eprintln!("error: {p}");
    }
    match result {
        Ok(summary) => report::exit_code(summary.exit_code(), &problems),
        Err(e) => usage(e),
    }
}

/// Serves the kept environment until `env down` or Ctrl-C, saying on stderr how to reach it.
async fn keep(
    kept: KeptEnv,
    state_dir: &std::path::Path,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let id = kept.scenario.clone();
    let dir = state_dir.display().to_string();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let served = bc_engine::lab::serve_kept(kept, state_dir, loopback, stop, |r| {
        eprintln!(
            "\nkept the environment of {id}, which failed: its faults applied, its desktop running"
        );
        eprintln!("  bc-harness env status --state-dir {dir}   instances, faults, logins");
        eprintln!("  bc-harness env watch  --state-dir {dir}   the live timeline");
        eprintln!("  bc-harness env heal   --state-dir {dir} --all");
        eprintln!("  bc-harness env down   --state-dir {dir}   ends it (or Ctrl-C here)");
        eprintln!("connection file: {}", r.state.connection_file.display());
        eprintln!(
            "environment kept (pid {}), control {}",
            r.state.pid, r.state.control_url
        );
    })
    .await;
    match served {
        Ok(()) => eprintln!("the kept environment of {id} is down"),
        Err(e) => eprintln!("error: cannot keep the environment of {id}: {e}"),
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

    fn parse(extra: &[&str]) -> Result<(RunOptions, ReportArgs), String> {
        let mut argv = vec!["run", "suites", "--desktop", "desk"];
        argv.extend_from_slice(extra);
        options(Cli::try_parse_from(argv).map_err(|e| e.to_string())?.args).map(|(o, r, _)| (o, r))
    }

    #[test]
    fn flags_become_options() {
        let (o, reports) = parse(&[
            "--runtime",
            "local",
            "--seed",
            "7",
            "--budget",
            "20s",
            "--capabilities",
            "stat_server",
            "--retry-errors",
            "2",
            "--max-lateness",
            "2s",
            "--run-to-end",
        ])
        .unwrap();
        assert_eq!(o.max_lateness, std::time::Duration::from_secs(2));
        assert!(o.run_to_end);
        assert!(
            !parse(&[]).unwrap().0.run_to_end,
            "a scenario stops at its first failure"
        );
        assert_eq!(o.retry_errors, 2);
        assert_eq!(o.runtime, RuntimeKind::Local);
        assert_eq!(o.seed, 7);
        assert_eq!(o.budget, Some(std::time::Duration::from_secs(20)));
        assert_eq!(o.capabilities.len(), 1);
        assert_eq!(reports.junit, PathBuf::from("reports/junit.xml"));
        assert_eq!(reports.journal, PathBuf::from("reports/journal.json"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let e = parse(&["--runtime", "podman"]).err().unwrap();
        assert!(e.contains("possible values: auto, local, docker"), "{e}");
        let e = parse(&["--budget", "0s"]).err().unwrap();
        assert!(e.contains("--budget must be positive"), "{e}");
        let e = parse(&["--herd-of", "2000"]).err().unwrap();
        assert!(e.contains("--herd-of needs --repeat"), "{e}");
        let (o, _) = parse(&["--herd-of", "2000", "--repeat", "20"]).unwrap();
        assert_eq!((o.herd_of, o.repeat, o.herd_replay), (Some(2000), 20, true));
        let (o, _) = parse(&["--herd-of", "20", "--repeat", "20", "--no-herd-replay"]).unwrap();
        assert!(!o.herd_replay);
        let e = parse(&["--no-herd-replay"]).err().unwrap();
        assert!(e.contains("--no-herd-replay goes with --herd-of"), "{e}");
        let e = parse(&["--partition", "hash:4/3"]).err().unwrap();
        assert!(e.contains("the shard must be 1..=n"), "{e}");
        let (o, _) = parse(&["--partition", "slice:2/3"]).unwrap();
        assert_eq!(
            o.partition.map(|p| p.to_string()).as_deref(),
            Some("slice:2/3")
        );
        let e = parse(&["--capabilities", "teleport"]).err().unwrap();
        assert!(e.contains("unknown capability `teleport`"), "{e}");
        let (o, _) = parse(&["--keep-env"]).unwrap();
        assert!(o.keep_env.is_some(), "--keep-env means on-failure");
        let (o, _) = parse(&["--keep-env=on-failure", "--state-dir", "x"]).unwrap();
        assert!(o.keep_env.is_some());
        assert!(parse(&[]).unwrap().0.keep_env.is_none());
        let e = parse(&["--state-dir", "x"]).err().unwrap();
        assert!(e.contains("--keep-env"), "{e}");
    }
}
