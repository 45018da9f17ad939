//! The environment (`env::Environment`) driven by the Docker runtime: proxies, observation feeds, connection
//! file, a kill healed by reset, and nothing left after shutdown. Skips loudly without a Docker engine.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bc_engine::docker::{images, labels, BuildOptions, DockerRuntime};
use bc_engine::env::{
    DesktopSpec, EnvConfig, Environment, InstanceId, InstanceState, RuntimeKind, Topology,
    CONFIG_PLACEHOLDER,
};
use bc_protocol::{
    decode_line, encode_line, EventKind, Message, Role, ServerKind, PROTOCOL_VERSION,
};
use testcontainers::bollard::query_parameters::ListContainersOptionsBuilder;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// The reference desktop binary, built once if the target dir does not have it yet.
fn reference_desktop() -> PathBuf {
    bc_test_support::ensure_built(&["bc-desktops"], &["bc-reference-desktop"])
        .join("bc-reference-desktop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
async fn environment_runs_on_containers() {
    let Some((docker, _serial)) =
        crate::docker_env::docker_or_skip("environment_runs_on_containers").await
    else {
        return;
    };
    let set = images::build(&docker, &BuildOptions::default())
        .await
        .unwrap_or_else(|e| panic!("image build failed: {e}"));
    let workspace = BuildOptions::default().workspace;
    let topology = Topology::load(workspace.join("fixtures/config/default.yaml")).unwrap();
    let cfg = EnvConfig::new(topology).with_runtime(RuntimeKind::Docker);
    let t0 = Instant::now();
    let runtime = DockerRuntime::start_with(&docker, &set, &cfg)
        .await
        .unwrap_or_else(|e| panic!("docker runtime start failed: {e}"));
    let run_id = runtime.run_id().to_string();
    eprintln!("containers: {:?}", runtime.start_report());
    let mut env = Environment::with_runtime(cfg, Box::new(runtime), t0)
        .await
        .unwrap_or_else(|e| panic!("environment on docker failed: {e}"));
    assert_eq!(env.runtime().kind(), RuntimeKind::Docker);
    let mut events = env.take_events().unwrap();

    // Every instance's observation feed works through its published control port.
    let mut started = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while started.len() < 12 {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("a started event from every instance")
            .unwrap();
        if matches!(ev.kind, EventKind::Started { .. }) {
            started.insert((ev.site.clone(), ev.server, ev.role));
        }
    }

    // The desktop's connection file names only proxy ports on 127.0.0.1, and they lead to the mocks.
    let file = serde_json::to_value(env.connection_file("agent1001").unwrap()).unwrap();
    let cfg_a = &file["sites"]["A"]["config_server"]["primary"];
    assert!(cfg_a.as_str().unwrap().starts_with("127.0.0.1:"), "{file}");
    let id = InstanceId::new("A", ServerKind::ConfigServer, Role::Primary);
    let stream = tokio::net::TcpStream::connect(env.proxy_address(&id).unwrap())
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let hello = Message::RequestRegisterClient {
        reference_id: 7,
        client_name: "docker-runtime-test".into(),
        protocol_version: PROTOCOL_VERSION,
        user_name: Some("agent1001".into()),
        password: Some("pass1001".into()),
    };
    write
        .write_all(encode_line(&hello).as_bytes())
        .await
        .unwrap();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            decode_line(&line).unwrap(),
            Message::EventClientRegistered { .. }
        ),
        "{line}"
    );

    // The reference desktop, given only the connection file, logs in at agent1001's preferred site (B).
    let desktop_bin = reference_desktop();
    let config = env.write_connection_file("agent1001").unwrap();
    let spec = DesktopSpec::from_argv(vec![
        desktop_bin.display().to_string(),
        "--config".into(),
        CONFIG_PLACEHOLDER.into(),
    ])
    .unwrap();
    let desktop = spec.spawn(&config).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no agent login; desktop log: {:?}", desktop.log_tail()))
            .unwrap();
        if let EventKind::AgentLogin { agent_id, .. } = &ev.kind {
            assert_eq!((agent_id.as_str(), ev.site.as_str()), ("1001", "B"));
            assert_eq!(ev.server, ServerKind::SipServer);
            break;
        }
    }
    desktop.terminate().await.unwrap();

    // A killed container is Down; reset starts it again as a new incarnation.
    let sip = InstanceId::new("B", ServerKind::SipServer, Role::Primary);
    env.runtime().kill(&sip).await.unwrap();
    assert_eq!(
        env.instance_status(&sip).unwrap().state,
        InstanceState::Down
    );
    env.reset().await.unwrap();
    let status = env.instance_status(&sip).unwrap();
    assert_eq!(
        (status.state, status.incarnation),
        (InstanceState::Running, 2)
    );
    assert!(
        status.pid.is_some(),
        "the container's host pid is reported: {status:?}"
    );
    env.health(&sip).await.unwrap();
    let log = env.runtime().log_tail(&sip);
    assert!(
        log.contains("bc-mock ready"),
        "the container's output is kept: {log}"
    );

    env.shutdown().await.unwrap();
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![format!("{}={run_id}", labels::RUN)],
    );
    let left = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}
