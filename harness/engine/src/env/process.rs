//! A supervised child process in its own process group: output captured line by line into a
//! bounded ring, exit published on a watch channel, signals sent to the whole group, killed on drop.

use super::error::EnvError;
use crate::env::clock::now_us;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};

/// Which output stream a captured line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One captured output line with its wall-clock time (µs since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub ts_us: i64,
    pub stream: LogStream,
    pub line: String,
}

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

/// A bounded ring of captured lines (the oldest are dropped).
#[derive(Debug, Clone)]
pub struct LogRing {
    cap: usize,
    lines: Arc<Mutex<VecDeque<LogLine>>>,
}

impl LogRing {
    pub fn new(cap: usize) -> LogRing {
        LogRing {
            cap: cap.max(1),
            lines: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    pub fn push(&self, line: LogLine) {
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() == self.cap {
            l.pop_front();
        }
        l.push_back(line);
    }

    /// The retained lines, oldest first.
    pub fn snapshot(&self) -> Vec<LogLine> {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }

    /// The last `n` lines joined for an error message (`""` when empty).
    pub fn tail_text(&self, n: usize) -> String {
        let snap = self.snapshot();
        let start = snap.len().saturating_sub(n);
        snap[start..]
            .iter()
            .map(|l| l.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What to run.
pub(crate) struct Launch<'a> {
    pub program: &'a std::path::Path,
    pub args: &'a [String],
    pub envs: &'a [(String, String)],
    pub label: String,
    pub log_capacity: usize,
}

/// A running (or exited) child process; its process group is SIGKILLed on drop if still alive.
pub(crate) struct Supervised {
    pid: u32,
    label: String,
    exited: Arc<AtomicBool>,
    exit_rx: watch::Receiver<Option<ExitInfo>>,
    log: LogRing,
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
            .stdin(Stdio::null())
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
            },
            line_rx,
        ))
    }

    pub fn pid(&self) -> u32 {
        self.pid
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

/// Longest output line kept, in bytes: the rest of a longer line is cut (and counted in the line),
/// so a desktop that prints a 400 MB line or a binary blob costs the harness at most this per line.
pub const MAX_LINE_BYTES: usize = 4096;

/// Splits a byte stream into lines of at most `MAX_LINE_BYTES` (lossy UTF-8, `\r\n` trimmed).
/// Reading never stops early: a child whose pipe is not drained blocks on its next write.
struct LineCutter {
    line: Vec<u8>,
    cut: usize,
}

impl LineCutter {
    fn new() -> Self {
        LineCutter {
            line: Vec::new(),
            cut: 0,
        }
    }

    /// Feeds bytes; returns the lines they complete.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (part, done) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], Some(i + 1)),
                None => (bytes, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            let kept = part.len().min(room);
            self.line.extend_from_slice(&part[..kept]);
            self.cut += part.len() - kept;
            match done {
                Some(n) => {
                    out.push(self.take());
                    bytes = &bytes[n..];
                }
                None => break,
            }
        }
        out
    }

    /// The last, unterminated line at end of stream, if any.
    fn finish(&mut self) -> Option<String> {
        (!self.line.is_empty() || self.cut > 0).then(|| self.take())
    }

    fn take(&mut self) -> String {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let mut text = String::from_utf8_lossy(&self.line).into_owned();
        if self.cut > 0 {
            text.push_str(&format!(" … [{} more bytes cut]", self.cut));
        }
        self.line.clear();
        self.cut = 0;
        text
    }
}

async fn pump<R: AsyncRead + Unpin>(
    r: R,
    stream: LogStream,
    log: LogRing,
    tx: Option<mpsc::UnboundedSender<String>>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let mut cutter = LineCutter::new();
    let deliver = |line: String| {
        if let Some(tx) = &tx {
            let _ = tx.send(line.clone());
        }
        log.push(LogLine {
            ts_us: now_us(),
            stream,
            line,
        });
    };
    // Ends at EOF (process exited or closed the stream) or on a read error.
    loop {
        let n = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                for line in cutter.feed(buf) {
                    deliver(line);
                }
                buf.len()
            }
        };
        reader.consume(n);
    }
    if let Some(line) = cutter.finish() {
        deliver(line);
    }
}

#[cfg(test)]
mod tests {
    use super::{LineCutter, MAX_LINE_BYTES};

    #[test]
    fn lines_split_across_reads_and_crlf_are_joined_and_trimmed() {
        let mut c = LineCutter::new();
        assert!(c.feed(b"hel").is_empty());
        assert_eq!(c.feed(b"lo\r\nwor"), vec!["hello"]);
        assert_eq!(c.feed(b"ld\n\n"), vec!["world", ""]);
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn a_huge_line_keeps_its_head_and_says_how_much_was_cut() {
        let mut c = LineCutter::new();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..8 {
            assert!(c.feed(&chunk).is_empty());
        }
        let lines = c.feed(b"y\nnext\n");
        assert_eq!(lines.len(), 2);
        let cut = 8 * (1 << 20) + 1 - MAX_LINE_BYTES;
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE_BYTES)));
        assert!(
            lines[0].ends_with(&format!(" … [{cut} more bytes cut]")),
            "{}",
            &lines[0][MAX_LINE_BYTES..]
        );
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn binary_output_is_kept_lossily_and_an_unterminated_tail_is_flushed() {
        let mut c = LineCutter::new();
        assert_eq!(
            c.feed(&[0xff, 0xfe, b'a', b'\n']),
            vec!["\u{fffd}\u{fffd}a"]
        );
        assert!(c.feed(&[0, 1, 2]).is_empty());
        assert_eq!(c.finish().as_deref(), Some("\u{0}\u{1}\u{2}"));
    }
}
