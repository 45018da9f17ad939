//! The desktop under test: a command line (no shell) run in its own process group with the
//! connection file, output kept in a bounded ring for reports, exit detected, terminated politely.

use super::error::EnvError;
use super::process::{ExitInfo, Launch, LogLine, Supervised};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variable carrying the connection file path.
pub const CONFIG_ENV: &str = "BC_DESKTOP_CONFIG";
/// Placeholder replaced by the connection file path in the command's arguments.
pub const CONFIG_PLACEHOLDER: &str = "{config}";

/// How to run a desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopSpec {
    /// argv[0] and the arguments (may contain `{config}`).
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// Output lines kept (stdout and stderr together).
    pub log_capacity: usize,
    /// SIGTERM waits this long before SIGKILL.
    pub term_grace: Duration,
    /// Keep a pipe to its stdin (the phone's `dial NUMBER` commands); else /dev/null.
    pub stdin: bool,
}

impl DesktopSpec {
    /// Splits a command string like a POSIX shell would (quotes, escapes), without running a shell.
    pub fn parse(command: &str) -> Result<DesktopSpec, EnvError> {
        let argv = shlex::split(command).ok_or_else(|| {
            EnvError::DesktopCommand(format!(
                "unbalanced quotes or trailing escape in `{command}`"
            ))
        })?;
        DesktopSpec::from_argv(argv)
    }

    pub fn from_argv(argv: Vec<String>) -> Result<DesktopSpec, EnvError> {
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(EnvError::DesktopCommand("the command is empty".into()));
        }
        Ok(DesktopSpec {
            argv,
            env: Vec::new(),
            cwd: None,
            log_capacity: 500,
            term_grace: Duration::from_secs(2),
            stdin: false,
        })
    }

    /// The argv with `{config}` replaced by the connection file path.
    pub fn argv_for(&self, config: &Path) -> Vec<String> {
        let c = config.display().to_string();
        self.argv
            .iter()
            .map(|a| a.replace(CONFIG_PLACEHOLDER, &c))
            .collect()
    }

    /// Starts the desktop with this connection file.
    pub fn spawn(&self, config: &Path) -> Result<Desktop, EnvError> {
        let argv = self.argv_for(config);
        let mut envs = self.env.clone();
        envs.push((CONFIG_ENV.into(), config.display().to_string()));
        let program = resolve_program(&argv[0], self.cwd.as_deref());
        let (proc, _lines) = Supervised::spawn_in(
            Launch {
                program: &program,
                args: &argv[1..],
                envs: &envs,
                label: format!("desktop `{}`", argv[0]),
                log_capacity: self.log_capacity,
                stdin: self.stdin,
            },
            self.cwd.as_deref(),
        )?;
        Ok(Desktop {
            proc,
            argv,
            term_grace: self.term_grace,
        })
    }
}

/// A relative program path with a slash is taken from `cwd` (as a shell would); bare names go to PATH.
fn resolve_program(p: &str, cwd: Option<&Path>) -> PathBuf {
    match cwd {
        Some(dir) if p.contains('/') && !p.starts_with('/') => dir.join(p),
        _ => PathBuf::from(p),
    }
}

/// A running desktop process.
pub struct Desktop {
    proc: Supervised,
    argv: Vec<String>,
    term_grace: Duration,
}

impl Desktop {
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// The command actually run.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Writes one line to its stdin (see [`DesktopSpec::stdin`]); `false` when that is not possible.
    pub fn send_line(&self, line: &str) -> bool {
        self.proc.send_line(line)
    }

    /// The retained output lines (stdout and stderr), oldest first.
    pub fn log_tail(&self) -> Vec<LogLine> {
        self.proc.log().snapshot()
    }

    /// How it exited, if it has (early exit detection).
    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.proc.exit_info()
    }

    /// Resolves when the process exits (cancel-safe).
    pub async fn exited(&self) -> ExitInfo {
        self.proc.wait_exit().await
    }

    /// Waits up to `timeout` for the exit.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitInfo> {
        tokio::time::timeout(timeout, self.proc.wait_exit())
            .await
            .ok()
    }

    /// SIGTERM to its process group, SIGKILL after the grace period; returns how it ended.
    pub async fn terminate(&self) -> Result<ExitInfo, EnvError> {
        if let Some(info) = self.proc.exit_info() {
            return Ok(info);
        }
        // It may exit between the check and the signal: a failed signal is then no error.
        let _ = self.proc.signal(libc::SIGTERM, "SIGTERM");
        if let Some(info) = self.wait_exit(self.term_grace).await {
            return Ok(info);
        }
        let _ = self.proc.signal(libc::SIGKILL, "SIGKILL");
        self.wait_exit(Duration::from_secs(5))
            .await
            .ok_or_else(|| EnvError::Signal {
                what: format!("desktop `{}`", self.argv[0]),
                signal: "SIGKILL",
                reason: "still alive 5 s after SIGKILL".into(),
            })
    }
}
