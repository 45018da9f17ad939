//! Flags and helpers that `run` and `explore` share, defined once: the desktop and its declared
//! capabilities, the runtime, durations, the seed, the report files and their wiring, usage errors.

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use bc_engine::env::RuntimeKind;
use bc_engine::event::RunEvent;
use bc_engine::exit::ExitCode;
use bc_engine::report::junit::Flavour;
use bc_engine::report::{self, Console, Journal, JunitReport, Reporters};
use bc_engine::run::{load_profile, parse_capabilities, Profile};
use bc_suite::Capability;

/// The desktop under test and what it declares.
#[derive(clap::Args)]
pub struct DesktopArgs {
    /// The desktop command line; `{config}` is replaced by the connection file path (also in
    /// env BC_DESKTOP_CONFIG). Not with `run --attach`, whose desktop runs elsewhere.
    #[arg(long, value_name = "CMD ARGS")]
    pub desktop: Option<String>,
    /// Capabilities the desktop declares, comma separated (stat_server, failback,
    /// stat_loss_triggers_dr, auto_answer).
    #[arg(long, value_name = "a,b", conflicts_with = "profile")]
    pub capabilities: Option<String>,
    /// A desktop profile file (YAML/JSON: `capabilities: [..]`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl DesktopArgs {
    /// The `--desktop` command, required unless the desktop runs elsewhere.
    pub fn command(&self) -> Result<String, String> {
        self.desktop
            .clone()
            .ok_or_else(|| "--desktop \"CMD ARGS\" is required".to_string())
    }

    /// The declared capabilities, from the list or the profile (none when neither is given).
    pub fn capabilities(&self) -> Result<Vec<Capability>, String> {
        self.profile().map(|p| p.capabilities)
    }

    /// The declared profile: capabilities from the list or the file, timers from the file.
    pub fn profile(&self) -> Result<Profile, String> {
        match (&self.capabilities, &self.profile) {
            (Some(list), _) => parse_capabilities(list).map(|capabilities| Profile {
                capabilities,
                timers: None,
            }),
            (None, Some(p)) => load_profile(p),
            (None, None) => Ok(Profile::default()),
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

/// The JUnit dialect, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum JunitFlavour {
    /// Valid against the Jenkins xunit plugin's junit-10.xsd: per-run facts in the suite's
    /// properties (keyed RUN-ID#NAME) and the testcase's system-out.
    #[default]
    Strict,
    /// Properties inside each testcase and a skipped total on <testsuites> (not schema-valid).
    Rich,
}

/// The report files of a run (`run`) or of a merged one (`merge`): one set of flags for both.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// JUnit XML output.
    #[arg(long, value_name = "FILE", default_value = "reports/junit.xml")]
    pub junit: PathBuf,
    /// JUnit dialect: `strict` validates against the Jenkins xunit plugin's junit-10.xsd; `rich`
    /// adds per-testcase properties that strict consumers reject.
    #[arg(long, value_enum, value_name = "FLAVOUR", default_value_t = JunitFlavour::Strict)]
    pub junit_flavour: JunitFlavour,
    /// JSON journal output with every timeline.
    #[arg(long, value_name = "FILE", default_value = "reports/journal.json")]
    pub journal: PathBuf,
    /// HTML report: one self-contained page with the rules matrix, a timeline per scenario and
    /// the journal embedded (not written unless asked for).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl ReportArgs {
    /// The reporters these flags ask for, the page included.
    pub fn reporters(self) -> Reporters {
        let mut r = reporters(self.junit, self.journal, self.junit_flavour);
        r.html = self.html.map(bc_engine::report::HtmlReport::new);
        r
    }
}

/// Console progress on stderr plus the JUnit and journal files, written at the end.
pub fn reporters(junit: PathBuf, journal: PathBuf, flavour: JunitFlavour) -> Reporters {
    let flavour = match flavour {
        JunitFlavour::Strict => Flavour::Strict,
        JunitFlavour::Rich => Flavour::Rich,
    };
    Reporters {
        console: Some(Console::stderr(std::io::stderr().is_terminal())),
        junit: JunitReport::new(flavour),
        journal: Journal::new(),
        junit_path: Some(junit),
        journal_path: Some(journal),
        html: None,
    }
}

/// Runs `produce` (a run or an exploration) with its events going to `reporters`, whose files are
/// written once it is done; returns its output and what could not be written.
pub async fn reported<F: Future>(
    reporters: Reporters,
    produce: impl FnOnce(tokio::sync::mpsc::UnboundedSender<RunEvent>) -> F,
) -> (F::Output, Vec<String>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::join!(produce(tx), report::drive(rx, reporters))
}

/// Prints a usage error; the command ends with exit code 2.
pub fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::Usage
}
