//! Compact path strings naming what a fault hits: `A`, `A/sip_server`, `B/stat_server/backup`.
//! A server target always names a kind; a link target may stop at the site (all its links).

use std::fmt;

use schemars::{json_schema, JsonSchema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::suggest::did_you_mean;
use crate::vocab::{Role, ServerKind, Site, SiteRef};

/// A server kind at a site, optionally one member of its HA pair: `SITE/KIND[/ROLE]`.
/// Without a role the fault hits the member currently serving (the primary unless promoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerTarget<S = SiteRef> {
    /// The site.
    pub site: S,
    /// The server kind.
    pub server: ServerKind,
    /// One member of the HA pair, or `None` for the one currently serving.
    pub role: Option<Role>,
}

/// The links from the desktop to a site (`A`: every server kind there), or to one server kind
/// (`A/sip_server`: both members of the pair), or to one member (`A/sip_server/backup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkTarget<S = SiteRef> {
    /// The site.
    pub site: S,
    /// One server kind, or `None` for all of them.
    pub server: Option<ServerKind>,
    /// One member of the pair (only with a server kind), or `None` for both.
    pub role: Option<Role>,
}

impl ServerTarget<SiteRef> {
    /// Resolves symbolic sites.
    pub fn resolve(self, preferred: Site) -> ServerTarget<Site> {
        ServerTarget {
            site: self.site.resolve(preferred),
            server: self.server,
            role: self.role,
        }
    }
}

impl LinkTarget<SiteRef> {
    /// Resolves symbolic sites.
    pub fn resolve(self, preferred: Site) -> LinkTarget<Site> {
        LinkTarget {
            site: self.site.resolve(preferred),
            server: self.server,
            role: self.role,
        }
    }
}

fn parse_site(s: &str) -> Result<SiteRef, String> {
    SiteRef::parse(s).ok_or_else(|| {
        format!(
            "unknown site `{s}` (sites are `A`, `B`, `preferred`, `other`){}",
            did_you_mean(s, SiteRef::NAMES.iter().copied()).replacen(',', ";", 1)
        )
    })
}

fn parse_kind(s: &str) -> Result<ServerKind, String> {
    ServerKind::parse(s).ok_or_else(|| {
        format!(
            "unknown server kind `{s}` (kinds are `sip_server`, `config_server`, `stat_server`){}",
            did_you_mean(s, ServerKind::NAMES.iter().copied()).replacen(',', ";", 1)
        )
    })
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        format!(
            "unknown role `{s}` (roles are `primary`, `backup`){}",
            did_you_mean(s, Role::NAMES.iter().copied()).replacen(',', ";", 1)
        )
    })
}

impl std::str::FromStr for LinkTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid link `{s}`: write `SITE`, `SITE/KIND` or `SITE/KIND/ROLE`, e.g. `A/sip_server`"
            ));
        }
        Ok(LinkTarget {
            site: parse_site(parts[0])?,
            server: parts.get(1).map(|k| parse_kind(k)).transpose()?,
            role: parts.get(2).map(|r| parse_role(r)).transpose()?,
        })
    }
}

impl std::str::FromStr for ServerTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid server `{s}`: write `SITE/KIND` or `SITE/KIND/ROLE`, e.g. `A/sip_server/primary`"
            ));
        }
        Ok(ServerTarget {
            site: parse_site(parts[0])?,
            server: parse_kind(parts[1])?,
            role: parts.get(2).map(|r| parse_role(r)).transpose()?,
        })
    }
}

impl<S: fmt::Display> fmt::Display for ServerTarget<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.site, self.server)?;
        if let Some(r) = self.role {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

impl<S: fmt::Display> fmt::Display for LinkTarget<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.site)?;
        if let Some(k) = self.server {
            write!(f, "/{k}")?;
        }
        if let Some(r) = self.role {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

macro_rules! string_serde {
    ($t:ident, $name:literal, $desc:literal, $pattern:literal) => {
        impl<S: fmt::Display> Serialize for $t<S> {
            fn serialize<Z: Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t<SiteRef> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
        impl JsonSchema for $t<SiteRef> {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
                json_schema!({ "type": "string", "description": $desc, "pattern": $pattern })
            }
        }
    };
}

string_serde!(
    LinkTarget,
    "LinkTarget",
    "Links from the desktop: `SITE`, `SITE/KIND` or `SITE/KIND/ROLE` (SITE: A, B, preferred, other).",
    "^(A|B|preferred|other)(/(sip_server|config_server|stat_server)(/(primary|backup))?)?$"
);
string_serde!(
    ServerTarget,
    "ServerTarget",
    "A server: `SITE/KIND` or `SITE/KIND/ROLE` (SITE: A, B, preferred, other).",
    "^(A|B|preferred|other)/(sip_server|config_server|stat_server)(/(primary|backup))?$"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_print_back() {
        for s in [
            "A",
            "B/sip_server",
            "preferred/config_server/backup",
            "other/stat_server",
        ] {
            let l: LinkTarget = s.parse().unwrap();
            assert_eq!(l.to_string(), s);
        }
        let t: ServerTarget = "other/sip_server/primary".parse().unwrap();
        assert_eq!(t.site, SiteRef::Other);
        assert_eq!(t.role, Some(Role::Primary));
        assert_eq!(t.resolve(Site::B).site, Site::A);
    }

    #[test]
    fn bad_paths_explain_themselves() {
        assert!("A"
            .parse::<ServerTarget>()
            .unwrap_err()
            .contains("SITE/KIND"));
        assert!("A//x".parse::<LinkTarget>().is_err());
        assert!("A/b/c/d".parse::<LinkTarget>().is_err());
        let e = "C/sip_server".parse::<LinkTarget>().unwrap_err();
        assert!(e.starts_with("unknown site `C`"), "{e}");
        let e = "A/stat_servr".parse::<LinkTarget>().unwrap_err();
        assert!(e.ends_with("; did you mean `stat_server`?"), "{e}");
    }
}
