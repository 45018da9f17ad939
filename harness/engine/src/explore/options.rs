//! What `bc-harness explore` decides: its options with the command that replays one case, where
//! the configuration database is, and why an exploration cannot start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bc_suite::Capability;

use super::emit::dur;
use super::generate::GenConfig;
use super::shrink::ShrinkLimits;
use crate::env::{KeepAlive, RuntimeKind};

/// Where progress lines go.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything `bc-harness explore` decides.
#[derive(Clone)]
pub struct ExploreOptions {
    /// The desktop command (`{config}` is replaced by the connection file path).
    pub desktop: String,
    /// Seed of case 0; case `i` uses `seed + i`.
    pub seed: u64,
    /// Cases to explore.
    pub cases: usize,
    /// No new case starts after this much time.
    pub max_time: Option<Duration>,
    /// Where failing schedules are written as suites.
    pub out_dir: PathBuf,
    /// Which runtime runs the servers.
    pub runtime: RuntimeKind,
    /// Budget: expectation deadlines and checkpoint length.
    pub budget: Duration,
    /// Settling period after the final heal.
    pub settle: Duration,
    /// The agent the desktop logs in as.
    pub agent: String,
    /// The configuration database (default: `fixtures/config/default.yaml` found from the
    /// current directory upwards).
    pub config: Option<PathBuf>,
    /// Declared capabilities.
    pub capabilities: Vec<Capability>,
    /// How schedules are drawn.
    pub gen: GenConfig,
    /// Caps of the shrink.
    pub shrink: ShrinkLimits,
    /// Where bc-mock and bc-toxiproxy are.
    pub bin_dir: Option<PathBuf>,
    /// Server keep-alive given to every mock.
    pub keepalive: KeepAlive,
    /// Docker runtime only: a Toxiproxy image to run as the fault proxy instead of ours.
    pub proxy_image: Option<String>,
    /// Progress lines (seeds, replay commands, shrink steps); `None`: stderr.
    pub progress: Option<Progress>,
    /// Environments run side by side: cases, then shrink candidates, in batches of this many
    /// (`None`: the runner's default for the runtime).
    pub jobs: Option<usize>,
}

impl ExploreOptions {
    /// Defaults for everything but the desktop.
    pub fn new(desktop: impl Into<String>) -> ExploreOptions {
        ExploreOptions {
            desktop: desktop.into(),
            seed: 0,
            cases: 10,
            max_time: None,
            out_dir: PathBuf::from("explore-failures"),
            runtime: RuntimeKind::Auto,
            budget: bc_suite::DEFAULT_BUDGET,
            settle: Duration::from_millis(2500),
            agent: "agent1001".into(),
            config: None,
            capabilities: Vec::new(),
            gen: GenConfig::default(),
            shrink: ShrinkLimits::default(),
            bin_dir: None,
            keepalive: KeepAlive::default(),
            proxy_image: None,
            progress: None,
            jobs: None,
        }
    }

    pub(super) fn say(&self, line: &str) {
        match &self.progress {
            Some(p) => p(line),
            None => eprintln!("{line}"),
        }
    }

    /// The command that replays case seed `case_seed` exactly (same generator settings).
    pub fn replay_command(&self, case_seed: u64) -> String {
        let mut c = vec![
            "bc-harness".to_string(),
            "explore".into(),
            "--desktop".into(),
            quote(&self.desktop),
            "--seed".into(),
            case_seed.to_string(),
            "--cases".into(),
            "1".into(),
            "--budget".into(),
            dur(self.budget.as_millis() as u64),
            "--settle".into(),
            dur(self.settle.as_millis() as u64),
            "--min-ops".into(),
            self.gen.min_ops.to_string(),
            "--max-ops".into(),
            self.gen.max_ops.to_string(),
            "--max-wait".into(),
            dur(self.gen.max_wait_ms),
        ];
        if self.runtime != RuntimeKind::Auto {
            c.push("--runtime".into());
            c.push(self.runtime.as_str().into());
        }
        if let Some(image) = &self.proxy_image {
            c.push("--toxiproxy-image".into());
            c.push(quote(image));
        }
        if self.gen.triggers != GenConfig::default().triggers {
            c.push("--triggers".into());
            c.push(self.gen.triggers.to_string());
        }
        if !self.gen.focus.is_empty() {
            c.push("--focus".into());
            c.push(self.gen.focus.join(","));
        }
        if self.agent != "agent1001" {
            c.push("--agent".into());
            c.push(self.agent.clone());
        }
        if let Some(p) = &self.config {
            c.push("--config".into());
            c.push(quote(&p.display().to_string()));
        }
        if !self.capabilities.is_empty() {
            c.push("--capabilities".into());
            c.push(
                self.capabilities
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        c.join(" ")
    }
}

pub(super) fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| format!("'{s}'"))
}

/// Why exploration could not start (exit code 2 or 3).
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    /// The desktop command is unusable.
    #[error("invalid --desktop: {0}")]
    Desktop(String),
    /// Other usage problems.
    #[error("{0}")]
    Usage(String),
    /// The environment did not start (the message says so).
    #[error("{0}")]
    Environment(String),
}

pub(super) fn find_config(opts: &ExploreOptions) -> Result<PathBuf, ExploreError> {
    let p = match &opts.config {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => {
            return Err(ExploreError::Usage(format!(
                "configuration database {} not found",
                p.display()
            )))
        }
        None => {
            let cwd = std::env::current_dir().map_err(|e| ExploreError::Usage(e.to_string()))?;
            bc_suite::config::resolve_path(&cwd, bc_suite::DEFAULT_CONFIG).ok_or_else(|| {
                ExploreError::Usage(format!(
                    "{} not found from {} upwards; pass --config",
                    bc_suite::DEFAULT_CONFIG,
                    cwd.display()
                ))
            })?
        }
    };
    std::fs::canonicalize(&p).map_err(|e| ExploreError::Usage(format!("{}: {e}", p.display())))
}
