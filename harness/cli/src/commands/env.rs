//! `bc-harness env up|status|fault|heal|down`: lab mode, an environment that stays up for a desktop
//! the harness does not launch; the work is in `bc_engine::lab`, this maps flags and prints.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bc_engine::exit::ExitCode;
use bc_engine::lab::{self, LabClient, LabError, LabState, Ready, UpOptions};
use bc_engine::run::signal_cancel;

use super::shared::{usage, Runtime};

/// The last line `env up` prints on stdout once the environment is ready (the detached form
/// waits for it).
const READY_LINE: &str = "bc-harness env up: ready";

/// Subcommands of `env`.
#[derive(clap::Subcommand)]
pub enum EnvCommand {
    /// Start both sites and the fault proxy and keep them up (until `env down` or Ctrl-C).
    Up(UpArgs),
    /// Every instance (up/killed/frozen, active/standby), active faults and who is logged in where.
    Status(StatusArgs),
    /// Apply a fault in the suite's words: `env fault kill_site A`, `env fault black_hole A/sip_server`.
    Fault(FaultArgs),
    /// Heal one fault by its number, or all of them.
    Heal(HealArgs),
    /// Print the timeline live, one line per observation, in the report's words (until Ctrl-C).
    Watch(StateArgs),
    /// Heal everything and stop every process or container of the environment.
    Down(StateArgs),
}

/// Where the environment's state directory is.
#[derive(clap::Args)]
pub struct StateArgs {
    /// The state directory `env up` wrote (state.json and the desktop connection file).
    #[arg(long, value_name = "DIR", default_value = "bc-lab")]
    pub state_dir: PathBuf,
}

/// Arguments of `env up`.
#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Where the servers run: local processes or Docker containers (auto: Docker when it answers).
    #[arg(long, value_enum, default_value_t = Runtime::Local)]
    runtime: Runtime,
    /// The configuration database the mocks serve.
    #[arg(
        long,
        value_name = "DB",
        default_value = "fixtures/config/default.yaml"
    )]
    config: PathBuf,
    /// The agent the desktop connection file is written for.
    #[arg(long, default_value = "agent1001")]
    agent: String,
    /// Address the desktop links listen on (e.g. 0.0.0.0 or a LAN address); loopback by default.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    listen: IpAddr,
    /// Address written into the connection file (default: --listen, or 127.0.0.1 for 0.0.0.0).
    #[arg(long, value_name = "ADDR")]
    advertise: Option<IpAddr>,
    /// Address of the control endpoint (env status/fault/heal/down); loopback by default.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    control_listen: SocketAddr,
    /// Groups of four SIP Servers (two SIP Server HA pairs per group, one at each site); the
    /// agent's DN says which group serves it (local runtime only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    groups: u32,
    /// Start in the background and return once the environment is ready.
    #[arg(long)]
    detach: bool,
}

/// Arguments of `env status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `env fault`.
#[derive(clap::Args)]
pub struct FaultArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The step and its values: `kill_site A`, `ha_failover A sip_server`,
    /// `latency --link A/sip_server --ms 200`, `set_preferred_site --level person --site A`.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
}

/// Arguments of `env heal`.
#[derive(clap::Args)]
pub struct HealArgs {
    #[command(flatten)]
    state: StateArgs,
    /// The fault's number (`env status` lists them).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    id: Option<u64>,
    /// Heal every active fault.
    #[arg(long)]
    all: bool,
}

/// Runs an `env` subcommand.
pub fn run(cmd: EnvCommand) -> ExitCode {
    match cmd {
        EnvCommand::Up(a) if a.detach => detach(&a),
        EnvCommand::Up(a) => up(a),
        EnvCommand::Status(a) => with_client(&a.state, |c| async move {
            let s = c.status().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                print!("{}", s.render());
            }
            Ok(())
        }),
        EnvCommand::Fault(a) => with_client(&a.state, |c| async move {
            let f = c.fault(&a.words).await?;
            println!("#{} applied: {}", f.id, f.fault);
            for line in &f.actions {
                println!("  {line}");
            }
            if !f.healable {
                println!("  (nothing to heal)");
            }
            Ok(())
        }),
        EnvCommand::Heal(a) => with_client(&a.state, |c| async move {
            let healed = c.heal(a.id).await?;
            if healed.is_empty() {
                println!("no active fault");
            }
            for h in healed {
                println!("#{} healed: {}", h.id, h.fault);
            }
            Ok(())
        }),
        EnvCommand::Watch(a) => with_client(&a, |c| async move {
            c.watch(|l| {
                println!("{l}");
            })
            .await
        }),
        EnvCommand::Down(a) => down(&a),
    }
}

/// Reads the state, calls the owner; a refused request (bad fault) is a usage error (exit 2).
fn with_client<F, Fut>(state: &StateArgs, f: F) -> ExitCode
where
    F: FnOnce(LabClient) -> Fut,
    Fut: std::future::Future<Output = Result<(), LabError>>,
{
    let st = match LabState::read(&state.state_dir) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    match super::block_on(f(LabClient::new(&st))) {
        Err(code) => code,
        Ok(Ok(())) => ExitCode::Success,
        Ok(Err(e)) if e.status == 400 || e.status == 404 => {
            eprint!("{}", e.message);
            if !e.message.ends_with('\n') {
                eprintln!();
            }
            eprintln!("nothing was changed");
            ExitCode::Usage
        }
        Ok(Err(e)) => {
            eprintln!("error: {}", e.message);
            ExitCode::HarnessError
        }
    }
}

fn print_ready(r: &Ready, dir: &Path) {
    let s = &r.state;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "environment up ({} runtime, pid {}), state {}",
        s.runtime,
        s.pid,
        r.state_file.display()
    );
    let _ = writeln!(out, "Toxiproxy API: {}", s.proxy_api_url);
    let _ = writeln!(out, "control: {}", s.control_url);
    let _ = writeln!(out, "connection file: {}", s.connection_file.display());
    let _ = writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(&r.connection).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "point a desktop at it: bc-reference-desktop --config {}",
        s.connection_file.display()
    );
    let _ = writeln!(
        out,
        "take it down: bc-harness env down --state-dir {}",
        dir.display()
    );
    let _ = writeln!(out, "{READY_LINE} (pid {})", s.pid);
    let _ = out.flush();
}

/// The foreground form: up until Ctrl-C, SIGTERM or `env down`. Nothing goes to stdout after the
/// ready line (the detached form's reader is gone by then).
fn up(a: UpArgs) -> ExitCode {
    if !a.listen.is_loopback() || a.control_listen.ip() != IpAddr::from([127, 0, 0, 1]) {
        eprintln!(
            "warning: listening beyond loopback (desktop links {}, control {}): anyone who reaches this address can use the environment",
            a.listen, a.control_listen
        );
    }
    // Labels the Docker objects as a lab's, so `bc-harness clean` leaves them while this process
    // lives; set before any thread starts.
    std::env::set_var(bc_engine::docker::labels::LAB_ENV_VAR, "1");
    let dir = a.state.state_dir.clone();
    let opts = UpOptions {
        runtime: a.runtime.into(),
        config: a.config,
        agent: a.agent,
        listen: a.listen,
        advertise: a.advertise,
        control_listen: a.control_listen,
        state_dir: dir.clone(),
        bin_dir: None,
        groups: a.groups,
    };
    let r = super::block_on(async {
        let stop = signal_cancel();
        lab::up(opts, stop, |r| print_ready(r, &dir)).await
    });
    match r {
        Err(code) => code,
        Ok(Ok(())) => {
            eprintln!("environment down");
            ExitCode::Success
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::HarnessError
        }
    }
}

/// The background form: the same command without `--detach` in its own process group, its
/// stderr in `STATE_DIR/env-up.log`; returns once it printed the ready line.
fn detach(a: &UpArgs) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&a.state.state_dir) {
        return usage(format!("state dir {}: {e}", a.state.state_dir.display()));
    }
    let log_path = a.state.state_dir.join("env-up.log");
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return usage(format!("{}: {e}", log_path.display())),
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return usage(format!("cannot find the bc-harness binary: {e}")),
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|x| x != "--detach")
        .collect();
    use std::os::unix::process::CommandExt;
    let child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        // Its own process group: a Ctrl-C at this terminal does not reach it.
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return usage(format!("cannot start env up: {e}")),
    };
    let Some(stdout) = child.stdout.take() else {
        return ExitCode::HarnessError;
    };
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        println!("{line}");
        if line.starts_with(READY_LINE) {
            return ExitCode::Success;
        }
    }
    let status = child.wait();
    eprintln!(
        "error: env up ended before it was ready ({}); its log {}:\n{}",
        status.map(|s| s.to_string()).unwrap_or_default(),
        log_path.display(),
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    ExitCode::HarnessError
}

/// Asks the owner to tear down, then waits for it to exit; a dead owner's state file is removed.
fn down(a: &StateArgs) -> ExitCode {
    let st = match LabState::read(&a.state_dir) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    if !st.is_alive() {
        let _ = std::fs::remove_file(a.state_dir.join(lab::STATE_FILE));
        println!(
            "the environment's process ({}) had already exited; state removed",
            st.pid
        );
        return ExitCode::Success;
    }
    let r = super::block_on(async {
        let r = LabClient::new(&st).down().await;
        // The answer comes after the teardown; the process exits right after it.
        let t0 = std::time::Instant::now();
        while lab::pid_alive(st.pid) && t0.elapsed() < std::time::Duration::from_secs(10) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        r
    });
    match r {
        Err(code) => code,
        Ok(Ok(_)) => {
            println!("environment down (pid {})", st.pid);
            ExitCode::Success
        }
        Ok(Err(e)) => {
            eprintln!("error: {}", e.message);
            ExitCode::HarnessError
        }
    }
}
