//! A supervised child process in its own process group: output captured line by line into a
//! bounded ring, exit published on a watch channel, signals sent to the whole group, killed on drop.

mod output;

pub use output::{LogLine, LogRing, LogStream, MAX_LINE_BYTES};

use super::error::EnvError;
use crate::env::clock::now_us;
use output::pump;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    pub ts_us: i64,
    /// Exit code when it exited normally.
    pub code: Option<i32>,
    /// Signal number when a signal ended it.
    pub signal: Option<i32>,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "exit code {c}"),
            (None, Some(s)) => write!(f, "killed by signal {s}"),
            (None, None) => write!(f, "exit status unknown"),
        }
    }
}

/// What to run.
pub(crate) struct Launch<'a> {
    pub program: &'a std::path::Path,
    pub args: &'a [String],
    pub envs: &'a [(String, String)],
    pub label: String,
    pub log_capacity: usize,
    /// Keep a pipe to its stdin for [`Supervised::send_line`] (else stdin is /dev/null).
    pub stdin: bool,
}

/// A running (or exited) child process; its process group is SIGKILLed on drop if still alive.
pub(crate) struct Supervised {
    pid: u32,
    label: String,
    exited: Arc<AtomicBool>,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    log: LogRing,
    /// Lines for its stdin (when launched with `stdin`), written in order by a small task.
    stdin: Option<mpsc::UnboundedSender<String>>,
}

impl Supervised {
    /// Spawns the process in its own process group. Returns it and a channel of its stdout lines
    /// (drop the receiver when not needed; lines still go to the ring).
    pub fn spawn(l: Launch<'_>) -> Result<(Supervised, mpsc::UnboundedReceiver<String>), EnvError> {
        Supervised::spawn_in(l, None)
    }

    /// Like [`Supervised::spawn`], in working directory `cwd` when given.
    pub fn spawn_in(
        l: Launch<'_>,
        cwd: Option<&std::path::Path>,
    ) -> Result<(Supervised, mpsc::UnboundedReceiver<String>), EnvError> {
        let mut cmd = tokio::process::Command::new(l.program);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.args(l.args)
            .envs(l.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(if l.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own group: signals reach every descendant, and the harness's terminal signals do not.
            .process_group(0)
            .kill_on_drop(true);
        // Forked with a parent-death signal: a SIGKILLed harness leaves no process behind.
        let mut child = super::spawner::spawn(cmd).map_err(|source| EnvError::Spawn {
            what: format!("{} ({})", l.label, l.program.display()),
            source,
        })?;
        let pid = child.id().ok_or_else(|| EnvError::NotRunning {
            what: l.label.clone(),
        })?;
        let log = LogRing::new(l.log_capacity);
        let stdin = child.stdin.take().map(|mut pipe| {
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                while let Some(line) = rx.recv().await {
                    let ok = pipe.write_all(line.as_bytes()).await.is_ok()
                        && pipe.write_all(b"\n").await.is_ok()
                        && pipe.flush().await.is_ok();
                    if !ok {
                        break;
                    }
                }
            });
            tx
        });
        let (line_tx, line_rx) = mpsc::unbounded_channel();
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(tokio::spawn(pump(
                out,
                LogStream::Stdout,
                log.clone(),
                Some(line_tx),
            )));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(tokio::spawn(pump(
                err,
                LogStream::Stderr,
                log.clone(),
                None,
            )));
        }
        let exited = Arc::new(AtomicBool::new(false));
        let (exit_tx, exit_rx) = watch::channel(None);
        let flag = exited.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            flag.store(true, Ordering::SeqCst);
            let info = match status {
                Ok(st) => {
                    use std::os::unix::process::ExitStatusExt;
                    ExitInfo {
                        ts_us: now_us(),
                        code: st.code(),
                        signal: st.signal(),
                    }
                }
                Err(_) => ExitInfo {
                    ts_us: now_us(),
                    code: None,
                    signal: None,
                },
            };
            // Publish the exit only once its last output is in the log (a process that prints and
            // exits at once would otherwise be reported with an empty log tail). Bounded: a
            // grandchild may hold the pipes open.
            let drained = futures::future::join_all(pumps);
            let _ = tokio::time::timeout(std::time::Duration::from_millis(500), drained).await;
            let _ = exit_tx.send(Some(info));
        });
        Ok((
            Supervised {
                pid,
                label: l.label,
                exited,
                exit_rx,
                log,
                stdin,
            },
            line_rx,
        ))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes one line to its stdin; `false` when it has no stdin pipe or the pipe is closed.
    pub fn send_line(&self, line: &str) -> bool {
        self.stdin
            .as_ref()
            .is_some_and(|tx| tx.send(line.to_string()).is_ok())
    }

    pub fn log(&self) -> &LogRing {
        &self.log
    }

    /// How it ended, once it has.
    pub fn exit_info(&self) -> Option<ExitInfo> {
        *self.exit_rx.borrow()
    }

    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitInfo>> {
        self.exit_rx.clone()
    }

    /// Waits until the process has exited and been reaped.
    pub async fn wait_exit(&self) -> ExitInfo {
        let mut rx = self.exit_rx.clone();
        loop {
            if let Some(info) = *rx.borrow_and_update() {
                return info;
            }
            if rx.changed().await.is_err() {
                // The waiter task is gone (runtime shutting down); report what we know.
                return rx.borrow().unwrap_or(ExitInfo {
                    ts_us: now_us(),
                    code: None,
                    signal: None,
                });
            }
        }
    }

    /// Sends a signal to the whole process group.
    pub fn signal(&self, sig: i32, name: &'static str) -> Result<(), EnvError> {
        if self.exited.load(Ordering::SeqCst) {
            return Err(EnvError::NotRunning {
                what: self.label.clone(),
            });
        }
        // SAFETY: plain syscall; the negative pid addresses the group we created at spawn.
        let rc = unsafe { libc::kill(-(self.pid as i32), sig) };
        if rc != 0 {
            return Err(EnvError::Signal {
                what: self.label.clone(),
                signal: name,
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        Ok(())
    }

    /// Whether the kernel reports the process as stopped (SIGSTOP), read from /proc.
    pub fn is_stopped(&self) -> bool {
        proc_state(self.pid) == Some('T')
    }

    /// Synchronous hard kill of the group (for `Drop` paths); also reaps the child so no zombie stays.
    pub fn kill_now(&self) {
        if self.exited.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: plain syscalls on the group and child we created; waitpid only reaps our own child
        // (ECHILD if tokio's reaper got it first, which is fine).
        unsafe {
            libc::kill(-(self.pid as i32), libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid as i32, &mut status, 0);
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// The one-letter state of a process from /proc/<pid>/stat (`R`, `S`, `T`, `Z`, ...).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}
