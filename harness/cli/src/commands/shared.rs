//! Flags and helpers that `run` and `explore` share, defined once: the desktop and its declared
//! capabilities, the runtime, durations, the seed, the report files, usage errors.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use bc_engine::env::RuntimeKind;
use bc_engine::exit::ExitCode;
use bc_engine::report::{Console, Journal, JunitReport, Reporters};
use bc_engine::run::{load_profile, parse_capabilities};
use bc_suite::Capability;

/// The desktop under test and what it declares.
#[derive(clap::Args)]
pub struct DesktopArgs {
    /// The desktop command line; `{config}` is replaced by the connection file path (also in
    /// env BC_DESKTOP_CONFIG).
    #[arg(long, value_name = "CMD ARGS")]
    pub desktop: String,
    /// Capabilities the desktop declares, comma separated (stat_server, failback,
    /// stat_loss_triggers_dr, auto_answer).
    #[arg(long, value_name = "a,b", conflicts_with = "profile")]
    pub capabilities: Option<String>,
    /// A desktop profile file (YAML/JSON: `capabilities: [..]`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl DesktopArgs {
    /// The declared capabilities, from the list or the profile (none when neither is given).
    pub fn capabilities(&self) -> Result<Vec<Capability>, String> {
        match (&self.capabilities, &self.profile) {
            (Some(list), _) => parse_capabilities(list),
            (None, Some(p)) => load_profile(p),
            (None, None) => Ok(Vec::new()),
        }
        .map_err(|e| e.to_string())
    }
}

/// Where the servers run, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// Docker when a Docker engine answers, else local processes.
    Auto,
    /// Processes on 127.0.0.1.
    Local,
    /// Containers on a Docker engine.
    Docker,
}

impl From<Runtime> for RuntimeKind {
    fn from(r: Runtime) -> Self {
        match r {
            Runtime::Auto => RuntimeKind::Auto,
            Runtime::Local => RuntimeKind::Local,
            Runtime::Docker => RuntimeKind::Docker,
        }
    }
}

/// The runtime flags.
#[derive(clap::Args)]
pub struct RuntimeArgs {
    /// Where the servers run: auto (Docker when available), local or docker.
    #[arg(long, value_enum, default_value_t = Runtime::Auto)]
    pub runtime: Runtime,
    /// Docker runtime: run this Toxiproxy image as the fault proxy instead of ours, e.g.
    /// `ghcr.io/shopify/toxiproxy:2.12.0` (pulled when the engine lacks it).
    #[arg(long, value_name = "IMAGE")]
    pub toxiproxy_image: Option<String>,
}

/// Parses a positive duration given to `--flag`, with examples in the error.
pub fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("invalid --{flag} `{text}`: {e} (examples: `20s`, `1m 30s`)"))?;
    if d.is_zero() {
        return Err(format!("--{flag} must be positive"));
    }
    Ok(d)
}

/// The given seed, else one from the clock (recorded in the reports, so any run can be replayed).
pub fn seed_or_clock(seed: Option<u64>) -> u64 {
    seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0)
    })
}

/// Console progress on stderr plus the JUnit and journal files, written at the end.
pub fn reporters(junit: PathBuf, journal: PathBuf) -> Reporters {
    Reporters {
        console: Some(Console::stderr(std::io::stderr().is_terminal())),
        junit: JunitReport::default(),
        journal: Journal::new(),
        junit_path: Some(junit),
        journal_path: Some(journal),
    }
}

/// Prints a usage error; the command ends with exit code 2.
pub fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::Usage
}
