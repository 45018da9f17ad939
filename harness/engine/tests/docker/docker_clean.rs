//! `clean` removes everything the harness owns, live runs included. Ignored by default because it would also
//! remove the containers of harness runs and tests going on at the same time on this engine.
//! Run: `cargo test -p bc-engine --test docker docker_clean:: -- --ignored`

use bc_engine::docker::{self, commands, CleanOptions, RunOwner};
use testcontainers::bollard::models::NetworkCreateRequest;

#[tokio::test]
#[ignore = "destructive: removes every harness container and network on this engine"]
async fn clean_removes_live_runs_too() {
    let docker = match docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED clean_removes_live_runs_too: {e}");
            return;
        }
    };
    // A network of a run whose owner (this test) is alive: a sweep keeps it, clean does not.
    let owner = RunOwner::current();
    let name = format!("bc-{}", owner.run_id);
    docker
        .create_network(NetworkCreateRequest {
            name: name.clone(),
            labels: Some(owner.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    let swept = docker::sweep_stale(&docker).await.unwrap();
    assert!(
        !swept.networks.contains(&name),
        "a live run survives a sweep"
    );
    let report = commands::clean_all(CleanOptions { images: false })
        .await
        .unwrap();
    println!("{report}");
    assert!(report.networks.contains(&name), "{report:?}");
    assert!(docker.inspect_network(&name, None).await.is_err());
}
