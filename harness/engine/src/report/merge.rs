//! Shards (`run --partition`) as one run: refuses journals of different suites, budgets, harness
//! versions, desktops or profiles, and names runs missing from or duplicated across the shards.

use std::collections::BTreeMap;

use crate::event::{RunEvent, ScenarioResult, Summary};

/// The merged run as an event stream for the usual reports, and what is wrong with its coverage.
#[derive(Debug, Default)]
pub struct Merged {
    /// `RunStarted`, every scenario once, `RunFinished`.
    pub events: Vec<RunEvent>,
    /// Planned run ids no shard reported.
    pub missing: Vec<String>,
    /// Run ids more than one shard reported (the first is kept).
    pub duplicated: Vec<String>,
}

/// What must be equal across shards, by name, as text.
fn key(e: &RunEvent) -> Vec<(&'static str, String)> {
    let RunEvent::RunStarted {
        suite_hash,
        budget_ms,
        harness_version,
        desktop_identity,
        capabilities,
        filter,
        plan,
        ..
    } = e
    else {
        return Vec::new();
    };
    let mut caps = capabilities.clone();
    caps.sort();
    let desktop = desktop_identity.as_ref().map(|d| {
        format!(
            "sha256:{} version {}",
            d.sha256.as_deref().unwrap_or("?"),
            d.version.as_deref().unwrap_or("not reported")
        )
    });
    vec![
        ("suite hash", suite_hash.clone()),
        ("budget", format!("{budget_ms:?}")),
        ("harness version", harness_version.clone()),
        ("desktop identity", format!("{desktop:?}")),
        ("capability profile", caps.join(",")),
        ("filter", format!("{filter:?}")),
        ("plan", format!("{} run(s)", plan.len())),
    ]
}

/// Merges shards given as (name, events); `Err` names the first difference that forbids it.
pub fn merge(shards: &[(String, Vec<RunEvent>)]) -> Result<Merged, String> {
    let mut first: Option<(&str, &RunEvent)> = None;
    for (name, events) in shards {
        let start = events
            .iter()
            .find(|e| matches!(e, RunEvent::RunStarted { .. }))
            .ok_or_else(|| format!("{name}: no run_started event"))?;
        match first {
            None => first = Some((name, start)),
            Some((n0, s0)) => {
                for ((what, a), (_, b)) in key(s0).into_iter().zip(key(start)) {
                    if a != b {
                        return Err(format!(
                            "{name} and {n0} are not shards of one run: different {what} ({b} vs {a})"
                        ));
                    }
                }
                if plan_of(s0) != plan_of(start) {
                    return Err(format!(
                        "{name} and {n0} are not shards of one run: different planned run ids"
                    ));
                }
            }
        }
    }
    let Some((_, start)) = first else {
        return Err("no journal to merge".into());
    };
    let mut results: BTreeMap<String, &ScenarioResult> = BTreeMap::new();
    let mut order = Vec::new();
    let mut out = Merged::default();
    let (mut duration_ms, mut interrupted, mut jobs) = (0, false, 0);
    for (_, events) in shards {
        for e in events {
            match e {
                RunEvent::ScenarioFinished { result } => {
                    if results.contains_key(&result.info.id) {
                        out.duplicated.push(result.info.id.clone());
                    } else {
                        results.insert(result.info.id.clone(), result);
                        order.push(result.info.id.clone());
                    }
                }
                RunEvent::RunFinished {
                    summary,
                    duration_ms: d,
                } => {
                    duration_ms = duration_ms.max(*d);
                    interrupted |= summary.interrupted;
                }
                RunEvent::RunStarted { jobs: j, .. } => jobs += j,
                _ => {}
            }
        }
    }
    let plan = plan_of(start);
    out.missing = plan
        .iter()
        .filter(|id| !results.contains_key(*id))
        .cloned()
        .collect();
    let mut started = start.clone();
    if let RunEvent::RunStarted {
        to_run,
        skipped,
        jobs: j,
        partition,
        ..
    } = &mut started
    {
        let ran = results
            .values()
            .filter(|r| r.verdict != crate::check::Verdict::Skipped)
            .count();
        *to_run = ran;
        *skipped = results.len() - ran;
        *j = jobs;
        // The merged run is the whole plan again: no shard any more.
        *partition = None;
    }
    out.events.push(started);
    let mut summary = Summary {
        interrupted,
        ..Summary::default()
    };
    for id in &order {
        let r = results[id];
        summary.add(r.verdict);
        out.events.push(RunEvent::ScenarioFinished {
            result: Box::new(r.clone()),
        });
    }
    out.events.push(RunEvent::RunFinished {
        summary,
        duration_ms,
    });
    Ok(out)
}

fn plan_of(e: &RunEvent) -> Vec<String> {
    match e {
        RunEvent::RunStarted { plan, .. } => plan.clone(),
        _ => Vec::new(),
    }
}
