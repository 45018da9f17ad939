//! Human-readable durations (`60s`, `200ms`, `1m 30s`) used for budgets, waits and deadlines.
//! Parsed with humantime so suites read like prose and serialize back to the same text form.

use std::fmt;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as text: a number and a unit (`ms`, `s`, `m`, `h`), parts may be combined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Builds from whole milliseconds.
    pub fn from_millis(ms: u64) -> Self {
        HumanDuration(Duration::from_millis(ms))
    }
    /// Builds from whole seconds.
    pub fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
    /// The std duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        HumanDuration(d)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
            return Err(format!(
                "duration `{t}` has no unit: write `{t}s` or `{t}ms`"
            ));
        }
        humantime::parse_duration(t)
            .map(HumanDuration)
            .map_err(|e| {
                format!("invalid duration `{t}`: {e} (examples: `60s`, `200ms`, `1m 30s`)")
            })
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `60s`, `200ms` or `1m 30s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "duration `{v}` has no unit: write `{v}s` or `{v}ms`"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "duration `{v}` has no unit: write `{v}s` or `{v}ms`"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "duration `{v}` has no unit: write `{v}s` or `{v}ms`"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        json_schema!({
            "type": "string",
            "description": "A duration: number + unit (ms, s, m, h), parts may be combined: `60s`, `200ms`, `1m 30s`.",
            "pattern": "^\\s*([0-9]+\\s*(ns|us|ms|s|sec|secs|m|min|mins|h|hr|hrs)\\s*)+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        for (text, ms) in [
            ("60s", 60_000),
            ("200ms", 200),
            ("1m 30s", 90_000),
            ("2h", 7_200_000),
        ] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d, HumanDuration::from_millis(ms));
            assert_eq!(d.to_string().parse::<HumanDuration>().unwrap(), d);
        }
        assert!("5"
            .parse::<HumanDuration>()
            .unwrap_err()
            .contains("no unit"));
        assert!("soon".parse::<HumanDuration>().is_err());
    }
}
