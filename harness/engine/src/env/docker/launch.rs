//! Bringing up one run's containers: sweep dead runs, create the labelled network, then create and start
//! the fault proxy and every mock concurrently until each is ready; on any failure the run is removed.

use std::time::{Duration, Instant};

use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;
use tokio::sync::oneshot;

use super::container::{Container, ContainerSpec, Readiness};
use super::error::DockerError;
use super::images::{self, ImageSet, ProxyKind};
use super::labels::{RunOwner, INSTANCE};
use super::layout::{
    container_name, mock_args, our_proxy_args, proxy_container_name, proxy_listen_port,
    toxiproxy_server_args, CONFIG_PATH, MOCK_CONTROL_PORT, MOCK_READY_PREFIX, PROXY_API_PORT,
    PROXY_INSTANCE, PROXY_READY_PREFIX,
};
use super::sweep::{remove_run, sweep_stale, SweepReport};
use crate::env::{InstanceId, KeepAlive};

/// Timings of the containers' start (the proxy links are the environment's, timed by it).
#[derive(Debug, Clone)]
pub struct StartReport {
    /// Containers started: every mock and the proxy.
    pub containers: usize,
    pub stale_swept: SweepReport,
    pub network: Duration,
    /// Slowest single container create.
    pub create: Duration,
    /// From the first create request to the last container ready (creates and starts overlap).
    pub start_ready: Duration,
    /// Slowest single container start-to-ready.
    pub slowest: Duration,
    pub total: Duration,
}

/// What to start, as the containers need it.
pub(super) struct Plan<'a> {
    /// Every mock instance, in order (the proxy's listen ports follow it).
    pub instances: &'a [InstanceId],
    /// Contents of the configuration database YAML, baked into the mock image.
    pub config_yaml: &'a [u8],
    pub keepalive: KeepAlive,
    /// Each server kind's arguments from the declared server behaviour (capacity, kept agents).
    pub server_args: std::collections::HashMap<bc_protocol::ServerKind, Vec<String>>,
    pub ready_timeout: Duration,
}

/// A container that is running (a mock or the proxy), with the one-shot that resolves when this
/// incarnation exits.
pub(super) type RunningMock = (Container, oneshot::Receiver<()>);

/// The run's containers, all ready.
pub(super) struct Launched {
    pub owner: RunOwner,
    pub network: String,
    pub proxy: Container,
    /// Resolves when the proxy's process exits.
    pub proxy_exited: oneshot::Receiver<()>,
    /// In instance order.
    pub mocks: Vec<RunningMock>,
    pub report: StartReport,
}

/// Starts the run. From the network on, a failure removes everything the run created (found by its run id).
pub(super) async fn launch(
    docker: &Docker,
    images: &ImageSet,
    plan: &Plan<'_>,
) -> Result<Launched, DockerError> {
    let begun = Instant::now();
    let stale_swept = sweep_stale(docker).await?;
    let owner = RunOwner::current();
    let network = format!("bc-{}", owner.run_id);
    let t = Instant::now();
    docker
        .create_network(NetworkCreateRequest {
            name: network.clone(),
            driver: Some("bridge".into()),
            labels: Some(owner.labels()),
            ..Default::default()
        })
        .await
        .map_err(DockerError::api(format!("creating network {network}")))?;
    let network_time = t.elapsed();
    match start_all(docker, images, plan, &owner, &network).await {
        Ok(((proxy, proxy_exited), mocks, mut report)) => {
            report.stale_swept = stale_swept;
            report.network = network_time;
            report.total = begun.elapsed();
            Ok(Launched {
                owner,
                network,
                proxy,
                proxy_exited,
                mocks,
                report,
            })
        }
        Err(e) => {
            let _ = remove_run(docker, &owner.run_id).await;
            Err(e)
        }
    }
}

/// Creates and starts every container concurrently; each starts as soon as it is created (no barrier).
async fn start_all(
    docker: &Docker,
    images: &ImageSet,
    plan: &Plan<'_>,
    owner: &RunOwner,
    network: &str,
) -> Result<(RunningMock, Vec<RunningMock>, StartReport), DockerError> {
    let mock_image =
        images::with_config(docker, &images.mock, CONFIG_PATH, plan.config_yaml).await?;
    // The proxy goes first: with a published port per instance it is the slowest to start.
    let mut specs = vec![proxy_spec(images, plan, owner, network)?];
    specs.extend(
        plan.instances
            .iter()
            .map(|id| mock_spec(&mock_image, id, plan, owner, network)),
    );
    let count = specs.len();
    let t = Instant::now();
    let launched = futures::future::join_all(specs.into_iter().map(|spec| async move {
        let created = Instant::now();
        let container = Container::create(docker, spec).await?;
        let create = created.elapsed();
        // A container that fails to start is removed with the rest of the run by the caller.
        let started = container.start().await?;
        Ok::<_, DockerError>((container, create, started))
    }))
    .await;
    let mut running = Vec::with_capacity(count);
    let (mut create, mut slowest) = (Duration::ZERO, Duration::ZERO);
    for l in launched {
        let (container, c, started) = l?;
        create = create.max(c);
        slowest = slowest.max(started.elapsed);
        running.push((container, started.exited));
    }
    let start_ready = t.elapsed();
    let proxy = running.remove(0);
    let report = StartReport {
        containers: count,
        stale_swept: SweepReport::default(),
        network: Duration::ZERO,
        create,
        start_ready,
        slowest,
        total: Duration::ZERO,
    };
    Ok((proxy, running, report))
}

/// The fault proxy: ours (ready line) or a Toxiproxy image (ready when its API answers), publishing its
/// API and one listen port per instance.
fn proxy_spec(
    images: &ImageSet,
    plan: &Plan<'_>,
    owner: &RunOwner,
    network: &str,
) -> Result<ContainerSpec, DockerError> {
    let mut labels = owner.labels();
    labels.insert(INSTANCE.into(), PROXY_INSTANCE.into());
    let mut publish = vec![PROXY_API_PORT];
    for i in 0..plan.instances.len() {
        publish.push(proxy_listen_port(i)?);
    }
    let (args, readiness) = match images.proxy_kind {
        ProxyKind::Ours => (
            our_proxy_args(),
            Readiness::StdoutLine(PROXY_READY_PREFIX.into()),
        ),
        ProxyKind::Toxiproxy => (
            toxiproxy_server_args(),
            Readiness::HttpOk {
                port: PROXY_API_PORT,
                path: "/version".into(),
            },
        ),
    };
    Ok(ContainerSpec {
        name: proxy_container_name(&owner.run_id),
        image: images.proxy.clone(),
        args,
        labels,
        network: network.to_string(),
        publish,
        files: Vec::new(),
        readiness,
        ready_timeout: plan.ready_timeout,
    })
}

/// One mock: only its control port is published (the desktop reaches it through the proxy).
fn mock_spec(
    image: &str,
    id: &InstanceId,
    plan: &Plan<'_>,
    owner: &RunOwner,
    network: &str,
) -> ContainerSpec {
    let host_of = |id: &InstanceId| container_name(&owner.run_id, id);
    let mut labels = owner.labels();
    labels.insert(INSTANCE.into(), id.to_string());
    ContainerSpec {
        name: host_of(id),
        image: image.to_string(),
        args: [
            mock_args(id, plan.instances, plan.keepalive, &host_of),
            plan.server_args[&id.server].clone(),
        ]
        .concat(),
        labels,
        network: network.to_string(),
        publish: vec![MOCK_CONTROL_PORT],
        files: Vec::new(),
        readiness: Readiness::StdoutLine(MOCK_READY_PREFIX.into()),
        ready_timeout: plan.ready_timeout,
    }
}
