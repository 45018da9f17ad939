//! Benchmark of the Docker runtime (ignored by default): environment start on 13 containers, the
//! `Environment`'s reset (the path real runs take) with nothing to heal and after faults, teardown.
//! Run: `cargo test -p bc-engine --test docker docker_bench:: -- --ignored --nocapture`

use std::time::{Duration, Instant};

use bc_engine::docker::{images, BuildOptions, DockerRuntime};
use bc_engine::env::{EnvConfig, Environment, InstanceId, RuntimeKind, Topology};
use bc_protocol::{Role, ServerKind};

/// Rounds of start / faults+reset / shutdown.
const ROUNDS: usize = 3;

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn docker_environment_bench() {
    let Some((docker, _serial)) =
        crate::docker_env::docker_or_skip("docker_environment_bench").await
    else {
        return;
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
    let topology = Topology::load(options.workspace.join("fixtures/config/default.yaml")).unwrap();
    let victims = [
        InstanceId::new("A", ServerKind::SipServer, Role::Primary),
        InstanceId::new("B", ServerKind::ConfigServer, Role::Primary),
    ];
    let frozen = InstanceId::new("A", ServerKind::StatServer, Role::Backup);
    for round in 1..=ROUNDS {
        let cfg = EnvConfig::new(topology.clone()).with_runtime(RuntimeKind::Docker);
        let t0 = Instant::now();
        let runtime = DockerRuntime::start_with(&docker, &set, &cfg)
            .await
            .expect("containers start");
        let report = runtime.start_report().clone();
        let env = Environment::with_runtime(cfg, Box::new(runtime), t0)
            .await
            .expect("environment start");
        println!(
            "round {round}: start of {} containers: total {} (network {}, slowest create {}, create+start+ready {}, slowest container {}, proxy links and feeds {})",
            report.containers,
            ms(env.start_duration()),
            ms(report.network),
            ms(report.create),
            ms(report.start_ready),
            ms(report.slowest),
            ms(env.start_duration().saturating_sub(report.total))
        );
        let reset = env.reset().await.expect("reset");
        println!("round {round}: reset with nothing to heal: {}", ms(reset));
        let t = Instant::now();
        for v in &victims {
            env.runtime().kill(v).await.expect("kill");
        }
        env.runtime().freeze(&frozen).await.expect("pause");
        println!("round {round}: 2 kills + 1 pause: {}", ms(t.elapsed()));
        let reset = env.reset().await.expect("reset");
        for v in &victims {
            assert_eq!(
                env.instance_status(v).unwrap().incarnation,
                2,
                "{v} restarted"
            );
        }
        println!(
            "round {round}: reset after 2 kills + 1 pause (restart 2, unpause 1): {}",
            ms(reset)
        );
        let teardown = env.shutdown().await.expect("shutdown");
        println!(
            "round {round}: teardown (remove 13 containers + network): {}",
            ms(teardown)
        );
    }
}
