//! The client conformance checks against an in-process bc-toxiproxy, and against a real
//! Toxiproxy when TOXIPROXY_URL is set (`cargo test -p bc-toxiproxy -- --ignored`).

#[tokio::test]
async fn client_conformance_against_bc_toxiproxy() {
    let up = crate::common::echo().await;
    let (_s, c) = crate::common::server().await;
    crate::common::conformance::run(&c, "t-", up.addr).await;
}

#[tokio::test]
#[ignore = "needs a real Toxiproxy: set TOXIPROXY_URL (e.g. http://127.0.0.1:8474)"]
async fn client_conformance_against_real_toxiproxy() {
    let Ok(url) = std::env::var("TOXIPROXY_URL") else {
        eprintln!("TOXIPROXY_URL is not set: skipping the real Toxiproxy conformance run");
        return;
    };
    let up = crate::common::echo().await;
    let c = bc_toxiproxy::Client::new(&url).expect("client");
    let prefix = format!("bc-conf-{}-", std::process::id());
    crate::common::conformance::run(&c, &prefix, up.addr).await;
}
