//! The configuration database a CS Proxy serves: loaded from snake_case YAML, queried with filters.
//! Objects are converted to the wire shape (`CfgObject`) and matched attribute by attribute on it.

use bc_protocol::{Annex, CfgObject, ObjectType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Why the database could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration database {path}: {message}")]
    Parse { path: String, message: String },
    #[error("no {object_type:?} with dbid {dbid}")]
    NotFound { object_type: ObjectType, dbid: i64 },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub dbid: i64,
    pub name: String,
    #[serde(default)]
    pub annex: Annex,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    pub dbid: i64,
    pub name: String,
    pub tenant_dbid: i64,
    #[serde(default)]
    pub annex: Annex,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub dbid: i64,
    pub name: String,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub employee_id: String,
    pub tenant_dbid: i64,
    #[serde(default)]
    pub agent_group_dbids: Vec<i64>,
    #[serde(default)]
    pub agent_logins: Vec<String>,
    #[serde(default)]
    pub dn: Option<String>,
    #[serde(default)]
    pub annex: Annex,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dn {
    pub dbid: i64,
    pub number: String,
    pub tenant_dbid: i64,
    /// The group of four SIP Servers whose switch the DN belongs to (default 1): a SIP Server
    /// started with another `--group` refuses to register it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    #[serde(default)]
    pub annex: Annex,
}

/// The whole database, as written in fixtures/config/*.yaml.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDb {
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    #[serde(default)]
    pub agent_groups: Vec<AgentGroup>,
    #[serde(default)]
    pub persons: Vec<Person>,
    #[serde(default)]
    pub dns: Vec<Dn>,
}

impl ConfigDb {
    /// Loads a database from a YAML file.
    pub fn load(path: &Path) -> Result<Self, DbError> {
        let text = std::fs::read_to_string(path).map_err(|source| DbError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| DbError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses YAML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks credentials; returns the person on success.
    pub fn authenticate(&self, username: &str, password: &str) -> Option<&Person> {
        self.persons
            .iter()
            .find(|p| p.username == username && p.password == password)
    }

    /// Every object of a type, in wire shape, in file order.
    pub fn objects(&self, t: ObjectType) -> Vec<CfgObject> {
        match t {
            ObjectType::CfgTenant => self.tenants.iter().map(tenant_obj).collect(),
            ObjectType::CfgAgentGroup => self.agent_groups.iter().map(group_obj).collect(),
            ObjectType::CfgPerson => self.persons.iter().map(person_obj).collect(),
            ObjectType::CfgDN => self.dns.iter().map(dn_obj).collect(),
        }
    }

    /// Objects of a type matching a filter (every named attribute equal; empty matches all).
    pub fn read(
        &self,
        t: ObjectType,
        filter: &BTreeMap<String, serde_json::Value>,
    ) -> Vec<CfgObject> {
        // The identifying attributes are compared on the stored records first, so that a floor
        // of thousands of persons is not turned into objects (and JSON) on every login's read.
        let keep = |dbid: i64, name: &str, user: Option<&str>| {
            filter.iter().all(|(k, want)| match k.as_str() {
                "DBID" => scalar_is(want, &dbid.to_string()),
                "Name" => scalar_is(want, name),
                "UserName" => user.is_some_and(|u| scalar_is(want, u)),
                _ => true,
            })
        };
        let objects: Vec<CfgObject> = match t {
            ObjectType::CfgTenant => self
                .tenants
                .iter()
                .filter(|x| keep(x.dbid, &x.name, None))
                .map(tenant_obj)
                .collect(),
            ObjectType::CfgAgentGroup => self
                .agent_groups
                .iter()
                .filter(|x| keep(x.dbid, &x.name, None))
                .map(group_obj)
                .collect(),
            ObjectType::CfgPerson => self
                .persons
                .iter()
                .filter(|x| keep(x.dbid, &x.name, Some(&x.username)))
                .map(person_obj)
                .collect(),
            ObjectType::CfgDN => self
                .dns
                .iter()
                .filter(|x| keep(x.dbid, &x.number, None))
                .map(dn_obj)
                .collect(),
        };
        objects.into_iter().filter(|o| matches(o, filter)).collect()
    }

    /// Merges an annex into an object (a null option value removes the option) and returns the object.
    pub fn update_annex(
        &mut self,
        t: ObjectType,
        dbid: i64,
        patch: &BTreeMap<String, BTreeMap<String, Option<String>>>,
    ) -> Result<CfgObject, DbError> {
        let not_found = || DbError::NotFound {
            object_type: t,
            dbid,
        };
        let annex = match t {
            ObjectType::CfgTenant => self
                .tenants
                .iter_mut()
                .find(|o| o.dbid == dbid)
                .map(|o| &mut o.annex),
            ObjectType::CfgAgentGroup => self
                .agent_groups
                .iter_mut()
                .find(|o| o.dbid == dbid)
                .map(|o| &mut o.annex),
            ObjectType::CfgPerson => self
                .persons
                .iter_mut()
                .find(|o| o.dbid == dbid)
                .map(|o| &mut o.annex),
            ObjectType::CfgDN => self
                .dns
                .iter_mut()
                .find(|o| o.dbid == dbid)
                .map(|o| &mut o.annex),
        }
        .ok_or_else(not_found)?;
        for (section, options) in patch {
            let sec = annex.entry(section.clone()).or_default();
            for (k, v) in options {
                match v {
                    Some(v) => {
                        sec.insert(k.clone(), v.clone());
                    }
                    None => {
                        sec.remove(k);
                    }
                }
            }
            if sec.is_empty() {
                annex.remove(section);
            }
        }
        self.objects(t)
            .into_iter()
            .find(|o| o.dbid == dbid)
            .ok_or_else(not_found)
    }
}

fn tenant_obj(t: &Tenant) -> CfgObject {
    CfgObject {
        dbid: t.dbid,
        name: t.name.clone(),
        annex: t.annex.clone(),
        ..Default::default()
    }
}

fn group_obj(g: &AgentGroup) -> CfgObject {
    CfgObject {
        dbid: g.dbid,
        name: g.name.clone(),
        annex: g.annex.clone(),
        tenant_dbid: Some(g.tenant_dbid),
        ..Default::default()
    }
}

fn person_obj(p: &Person) -> CfgObject {
    CfgObject {
        dbid: p.dbid,
        name: p.name.clone(),
        annex: p.annex.clone(),
        user_name: Some(p.username.clone()),
        employee_id: Some(p.employee_id.clone()),
        agent_logins: Some(p.agent_logins.clone()),
        tenant_dbid: Some(p.tenant_dbid),
        agent_group_dbids: Some(p.agent_group_dbids.clone()),
        dn: p.dn.clone(),
        number: None,
    }
}

fn dn_obj(d: &Dn) -> CfgObject {
    CfgObject {
        dbid: d.dbid,
        name: d.number.clone(),
        annex: d.annex.clone(),
        tenant_dbid: Some(d.tenant_dbid),
        number: Some(d.number.clone()),
        ..Default::default()
    }
}

impl ConfigDb {
    /// The group whose switch holds the DN `number` (1 unless the DN says otherwise); `None` for a
    /// DN the database does not list, which every group serves.
    pub fn dn_group(&self, number: &str) -> Option<u32> {
        self.dns
            .iter()
            .find(|d| d.number == number)
            .map(|d| d.group.unwrap_or(1))
    }
}

/// True when every filter attribute equals the object's wire attribute.
/// A number and its decimal string are treated as equal, because clients often send DBIDs as strings.
pub fn matches(obj: &CfgObject, filter: &BTreeMap<String, serde_json::Value>) -> bool {
    if filter.is_empty() {
        return true;
    }
    let v = serde_json::to_value(obj).unwrap_or_default();
    filter.iter().all(|(k, want)| match v.get(k) {
        Some(have) => values_equal(have, want),
        None => false,
    })
}

/// Whether a filter value equals a scalar attribute written as text (numbers compared as text, as
/// [`values_equal`] does); a filter value of another shape is left to [`matches`].
fn scalar_is(want: &serde_json::Value, have: &str) -> bool {
    match want {
        serde_json::Value::String(s) => s == have,
        serde_json::Value::Number(n) => n.to_string() == have,
        _ => true,
    }
}

fn values_equal(have: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value::{Number, String as S};
    match (have, want) {
        (Number(n), S(s)) | (S(s), Number(n)) => n.to_string() == *s,
        _ => have == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> ConfigDb {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config/default.yaml");
        ConfigDb::load(&path).unwrap()
    }

    #[test]
    fn fixture_loads_and_filters() {
        let db = db();
        let mut f = BTreeMap::new();
        f.insert("UserName".to_string(), serde_json::json!("agent1002"));
        let p = db.read(ObjectType::CfgPerson, &f);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].agent_group_dbids, Some(vec![102, 101]));
        f.clear();
        f.insert("DBID".to_string(), serde_json::json!(101));
        assert_eq!(db.read(ObjectType::CfgAgentGroup, &f)[0].name, "Sales");
        assert_eq!(
            db.read(ObjectType::CfgTenant, &BTreeMap::new()).len(),
            db.tenants.len()
        );
        f.insert("Name".to_string(), serde_json::json!("Support"));
        assert!(db.read(ObjectType::CfgAgentGroup, &f).is_empty());
    }

    #[test]
    fn every_fixture_loads_and_unknown_keys_are_errors() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/config");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "yaml") {
                let db = ConfigDb::load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert!(!db.persons.is_empty());
                n += 1;
            }
        }
        assert!(n >= 2);
        let e = ConfigDb::parse("tenants: [{dbid: 1, name: x, colour: red}]").unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let d = db();
        let fixed: Vec<_> = d
            .persons
            .iter()
            .take(4)
            .map(|p| (p.dbid, p.username.as_str()))
            .collect();
        assert_eq!(
            fixed,
            [
                (1001, "agent1001"),
                (1002, "agent1002"),
                (1003, "agent1003"),
                (1004, "agent1004")
            ]
        );
    }

    #[test]
    fn annex_update_merges_and_removes() {
        let mut db = db();
        let mut patch = BTreeMap::new();
        let mut opts = BTreeMap::new();
        opts.insert("preferred-site".to_string(), Some("A".to_string()));
        patch.insert("business-continuity".to_string(), opts.clone());
        let o = db
            .update_annex(ObjectType::CfgPerson, 1001, &patch)
            .unwrap();
        assert_eq!(o.annex["business-continuity"]["preferred-site"], "A");
        opts.insert("preferred-site".to_string(), None);
        patch.insert("business-continuity".to_string(), opts);
        let o = db
            .update_annex(ObjectType::CfgPerson, 1001, &patch)
            .unwrap();
        assert!(!o.annex.contains_key("business-continuity"));
        assert!(db.update_annex(ObjectType::CfgPerson, 9, &patch).is_err());
    }
}
