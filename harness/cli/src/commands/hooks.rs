//! `bc-harness desktop-hooks` (hidden): stands in for a desktop the harness does not launch. It runs
//! the start hook (or asks a person at the console), forwards the desktop's log, and on SIGTERM runs
//! the stop hook; the runner treats it like any desktop process.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bc_engine::exit::ExitCode;

/// Arguments of `desktop-hooks` (written by `run --attach`, not by people).
#[derive(clap::Args)]
pub struct Args {
    /// The connection file the desktop reads (replaces `{config}` in the hooks).
    #[arg(long)]
    connection: PathBuf,
    /// Starts the desktop and returns (argv without a shell).
    #[arg(long)]
    start: Option<String>,
    /// Stops the desktop and returns.
    #[arg(long)]
    stop: Option<String>,
    /// Ask at the console (/dev/tty) instead of, or after, the hooks.
    #[arg(long)]
    prompt: bool,
    /// How long the console prompt waits for Enter.
    #[arg(long, default_value = "300s")]
    prompt_timeout: String,
    /// The desktop's log file, forwarded line by line into the scenario's timeline.
    #[arg(long)]
    log: Option<PathBuf>,
    /// Ignored: the harness's own connection file (the desktop uses `--connection`).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs a hook without a shell, `{config}` replaced; `Err` when it cannot run or fails.
fn hook(cmd: &str, connection: &Path) -> Result<(), String> {
    let argv = shlex::split(cmd)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("cannot split `{cmd}` into arguments (unbalanced quotes?)"))?;
    let argv: Vec<String> = argv
        .into_iter()
        .map(|a| {
            let c = connection.display().to_string();
            a.replace("{lab_config}", &c).replace("{config}", &c)
        })
        .collect();
    use std::os::unix::process::CommandExt;
    let st = Command::new(&argv[0])
        .args(&argv[1..])
        .env("BC_DESKTOP_CONFIG", connection)
        // Its own process group: the harness stops this stand-in with a signal to its group, and
        // what the hook started must only end by the stop hook (as a remote desktop would).
        .process_group(0)
        .status()
        .map_err(|e| format!("hook `{cmd}`: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("hook `{cmd}` failed: {st}"))
    }
}

/// Asks a person at the console and waits for Enter, at most `timeout`.
fn ask(question: &str, timeout: Duration) -> Result<(), String> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            format!("no console to ask on (/dev/tty: {e}); use --desktop-start/--desktop-stop")
        })?;
    let _ = write!(
        tty,
        "\n>>> {question}, then press Enter (waiting {}s) ",
        timeout.as_secs()
    );
    let _ = tty.flush();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(tty).read_line(&mut line);
        let _ = tx.send(());
    });
    rx.recv_timeout(timeout)
        .map_err(|_| format!("nobody pressed Enter within {}s", timeout.as_secs()))
}

/// Forwards lines appended to `path` from now on to stdout (the runner reads them as desktop log).
fn tail(path: PathBuf) {
    std::thread::spawn(move || {
        let mut pos = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut partial = Vec::new();
        loop {
            if let Ok(mut f) = std::fs::File::open(&path) {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                // Truncated or replaced: from its start.
                if len < pos {
                    pos = 0;
                }
                if f.seek(SeekFrom::Start(pos)).is_ok() {
                    let mut buf = Vec::new();
                    if let Ok(n) = f.read_to_end(&mut buf) {
                        pos += n as u64;
                        partial.extend_from_slice(&buf);
                        while let Some(nl) = partial.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = partial.drain(..=nl).collect();
                            let mut out = std::io::stdout().lock();
                            if out.write_all(&line).and_then(|_| out.flush()).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
            // A file someone else writes has no portable change notification here: poll briefly.
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

/// Runs the stand-in: start, then wait for SIGTERM/SIGINT, then stop.
pub fn run(a: Args) -> ExitCode {
    let timeout = match humantime::parse_duration(&a.prompt_timeout) {
        Ok(d) => d,
        Err(e) => return super::shared::usage(format!("--prompt-timeout: {e}")),
    };
    if let Some(log) = &a.log {
        tail(log.clone());
    }
    let started = a
        .start
        .as_deref()
        .map(|c| hook(c, &a.connection))
        .unwrap_or(Ok(()))
        .and_then(|_| {
            if a.prompt {
                ask(
                    &format!(
                        "start the desktop now (connection file {}) and wait for its login screen",
                        a.connection.display()
                    ),
                    timeout,
                )
            } else {
                Ok(())
            }
        });
    if let Err(e) = started {
        eprintln!("{}{e}", bc_engine::run::scenario::NOT_STARTED);
        return ExitCode::HarnessError;
    }
    eprintln!("desktop started");
    let signalled = super::block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    if signalled.is_err() {
        return ExitCode::HarnessError;
    }
    let stopped = a
        .stop
        .as_deref()
        .map(|c| hook(c, &a.connection))
        .unwrap_or(Ok(()))
        .and_then(|_| {
            if a.prompt {
                ask("stop the desktop now", timeout)
            } else {
                Ok(())
            }
        });
    match stopped {
        Ok(()) => {
            eprintln!("desktop stopped");
            ExitCode::Success
        }
        Err(e) => {
            eprintln!("desktop not stopped: {e}");
            ExitCode::HarnessError
        }
    }
}
