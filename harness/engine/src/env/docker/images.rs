//! Images without a registry: static release builds of bc-mock and bc-toxiproxy put in FROM scratch images.
//! Each image is tagged with a hash of its binary, so a changed binary always gets a new image.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use testcontainers::bollard::query_parameters::CreateImageOptionsBuilder;
use testcontainers::bollard::Docker;
use testcontainers::runners::AsyncBuilder;
use testcontainers::{BuildableImage, GenericBuildableImage};

use super::error::DockerError;
use super::labels::OWNED;

/// The target triple named explicitly so that `+crt-static` applies to the binaries only, not build scripts.
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";
/// Repository part of the mock servers' image name.
pub const MOCK_REPO: &str = "bc-harness/mock";
/// Repository part of the mock image with a configuration database baked in.
pub const MOCK_CONFIG_REPO: &str = "bc-harness/mock-config";
/// Repository part of the fault proxy's image name.
pub const PROXY_REPO: &str = "bc-harness/toxiproxy";

/// Seconds a pull of a user-named image may take before the run gives up.
const PULL_TIMEOUT_SECS: u64 = 300;

/// The two images an environment runs, by full `repo:tag` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pub mock: String,
    pub proxy: String,
    /// How the proxy image is started and when it counts as ready.
    pub proxy_kind: ProxyKind,
}

/// Which fault proxy the proxy image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// Ours (`bc-toxiproxy`): GNU-style flags, ready when it prints its listening line.
    Ours,
    /// A Toxiproxy image such as `ghcr.io/shopify/toxiproxy`: its entrypoint is toxiproxy-server (Go-style
    /// flags); ready when `GET /version` answers.
    Toxiproxy,
}

impl ImageSet {
    /// The same mock image with a Toxiproxy image as the fault proxy (see [`ensure_present`]).
    pub fn with_toxiproxy_image(mut self, image: impl Into<String>) -> ImageSet {
        self.proxy = image.into();
        self.proxy_kind = ProxyKind::Toxiproxy;
        self
    }
}

/// Where the binaries come from.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Workspace root (holds the root Cargo.toml).
    pub workspace: PathBuf,
    /// Cargo target dir for the static build, kept apart so debug builds are not invalidated.
    pub target_dir: PathBuf,
    /// Use these already-built static binaries (a dir holding bc-mock and bc-toxiproxy) instead of cargo.
    pub prebuilt_dir: Option<PathBuf>,
    /// Let cargo's progress through to our stderr (for `bc-harness images build`); errors then say "see above".
    pub show_cargo_output: bool,
}

impl Default for BuildOptions {
    /// The workspace this crate was compiled in (or `BC_WORKSPACE`), target dir `target/static`,
    /// prebuilt binaries from `BC_STATIC_BIN_DIR` when set.
    fn default() -> Self {
        let workspace = std::env::var_os("BC_WORKSPACE")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
        let target_dir = workspace.join("target/static");
        BuildOptions {
            workspace,
            target_dir,
            prebuilt_dir: std::env::var_os("BC_STATIC_BIN_DIR").map(PathBuf::from),
            show_cargo_output: false,
        }
    }
}

/// Builds (or reuses) both images: static binaries first, then one FROM scratch image per binary.
pub async fn build(docker: &Docker, options: &BuildOptions) -> Result<ImageSet, DockerError> {
    let dir = static_binary_dir(options).await?;
    let mock = ensure_image(docker, MOCK_REPO, &dir.join("bc-mock")).await?;
    let proxy = ensure_image(docker, PROXY_REPO, &dir.join("bc-toxiproxy")).await?;
    Ok(ImageSet {
        mock,
        proxy,
        proxy_kind: ProxyKind::Ours,
    })
}

/// Makes sure a user-named image (e.g. `--toxiproxy-image`) is on the engine: present, or pulled (bounded).
pub async fn ensure_present(docker: &Docker, image: &str) -> Result<(), DockerError> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let pull_error = |message: String| DockerError::Pull {
        image: image.to_string(),
        message,
    };
    let options = CreateImageOptionsBuilder::default()
        .from_image(image)
        .build();
    let pull = async {
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| pull_error(e.to_string()))?;
            if let Some(detail) = info.error_detail {
                return Err(pull_error(
                    detail.message.unwrap_or_else(|| "unknown error".into()),
                ));
            }
        }
        Ok(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(PULL_TIMEOUT_SECS), pull)
        .await
        .map_err(|_| pull_error(format!("no result within {PULL_TIMEOUT_SECS} s")))??;
    docker
        .inspect_image(image)
        .await
        .map_err(|e| pull_error(format!("pulled, yet not found: {e}")))?;
    Ok(())
}

/// The directory holding static bc-mock and bc-toxiproxy: the prebuilt one, else after a static build.
pub async fn static_binary_dir(options: &BuildOptions) -> Result<PathBuf, DockerError> {
    match &options.prebuilt_dir {
        Some(dir) => Ok(dir.clone()),
        None => build_static_binaries(options).await,
    }
}

/// Runs the static release build of bc-mock and bc-toxiproxy; returns the directory holding both binaries.
pub async fn build_static_binaries(options: &BuildOptions) -> Result<PathBuf, DockerError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = tokio::process::Command::new(cargo)
        .current_dir(&options.workspace)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--release",
            "--target",
            STATIC_TARGET,
            "--target-dir",
        ])
        .arg(&options.target_dir)
        .args(["-p", "bc-mock", "-p", "bc-toxiproxy", "--bins"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if options.show_cargo_output {
            Stdio::inherit()
        } else {
            Stdio::piped()
        })
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| DockerError::Cargo(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let detail = if options.show_cargo_output {
            "see cargo's output above".to_string()
        } else {
            tail.join("\n")
        };
        return Err(DockerError::Cargo(format!(
            "cargo exited with {}:\n{detail}",
            output.status
        )));
    }
    Ok(options.target_dir.join(STATIC_TARGET).join("release"))
}

/// The mock image with a configuration database file baked in at `path`, tagged by a hash of both, so
/// containers need no file copied in at create (a copy into a container costs a rootfs mount each time).
pub async fn with_config(
    docker: &Docker,
    mock_image: &str,
    path: &str,
    yaml: &[u8],
) -> Result<String, DockerError> {
    let mut keyed = mock_image.as_bytes().to_vec();
    keyed.extend_from_slice(path.as_bytes());
    keyed.extend_from_slice(yaml);
    let image = GenericBuildableImage::new(MOCK_CONFIG_REPO, content_tag(&keyed))
        .with_dockerfile_string(format!("FROM {mock_image}\nCOPY config.yaml {path}\n"))
        .with_data(yaml.to_vec(), "config.yaml");
    build_once(docker, image).await
}

/// Makes sure an image `repo:<hash of binary>` exists, building it FROM scratch when it does not.
pub async fn ensure_image(
    docker: &Docker,
    repo: &str,
    binary: &Path,
) -> Result<String, DockerError> {
    let bytes = std::fs::read(binary).map_err(|source| DockerError::Io {
        path: binary.to_path_buf(),
        source,
    })?;
    if has_interpreter(&bytes) {
        return Err(DockerError::NotStatic {
            path: binary.to_path_buf(),
        });
    }
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("app")
        .to_string();
    // with_file copies the file with its mode, so the binary stays executable in the image.
    let image = GenericBuildableImage::new(repo, content_tag(&bytes))
        .with_dockerfile_string(scratch_dockerfile(&name, &format!("/{name}"), &[]))
        .with_file(binary, name);
    build_once(docker, image).await
}

/// A FROM scratch Dockerfile: the file `name` of the context at `path`, its entrypoint, default arguments,
/// and the owner label (so `bc-harness clean --images` finds the image).
pub fn scratch_dockerfile(name: &str, path: &str, cmd: &[&str]) -> String {
    let mut dockerfile =
        format!("FROM scratch\nCOPY {name} {path}\nLABEL {OWNED}=true\nENTRYPOINT [\"{path}\"]\n");
    if !cmd.is_empty() {
        let args: Vec<String> = cmd.iter().map(|a| format!("{a:?}")).collect();
        dockerfile.push_str(&format!("CMD [{}]\n", args.join(", ")));
    }
    dockerfile
}

/// Returns the image's `repo:tag`, building it with testcontainers (BuildKit) only when the engine lacks
/// it (tags are content hashes, so an existing tag is the same image); checks the tag exists afterwards.
pub async fn build_once(
    docker: &Docker,
    image: GenericBuildableImage,
) -> Result<String, DockerError> {
    let tag = image.descriptor();
    if docker.inspect_image(&tag).await.is_ok() {
        return Ok(tag);
    }
    // The returned GenericImage only names the tag; containers are made by `container/mod.rs`.
    let _built = image.build_image().await.map_err(|e| DockerError::Build {
        tag: tag.clone(),
        message: e.to_string(),
    })?;
    docker
        .inspect_image(&tag)
        .await
        .map_err(DockerError::api(format!("inspecting built image {tag}")))?;
    Ok(tag)
}

/// First 16 hex digits of the binary's SHA-256.
pub fn content_tag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// True when an ELF64 file asks for a dynamic loader (PT_INTERP), i.e. it could not run in an empty image.
/// Non-ELF input counts as "has an interpreter" so it is refused as well.
pub fn has_interpreter(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return true;
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff.saturating_add(i * phentsize);
        bytes
            .get(at..at + 4)
            .map(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) == PT_INTERP)
            .unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binaries_and_junk_are_refused() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(has_interpreter(&me), "test binaries are dynamically linked");
        assert!(has_interpreter(b"#!/bin/sh\necho hi\n"));
        assert!(has_interpreter(&[]));
    }

    #[test]
    fn tag_depends_on_content() {
        assert_eq!(content_tag(b"a").len(), 16);
        assert_ne!(content_tag(b"a"), content_tag(b"b"));
        assert_eq!(content_tag(b"a"), content_tag(b"a"));
    }
}
