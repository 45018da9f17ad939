//! A server kind's declared capacity (a suite's `topology.capacity`) as the mocks take it: their
//! command-line limits at every start and restart, and the limits an overload's heal goes back to.
//! Why at start: a site killed and restarted must come back with the same ceiling.

use bc_protocol::ServerKind;

/// The limits of every instance of one server kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub server: ServerKind,
    pub max_clients: Option<u64>,
    pub login_rate: Option<f64>,
    pub login_burst: Option<f64>,
    pub retry_after_ms: Option<u64>,
    /// Past a limit the connection is closed at once (else `EventError 429`).
    pub refuse: bool,
}

impl Capacity {
    /// The mock's arguments (docs/control.md "Capacity").
    pub fn mock_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut arg = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                args.extend([flag.to_string(), v]);
            }
        };
        arg("--max-clients", self.max_clients.map(|v| v.to_string()));
        arg("--login-rate", self.login_rate.map(|v| v.to_string()));
        arg("--login-burst", self.login_burst.map(|v| v.to_string()));
        arg(
            "--overload-retry-ms",
            self.retry_after_ms.map(|v| v.to_string()),
        );
        if self.refuse {
            args.extend(["--overload-answer".into(), "refuse".into()]);
        }
        args
    }

    /// The limits as `POST /capacity` takes them.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "max_clients": self.max_clients,
            "login_rate": self.login_rate,
            "login_burst": self.login_burst,
            "retry_after_ms": self.retry_after_ms,
            "answer": if self.refuse { "refuse" } else { "error" },
        })
    }
}

/// The mock arguments of an instance of `kind` under `declared` (none when its kind is unlimited).
pub fn mock_args(declared: &[Capacity], kind: ServerKind) -> Vec<String> {
    declared
        .iter()
        .find(|c| c.server == kind)
        .map(Capacity::mock_args)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_declared_limits_become_arguments() {
        let c = Capacity {
            server: ServerKind::SipServer,
            max_clients: None,
            login_rate: Some(500.0),
            login_burst: None,
            retry_after_ms: Some(250),
            refuse: false,
        };
        assert_eq!(
            mock_args(std::slice::from_ref(&c), ServerKind::SipServer),
            ["--login-rate", "500", "--overload-retry-ms", "250"]
        );
        assert!(mock_args(std::slice::from_ref(&c), ServerKind::ConfigServer).is_empty());
        assert_eq!(c.json()["login_rate"], 500.0);
        assert_eq!(c.json()["answer"], "error");
    }
}
