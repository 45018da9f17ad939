//! The desktop's capability profile (`--profile FILE`): what it can do, and the timers it declares,
//! from which a stability check derives how long one reconnection may take.

use std::path::Path;
use std::time::Duration;

use bc_suite::{Capability, HumanDuration};

use super::load::{parse_capabilities, LoadError};
pub use crate::event::timers::{timers_line, DeclaredTimers};

/// A desktop profile as read from its file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// What the desktop can do.
    pub capabilities: Vec<Capability>,
    /// Its timers, when declared.
    pub timers: Option<DeclaredTimers>,
}

/// Reads a desktop profile: YAML or JSON with `capabilities: [stat_server, auto_answer]` and,
/// optionally, `timers: {keepalive_interval: 300ms, keepalive_timeout: 1s, ha_reconnect: 2s,
/// reconnect_delay: 0ms}`.
pub fn load_profile(path: &Path) -> Result<Profile, LoadError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        #[expect(
            dead_code,
            reason = "a profile may name its desktop; the harness does not read it"
        )]
        name: Option<String>,
        capabilities: Vec<String>,
        #[serde(default)]
        timers: Option<Timers>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Timers {
        keepalive_interval: HumanDuration,
        keepalive_timeout: HumanDuration,
        ha_reconnect: HumanDuration,
        #[serde(default)]
        reconnect_delay: Option<HumanDuration>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        LoadError::Capabilities(format!("cannot read profile {}: {e}", path.display()))
    })?;
    let f: File = serde_saphyr::from_str(&text)
        .map_err(|e| LoadError::Capabilities(format!("invalid profile {}: {e}", path.display())))?;
    Ok(Profile {
        capabilities: parse_capabilities(&f.capabilities.join(","))?,
        timers: f.timers.map(|t| DeclaredTimers {
            keepalive_interval: t.keepalive_interval.0,
            keepalive_timeout: t.keepalive_timeout.0,
            ha_reconnect: t.ha_reconnect.0,
            reconnect_delay: t.reconnect_delay.map_or(Duration::ZERO, |d| d.0),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Profile, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("desk.yaml");
        std::fs::write(&p, text).unwrap();
        load_profile(&p)
    }

    #[test]
    fn profile_files_declare_capabilities() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("desk.yaml");
        std::fs::write(
            &p,
            "name: my desktop\ncapabilities: [failback, stat_server]\n",
        )
        .unwrap();
        assert_eq!(
            load_profile(&p).unwrap().capabilities,
            vec![Capability::Failback, Capability::StatServer]
        );
        std::fs::write(&p, "capabilities: [teleport]\n").unwrap();
        assert!(load_profile(&p)
            .unwrap_err()
            .to_string()
            .contains("unknown capability `teleport`"));
        std::fs::write(&p, "caps: []\n").unwrap();
        assert!(load_profile(&p)
            .unwrap_err()
            .to_string()
            .contains("invalid profile"));
    }

    #[test]
    fn timers_are_optional_and_give_the_gap_grace() {
        let p = load("capabilities: [stat_server]\n").unwrap();
        assert_eq!(p.timers, None);
        let p = load(
            "capabilities: []\ntimers: {keepalive_interval: 300ms, keepalive_timeout: 1s, ha_reconnect: 2s}\n",
        )
        .unwrap();
        assert_eq!(p.timers.unwrap().gap_grace(), Duration::from_millis(3300));
    }

    #[test]
    fn an_unknown_timer_is_an_error() {
        let e = load("capabilities: []\ntimers: {keepalive_interval: 1s, keepalive_timeout: 1s, ha_reconnect: 1s, ping: 1s}\n")
            .unwrap_err();
        assert!(e.to_string().contains("ping"), "{e}");
    }
}
