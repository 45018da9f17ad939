//! Benchmark of the local environment: start, reset (after typical faults) and teardown times.
//! Run: `cargo build -p bc-mock -p bc-toxiproxy --bins && cargo run -p bc-engine --example env_bench -- [rounds]`

use bc_engine::env::{EnvConfig, Environment, RuntimeKind, Topology};
use bc_engine::fault::{Fault, Faults, LinkFault, LinkSelector};
use bc_protocol::ServerKind;
use std::time::Duration;

fn stats(name: &str, v: &mut [Duration]) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} n={:<3} min {:>7.1} ms  median {:>7.1} ms  max {:>7.1} ms",
        v.len(),
        ms(v[0]),
        ms(v[v.len() / 2]),
        ms(v[v.len() - 1])
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(5)
        .max(1);
    let db = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/config/default.yaml"
    );
    let (mut start, mut reset_clean, mut reset_faulted, mut teardown) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let cfg = EnvConfig::new(Topology::load(db)?).with_runtime(RuntimeKind::Local);
        let env = Environment::start(cfg).await?;
        start.push(env.start_duration());
        reset_clean.push(env.reset().await?);
        // A typical scenario's leftovers: a killed site, a black-holed link, a failover.
        env.inject(&Fault::KillSite { site: "A".into() }).await?;
        env.inject(&Fault::Link {
            links: LinkSelector {
                site: "B".into(),
                server: Some(ServerKind::SipServer),
                role: None,
                group: None,
            },
            fault: LinkFault::BlackHole,
        })
        .await?;
        env.inject(&Fault::HaFailover {
            site: "B".into(),
            server: ServerKind::ConfigServer,
            group: None,
        })
        .await?;
        reset_faulted.push(env.reset().await?);
        teardown.push(env.shutdown().await?);
    }
    println!("local environment: 12 bc-mock + 1 bc-toxiproxy, 12 proxies ({rounds} rounds)");
    stats("start", &mut start);
    stats("reset (no fault)", &mut reset_clean);
    stats("reset (site kill+bh+ha)", &mut reset_faulted);
    stats("teardown (shutdown)", &mut teardown);
    Ok(())
}
