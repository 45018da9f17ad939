//! The desktop's identity in every report: the program file its command resolves to, that file's
//! SHA-256, and the version the desktop reports (`PROGRAM --version`), not only its command line.

use serde::{Deserialize, Serialize};

/// Which desktop ran, as far as the harness can tell from outside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopIdentity {
    /// The program file the command's first word resolves to (through PATH when it has no `/`).
    pub program: String,
    /// SHA-256 of that file (hex), or `None` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The first line `PROGRAM --version` printed when it exited 0 within the time allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl DesktopIdentity {
    /// One line for the console and the page.
    pub fn describe(&self) -> String {
        format!(
            "{} sha256:{} version: {}",
            self.program,
            self.sha256.as_deref().unwrap_or("unreadable"),
            self.version.as_deref().unwrap_or("not reported")
        )
    }
}
