//! Forks every supervised child from one long-lived thread with a parent-death signal (SIGKILL), so children die
//! with the harness even when it is SIGKILLed and none of its cleanup runs.
//! Linux sends that signal when the *thread* that forked the child exits; tokio's threads come and go, this one stays.

use std::io;
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// The queue of the spawner thread, started on first use; it lives as long as the process.
fn jobs() -> io::Result<&'static Mutex<mpsc::Sender<Job>>> {
    static JOBS: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    if let Some(jobs) = JOBS.get() {
        return Ok(jobs);
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("bc-spawner".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    // Two first callers may race: the loser's thread ends when its sender is dropped here.
    Ok(JOBS.get_or_init(|| Mutex::new(tx)))
}

/// Spawns `cmd` (in the caller's tokio runtime) from the spawner thread, with PR_SET_PDEATHSIG = SIGKILL.
pub(crate) fn spawn(mut cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The harness may have died between fork and prctl: no signal would come then.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let (tx, rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        // The child's pipes and exit watcher belong to the caller's runtime.
        let _entered = runtime.enter();
        let _ = tx.send(cmd.spawn());
    });
    jobs()?
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| io::Error::other("the process-spawner thread is gone"))?;
    // A fork takes about a millisecond: waiting for it here keeps `Supervised::spawn` synchronous.
    rx.recv()
        .map_err(|_| io::Error::other("the process-spawner thread did not answer"))?
}
