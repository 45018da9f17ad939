//! Errors of the environment: topology, runtime, processes, control and fault-proxy calls.
//! Messages are lowercase and say what was attempted and why it failed.

use std::path::PathBuf;

/// Anything that can go wrong while starting, driving or stopping an environment.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("cannot read configuration database {path}: {reason}")]
    ConfigDb { path: PathBuf, reason: String },
    #[error("invalid topology: {0}")]
    Topology(String),
    #[error("unknown agent `{0}` in the configuration database")]
    UnknownAgent(String),
    #[error("unknown instance `{0}`")]
    UnknownInstance(String),
    #[error("the fault-proxy image {0} needs the docker runtime\nhint: add --runtime docker, or drop --toxiproxy-image")]
    ProxyImageNeedsDocker(String),
    #[error("SIP on the wire (phones) needs the local runtime; the {0} runtime has no SIP links\nhint: add --runtime local, or drop --phone")]
    SipNeedsLocal(String),
    #[error("the {0} runtime is not yet supported (use the local runtime)")]
    Unsupported(String),
    #[error("binary `{name}` not found (looked in {looked_in}); build it with `cargo build -p {package} --bins` or set BC_BIN_DIR")]
    BinaryNotFound {
        name: String,
        package: String,
        looked_in: String,
    },
    #[error("cannot spawn {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} was not ready within {timeout_ms} ms{detail}")]
    NotReady {
        what: String,
        timeout_ms: u64,
        detail: String,
    },
    #[error("{what} exited before it was ready ({status}){detail}")]
    EarlyExit {
        what: String,
        status: String,
        detail: String,
    },
    #[error("{what} is not running")]
    NotRunning { what: String },
    #[error("cannot send {signal} to {what}: {reason}")]
    Signal {
        what: String,
        signal: &'static str,
        reason: String,
    },
    #[error("control call `{call}` on {instance} failed: {reason}")]
    Control {
        instance: String,
        call: String,
        /// The HTTP status of an answer that was not a success (none: no answer, or a bad one).
        status: Option<u16>,
        reason: String,
    },
    #[error("fault proxy call `{call}` failed: {reason}")]
    Proxy { call: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid desktop command: {0}")]
    DesktopCommand(String),
    #[error("the environment is shut down")]
    ShutDown,
}
