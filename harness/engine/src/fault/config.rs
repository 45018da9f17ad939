//! Configuration changes: the preferred site of a tenant, agent group or person, set on every CS Proxy
//! instance (each holds its own database copy) and confirmed from the updated object each returns.

use super::guard::{registry, Applied, HealAction};
use super::{ConfigLevel, Fault, FaultError};
use crate::env::shared::Shared;
use crate::env::topology::{PREFERRED_SITE_OPTION, PREFERRED_SITE_SECTION};
use crate::env::{now_us, Annex, InstanceId, InstanceState};
use bc_protocol::ServerKind;

fn current_in_db(annex: &Annex) -> Option<String> {
    annex
        .get(PREFERRED_SITE_SECTION)
        .and_then(|s| s.get(PREFERRED_SITE_OPTION))
        .cloned()
}

/// (object type, dbid, value in the database file) of the named object.
fn resolve(
    shared: &Shared,
    level: ConfigLevel,
    object: &str,
) -> Result<(&'static str, i64, Option<String>), String> {
    let db = shared.topology.config_db();
    match level {
        ConfigLevel::Tenant => db
            .tenant(object)
            .map(|o| ("CfgTenant", o.dbid, current_in_db(&o.annex)))
            .ok_or_else(|| format!("no tenant named `{object}`")),
        ConfigLevel::AgentGroup => db
            .agent_group(object)
            .map(|o| ("CfgAgentGroup", o.dbid, current_in_db(&o.annex)))
            .ok_or_else(|| format!("no agent group named `{object}`")),
        ConfigLevel::Person => db
            .person(object)
            .map(|p| ("CfgPerson", p.dbid, current_in_db(&p.annex)))
            .ok_or_else(|| format!("no person with username `{object}`")),
    }
}

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    level: ConfigLevel,
    object: &str,
    site: Option<&str>,
) -> Result<Applied, FaultError> {
    let name = fault.to_string();
    let (object_type, dbid, in_file) =
        resolve(shared, level, object).map_err(|reason| FaultError::Invalid {
            fault: name.clone(),
            reason,
        })?;
    if let Some(s) = site {
        if !shared.topology.has_site(s) {
            return Err(FaultError::Invalid {
                fault: name,
                reason: format!("unknown site `{s}`"),
            });
        }
    }
    let previous = registry(shared)
        .overlay_get((object_type, dbid))
        .unwrap_or(in_file);
    let (actions, at) = set_everywhere(shared, object_type, dbid, site)
        .await
        .map_err(|reason| FaultError::NotConfirmed {
            fault: name.clone(),
            reason,
        })?;
    Ok(Applied::new(
        at,
        actions,
        vec![HealAction::SetPreferred {
            object_type,
            dbid,
            value: previous,
        }],
    ))
}

/// Sets the value on every running CS Proxy instance and records it in the overlay.
/// Returns the actions and when the last instance confirmed.
pub(crate) async fn set_everywhere(
    shared: &Shared,
    object_type: &'static str,
    dbid: i64,
    value: Option<&str>,
) -> Result<(Vec<String>, i64), String> {
    registry(shared).overlay_set((object_type, dbid), value.map(String::from));
    let ids: Vec<InstanceId> = shared
        .topology
        .instances()
        .into_iter()
        .filter(|i| i.server == ServerKind::ConfigServer)
        .collect();
    let mut out = Vec::new();
    let mut updated = 0;
    for id in &ids {
        if shared.runtime.status(id).map_err(|e| e.to_string())?.state != InstanceState::Running {
            // A restarted CS Proxy gets the overlay re-applied when it comes back.
            out.push(format!("{id} not running: will get it on restart"));
            continue;
        }
        let url = shared.control_url(id).map_err(|e| e.to_string())?;
        update_one(shared, id, &url, object_type, dbid, value).await?;
        updated += 1;
        out.push(format!(
            "{id}: {object_type} {dbid} preferred-site = {}",
            value.unwrap_or("(removed)")
        ));
    }
    if updated == 0 {
        return Err("no CS Proxy instance is running".into());
    }
    Ok((out, now_us()))
}

/// `POST /objects/update` on one instance, confirmed from the returned object.
pub(crate) async fn update_one(
    shared: &Shared,
    id: &InstanceId,
    url: &str,
    object_type: &'static str,
    dbid: i64,
    value: Option<&str>,
) -> Result<(), String> {
    let annex = serde_json::json!({ PREFERRED_SITE_SECTION: { PREFERRED_SITE_OPTION: value } });
    let obj = shared
        .control
        .update_object(&id.to_string(), url, object_type, dbid, annex)
        .await
        .map_err(|e| e.to_string())?;
    let got = obj
        .get("Annex")
        .or_else(|| obj.get("annex"))
        .and_then(|a| a.get(PREFERRED_SITE_SECTION))
        .and_then(|s| s.get(PREFERRED_SITE_OPTION))
        .and_then(|v| v.as_str());
    if got != value {
        return Err(format!(
            "{id} reports preferred-site {:?} for {object_type} {dbid}, expected {:?}",
            got, value
        ));
    }
    Ok(())
}
