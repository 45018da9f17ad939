//! A herd's floor: the scenario's configuration database with generated agents added (`herd0001`
//! ...), each with a DN and its preferred site on its Person, dealt by the herd's shares.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::EnvError;

/// The first generated agent's id; its DN is this plus [`DN_OFFSET`] (above every fixture's).
const FIRST_AGENT_ID: usize = 20_001;
/// Agent id to DN.
const DN_OFFSET: usize = 10_000;
/// Person DBIDs of generated agents start here.
const FIRST_PERSON_DBID: usize = 200_001;

/// The username of generated agent `i` (0-based) and back: the suite language's names.
pub use bc_suite::{herd_index as index, herd_username as username};

/// The local address generated agent `i` connects from: `127.1.X.Y`, its own for every agent
/// of a floor (Linux answers all of 127.0.0.0/8 on loopback), so the fault proxy can aim a
/// fault at some agents by address. 250 per third octet keeps `.0` and `.255` out.
pub fn source_address(i: usize) -> std::net::IpAddr {
    let (hi, lo) = (i / 250, i % 250);
    std::net::Ipv4Addr::new(127, 1, u8::try_from(hi).unwrap_or(u8::MAX), (lo + 1) as u8).into()
}

/// The configuration database at `base` plus one agent per entry of `preferred` (that agent's
/// preferred site), written as JSON (which YAML reads) into `dir`; returns its path. With more
/// than one group of four SIP Servers, each agent's DN is dealt to a group in turn
/// (`bc_suite::herd_group`).
pub fn write_floor(
    base: &Path,
    preferred: &[String],
    groups: u32,
    dir: &Path,
) -> Result<PathBuf, EnvError> {
    let err = |reason: String| EnvError::ConfigDb {
        path: base.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(base).map_err(|e| err(e.to_string()))?;
    let mut db: Value = serde_saphyr::from_str(&text).map_err(|e| err(e.to_string()))?;
    let tenant = db["tenants"][0]["dbid"].as_u64().unwrap_or(1);
    let persons = preferred.iter().enumerate().map(|(i, site)| {
        let id = FIRST_AGENT_ID + i;
        json!({
            "dbid": FIRST_PERSON_DBID + i,
            "name": format!("Herd agent {}", i + 1),
            "username": username(i),
            "password": format!("pass-{}", username(i)),
            "employee_id": id.to_string(),
            "tenant_dbid": tenant,
            "agent_group_dbids": [],
            "agent_logins": [id.to_string()],
            "dn": (id + DN_OFFSET).to_string(),
            "annex": {"business-continuity": {"preferred-site": site}},
        })
    });
    let dns = (0..preferred.len()).map(|i| {
        let dn = FIRST_AGENT_ID + i + DN_OFFSET;
        let mut v = json!({"dbid": dn, "number": dn.to_string(), "tenant_dbid": tenant});
        if groups > 1 {
            v["group"] = json!(bc_suite::herd_group(i, groups));
        }
        v
    });
    append(&mut db, "persons", persons).map_err(err)?;
    append(&mut db, "dns", dns).map_err(err)?;
    let path = dir.join("floor.json");
    let bytes = serde_json::to_vec(&db).map_err(|e| err(e.to_string()))?;
    std::fs::write(&path, bytes)
        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn append(db: &mut Value, key: &str, items: impl Iterator<Item = Value>) -> Result<(), String> {
    if db[key].is_null() {
        db[key] = Value::Array(Vec::new());
    }
    let list = db[key]
        .as_array_mut()
        .ok_or_else(|| format!("`{key}` is not a list"))?;
    list.extend(items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_adds_agents_the_topology_reads_with_their_preferred_sites() {
        let dir = tempfile::tempdir().unwrap();
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config/default.yaml");
        let sites: Vec<String> = ["A", "B", "A"].iter().map(|s| s.to_string()).collect();
        let path = write_floor(&base, &sites, 1, dir.path()).unwrap();
        let topo = super::super::Topology::load(path).unwrap();
        let a = topo.agent("herd0002").unwrap();
        assert_eq!((a.agent_id.as_str(), a.dn.as_str()), ("20002", "30002"));
        assert_eq!(a.group, 1);
        let two = tempfile::tempdir().unwrap();
        let path = write_floor(&base, &sites, 2, two.path()).unwrap();
        let topo = super::super::Topology::load(path).unwrap();
        let groups: Vec<u32> = ["herd0001", "herd0002", "herd0003"]
            .iter()
            .map(|u| topo.agent(u).unwrap().group)
            .collect();
        assert_eq!(groups, [1, 2, 1], "dealt to the groups in turn");
        assert!(topo.agent("agent1001").is_ok(), "the base agents stay");
        let db = std::fs::read_to_string(dir.path().join("floor.json")).unwrap();
        let v: Value = serde_json::from_str(&db).unwrap();
        let p = v["persons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["username"] == "herd0002")
            .unwrap();
        assert_eq!(p["annex"]["business-continuity"]["preferred-site"], "B");
    }

    #[test]
    fn every_agent_of_the_largest_floor_has_its_own_source_address() {
        let all: std::collections::HashSet<_> = (0..bc_suite::MAX_HERD_AGENTS as usize)
            .map(source_address)
            .collect();
        assert_eq!(all.len(), bc_suite::MAX_HERD_AGENTS as usize);
        assert_eq!(source_address(0).to_string(), "127.1.0.1");
        assert_eq!(source_address(250).to_string(), "127.1.1.1");
        assert_eq!(index(&username(41)), Some(41));
        assert_eq!(index("agent1001"), None);
    }
}
