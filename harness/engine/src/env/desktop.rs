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
        self.spawn_herd(std::slice::from_ref(&config.to_path_buf()))
    }

    /// Starts one process per connection file: a herd's desktops (each serving the agents of its
    /// file). Process `k` gets the seed `BC_HARNESS_SEED + k`, so that their jitter differs. A
    /// failed start stops the ones already started.
    pub fn spawn_herd(&self, configs: &[PathBuf]) -> Result<Desktop, EnvError> {
        let mut desk = self.spawn_first(configs)?;
        loop {
            match desk.start_next(self, configs) {
                Ok(true) => {}
                Ok(false) => return Ok(desk),
                Err(e) => {
                    for p in &desk.procs {
                        let _ = p.signal(libc::SIGKILL, "SIGKILL");
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Starts only the first process of a herd whose processes start over a ramp; the runner
    /// adds the others one by one with [`Desktop::start_next`].
    pub fn spawn_first(&self, configs: &[PathBuf]) -> Result<Desktop, EnvError> {
        let Some(config) = configs.first() else {
            return Err(EnvError::DesktopCommand(
                "no connection file to start a desktop with".into(),
            ));
        };
        Ok(Desktop {
            procs: vec![self.spawn_nth(configs, 0)?],
            argv: self.argv_for(config),
            term_grace: self.term_grace,
        })
    }

    /// Process `k` of a herd: its connection file, its seed (`BC_HARNESS_SEED + k`) and a label
    /// that names it among the others.
    fn spawn_nth(&self, configs: &[PathBuf], k: usize) -> Result<Supervised, EnvError> {
        let config = &configs[k];
        let argv = self.argv_for(config);
        let mut envs = self.env.clone();
        envs.push((CONFIG_ENV.into(), config.display().to_string()));
        for (name, value) in &mut envs {
            if name == SEED_ENV && k > 0 {
                let base: u64 = value.parse().unwrap_or(0);
                *value = base.wrapping_add(k as u64).to_string();
            }
        }
        let program = resolve_program(&argv[0], self.cwd.as_deref());
        let label = if configs.len() > 1 {
            format!("desktop `{}` #{k}", argv[0])
        } else {
            format!("desktop `{}`", argv[0])
        };
        Supervised::spawn_in(
            Launch {
                program: &program,
                args: &argv[1..],
                envs: &envs,
                label,
                log_capacity: self.log_capacity,
                stdin: self.stdin,
            },
            self.cwd.as_deref(),
        )
        .map(|(proc, _lines)| proc)
    }
}

/// The seed variable a desktop may read for its random choices (docs/desktop-contract.md).
const SEED_ENV: &str = "BC_HARNESS_SEED";

/// A relative program path with a slash is taken from `cwd` (as a shell would); bare names go to PATH.
fn resolve_program(p: &str, cwd: Option<&Path>) -> PathBuf {
    match cwd {
        Some(dir) if p.contains('/') && !p.starts_with('/') => dir.join(p),
        _ => PathBuf::from(p),
    }
}

/// The running desktop under test: one process, or a herd's several (`spawn_herd`), seen as one:
/// it has exited when any of them has, and stopping it stops them all.
pub struct Desktop {
    procs: Vec<Supervised>,
    argv: Vec<String>,
    term_grace: Duration,
}

impl Desktop {
    /// The first process's pid.
    pub fn pid(&self) -> u32 {
        self.procs[0].pid()
    }

    /// The pid of the process started last (a ramped herd's newest).
    pub fn newest_pid(&self) -> u32 {
        self.procs.last().map_or(0, Supervised::pid)
    }

    /// How many processes.
    pub fn processes(&self) -> usize {
        self.procs.len()
    }

    /// Starts the herd's next process (a ramped start, [`DesktopSpec::spawn_first`]); false when
    /// every connection file already has its process.
    pub fn start_next(
        &mut self,
        spec: &DesktopSpec,
        configs: &[PathBuf],
    ) -> Result<bool, EnvError> {
        let k = self.procs.len();
        if k >= configs.len() {
            return Ok(false);
        }
        self.procs.push(spec.spawn_nth(configs, k)?);
        Ok(true)
    }

    /// The command actually run (the first process's).
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Writes one line to its stdin (see [`DesktopSpec::stdin`]); `false` when that is not possible.
    pub fn send_line(&self, line: &str) -> bool {
        self.procs[0].send_line(line)
    }

    /// The retained output lines (stdout and stderr), oldest first; a herd's prefixed `[k] `.
    pub fn log_tail(&self) -> Vec<LogLine> {
        if self.procs.len() == 1 {
            return self.procs[0].log().snapshot();
        }
        let mut all: Vec<LogLine> = self
            .procs
            .iter()
            .enumerate()
            .flat_map(|(k, p)| {
                p.log().snapshot().into_iter().map(move |mut l| {
                    l.line = format!("[{k}] {}", l.line);
                    l
                })
            })
            .collect();
        all.sort_by_key(|l| l.ts_us);
        all
    }

    /// How it exited, if it has (the earliest exit of a herd's processes).
    pub fn exit_info(&self) -> Option<ExitInfo> {
        self.procs
            .iter()
            .filter_map(Supervised::exit_info)
            .min_by_key(|i| i.ts_us)
    }

    /// Resolves when a process exits (cancel-safe).
    pub async fn exited(&self) -> ExitInfo {
        let waits = self.procs.iter().map(|p| Box::pin(p.wait_exit()));
        futures::future::select_all(waits).await.0
    }

    /// SIGTERM to every process group, SIGKILL after the grace period; returns how it ended (the
    /// earliest exit, which is an early one when a process had already ended).
    pub async fn terminate(&self) -> Result<ExitInfo, EnvError> {
        if let Some(info) = self.exit_info() {
            if self.procs.len() == 1 {
                return Ok(info);
            }
        }
        // A process may exit between the check and the signal: a failed signal is then no error.
        for p in self.procs.iter().filter(|p| p.exit_info().is_none()) {
            let _ = p.signal(libc::SIGTERM, "SIGTERM");
        }
        let all = futures::future::join_all(self.procs.iter().map(|p| p.wait_exit()));
        if tokio::time::timeout(self.term_grace, all).await.is_err() {
            for p in self.procs.iter().filter(|p| p.exit_info().is_none()) {
                let _ = p.signal(libc::SIGKILL, "SIGKILL");
            }
            let all = futures::future::join_all(self.procs.iter().map(|p| p.wait_exit()));
            if tokio::time::timeout(Duration::from_secs(5), all)
                .await
                .is_err()
            {
                return Err(EnvError::Signal {
                    what: format!("desktop `{}`", self.argv[0]),
                    signal: "SIGKILL",
                    reason: "still alive 5 s after SIGKILL".into(),
                });
            }
        }
        self.exit_info().ok_or_else(|| EnvError::Signal {
            what: format!("desktop `{}`", self.argv[0]),
            signal: "SIGTERM",
            reason: "no exit recorded".into(),
        })
    }
}
