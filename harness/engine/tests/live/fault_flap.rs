//! Flapping in a toxic mode through the real fault proxy: the first down is in place when the
//! injection returns, every later phase is reported on the guard, and a heal removes the toxics.

use crate::env_support;

use bc_engine::env::InstanceId;
use bc_engine::fault::{Fault, Faults, FlapPhase, LinkFault, LinkSelector, BLACK_HOLE_TOXIC};
use bc_protocol::{Role, ServerKind};
use bc_toxiproxy::client::Client as Toxi;
use env_support::*;
use std::time::Duration;

fn black_hole_flap(period: Duration, count: u32) -> Fault {
    Fault::Flap {
        links: LinkSelector {
            site: "A".into(),
            server: Some(ServerKind::SipServer),
            role: Some(Role::Primary),
            group: None,
        },
        fault: LinkFault::BlackHole,
        period,
        count,
        aim: None,
    }
}

async fn black_holes(toxi: &Toxi, proxy: &str) -> usize {
    let p = toxi.proxy(proxy).await.unwrap();
    p.toxics
        .iter()
        .filter(|t| t.name.contains(BLACK_HOLE_TOXIC))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_flap_reports_its_phases_and_heals() {
    let env = start(false).await;
    let toxi = Toxi::new(&env.proxy_api_url()).unwrap();
    let sip = InstanceId::new("A", ServerKind::SipServer, Role::Primary).proxy_name();

    let mut g = env
        .inject(&black_hole_flap(Duration::from_millis(300), 2))
        .await
        .unwrap();
    assert_eq!(
        black_holes(&toxi, &sip).await,
        2,
        "down at first, both streams"
    );
    let mut phases = g.take_phases().expect("a flap reports its phases");
    let mut seen = Vec::new();
    while let Some(p) = tokio::time::timeout(Duration::from_secs(5), phases.recv())
        .await
        .expect("the flap ends")
    {
        seen.push(p);
    }
    let kinds: Vec<&str> = seen
        .iter()
        .map(|p| match p {
            FlapPhase::Changing { .. } => "changing",
            FlapPhase::Down { .. } => "down",
            FlapPhase::Up { .. } => "up",
            FlapPhase::Failed { .. } => "failed",
        })
        .collect();
    assert_eq!(
        kinds,
        ["changing", "up", "changing", "down", "changing", "up"],
        "{seen:?}"
    );
    assert_eq!(black_holes(&toxi, &sip).await, 0, "up after the last cycle");
    g.heal().await.unwrap();

    // Healed while down: the task stops and the toxics are gone for good.
    let mut g = env
        .inject(&black_hole_flap(Duration::from_millis(400), 50))
        .await
        .unwrap();
    g.heal().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(black_holes(&toxi, &sip).await, 0);
    assert_eq!(env.pending_faults(), 0);
    env.shutdown().await.unwrap();
}
