//! Removing what the harness left behind: the objects of dead runs (at start) or everything it owns (`clean`).
//! Objects are found by the owner labels alone, never by name, so nothing foreign is touched.

use std::collections::HashMap;

use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use testcontainers::bollard::Docker;

use super::error::DockerError;
use super::labels::{RunOwner, LAB, OWNED, RUN};

/// Names of what a sweep or clean removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<String>,
}

impl SweepReport {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.images.is_empty()
    }
}

/// What `clean` removes besides containers and networks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanOptions {
    /// Also remove the harness's images (they are rebuilt on next use).
    pub images: bool,
}

/// Which owned objects to remove.
#[derive(Clone, Copy)]
enum Select<'a> {
    /// Those whose creating process is gone.
    Dead,
    /// Every owned object.
    All,
    /// The objects of one run.
    Run(&'a str),
}

impl Select<'_> {
    fn wants(&self, labels: &HashMap<String, String>) -> bool {
        match self {
            // A live lab environment is someone's workplace: only its `env down` removes it.
            Select::All => {
                labels.get(LAB).map(String::as_str) != Some("true")
                    || RunOwner::from_labels(labels).is_none_or(|o| !o.is_alive())
            }
            Select::Run(id) => labels.get(RUN).map(String::as_str) == Some(*id),
            // Owned but unparsable labels have no live owner to protect: they are leftovers too.
            Select::Dead => RunOwner::from_labels(labels).is_none_or(|o| !o.is_alive()),
        }
    }
}

/// Removes containers and networks of earlier runs whose process no longer exists; live runs are untouched.
pub async fn sweep_stale(docker: &Docker) -> Result<SweepReport, DockerError> {
    remove_selected(docker, Select::Dead).await
}

/// Removes every container and network the harness owns (also those of running harnesses, but not
/// a live `env up` environment's), and images on request.
pub async fn clean(docker: &Docker, options: CleanOptions) -> Result<SweepReport, DockerError> {
    let mut report = remove_selected(docker, Select::All).await?;
    if options.images {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![format!("{OWNED}=true")]);
        let list = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = docker
            .list_images(Some(list))
            .await
            .map_err(DockerError::api("listing images"))?;
        for image in images {
            let names = if image.repo_tags.is_empty() {
                vec![image.id.clone()]
            } else {
                image.repo_tags.clone()
            };
            for name in names {
                let options = RemoveImageOptionsBuilder::default().force(true).build();
                if docker
                    .remove_image(&name, Some(options), None)
                    .await
                    .is_ok()
                {
                    report.images.push(name);
                }
            }
        }
    }
    Ok(report)
}

/// Removes the containers and network of one run (its shutdown, or a start that failed).
pub async fn remove_run(docker: &Docker, run_id: &str) -> Result<SweepReport, DockerError> {
    remove_selected(docker, Select::Run(run_id)).await
}

/// [`remove_run`] for synchronous drop paths: on its own thread with its own runtime and engine
/// connection, because the caller's runtime may be busy or shutting down. Blocks until done.
pub fn remove_run_blocking(run_id: &str) {
    let run_id = run_id.to_string();
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let docker = super::client::connect().await.ok()?;
            remove_run(&docker, &run_id).await.ok()
        })
    });
    let _ = cleanup.join();
}

async fn remove_selected(docker: &Docker, select: Select<'_>) -> Result<SweepReport, DockerError> {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![format!("{OWNED}=true")]);
    let mut report = SweepReport::default();

    let list = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(list))
        .await
        .map_err(DockerError::api("listing containers"))?;
    let doomed: Vec<_> = containers
        .into_iter()
        .filter(|c| select.wants(&c.labels.clone().unwrap_or_default()))
        .filter_map(|c| {
            let name = c
                .names
                .and_then(|n| n.first().cloned())
                .map(|n| n.trim_start_matches('/').to_string());
            Some((c.id?, name))
        })
        .collect();
    // Removal is independent per container: do it concurrently, it dominates clean-up time.
    let removals = doomed.iter().map(|(id, name)| async move {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(id, Some(options)).await {
            Ok(()) => Some(name.clone().unwrap_or_else(|| id.clone())),
            // Already gone (removed by someone else meanwhile) is fine.
            Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            }) => None,
            Err(_) => None,
        }
    });
    report.containers.extend(
        futures::future::join_all(removals)
            .await
            .into_iter()
            .flatten(),
    );

    let list = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let networks = docker
        .list_networks(Some(list))
        .await
        .map_err(DockerError::api("listing networks"))?;
    for network in networks {
        if !select.wants(&network.labels.clone().unwrap_or_default()) {
            continue;
        }
        let Some(name) = network.name.clone().or(network.id.clone()) else {
            continue;
        };
        if docker.remove_network(&name).await.is_ok() {
            report.networks.push(name);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels_of(owner: &RunOwner) -> HashMap<String, String> {
        owner.labels()
    }

    #[test]
    fn stale_means_owner_gone_and_clean_means_everything() {
        let live = RunOwner::current();
        let mut dead = RunOwner::current();
        dead.pid_start = dead.pid_start.map(|s| s + 1);
        let mut broken = HashMap::new();
        broken.insert(OWNED.to_string(), "true".to_string());

        assert!(
            !Select::Dead.wants(&labels_of(&live)),
            "a live run is left alone"
        );
        assert!(Select::Dead.wants(&labels_of(&dead)));
        assert!(
            Select::Dead.wants(&broken),
            "owned but unreadable: nobody protects it"
        );
        for l in [labels_of(&live), labels_of(&dead), broken.clone()] {
            assert!(Select::All.wants(&l));
        }
        assert!(Select::Run(&live.run_id).wants(&labels_of(&live)));
        assert!(!Select::Run(&live.run_id).wants(&labels_of(&dead)));
        assert!(!Select::Run(&live.run_id).wants(&broken));
    }

    #[test]
    fn clean_keeps_a_live_lab_environment_only() {
        let lab = |owner: &RunOwner| {
            let mut l = owner.labels();
            l.insert(LAB.to_string(), "true".to_string());
            l
        };
        let live = RunOwner::current();
        let mut dead = RunOwner::current();
        dead.pid_start = dead.pid_start.map(|s| s + 1);
        assert!(!Select::All.wants(&lab(&live)), "env up still runs: kept");
        assert!(
            Select::All.wants(&lab(&dead)),
            "its env up is gone: removed"
        );
        assert!(Select::Dead.wants(&lab(&dead)));
        assert!(!Select::Dead.wants(&lab(&live)));
    }
}
