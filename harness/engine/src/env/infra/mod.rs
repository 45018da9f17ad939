//! Infrastructure health: what happens to the instances and the fault proxy that no step asked for
//! (an exit the harness did not request, an API that stops answering), published to the scenario.

mod probe;

pub use probe::{DETECTION_BOUND, PROBE_EVERY, PROBE_MISSES, PROBE_TIMEOUT};

use super::clock::now_us;
use super::runtime::{DownCause, InstanceState, InstanceStatus, ProxyStatus, Runtime};
use super::topology::InstanceId;
use super::EnvError;
use crate::observe::InfraCause;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A piece of infrastructure the harness started.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Component {
    /// A mock server instance (process or container).
    Instance(InstanceId),
    /// The fault proxy (process or container).
    Proxy,
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Component::Instance(id) => write!(f, "{id}"),
            Component::Proxy => f.write_str("fault proxy"),
        }
    }
}

/// Something that happened to the infrastructure with no step causing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraEvent {
    /// When it happened, as well as the harness can tell (µs since the Unix epoch): the exit's
    /// detection, or the start of the first unanswered probe.
    pub ts_us: i64,
    pub component: Component,
    pub cause: InfraCause,
}

/// Everything reported so far, where the current scenario starts, and how many components have
/// missed a probe without being declared unresponsive yet.
#[derive(Debug, Clone, Default)]
struct InfraState {
    events: Vec<InfraEvent>,
    baseline: usize,
    suspects: usize,
}

/// The environment's infrastructure log (held by the environment; its tasks report into it).
#[derive(Clone)]
pub(crate) struct Infra {
    tx: watch::Sender<InfraState>,
}

impl Infra {
    pub fn new() -> Infra {
        Infra {
            tx: watch::Sender::new(InfraState::default()),
        }
    }

    /// A watch starting after the last reset: what happened before it was repaired by it.
    pub fn watch(&self) -> InfraWatch {
        let rx = self.tx.subscribe();
        let seen = rx.borrow().baseline;
        InfraWatch { rx, seen }
    }

    /// Called at the end of a reset: later watches ignore what happened before.
    pub fn mark_baseline(&self) {
        self.tx.send_modify(|s| s.baseline = s.events.len());
    }

    fn report(&self, component: Component, cause: InfraCause, ts_us: i64) {
        tracing::warn!(%component, %cause, "infrastructure left the plan");
        self.tx.send_modify(|s| {
            s.events.push(InfraEvent {
                ts_us,
                component,
                cause,
            })
        });
    }

    fn set_suspects(&self, n: usize) {
        self.tx.send_if_modified(|s| {
            let changed = s.suspects != n;
            s.suspects = n;
            changed
        });
    }

    /// Whether a scenario is watching (the probes only run then).
    fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }
}

/// A scenario's view of the infrastructure log: new events since it started.
pub struct InfraWatch {
    rx: watch::Receiver<InfraState>,
    seen: usize,
}

impl InfraWatch {
    /// Waits until something is reported or the suspects change; never returns once the
    /// environment is gone (nothing more can be reported then).
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The events reported since the last call (or since the watch began).
    pub fn take_new(&mut self) -> Vec<InfraEvent> {
        let state = self.rx.borrow_and_update();
        let new = state.events.get(self.seen..).unwrap_or_default().to_vec();
        self.seen = state.events.len();
        new
    }

    /// Components that missed a probe and are not declared unresponsive (nor answering) yet.
    pub fn suspects(&self) -> usize {
        self.rx.borrow().suspects
    }
}

/// The tasks that watch every instance's and the proxy's exits and probe their APIs, until `stop`.
pub(crate) fn spawn(
    runtime: &dyn Runtime,
    infra: &Infra,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, EnvError> {
    let mut tasks = Vec::new();
    let mut targets = Vec::new();
    for id in runtime.instances() {
        let status = runtime.watch(&id)?;
        targets.push((id.clone(), status.clone()));
        tasks.push(tokio::spawn(watch_instance(
            id,
            status,
            infra.clone(),
            stop.clone(),
        )));
    }
    let proxy = runtime.proxy_watch();
    tasks.push(tokio::spawn(watch_proxy(
        proxy.clone(),
        infra.clone(),
        stop.clone(),
    )));
    let prober = probe::Prober::new(targets, runtime.proxy_api_url(), proxy);
    tasks.push(tokio::spawn(prober.run(infra.clone(), stop.clone())));
    Ok(tasks)
}

/// The unrequested exit, if that is how the instance went down.
fn exited(st: &InstanceStatus) -> Option<InfraCause> {
    match (st.state, st.down) {
        (InstanceState::Down, Some(DownCause::Exited { code, signal })) => {
            Some(InfraCause::Exited { code, signal })
        }
        _ => None,
    }
}

/// Reports each incarnation of an instance that exits with nobody asking.
async fn watch_instance(
    id: InstanceId,
    mut status: watch::Receiver<InstanceStatus>,
    infra: Infra,
    mut stop: watch::Receiver<bool>,
) {
    let mut reported = 0;
    loop {
        let st = status.borrow_and_update().clone();
        if let Some(cause) = exited(&st).filter(|_| st.incarnation != reported) {
            reported = st.incarnation;
            infra.report(Component::Instance(id.clone()), cause, now_us());
        }
        tokio::select! {
            r = status.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

/// Reports the fault proxy's exit when nobody asked for it.
async fn watch_proxy(
    mut proxy: watch::Receiver<ProxyStatus>,
    infra: Infra,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Some(DownCause::Exited { code, signal }) = proxy.borrow_and_update().down {
            infra.report(
                Component::Proxy,
                InfraCause::Exited { code, signal },
                now_us(),
            );
            return;
        }
        tokio::select! {
            r = proxy.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}
