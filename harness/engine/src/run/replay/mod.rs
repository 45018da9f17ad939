//! `run --repeat K --herd-of N`, replayed against the servers: after the arithmetic herd
//! (`herd_synth`), each repeated run runs once more as a herd of N reference desktops whose first
//! contacts after the site loss are drawn from the K measured ones, judged like any herd.
//!
//! The arithmetic herd says nothing about load; the replay does: N real clients meet the mocks
//! and the fault proxy at the measured delays, honour overload answers and back off as the
//! reference does, and HERD-1..6 are checked on what the servers saw.

mod delays;
mod plan;

use std::sync::Arc;

use bc_suite::PlannedScenario;
use tokio::sync::{mpsc, watch};

use super::scenario::info;
use super::session::{Session, Settings};
use crate::check::fleet::synth::MIN_RUNS;
use crate::check::{Activation, CheckSpec, Registered, Status, Verdict};
use crate::env::DesktopSpec;
use crate::event::{RunEvent, ScenarioInfo, ScenarioResult, Summary};
use crate::observe::{Entry, EntryKind};

/// What replaying the repeated runs needs from the run.
pub(super) struct Replays {
    /// The floor's size (`--herd-of`).
    pub agents: u32,
    pub seed: u64,
    /// The runs that were repeated, as planned.
    pub runs: Vec<PlannedScenario>,
    pub settings: Arc<Settings>,
    pub retry_errors: u32,
    pub cancel: watch::Receiver<bool>,
}

/// Each repeated run's arithmetic herd, then its replayed one, each reported as a run of its own
/// and counted in `summary`.
pub(super) async fn add(
    finished: &mut Vec<ScenarioResult>,
    summary: &mut Summary,
    sink: &mpsc::UnboundedSender<RunEvent>,
    r: Replays,
) {
    super::herd_synth::add(finished, summary, sink, r.agents, r.seed);
    let measured: Vec<(String, usize, Vec<i64>)> = super::herd_synth::by_run(finished)
        .into_iter()
        .map(|(id, reps)| {
            let contacts = super::herd_synth::measured(&reps)
                .iter()
                .filter_map(|s| s.contact_us)
                .collect();
            (id.to_string(), reps.len(), contacts)
        })
        .collect();
    for (id, runs, contacts) in measured {
        let Some(sc) = r.runs.iter().find(|s| s.id == id) else {
            continue;
        };
        if *r.cancel.borrow() {
            break;
        }
        let result = replay(&r, sc, runs, &contacts, sink).await;
        summary.add(result.verdict);
        let _ = sink.send(RunEvent::ScenarioFinished {
            result: Box::new(result.clone()),
        });
        finished.push(result);
    }
}

/// The replay of one repeated run: skipped when it cannot be a herd, inconclusive without enough
/// measured first contacts, an error when the replaying desktop cannot be found or started.
async fn replay(
    r: &Replays,
    sc: &PlannedScenario,
    runs: usize,
    contacts: &[i64],
    sink: &mpsc::UnboundedSender<RunEvent>,
) -> ScenarioResult {
    let herd = match plan::herd(sc, r.agents, runs) {
        Ok(h) => h,
        Err(why) => {
            let mut i = info(sc);
            i.id = plan::replay_id(&sc.id, r.agents, runs);
            return ScenarioResult::skipped(i, format!("not replayed as a herd: {why}"), r.seed);
        }
    };
    if contacts.len() < MIN_RUNS {
        return not_judged(info(&herd), r.agents, contacts.len(), r.seed);
    }
    if r.settings.attach.is_some() {
        let why = "a herd needs an environment of its own (its floor's configuration database), and `--attach` runs on `env up`'s";
        return ScenarioResult::skipped(info(&herd), format!("not replayed: {why}"), r.seed);
    }
    let delays = delays::Delays::new(&sc.id, contacts);
    let desktop = match replaying_desktop(r, &delays) {
        Ok(d) => d,
        Err(e) => {
            let e = format!("cannot replay the herd: {e}");
            return r.settings.error_result(info(&herd), r.seed, e);
        }
    };
    let settings = Settings {
        desktop: desktop.0,
        phone: None,
        keep_env: false,
        run_to_end: false,
        ..(*r.settings).clone()
    };
    let mut session = Session::new(Arc::new(settings), 0);
    let emit = |e: RunEvent| {
        let _ = sink.send(e);
    };
    let mut result = with_retries(&mut session, &herd, r, &emit).await;
    session.shutdown().await;
    // The delays' directory lives until the desktops are gone.
    drop(desktop.1);
    tell(&mut result, r.agents, &delays);
    result
}

/// The reference desktop replaying `delays` (their file in a directory of its own, kept as long
/// as the returned guard); `Err` when it cannot be found or the file cannot be written.
fn replaying_desktop(
    r: &Replays,
    delays: &delays::Delays,
) -> Result<(DesktopSpec, tempfile::TempDir), String> {
    let bin = crate::env::bins::find_binary(
        r.settings.bin_dir.as_deref(),
        "bc-reference-desktop",
        "bc-desktops",
    )
    .map_err(|e| e.to_string())?;
    let dir = tempfile::Builder::new()
        .prefix("bc-replay-")
        .tempdir()
        .map_err(|e| format!("cannot create the replay's directory: {e}"))?;
    let file = dir.path().join("delays.json");
    std::fs::write(&file, delays.to_json())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let argv = plan::desktop_argv(&bin, &file, &r.settings.capabilities);
    let spec = DesktopSpec::from_argv(argv).map_err(|e| e.to_string())?;
    Ok((spec, dir))
}

/// Runs the herd, and again while it ends in `error` and retries are left (`--retry-errors`),
/// as the workers do: a loaded machine's `error` says nothing about the desktop.
async fn with_retries(
    session: &mut Session,
    herd: &PlannedScenario,
    r: &Replays,
    emit: &(dyn Fn(RunEvent) + Send + Sync),
) -> ScenarioResult {
    let mut earlier = Vec::new();
    let mut retries = 0;
    loop {
        let mut result = session.scenario(herd, r.seed, r.cancel.clone(), emit).await;
        if result.verdict != Verdict::Error || retries >= r.retry_errors || *r.cancel.borrow() {
            result.retries = retries;
            earlier.append(&mut result.errors);
            result.errors = earlier;
            return result;
        }
        retries += 1;
        earlier.extend(
            result
                .errors
                .iter()
                .map(|e| format!("attempt {retries} (retried): {e}")),
        );
    }
}

/// Says in the result that its floor replayed measured runs: a note heading its timeline, the
/// fleet rules among its rules, and every failure's expectation naming where the delays came from.
fn tell(result: &mut ScenarioResult, agents: u32, delays: &delays::Delays) {
    let measured = delays.first_contact_us.len();
    if let Some(t) = &mut result.timeline {
        let ts_us = t.entries.first().map_or(result.started_us, |e| e.ts_us);
        let message = format!(
            "herd replayed from {measured} measured runs of {}: each of the {agents} agents first contacts the other site after the loss at a delay drawn from their first contacts (normal kernel of {} ms)",
            delays.from,
            delays.bandwidth_us / 1000
        );
        t.entries.insert(
            0,
            Entry {
                ts_us,
                kind: EntryKind::Note { message },
            },
        );
    }
    for c in &result.checks {
        if let Some(rule) = c.spec.own_rule().filter(|r| r.starts_with("HERD-")) {
            if !result.info.rules.iter().any(|r| r == rule) {
                result.info.rules.push(rule.to_string());
            }
        }
    }
    for f in &mut result.failures {
        f.expected = format!(
            "{} (a floor of {agents} bc-reference-desktop agents replaying the first contacts of {measured} measured runs)",
            f.expected
        );
    }
}

/// A replay with too few measured first contacts: not run, HERD-1 and HERD-2 not exercised, as
/// the arithmetic herd says.
fn not_judged(info: ScenarioInfo, agents: u32, measured: usize, seed: u64) -> ScenarioResult {
    let why = format!(
        "{measured} measured first contact(s); a replayed herd needs at least {MIN_RUNS}, so it was not run"
    );
    let checks: Vec<Registered> = [
        CheckSpec::HerdLoggedIn {
            agents,
            within_ms: info.budget_ms,
        },
        CheckSpec::HerdBurst {
            agents,
            window_ms: 100,
            max_percent: 20,
        },
    ]
    .into_iter()
    .map(|spec| Registered {
        spec,
        activation: Activation::Start,
        status: Status::not_exercised(why.clone()),
    })
    .collect();
    let mut r = ScenarioResult::skipped(info, String::new(), seed);
    r.skip_reason = None;
    r.verdict = Verdict::Inconclusive;
    r.inconclusive = crate::check::inconclusive_reasons(&checks);
    r.checks = checks;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Failure;

    fn info() -> ScenarioInfo {
        ScenarioInfo {
            id: "s/x (herd of 200 replayed from 10 runs)".into(),
            suite_id: "s".into(),
            file: "s.yaml".into(),
            scenario_id: "x".into(),
            title: None,
            rules: vec!["BC-4".into()],
            preferred_site: Some("A".into()),
            budget_ms: 10_000,
        }
    }

    #[test]
    fn too_few_first_contacts_leave_the_herd_inconclusive_and_unrun() {
        let r = not_judged(info(), 200, 9, 11);
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.checks.len(), 2);
        assert!(
            r.inconclusive
                .iter()
                .any(|i| i.contains("9 measured first contact(s)")),
            "{:?}",
            r.inconclusive
        );
        assert!(r.timeline.is_none() && r.skip_reason.is_none());
    }

    #[test]
    fn the_result_says_its_floor_replayed_measured_runs() {
        let mut r = ScenarioResult::skipped(info(), String::new(), 11);
        r.verdict = Verdict::Fail;
        let mut f = Failure::new("HERD-2 ...", 0, "133 of 200 first contacts");
        f.expected = "no 100 ms window holds more than 20 %".into();
        r.failures.push(f);
        r.checks.push(Registered {
            spec: CheckSpec::HerdBurst {
                agents: 200,
                window_ms: 100,
                max_percent: 20,
            },
            activation: Activation::Start,
            status: Status::Pass,
        });
        tell(&mut r, 200, &delays::Delays::new("s/x", &[2_000_000; 10]));
        assert_eq!(r.info.rules, ["BC-4", "HERD-2"]);
        assert!(
            r.failures[0]
                .expected
                .ends_with("(a floor of 200 bc-reference-desktop agents replaying the first contacts of 10 measured runs)"),
            "{}",
            r.failures[0].expected
        );
    }
}
