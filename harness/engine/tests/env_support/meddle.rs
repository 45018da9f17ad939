//! Runs one planned scenario of a suite on a started environment against the reference desktop,
//! while the test does something to the infrastructure behind the harness's back at a given step.

use std::future::Future;

use bc_engine::env::{DesktopSpec, Environment};
use bc_engine::event::{RunEvent, ScenarioResult};
use bc_engine::run::scenario::{run_scenario, ScenarioContext};
use bc_engine::run::{load_runs, parse_capabilities};
use bc_suite::{Capability, PlannedScenario};
use tokio::sync::{mpsc, watch};

/// The certification suite's HA failovers: the scenario the examples meddle with.
pub const HA_SUITE: &str = "suites/certification/bc07-ha-failover.yaml";
/// Its SIP Server failover with preferred site A; step 2 waits 30 s for the agent to stay logged in.
pub const SIP_FAILOVER_A: &str = "cert-ha-failover/sip-server-failover[preferred=A]";

/// The planned scenario `id` of `suite` (relative to the workspace root).
pub fn planned(suite: &str, id: &str) -> PlannedScenario {
    let root = bc_test_support::workspace_root();
    let runs = load_runs(&[root.join(suite)], None, Some(id), &capabilities()).expect("suite");
    runs.into_iter()
        .find(|r| r.scenario.id == id)
        .unwrap_or_else(|| panic!("no scenario {id} in {suite}"))
        .scenario
}

fn capabilities() -> Vec<Capability> {
    parse_capabilities("stat_server").expect("capabilities")
}

/// Runs `scenario` on `env` against the reference desktop, running `meddle` once step `at_step`
/// has started; returns the scenario's result.
pub async fn run_meddled(
    env: &mut Environment,
    scenario: &PlannedScenario,
    at_step: usize,
    meddle: impl Future<Output = ()> + Send + 'static,
) -> ScenarioResult {
    let capabilities = capabilities();
    let desktop = bc_test_support::harness_bins().join("bc-reference-desktop");
    let desktop = DesktopSpec::parse(&format!("{} --config {{config}}", desktop.display()))
        .expect("desktop command");
    let mut events = env.take_events().expect("the environment's events");
    let (steps_tx, mut steps) = mpsc::unbounded_channel();
    let emit = move |e: RunEvent| {
        if let RunEvent::StepStarted { index, .. } = e {
            let _ = steps_tx.send(index);
        }
    };
    let meddler = tokio::spawn(async move {
        while let Some(index) = steps.recv().await {
            if index == at_step {
                meddle.await;
                return;
            }
        }
    });
    let (_cancel_tx, cancel) = watch::channel(false);
    let runtime = env.runtime().kind().as_str().to_string();
    let ctx = ScenarioContext {
        env,
        events: &mut events,
        desktop: &desktop,
        phone: None,
        capabilities: &capabilities,
        timers: None,
        client_timeout_ms: 2000,
        seed: 7,
        runtime,
        cancel,
        emit: &emit,
        max_lateness: std::time::Duration::from_millis(bc_engine::run::MAX_LATENESS_MS),
        attached: false,
        keep: None,
        run_to_end: false,
    };
    let result = run_scenario(ctx, scenario).await;
    meddler.abort();
    result
}

/// The `infra` entries of a result's timeline, as (component, rendered line).
pub fn infra_entries(r: &ScenarioResult) -> Vec<(String, String)> {
    let t = r.timeline.as_ref().expect("timeline");
    let start = t.start_us().unwrap_or(0);
    t.entries
        .iter()
        .filter_map(|e| match &e.kind {
            bc_engine::observe::EntryKind::Infra { component, .. } => Some((
                component.clone(),
                bc_engine::observe::format::line(e, start),
            )),
            _ => None,
        })
        .collect()
}

/// The JUnit XML of one result.
pub fn junit_of(r: &ScenarioResult) -> String {
    let mut j = bc_engine::report::JunitReport::default();
    j.event(&RunEvent::ScenarioFinished {
        result: Box::new(r.clone()),
    });
    j.to_xml()
}
