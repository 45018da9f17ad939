//! Lenient reader of the configuration database fixture (only what references need).
//! Resolves the agent's preferred site hierarchically: Person > Agent Group > Tenant (BC-2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::vocab::Site;

/// Annex section and option holding the preferred site.
pub const PREFERRED_SECTION: &str = "business-continuity";
/// Annex option holding the preferred site.
pub const PREFERRED_OPTION: &str = "preferred-site";

type Annex = BTreeMap<String, BTreeMap<String, String>>;

/// A tenant.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Tenant {
    /// Database id.
    #[serde(default)]
    pub dbid: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Options.
    #[serde(default)]
    pub annex: Annex,
}

/// An agent group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AgentGroup {
    /// Database id.
    #[serde(default)]
    pub dbid: u64,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Owning tenant.
    #[serde(default)]
    pub tenant_dbid: u64,
    /// Options.
    #[serde(default)]
    pub annex: Annex,
}

/// A person (agent).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Person {
    /// Database id.
    #[serde(default)]
    pub dbid: u64,
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// Owning tenant.
    #[serde(default)]
    pub tenant_dbid: u64,
    /// Groups, in order.
    #[serde(default)]
    pub agent_group_dbids: Vec<u64>,
    /// The agent's DN number.
    #[serde(default)]
    pub dn: Option<serde_json::Value>,
    /// Options.
    #[serde(default)]
    pub annex: Annex,
}

/// The parts of the configuration database that suites refer to; unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigDb {
    /// Tenants.
    #[serde(default)]
    pub tenants: Vec<Tenant>,
    /// Agent groups.
    #[serde(default)]
    pub agent_groups: Vec<AgentGroup>,
    /// Persons.
    #[serde(default)]
    pub persons: Vec<Person>,
}

fn preferred(annex: &Annex) -> Option<Site> {
    let v = annex.get(PREFERRED_SECTION)?.get(PREFERRED_OPTION)?;
    match v.trim() {
        "A" | "a" => Some(Site::A),
        "B" | "b" => Some(Site::B),
        _ => None,
    }
}

impl ConfigDb {
    /// Parses the YAML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_saphyr::from_str(text).map_err(|e| {
            serde_saphyr::DefaultMessageFormatter
                .format_message(e.without_snippet())
                .into_owned()
        })
    }

    /// The person with this username.
    pub fn person(&self, username: &str) -> Option<&Person> {
        self.persons.iter().find(|p| p.username == username)
    }

    /// The person's tenant.
    pub fn tenant_of(&self, p: &Person) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.dbid == p.tenant_dbid)
    }

    /// The person's groups, in order.
    pub fn groups_of<'a>(&'a self, p: &'a Person) -> impl Iterator<Item = &'a AgentGroup> + 'a {
        p.agent_group_dbids
            .iter()
            .filter_map(|id| self.agent_groups.iter().find(|g| g.dbid == *id))
    }

    /// The effective preferred site: Person, else the first of its groups that has one,
    /// else its Tenant.
    pub fn preferred_site(&self, username: &str) -> Option<Site> {
        let p = self.person(username)?;
        preferred(&p.annex)
            .or_else(|| self.groups_of(p).find_map(|g| preferred(&g.annex)))
            .or_else(|| self.tenant_of(p).and_then(|t| preferred(&t.annex)))
    }
}

use serde_saphyr::MessageFormatter as _;

/// Finds `rel` next to `suite_dir`, else in the closest ancestor directory that has it.
pub fn resolve_path(suite_dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    if rel.starts_with("./") || rel.starts_with("../") {
        let c = suite_dir.join(p);
        return c.is_file().then_some(c);
    }
    // Absolute, so that the walk up reaches the repository root from a relative start.
    let suite_dir = suite_dir
        .canonicalize()
        .unwrap_or_else(|_| suite_dir.to_path_buf());
    suite_dir
        .ancestors()
        .take(32)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}
