//! The wake loop of a running scenario: it runs a step's future while feeding observations, flap
//! phases and the desktop's exit to the evaluator, and stops early when the verdict is decided.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bc_protocol::ObservedEvent;
use tokio::sync::{mpsc, watch};

use super::record::Injected;
use super::watermark::Pace;
use crate::check::Evaluator;
use crate::env::{now_us, Desktop, Environment, ExitInfo, FeedProgress, InfraWatch};
use crate::fault::FlapPhase;
use crate::observe::EntryKind;

/// Why a scenario stopped before its last step.
#[derive(Debug)]
pub(super) enum Stop {
    /// The verdict is decided (a check failed or errored).
    Decided,
    /// Ctrl-C.
    Cancelled,
    /// A harness problem, already recorded.
    Harness,
    /// The scenario cannot be judged (a trigger never fired); the reason is in `inconclusive`.
    Inconclusive,
}

/// The state of one running scenario: its evaluator (which holds the timeline), the desktop, the
/// injected faults by step, and what the result needs besides the verdict.
pub(super) struct Driver<'a> {
    pub env: &'a Environment,
    pub ev: Evaluator,
    events: &'a mut mpsc::Receiver<ObservedEvent>,
    /// Injected faults still tracked, by the index of the step that injected them.
    pub injected: HashMap<usize, Injected>,
    /// Timeline id of the last fault entry.
    pub next_fault: u32,
    /// When the last fault entry took effect (a trigger's latency ends there).
    pub last_fault_us: Option<i64>,
    /// Evaluation held from here while a step applies a fault (see `Evaluator::hold`).
    step_hold: Option<i64>,
    pub desktop: Option<Desktop>,
    /// The agent's SIP phone (`--phone`), started before the desktop, stopped at teardown.
    pub phone: Option<Desktop>,
    pub desktop_exited: bool,
    pub logs_pushed: bool,
    pub log_tail: Vec<String>,
    pub start_us: i64,
    cancel: watch::Receiver<bool>,
    cancel_open: bool,
    pub errors: Vec<String>,
    /// Why the scenario cannot be judged, besides its checks (a trigger that never fired).
    pub inconclusive: Vec<String>,
    /// How far each instance's feed has been read (the watermark's feed sources).
    pub progress: Arc<FeedProgress>,
    /// The harness's own lateness in this scenario.
    pub pace: Pace,
    /// What happens to the infrastructure with no step causing it (see `infra.rs`).
    pub infra: InfraWatch,
    /// The desktop is the stand-in running a lab's hooks (see `ScenarioContext::attached`).
    pub attached: bool,
    /// A herd's aimed faults: the agents each hits, by step index (`herd::aims`).
    pub aims: HashMap<usize, Vec<usize>>,
    /// How many agents the herd has (0 outside a herd).
    pub herd_agents: usize,
    /// A failed check does not stop the scenario (`--run-to-end`).
    pub run_to_end: bool,
}

/// Observations taken off the feed at once before the evaluator runs again.
const MAX_BATCH: usize = 1024;

enum Wake<T> {
    Cancel,
    CancelClosed,
    Event(Option<ObservedEvent>),
    Infra,
    Exit(ExitInfo),
    Phase(usize, Option<FlapPhase>),
    Done(T),
    /// A feed's progress moved while the evaluator waits for it.
    Feeds,
    Tick,
}

impl<'a> Driver<'a> {
    pub fn new(
        env: &'a Environment,
        ev: Evaluator,
        events: &'a mut mpsc::Receiver<ObservedEvent>,
        start_us: i64,
        cancel: watch::Receiver<bool>,
        pace: Pace,
    ) -> Driver<'a> {
        let progress = env.progress();
        // Delays measured before this scenario belong to the previous one (or the reset).
        progress.take_max_delay_us();
        Driver {
            env,
            ev,
            events,
            injected: HashMap::new(),
            next_fault: 0,
            last_fault_us: None,
            step_hold: None,
            desktop: None,
            phone: None,
            desktop_exited: false,
            logs_pushed: false,
            log_tail: Vec::new(),
            start_us,
            cancel,
            cancel_open: true,
            errors: Vec::new(),
            inconclusive: Vec::new(),
            progress,
            pace,
            infra: env.infrastructure(),
            attached: false,
            aims: HashMap::new(),
            herd_agents: 0,
            run_to_end: false,
        }
    }

    pub fn push(&mut self, ts: i64, kind: EntryKind) {
        self.ev.push(ts, kind);
    }

    pub fn note(&mut self, message: impl Into<String>) {
        self.push(
            now_us(),
            EntryKind::Note {
                message: message.into(),
            },
        );
    }

    pub fn harness_error(&mut self, message: String) -> Stop {
        self.note(format!("harness error: {message}"));
        self.errors.push(message);
        Stop::Harness
    }

    /// The scenario stops here: a check failed or errored, and it does not run to its end.
    pub fn decided_bad(&self) -> bool {
        !self.run_to_end && self.ev.decided_bad()
    }

    /// Holds evaluation from `from_us` while a step applies or heals a fault (`None` releases).
    pub fn hold_step(&mut self, from_us: Option<i64>) {
        self.step_hold = from_us;
        self.sync_hold();
    }

    /// The evaluator waits for the earliest change in flight: the step's or a flap's.
    pub fn sync_hold(&mut self) {
        let flaps = self.injected.values().filter_map(|i| i.changing);
        let hold = self.step_hold.into_iter().chain(flaps).min();
        self.pace.held(hold.is_some());
        self.ev.hold(hold);
    }

    /// Runs `fut` while feeding observations to the evaluator; stops early when `until` holds, the
    /// verdict is decided, the desktop exits early (a failure) or the run is cancelled.
    pub async fn drive<F: Future>(
        &mut self,
        fut: F,
        until: impl Fn(&Evaluator) -> bool,
    ) -> Result<Option<F::Output>, Stop> {
        tokio::pin!(fut);
        let mut feeds = self.progress.subscribe();
        loop {
            self.advance()?;
            if self.decided_bad() {
                return Err(Stop::Decided);
            }
            if until(&self.ev) {
                return Ok(None);
            }
            let sleep = self.next_sleep();
            let wake = {
                let events = &mut *self.events;
                let cancel = &mut self.cancel;
                let cancel_open = self.cancel_open;
                let injected = &mut self.injected;
                let infra = &mut self.infra;
                let flapping = injected.values().any(|i| i.phases.is_some());
                let desktop = if self.desktop_exited {
                    None
                } else {
                    self.desktop.as_ref()
                };
                tokio::select! {
                    biased;
                    r = cancel.changed(), if cancel_open => match r {
                        Ok(()) if *cancel.borrow() => Wake::Cancel,
                        Ok(()) => Wake::Tick,
                        Err(_) => Wake::CancelClosed,
                    },
                    _ = infra.changed() => Wake::Infra,
                    e = events.recv() => Wake::Event(e),
                    info = async { desktop.expect("guarded").exited().await }, if desktop.is_some() => Wake::Exit(info),
                    (step, phase) = next_phase(injected), if flapping => Wake::Phase(step, phase),
                    out = &mut fut => Wake::Done(out),
                    _ = feeds.changed(), if sleep.on_feeds => Wake::Feeds,
                    _ = tokio::time::sleep(sleep.duration) => Wake::Tick,
                }
            };
            match wake {
                Wake::Cancel => return Err(Stop::Cancelled),
                Wake::CancelClosed => self.cancel_open = false,
                Wake::Event(Some(e)) => {
                    // Everything already queued goes in before the next evaluation: a burst (a
                    // herd logging in) is judged once, not once per event.
                    let mut next = Some(e);
                    let mut taken = 0;
                    while let Some(e) = next.take() {
                        if e.ts_us >= self.start_us {
                            self.on_observation(e.ts_us, self.events.len());
                            self.push(e.ts_us, EntryKind::Observed { event: e });
                        }
                        taken += 1;
                        if taken < MAX_BATCH {
                            next = self.events.try_recv().ok();
                        }
                    }
                }
                Wake::Infra => self.on_infra()?,
                Wake::Event(None) => {
                    return Err(self.harness_error("the observation feed closed".into()))
                }
                Wake::Exit(info) => {
                    self.record_exit(info, false);
                    self.on_hook_failure(&info)?;
                }
                Wake::Phase(step, phase) => self.on_phase(step, phase)?,
                Wake::Done(out) => {
                    self.advance()?;
                    return Ok(Some(out));
                }
                Wake::Feeds => {}
                Wake::Tick => self.on_timer(),
            }
        }
    }

    pub async fn wait(&mut self, d: Duration) -> Result<(), Stop> {
        self.drive(tokio::time::sleep(d), |_| false)
            .await
            .map(|_| ())
    }
}

/// The next phase change any flap reports, with the step that injected it (`None`: it ended).
async fn next_phase(injected: &mut HashMap<usize, Injected>) -> (usize, Option<FlapPhase>) {
    std::future::poll_fn(|cx| {
        for (step, i) in injected.iter_mut() {
            if let Some(rx) = &mut i.phases {
                if let Poll::Ready(p) = rx.poll_recv(cx) {
                    return Poll::Ready((*step, p));
                }
            }
        }
        Poll::Pending
    })
    .await
}
