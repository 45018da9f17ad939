//! The periodic health probe of a watched environment: `GET /version` of the proxy API and
//! `GET /health` of every running mock; a component missing enough probes in a row is reported.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::watch;

use super::{Component, Infra};
use crate::env::clock::now_us;
use crate::env::runtime::{InstanceState, InstanceStatus, ProxyStatus};
use crate::env::topology::InstanceId;
use crate::observe::InfraCause;

/// How often the APIs are probed while a scenario watches.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How long one probe waits for an answer. Generous: a loaded machine must not turn a slow answer
/// into an infrastructure error.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Consecutive unanswered probes that make a component unresponsive (spanning at least one
/// probe timeout, so that a refusal, which fails at once, is not reported before an exit is).
pub const PROBE_MISSES: u32 = 2;
/// The longest time from an API going silent to its report: up to one pause before the first
/// probe, then `PROBE_MISSES` probes each waiting its timeout, with a pause between them.
pub const DETECTION_BOUND: Duration = Duration::from_millis(
    PROBE_EVERY.as_millis() as u64 * PROBE_MISSES as u64
        + PROBE_TIMEOUT.as_millis() as u64 * PROBE_MISSES as u64,
);

/// One component probed in a round: its incarnation (0 for the proxy) and the URL to ask.
struct Target {
    component: Component,
    incarnation: u64,
    url: String,
}

/// Consecutive misses of one incarnation, and when the first of them began.
struct Misses {
    incarnation: u64,
    count: u32,
    since_us: i64,
}

pub(super) struct Prober {
    instances: Vec<(InstanceId, watch::Receiver<InstanceStatus>)>,
    proxy_url: String,
    proxy: watch::Receiver<ProxyStatus>,
    http: reqwest::Client,
    misses: HashMap<Component, Misses>,
    /// Incarnations already reported unresponsive (reported once each).
    reported: HashSet<(Component, u64)>,
}

impl Prober {
    pub fn new(
        instances: Vec<(InstanceId, watch::Receiver<InstanceStatus>)>,
        proxy_url: String,
        proxy: watch::Receiver<ProxyStatus>,
    ) -> Prober {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(PROBE_TIMEOUT)
            .build()
            .unwrap_or_default();
        Prober {
            instances,
            proxy_url,
            proxy,
            http,
            misses: HashMap::new(),
            reported: HashSet::new(),
        }
    }

    /// Probes every `PROBE_EVERY` while a scenario watches, until `stop`.
    pub async fn run(mut self, infra: Infra, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(PROBE_EVERY) => {}
                _ = stop.changed() => return,
            }
            if !infra.watched() {
                // Between scenarios nobody listens; the reset repairs what broke meanwhile.
                self.misses.clear();
                infra.set_suspects(0);
                continue;
            }
            self.round(&infra).await;
        }
    }

    /// One probe of every running component, all at once.
    async fn round(&mut self, infra: &Infra) {
        let started_us = now_us();
        let targets = self.targets();
        let http = &self.http;
        let answers = futures::future::join_all(targets.iter().map(|t| async move {
            // Any HTTP answer will do: the process is alive and serving.
            tokio::time::timeout(PROBE_TIMEOUT, http.get(&t.url).send())
                .await
                .is_ok_and(|r| r.is_ok())
        }))
        .await;
        for (t, answered) in targets.into_iter().zip(answers) {
            self.record(infra, t, answered, started_us);
        }
        let suspects = self
            .misses
            .iter()
            .filter(|(c, m)| !self.reported.contains(&((*c).clone(), m.incarnation)))
            .count();
        infra.set_suspects(suspects);
    }

    /// The components to probe now: the proxy while it runs, each running (not frozen) instance.
    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        if self.proxy.borrow().down.is_none() {
            out.push(Target {
                component: Component::Proxy,
                incarnation: 0,
                url: format!("{}/version", self.proxy_url),
            });
        }
        for (id, status) in &self.instances {
            let st = status.borrow();
            if st.state == InstanceState::Running {
                out.push(Target {
                    component: Component::Instance(id.clone()),
                    incarnation: st.incarnation,
                    url: format!("{}/health", st.addrs.control_url()),
                });
            }
        }
        out
    }

    /// Whether the component is still in the state it was probed in: a step may have frozen,
    /// killed or restarted it meanwhile, and then its silence is expected.
    fn unchanged(&self, t: &Target) -> bool {
        match &t.component {
            Component::Proxy => self.proxy.borrow().down.is_none(),
            Component::Instance(id) => self.instances.iter().any(|(i, st)| {
                let st = st.borrow();
                i == id && st.state == InstanceState::Running && st.incarnation == t.incarnation
            }),
        }
    }

    fn record(&mut self, infra: &Infra, t: Target, answered: bool, started_us: i64) {
        if answered || !self.unchanged(&t) {
            self.misses.remove(&t.component);
            return;
        }
        let m = self.misses.entry(t.component.clone()).or_insert(Misses {
            incarnation: t.incarnation,
            count: 0,
            since_us: started_us,
        });
        if m.incarnation != t.incarnation {
            *m = Misses {
                incarnation: t.incarnation,
                count: 0,
                since_us: started_us,
            };
        }
        m.count += 1;
        let key = (t.component.clone(), t.incarnation);
        // A refused connection fails at once: the misses must also span a probe's timeout, which
        // gives the exit watchers time to report an exit (the better cause) first.
        let span_us = now_us() - m.since_us;
        let long_enough = span_us >= PROBE_TIMEOUT.as_micros() as i64;
        if m.count >= PROBE_MISSES && long_enough && !self.reported.contains(&key) {
            let api = match t.component {
                Component::Proxy => "API",
                Component::Instance(_) => "control API",
            };
            let cause = InfraCause::Unresponsive {
                api: api.into(),
                probes: m.count,
                timeout_ms: PROBE_TIMEOUT.as_millis() as u64,
            };
            infra.report(t.component, cause, m.since_us);
            self.reported.insert(key);
        }
    }
}
