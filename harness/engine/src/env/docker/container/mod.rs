//! One container of an environment: create (with files copied in), inspect, the faults, remove.
//! kill = SIGKILL, stop = SIGTERM then SIGKILL after a grace, freeze = pause, restore = unpause or start again.

mod output;
mod readiness;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testcontainers::bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};
use testcontainers::bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;

use super::error::DockerError;
pub use readiness::{Readiness, Started};

/// How long `kill`/`stop`/`pause` wait for the engine to report the new state.
const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to create one container.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Container name; also its DNS name on the network.
    pub name: String,
    pub image: String,
    /// Arguments after the image's entrypoint.
    pub args: Vec<String>,
    pub labels: HashMap<String, String>,
    pub network: String,
    /// Container ports published on 127.0.0.1; the engine picks the host ports at each start (binding
    /// them itself, so no other process can take them in between), see [`Container::host_port`].
    pub publish: Vec<u16>,
    /// Files copied into the container before its first start: (absolute path, contents).
    pub files: Vec<(String, Vec<u8>)>,
    pub readiness: Readiness,
    pub ready_timeout: Duration,
}

/// Engine-reported state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Running,
    Paused,
    /// Created or exited: not running.
    Stopped,
}

/// A created container owned by an environment.
#[derive(Debug, Clone)]
pub struct Container {
    docker: Docker,
    spec: ContainerSpec,
    id: String,
    /// Container port -> host port, as of the last start.
    ports: Arc<Mutex<HashMap<u16, u16>>>,
    /// Host pid of the container's process, as of the last start.
    pid: Arc<Mutex<Option<u32>>>,
    /// Recent output (stdout and stderr) of every incarnation, bounded.
    log: Arc<Mutex<String>>,
}

impl Container {
    /// Creates the container and copies its files in; on any failure the half-made container is removed.
    pub async fn create(docker: &Docker, spec: ContainerSpec) -> Result<Container, DockerError> {
        let mut bindings = HashMap::new();
        for p in &spec.publish {
            bindings.insert(
                format!("{p}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    // Empty: the engine picks a free port when the container starts.
                    host_port: Some(String::new()),
                }]),
            );
        }
        let mut endpoints = HashMap::new();
        endpoints.insert(spec.network.clone(), EndpointSettings::default());
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.args.clone()),
            labels: Some(spec.labels.clone()),
            exposed_ports: Some(spec.publish.iter().map(|p| format!("{p}/tcp")).collect()),
            host_config: Some(HostConfig {
                network_mode: Some(spec.network.clone()),
                port_bindings: Some(bindings),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(endpoints),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created =
            docker
                .create_container(Some(options), body)
                .await
                .map_err(DockerError::api(format!(
                    "creating container {}",
                    spec.name
                )))?;
        let container = Container {
            docker: docker.clone(),
            spec,
            id: created.id,
            ports: Arc::default(),
            pid: Arc::default(),
            log: Arc::default(),
        };
        if let Err(e) = container.upload_files().await {
            container.remove().await;
            return Err(e);
        }
        Ok(container)
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn spec(&self) -> &ContainerSpec {
        &self.spec
    }

    /// The 127.0.0.1 port a container port was published on at the last start (kept while stopped).
    pub fn host_port(&self, container_port: u16) -> Option<u16> {
        self.ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&container_port)
            .copied()
    }

    /// The last `lines` lines the container wrote (stdout and stderr, all incarnations), for diagnostics.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Host pid of the process of the last start (informational: faults go through the engine).
    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the host ports the engine bound at this start, and the process's pid.
    pub(super) async fn refresh_ports(&self) -> Result<(), DockerError> {
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(DockerError::api(format!("inspecting {}", self.spec.name)))?;
        let pid = inspect
            .state
            .as_ref()
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p != 0);
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = pid;
        let bound = inspect
            .network_settings
            .and_then(|n| n.ports)
            .unwrap_or_default();
        let mut ports = HashMap::new();
        for (key, bindings) in bound {
            let Some(container_port) = key.strip_suffix("/tcp").and_then(|p| p.parse().ok()) else {
                continue;
            };
            let host = bindings
                .unwrap_or_default()
                .iter()
                .find_map(|b| b.host_port.as_deref().and_then(|p| p.parse::<u16>().ok()));
            if let Some(host) = host {
                ports.insert(container_port, host);
            }
        }
        if let Some(missing) = self.spec.publish.iter().find(|p| !ports.contains_key(*p)) {
            return Err(DockerError::NotReady {
                name: self.spec.name.clone(),
                timeout_ms: 0,
                detail: format!("the engine reports no host port for container port {missing}"),
            });
        }
        *self.ports.lock().unwrap_or_else(|e| e.into_inner()) = ports;
        Ok(())
    }

    async fn upload_files(&self) -> Result<(), DockerError> {
        if self.spec.files.is_empty() {
            return Ok(());
        }
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in &self.spec.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder
                .append_data(&mut header, path.trim_start_matches('/'), data.as_slice())
                .map_err(|source| DockerError::Io {
                    path: path.into(),
                    source,
                })?;
        }
        let archive = builder.into_inner().map_err(|source| DockerError::Io {
            path: "archive".into(),
            source,
        })?;
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(
                &self.id,
                Some(options),
                testcontainers::bollard::body_full(archive.into()),
            )
            .await
            .map_err(DockerError::api(format!(
                "copying files into {}",
                self.spec.name
            )))
    }

    pub(super) async fn exit_code(&self) -> Option<i64> {
        let inspect = self.docker.inspect_container(&self.id, None).await.ok()?;
        inspect.state?.exit_code
    }

    /// Current state as the engine sees it.
    pub async fn state(&self) -> Result<RunState, DockerError> {
        let inspect = self
            .docker
            .inspect_container(&self.id, None)
            .await
            .map_err(DockerError::api(format!("inspecting {}", self.spec.name)))?;
        let state = inspect.state.unwrap_or_default();
        Ok(if state.paused == Some(true) {
            RunState::Paused
        } else if state.running == Some(true) {
            RunState::Running
        } else {
            RunState::Stopped
        })
    }

    /// Waits (bounded) until the engine reports `want`.
    async fn await_state(&self, want: RunState) -> Result<(), DockerError> {
        let deadline = Instant::now() + STATE_TIMEOUT;
        loop {
            let now = self.state().await?;
            if now == want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DockerError::NotReady {
                    name: self.spec.name.clone(),
                    timeout_ms: STATE_TIMEOUT.as_millis(),
                    detail: format!("state is {now:?}, expected {want:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The "killed" fault: SIGKILL, then wait until the container is down.
    pub async fn kill(&self) -> Result<(), DockerError> {
        let options = KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        self.docker
            .kill_container(&self.id, Some(options))
            .await
            .map_err(DockerError::api(format!("killing {}", self.spec.name)))?;
        self.await_state(RunState::Stopped).await
    }

    /// Graceful stop: SIGTERM, SIGKILL after `grace` (whole seconds, at least 1); returns once it is down,
    /// with whether the process exited by itself with status 0 (true) rather than being killed.
    pub async fn stop(&self, grace: Duration) -> Result<bool, DockerError> {
        let secs = grace.as_secs().clamp(1, 60) as i32;
        let options = StopContainerOptionsBuilder::default().t(secs).build();
        self.docker
            .stop_container(&self.id, Some(options))
            .await
            .map_err(DockerError::api(format!("stopping {}", self.spec.name)))?;
        self.await_state(RunState::Stopped).await?;
        Ok(self.exit_code().await == Some(0))
    }

    /// The "frozen" fault: every process of the container is suspended (cgroup freezer), sockets stay open.
    pub async fn pause(&self) -> Result<(), DockerError> {
        self.docker
            .pause_container(&self.id)
            .await
            .map_err(DockerError::api(format!("pausing {}", self.spec.name)))?;
        self.await_state(RunState::Paused).await
    }

    pub async fn unpause(&self) -> Result<(), DockerError> {
        self.docker
            .unpause_container(&self.id)
            .await
            .map_err(DockerError::api(format!("unpausing {}", self.spec.name)))?;
        self.await_state(RunState::Running).await
    }

    /// Heals kill/stop/pause: unpause a paused container, start (and wait for) a stopped one; no-op if running.
    /// Returns `Some` when the container was started again.
    pub async fn restore(&self) -> Result<Option<Started>, DockerError> {
        match self.state().await? {
            RunState::Running => Ok(None),
            RunState::Paused => self.unpause().await.map(|_| None),
            RunState::Stopped => self.start().await.map(Some),
        }
    }

    /// Removes the container (force: kills it if running); errors are ignored because removal is cleanup.
    pub async fn remove(&self) {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let _ = self.docker.remove_container(&self.id, Some(options)).await;
    }
}
