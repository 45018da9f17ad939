//! Process faults on sites and servers: kill (SIGKILL), stop (SIGTERM), freeze (SIGSTOP), thaw,
//! restore; each confirmed through the runtime's process state and the instance's health endpoint.

use super::guard::{registry, Applied, HealAction};
use super::select::{resolve_servers, site_instances};
use super::{Fault, FaultError};
use crate::env::shared::Shared;
use crate::env::{now_us, InstanceId, InstanceState};
use bc_protocol::ServerKind;

enum Op {
    Kill,
    Stop,
    Freeze,
    Thaw,
    Restore,
}

pub(super) async fn apply(shared: &Shared, fault: &Fault) -> Result<Applied, FaultError> {
    let topo = &shared.topology;
    let (op, ids) = match fault {
        Fault::KillSite { site } => (Op::Kill, site_instances(topo, site)),
        Fault::StopSite { site } => (Op::Stop, site_instances(topo, site)),
        Fault::RestoreSite { site } => (Op::Restore, site_instances(topo, site)),
        Fault::KillServer(s) => (Op::Kill, resolve_servers(topo, s)),
        Fault::StopServer(s) => (Op::Stop, resolve_servers(topo, s)),
        Fault::FreezeServer(s) => (Op::Freeze, resolve_servers(topo, s)),
        Fault::ThawServer(s) => (Op::Thaw, resolve_servers(topo, s)),
        Fault::RestoreServer(s) => (Op::Restore, resolve_servers(topo, s)),
        _ => unreachable!("process::apply only gets process faults"),
    };
    let ids = ids.map_err(|reason| FaultError::Invalid {
        fault: fault.to_string(),
        reason,
    })?;
    let name = fault.to_string();
    let apply_err = |source| FaultError::Apply {
        fault: name.clone(),
        source,
    };
    let not_confirmed = |reason: String| FaultError::NotConfirmed {
        fault: name.clone(),
        reason,
    };
    match op {
        Op::Kill | Op::Stop => {
            let graceful = matches!(op, Op::Stop);
            // Stamped when the signals go out: the first instance may die (and the desktop react to
            // it) long before the last of a site's six is confirmed, and an effect stamped after its
            // consequences would show the desktop at both sites at once.
            let at = now_us();
            let results = futures::future::join_all(ids.iter().map(|id| async move {
                let before = shared.runtime.status(id)?;
                if before.state == InstanceState::Down {
                    return Ok(format!("{id} already down"));
                }
                let pid = before
                    .pid
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                if graceful {
                    let in_time = shared.runtime.stop(id).await?;
                    Ok(if in_time {
                        format!("SIGTERM {id}{pid}: exited gracefully")
                    } else {
                        format!("SIGTERM {id}{pid}: still alive after the grace period, SIGKILL")
                    })
                } else {
                    shared.runtime.kill(id).await?;
                    Ok(format!("SIGKILL {id}{pid}"))
                }
            }))
            .await;
            let actions = collect(results).map_err(apply_err)?;
            confirm_down(shared, &ids).await.map_err(not_confirmed)?;
            Ok(Applied::new(at, actions, vec![HealAction::Revive(ids)]))
        }
        Op::Freeze => {
            for id in &ids {
                if shared.runtime.status(id).map_err(apply_err)?.state == InstanceState::Down {
                    return Err(FaultError::Invalid {
                        fault: name.clone(),
                        reason: format!("{id} is down; only a running instance can be frozen"),
                    });
                }
            }
            let results = futures::future::join_all(ids.iter().map(|id| async move {
                if shared.runtime.status(id)?.state == InstanceState::Frozen {
                    return Ok(format!("{id} already frozen"));
                }
                // The runtime confirms through the kernel's process state.
                shared.runtime.freeze(id).await?;
                Ok(format!("SIGSTOP {id}"))
            }))
            .await;
            let at = now_us();
            let actions = collect(results).map_err(apply_err)?;
            Ok(Applied::new(at, actions, vec![HealAction::Thaw(ids)]))
        }
        Op::Thaw => {
            let actions = thaw_frozen(shared, &ids).await.map_err(not_confirmed)?;
            Ok(Applied::new(now_us(), actions, Vec::new()))
        }
        Op::Restore => {
            let actions = revive(shared, &ids).await.map_err(not_confirmed)?;
            Ok(Applied::new(now_us(), actions, Vec::new()))
        }
    }
}

fn collect(
    results: Vec<Result<String, crate::env::EnvError>>,
) -> Result<Vec<String>, crate::env::EnvError> {
    results.into_iter().collect()
}

/// Confirms each instance is down: the runtime says so and its control API does not answer.
async fn confirm_down(shared: &Shared, ids: &[InstanceId]) -> Result<(), String> {
    for id in ids {
        let st = shared.runtime.status(id).map_err(|e| e.to_string())?;
        if st.state != InstanceState::Down {
            return Err(format!("{id} is still {:?}", st.state));
        }
        if shared.health(id).await.is_ok() {
            return Err(format!("{id} still answers its health check"));
        }
    }
    Ok(())
}

/// Thaws the frozen instances among `ids` and confirms each answers its health check.
pub(crate) async fn thaw_frozen(
    shared: &Shared,
    ids: &[InstanceId],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for id in ids {
        let st = shared.runtime.status(id).map_err(|e| e.to_string())?;
        if st.state != InstanceState::Frozen {
            out.push(format!("{id} not frozen"));
            continue;
        }
        shared.runtime.thaw(id).await.map_err(|e| e.to_string())?;
        shared.health(id).await.map_err(|e| e.to_string())?;
        out.push(format!("SIGCONT {id}"));
    }
    Ok(out)
}

/// Starts the down and thaws the frozen instances among `ids`; a started instance whose partner is
/// active is demoted (no split brain); a started CS Proxy gets the configuration overlay again.
/// Confirms each answers its health check.
pub(crate) async fn revive(shared: &Shared, ids: &[InstanceId]) -> Result<Vec<String>, String> {
    let results = futures::future::join_all(ids.iter().map(|id| async move {
        let st = shared.runtime.status(id).map_err(|e| e.to_string())?;
        let r: Result<(InstanceId, bool, String), String> = match st.state {
            InstanceState::Down => {
                shared.runtime.start(id).await.map_err(|e| e.to_string())?;
                Ok((id.clone(), true, format!("started {id}")))
            }
            InstanceState::Frozen => {
                shared.runtime.thaw(id).await.map_err(|e| e.to_string())?;
                Ok((id.clone(), false, format!("SIGCONT {id}")))
            }
            InstanceState::Running => Ok((id.clone(), false, format!("{id} already running"))),
        };
        r
    }))
    .await;
    let mut out = Vec::new();
    let mut started = Vec::new();
    for r in results {
        let (id, was_started, line) = r?;
        out.push(line);
        if was_started {
            started.push(id);
        }
    }
    for id in &started {
        let h = shared.health(id).await.map_err(|e| e.to_string())?;
        let partner = id.partner();
        let partner_running = shared
            .runtime
            .status(&partner)
            .map(|s| s.state == InstanceState::Running)
            .unwrap_or(false);
        if h.active && partner_running && !started.contains(&partner) {
            if let Ok(ph) = shared.health(&partner).await {
                if ph.active {
                    let url = shared.control_url(id).map_err(|e| e.to_string())?;
                    let d = shared
                        .control
                        .demote(&id.to_string(), &url)
                        .await
                        .map_err(|e| e.to_string())?;
                    if d.active {
                        return Err(format!("{id} still active after demote"));
                    }
                    out.push(format!("demoted {id} (its partner {partner} is active)"));
                }
            }
        }
        if id.server == ServerKind::ConfigServer {
            for ((object_type, dbid), value) in registry(shared).overlay_snapshot() {
                let url = shared.control_url(id).map_err(|e| e.to_string())?;
                super::config::update_one(shared, id, &url, object_type, dbid, value.as_deref())
                    .await?;
                out.push(format!(
                    "re-applied preferred site of {object_type} {dbid} on {id}"
                ));
            }
        }
    }
    for id in ids {
        shared
            .health(id)
            .await
            .map_err(|e| format!("{id} does not answer after restore: {e}"))?;
    }
    Ok(out)
}
