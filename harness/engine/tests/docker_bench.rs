//! Benchmark of the Docker runtime (ignored by default): environment start for 13 containers, reset, teardown.
//! Run: `cargo test -p bc-engine --test docker_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};

use bc_engine::docker::{
    self, images, BuildOptions, DockerEnvironment, DockerTopology, InstanceId,
};
use bc_protocol::{Role, ServerKind};

/// Rounds of start / faults+reset / shutdown.
const ROUNDS: usize = 3;

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn docker_environment_bench() {
    let docker = match docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED docker_environment_bench: {e}");
            return;
        }
    };
    let options = BuildOptions::default();
    let t = Instant::now();
    let set = images::build(&docker, &options)
        .await
        .expect("images build");
    println!(
        "images ready (static build + image, cached when unchanged): {}",
        ms(t.elapsed())
    );
    let config = std::fs::read(options.workspace.join("fixtures/config/default.yaml")).unwrap();
    let victims = [
        InstanceId::new("A", ServerKind::SipServer, Role::Primary),
        InstanceId::new("B", ServerKind::ConfigServer, Role::Primary),
    ];
    let frozen = InstanceId::new("A", ServerKind::StatServer, Role::Backup);
    for round in 1..=ROUNDS {
        let (env, report) =
            DockerEnvironment::start(&docker, &set, DockerTopology::standard(config.clone()))
                .await
                .expect("environment start");
        println!(
            "round {round}: start of {} containers: total {} (network {}, slowest create {}, create+start+ready {}, slowest container {}, proxy links {})",
            report.containers,
            ms(report.total),
            ms(report.network),
            ms(report.create),
            ms(report.start_ready),
            ms(report.slowest),
            ms(report.proxies)
        );
        let reset = env.reset().await.expect("reset");
        println!(
            "round {round}: reset with nothing to heal: {}",
            ms(reset.total)
        );
        let t = Instant::now();
        for v in &victims {
            env.kill(v).await.expect("kill");
        }
        env.pause(&frozen).await.expect("pause");
        println!("round {round}: 2 kills + 1 pause: {}", ms(t.elapsed()));
        let reset = env.reset().await.expect("reset");
        println!(
            "round {round}: reset after 2 kills + 1 pause (restart {}, unpause {}): {}",
            reset.restarted.len(),
            reset.unpaused.len(),
            ms(reset.total)
        );
        let t = Instant::now();
        env.shutdown().await.expect("shutdown");
        println!(
            "round {round}: teardown (remove 13 containers + network): {}",
            ms(t.elapsed())
        );
    }
}
