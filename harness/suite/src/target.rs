//! Compact path strings naming what a fault hits: `A`, `A/sip_server`, `B/stat_server/backup`,
//! `A/sip_server/g2/primary` (group 2's SIP Server). A server target always names a kind.

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
    /// One group of four SIP Servers (`gN`, 1-based; SIP Server only), or `None` for every group.
    pub group: Option<u32>,
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
    /// One group of four SIP Servers (`gN`; SIP Server only), or `None` for every group.
    pub group: Option<u32>,
    /// One member of the pair (only with a server kind), or `None` for both.
    pub role: Option<Role>,
}

impl ServerTarget<SiteRef> {
    /// Resolves symbolic sites.
    pub fn resolve(self, preferred: Site) -> ServerTarget<Site> {
        ServerTarget {
            site: self.site.resolve(preferred),
            server: self.server,
            group: self.group,
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
            group: self.group,
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

/// `g2` -> 2: a group of four SIP Servers, numbered from 1.
fn parse_group(s: &str) -> Option<u32> {
    s.strip_prefix('g')
        .filter(|n| !n.starts_with('0') && n.chars().all(|c| c.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// The segments after the kind: `[gN][/ROLE]`.
fn parse_group_role(rest: &[&str], whole: &str) -> Result<(Option<u32>, Option<Role>), String> {
    match rest {
        [] => Ok((None, None)),
        [one] => match parse_group(one) {
            Some(g) => Ok((Some(g), None)),
            None => Ok((None, Some(parse_role(one)?))),
        },
        [g, r] => match parse_group(g) {
            Some(g) => Ok((Some(g), Some(parse_role(r)?))),
            None => Err(format!(
                "invalid `{whole}`: after the kind comes a group (`g1`, `g2`, ...) then a role"
            )),
        },
        _ => Err(format!("invalid `{whole}`: too many segments")),
    }
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
        if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid link `{s}`: write `SITE`, `SITE/KIND`, `SITE/KIND/ROLE` or `SITE/sip_server/gN[/ROLE]`, e.g. `A/sip_server`"
            ));
        }
        let (group, role) = parse_group_role(parts.get(2..).unwrap_or_default(), s)?;
        Ok(LinkTarget {
            site: parse_site(parts[0])?,
            server: parts.get(1).map(|k| parse_kind(k)).transpose()?,
            group,
            role,
        })
    }
}

impl std::str::FromStr for ServerTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        if !(2..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid server `{s}`: write `SITE/KIND`, `SITE/KIND/ROLE` or `SITE/sip_server/gN[/ROLE]`, e.g. `A/sip_server/primary`"
            ));
        }
        let (group, role) = parse_group_role(&parts[2..], s)?;
        Ok(ServerTarget {
            site: parse_site(parts[0])?,
            server: parse_kind(parts[1])?,
            group,
            role,
        })
    }
}

impl<S: fmt::Display> fmt::Display for ServerTarget<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.site, self.server)?;
        if let Some(g) = self.group {
            write!(f, "/g{g}")?;
        }
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
        if let Some(g) = self.group {
            write!(f, "/g{g}")?;
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
    "Links from the desktop: `SITE`, `SITE/KIND`, `SITE/KIND/ROLE` or `SITE/sip_server/gN[/ROLE]` (SITE: A, B, preferred, other; gN: one group of four SIP Servers).",
    "^(A|B|preferred|other)(/(sip_server|config_server|stat_server)(/g[1-9][0-9]*)?(/(primary|backup))?)?$"
);
string_serde!(
    ServerTarget,
    "ServerTarget",
    "A server: `SITE/KIND`, `SITE/KIND/ROLE` or `SITE/sip_server/gN[/ROLE]` (SITE: A, B, preferred, other; gN: one group of four SIP Servers).",
    "^(A|B|preferred|other)/(sip_server|config_server|stat_server)(/g[1-9][0-9]*)?(/(primary|backup))?$"
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
            "A/sip_server/g2",
            "B/sip_server/g1/backup",
        ] {
            let l: LinkTarget = s.parse().unwrap();
            assert_eq!(l.to_string(), s);
        }
        let t: ServerTarget = "other/sip_server/primary".parse().unwrap();
        assert_eq!(t.site, SiteRef::Other);
        assert_eq!(t.role, Some(Role::Primary));
        assert_eq!(t.resolve(Site::B).site, Site::A);
        let g: ServerTarget = "A/sip_server/g2/primary".parse().unwrap();
        assert_eq!((g.group, g.role), (Some(2), Some(Role::Primary)));
        assert_eq!(g.to_string(), "A/sip_server/g2/primary");
        assert_eq!(g.resolve(Site::B).group, Some(2));
    }

    #[test]
    fn bad_paths_explain_themselves() {
        assert!("A"
            .parse::<ServerTarget>()
            .unwrap_err()
            .contains("SITE/KIND"));
        assert!("A//x".parse::<LinkTarget>().is_err());
        assert!("A/b/c/d".parse::<LinkTarget>().is_err());
        assert!("A/sip_server/primary/g2".parse::<ServerTarget>().is_err());
        assert!("A/sip_server/g0".parse::<ServerTarget>().is_err());
        assert!("A/sip_server/g1/primary/x".parse::<LinkTarget>().is_err());
        let e = "C/sip_server".parse::<LinkTarget>().unwrap_err();
        assert!(e.starts_with("unknown site `C`"), "{e}");
        let e = "A/stat_servr".parse::<LinkTarget>().unwrap_err();
        assert!(e.ends_with("; did you mean `stat_server`?"), "{e}");
    }
}
