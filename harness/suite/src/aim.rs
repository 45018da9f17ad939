//! Faults aimed at some of a herd's agents (`share: 10%` or `agents: [herd0003]`), the two groups
//! an expectation may name afterwards (`hit`, `spared`), and the seeded choice of the agents.

use std::fmt;

use schemars::{json_schema, JsonSchema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// The username of a herd's generated agent `i` (0-based): `herd0001`, `herd0002`, ...
pub fn herd_username(i: usize) -> String {
    format!("herd{:04}", i + 1)
}

/// The 0-based index of a generated agent's username (`None`: not a herd agent's name).
pub fn herd_index(username: &str) -> Option<usize> {
    let digits = username.strip_prefix("herd")?;
    if digits.len() < 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<usize>().ok()?.checked_sub(1)
}

/// The group of four SIP Servers (1-based) whose switch holds generated agent `i`'s DN, out of
/// `groups`: dealt in turn (agent 1 to group 1, agent 2 to group 2, ...), so every desktop
/// process of a herd serves agents of every group.
pub fn herd_group(i: usize, groups: u32) -> u32 {
    (i % groups.max(1) as usize) as u32 + 1
}

/// A whole percent from 1 to 100, written `10%` (or a bare number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(pub u64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a percent such as `10%`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                let t = v.trim();
                t.strip_suffix('%')
                    .unwrap_or(t)
                    .trim()
                    .parse()
                    .map(Percent)
                    .map_err(|_| E::custom(format!("`{t}` is not a percent (e.g. `10%`)")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Ok(Percent(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                u64::try_from(v)
                    .map(Percent)
                    .map_err(|_| E::custom(format!("`{v}` is not a percent (e.g. `10%`)")))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Percent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Percent".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        json_schema!({
            "anyOf": [
                {"type": "string", "pattern": "^\\s*[0-9]+\\s*%?\\s*$"},
                {"type": "integer", "minimum": 0}
            ],
            "description": "A whole percent, 1 to 100: `10%` (or `10`)."
        })
    }
}

/// The agents an expectation is about in a herd with aimed faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentGroup {
    /// The agents some aimed fault of the scenario hit.
    Hit,
    /// The agents no aimed fault of the scenario hit.
    Spared,
}

impl AgentGroup {
    /// Spelling in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentGroup::Hit => "hit",
            AgentGroup::Spared => "spared",
        }
    }
}

/// Which agents of a herd a link fault reaches (the others' links are untouched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aim {
    /// This percent of the agents, chosen by the run's seed.
    Share(u64),
    /// These agents (0-based herd indices, ascending).
    Agents(Vec<usize>),
}

impl Aim {
    /// How many of `n` agents a share of `percent` is: rounded to the nearest, at least one.
    pub fn share_count(n: usize, percent: u64) -> usize {
        let k = (n as u64 * percent + 50) / 100;
        (k as usize).clamp(1, n.max(1))
    }

    /// The agents (0-based, ascending) of a herd of `n` this aim reaches, for `seed`: a share is
    /// a seeded partial Fisher-Yates draw, the same for the same seed on every machine.
    pub fn choose(&self, n: usize, seed: u64) -> Vec<usize> {
        match self {
            Aim::Agents(list) => list.iter().copied().filter(|i| *i < n).collect(),
            Aim::Share(p) => {
                let k = Aim::share_count(n, *p);
                let mut all: Vec<usize> = (0..n).collect();
                let mut state = seed;
                for i in 0..k.min(n) {
                    let j = i + (splitmix64(&mut state) % (n - i) as u64) as usize;
                    all.swap(i, j);
                }
                let mut chosen = all[..k.min(n)].to_vec();
                chosen.sort_unstable();
                chosen
            }
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_a_herd_is_exactly_its_rounded_count_and_follows_the_seed() {
        let ten = Aim::Share(10);
        let a = ten.choose(200, 7);
        assert_eq!(a.len(), 20);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|i| *i < 200));
        assert_eq!(a, ten.choose(200, 7), "the same seed, the same agents");
        assert_ne!(a, ten.choose(200, 8), "another seed, other agents");
        assert_eq!(Aim::share_count(40, 10), 4);
        assert_eq!(Aim::share_count(5, 1), 1, "at least one agent");
        assert_eq!(Aim::share_count(3, 50), 2, "rounded to the nearest");
        assert_eq!(Aim::Share(100).choose(12, 1), (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn herd_usernames_and_indices_round_trip() {
        assert_eq!(herd_username(0), "herd0001");
        assert_eq!(herd_index("herd0042"), Some(41));
        assert_eq!(herd_index(&herd_username(4999)), Some(4999));
        for bad in ["agent1001", "herd0000", "herd1", "herdx001", "herd"] {
            assert_eq!(herd_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn percents_read_with_or_without_the_sign() {
        for (text, p) in [("\"10%\"", 10), ("25", 25), ("\" 5 % \"", 5)] {
            let got: Percent = serde_json::from_str(text).unwrap();
            assert_eq!(got, Percent(p), "{text}");
        }
        assert!(serde_json::from_str::<Percent>("\"ten%\"").is_err());
    }
}
