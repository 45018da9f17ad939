//! Errors of the Docker runtime.
//! Each names the container, image or step that failed so a user can act on it.

use std::path::PathBuf;

/// Anything that can go wrong while building images or running containers.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("no docker engine answers: {0}")]
    Unavailable(String),
    #[error("docker engine request failed ({context}): {source}")]
    Api {
        context: String,
        #[source]
        source: testcontainers::bollard::errors::Error,
    },
    #[error("building static binaries failed: {0}")]
    Cargo(String),
    #[error("binary {path} is not statically linked (it has an ELF interpreter); a FROM scratch image cannot run it")]
    NotStatic { path: PathBuf },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("image build of {tag} failed: {message}")]
    Build { tag: String, message: String },
    #[error("image {image} is not on this engine and pulling it failed: {message}\nhint: on a machine without registry access, `docker load` the image first, or drop --toxiproxy-image to use ours")]
    Pull { image: String, message: String },
    #[error("container {name} did not become ready within {timeout_ms} ms: {detail}")]
    NotReady {
        name: String,
        timeout_ms: u128,
        detail: String,
    },
    #[error(
        "container {name} exited before it was ready (exit code {code:?}); last output: {output}"
    )]
    Exited {
        name: String,
        code: Option<i64>,
        output: String,
    },
    #[error("invalid topology: {0}")]
    Topology(String),
}

impl DockerError {
    /// Wraps an engine error with what was being done.
    pub fn api(
        context: impl Into<String>,
    ) -> impl FnOnce(testcontainers::bollard::errors::Error) -> DockerError {
        let context = context.into();
        move |source| DockerError::Api { context, source }
    }
}
