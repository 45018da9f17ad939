//! Container runtime tests against a real Docker engine: images, a 13-container environment, faults,
//! no leftovers after drop, and the sweep of what a SIGKILLed harness process left. Skip loudly without Docker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use bc_engine::docker::{
    self, images, labels, sweep_stale, BuildOptions, ContainerSpec, DockerEnvironment,
    DockerTopology, ImageSet, InstanceId, Readiness, RunOwner, RunState,
};
use bc_protocol::{decode_line, encode_line, Message, Role, ServerKind, PROTOCOL_VERSION};
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
};
use testcontainers::bollard::Docker;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Env var telling the child test it is the process to be SIGKILLed.
const CHILD_ENV: &str = "BC_DOCKER_TEST_CHILD";

/// Tests of this binary run one at a time: an environment's start sweeps dead runs, which would race with
/// the sweep test, and the engine serialises most work anyway.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The engine and this test's turn, or `None` after printing why the test is skipped.
async fn docker_or_skip(test: &str) -> Option<(Docker, tokio::sync::MutexGuard<'static, ()>)> {
    match docker::connect().await {
        Ok(d) => Some((d, SERIAL.lock().await)),
        Err(e) => {
            eprintln!("SKIPPED {test}: {e} (these tests need a Docker engine)");
            None
        }
    }
}

/// Builds the images once per test binary (later calls find them by tag).
async fn images(docker: &Docker) -> ImageSet {
    static BUILT: tokio::sync::Mutex<Option<ImageSet>> = tokio::sync::Mutex::const_new(None);
    let mut built = BUILT.lock().await;
    if let Some(set) = built.as_ref() {
        return set.clone();
    }
    let set = images::build(docker, &BuildOptions::default())
        .await
        .unwrap_or_else(|e| panic!("image build failed: {e}"));
    *built = Some(set.clone());
    set
}

fn config_yaml() -> Vec<u8> {
    let path = BuildOptions::default()
        .workspace
        .join("fixtures/config/default.yaml");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Containers and networks (names) carrying this run's label.
async fn labelled(docker: &Docker, run_id: &str) -> (Vec<String>, Vec<String>) {
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![format!("{}={run_id}", labels::RUN)],
    );
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect();
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|n| n.name)
        .collect();
    (containers, networks)
}

/// GET /health on a mock's control port; `Err` when it does not answer within the timeout.
async fn health(url: &str, timeout: Duration) -> Result<serde_json::Value, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap();
    let resp = client
        .get(format!("{url}/health"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    resp.json().await.map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_static_scratch_images_tagged_by_content() {
    let Some((docker, _serial)) =
        docker_or_skip("images_are_static_scratch_images_tagged_by_content").await
    else {
        return;
    };
    let set = images(&docker).await;
    assert!(set.mock.starts_with("bc-harness/mock:"), "{}", set.mock);
    assert!(
        set.proxy.starts_with("bc-harness/toxiproxy:"),
        "{}",
        set.proxy
    );
    let again = images::build(&docker, &BuildOptions::default())
        .await
        .unwrap();
    assert_eq!(again, set, "an unchanged binary reuses its image");
    let inspect = docker.inspect_image(&set.mock).await.unwrap();
    let config = inspect.config.unwrap();
    assert_eq!(config.entrypoint, Some(vec!["/bc-mock".to_string()]));
    let history = docker.image_history(&set.mock).await.unwrap();
    let layers: Vec<_> = history.iter().filter(|h| h.size > 0).collect();
    assert_eq!(
        layers.len(),
        1,
        "FROM scratch: the binary is the only layer: {history:?}"
    );
    assert!(layers[0].created_by.contains("COPY"), "{layers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_serves_desktops_through_the_proxy_and_takes_faults() {
    let Some((docker, _serial)) =
        docker_or_skip("environment_serves_desktops_through_the_proxy_and_takes_faults").await
    else {
        return;
    };
    let set = images(&docker).await;
    let (env, report) =
        DockerEnvironment::start(&docker, &set, DockerTopology::standard(config_yaml()))
            .await
            .unwrap_or_else(|e| panic!("environment start failed: {e}"));
    eprintln!("start report: {report:?}");
    assert_eq!(report.containers, 13);
    let run_id = env.run_id().to_string();
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert_eq!(containers.len(), 13, "{containers:?}");
    assert_eq!(networks.len(), 1, "{networks:?}");

    // A desktop-like client registers with SIP Server A primary through the proxy's published port.
    let sip_a = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    let addr = env.mock(&sip_a).unwrap().desktop_addr;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let hello = Message::RequestRegisterClient {
        reference_id: 1,
        client_name: "docker-test".into(),
        protocol_version: PROTOCOL_VERSION,
        user_name: None,
        password: None,
    };
    write
        .write_all(encode_line(&hello).as_bytes())
        .await
        .unwrap();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let line = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .expect("an answer through the proxy")
        .unwrap()
        .expect("a line, not EOF");
    match decode_line(&line).unwrap() {
        Message::EventClientRegistered { site, role, .. } => {
            assert_eq!(site, "A");
            assert_eq!(role, Role::Primary);
        }
        other => panic!("expected EventClientRegistered, got {other:?}"),
    }

    // kill: the container goes down and its control port stops answering; restore brings it back.
    let mock = env.mock(&sip_a).unwrap().clone();
    env.kill(&sip_a).await.unwrap();
    assert_eq!(mock.container.state().await.unwrap(), RunState::Stopped);
    assert!(health(&mock.control_url(), Duration::from_millis(500))
        .await
        .is_err());
    let eof = tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await;
    assert!(
        matches!(eof, Ok(Ok(None)) | Ok(Err(_))),
        "the desktop's connection ends when the server is killed: {eof:?}"
    );
    assert!(
        env.restore(&sip_a).await.unwrap().is_some(),
        "restore restarted it"
    );
    assert_eq!(mock.status().incarnation, 2);
    assert!(mock.status().pid.is_some());
    let h = health(&mock.control_url(), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(h["server"], "sip_server");

    // freeze: open but mute; unpause answers again.
    let stat_b = InstanceId::new("B", ServerKind::StatServer, Role::Backup);
    let stat = env.mock(&stat_b).unwrap().clone();
    env.pause(&stat_b).await.unwrap();
    assert_eq!(stat.container.state().await.unwrap(), RunState::Paused);
    assert!(health(&stat.control_url(), Duration::from_millis(300))
        .await
        .is_err());
    env.unpause(&stat_b).await.unwrap();
    health(&stat.control_url(), Duration::from_secs(2))
        .await
        .unwrap();

    // stop: SIGTERM is handled (graceful exit 0 within the grace).
    let cfg_b = InstanceId::new("B", ServerKind::ConfigServer, Role::Primary);
    let graceful = env.stop(&cfg_b).await.unwrap();
    assert!(graceful, "bc-mock exits 0 on SIGTERM");
    env.pause(&stat_b).await.unwrap();

    // reset: everything running again, mocks and proxy reset.
    let reset = env.reset().await.unwrap();
    eprintln!("reset report: {reset:?}");
    assert_eq!(reset.restarted, vec![cfg_b.clone()]);
    assert_eq!(reset.unpaused, vec![stat_b.clone()]);
    for m in env.mocks() {
        health(&m.control_url(), Duration::from_secs(2))
            .await
            .unwrap();
    }

    env.shutdown().await.unwrap();
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert!(
        containers.is_empty() && networks.is_empty(),
        "{containers:?} {networks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_environment_removes_everything() {
    let Some((docker, _serial)) =
        docker_or_skip("dropping_an_environment_removes_everything").await
    else {
        return;
    };
    let set = images(&docker).await;
    let mut topology = DockerTopology::standard(config_yaml());
    topology.sites = vec!["A".into()];
    topology.kinds = vec![ServerKind::StatServer];
    let (env, _) = DockerEnvironment::start(&docker, &set, topology)
        .await
        .unwrap();
    let run_id = env.run_id().to_string();
    assert_eq!(labelled(&docker, &run_id).await.0.len(), 3);
    drop(env);
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert!(
        containers.is_empty() && networks.is_empty(),
        "{containers:?} {networks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_fails_to_start_is_removed() {
    let Some((docker, _serial)) =
        docker_or_skip("a_container_that_fails_to_start_is_removed").await
    else {
        return;
    };
    let set = images(&docker).await;
    let mut topology = DockerTopology::standard(config_yaml());
    topology.sites = vec!["A".into()];
    topology.kinds = vec![ServerKind::StatServer];
    // An unknown flag makes bc-mock exit at once: the start must fail with its output and leave nothing.
    topology.mock_flags = vec!["--no-such-flag".into()];
    let err = DockerEnvironment::start(&docker, &set, topology)
        .await
        .expect_err("bc-mock rejects the flag");
    let text = err.to_string();
    assert!(text.contains("exited before it was ready"), "{text}");
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![format!("{}={}", labels::PID, std::process::id())],
    );
    // Other tests of this process may be running: only this environment's sites are checked.
    let left: Vec<_> = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(labels::INSTANCE))
                .is_some_and(|i| i == "stat_server-A-primary")
                && c.state
                    != Some(testcontainers::bollard::models::ContainerSummaryStateEnum::RUNNING)
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A network labelled with this process's run (the run id names it), for tests that make containers by hand.
async fn owned_network(docker: &Docker) -> (RunOwner, String) {
    let owner = RunOwner::current();
    let network = format!("bc-{}", owner.run_id);
    docker
        .create_network(testcontainers::bollard::models::NetworkCreateRequest {
            name: network.clone(),
            labels: Some(owner.labels()),
            ..Default::default()
        })
        .await
        .unwrap();
    (owner, network)
}

/// Run only as the child of `sweep_removes_what_a_killed_harness_left`: creates a network and a container,
/// prints the run id, then waits to be SIGKILLed (bounded: gives up after 60 s).
#[tokio::test]
#[ignore = "child process of sweep_removes_what_a_killed_harness_left"]
async fn child_leaves_containers_behind() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let docker = docker::connect().await.unwrap();
    let set = images(&docker).await;
    let (owner, network) = owned_network(&docker).await;
    let container = docker::Container::create(
        &docker,
        ContainerSpec {
            name: format!("bc-{}-orphan", owner.run_id),
            image: set.mock,
            args: vec!["--help".into()],
            labels: owner.labels(),
            network,
            publish: Vec::new(),
            files: Vec::new(),
            readiness: Readiness::StdoutLine("never".into()),
            ready_timeout: Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    println!("RUN {} {}", owner.run_id, container.id());
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_removes_what_a_killed_harness_left() {
    let Some((docker, _serial)) = docker_or_skip("sweep_removes_what_a_killed_harness_left").await
    else {
        return;
    };
    images(&docker).await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_leaves_containers_behind",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let run_id = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("RUN ")
                    .map(|r| r.split(' ').next().unwrap().to_string())
            })
    });
    let run_id = tokio::time::timeout(Duration::from_secs(120), run_id)
        .await
        .expect("the child reports its run id")
        .unwrap();
    child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.wait().unwrap();
    let run_id = run_id.expect("the child printed RUN <id>");
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert_eq!(
        (containers.len(), networks.len()),
        (1, 1),
        "the child left them"
    );

    let report = sweep_stale(&docker).await.unwrap();
    assert!(
        report.containers.iter().any(|c| c.contains(&run_id)),
        "swept {report:?}"
    );
    assert!(
        report.networks.iter().any(|n| n.contains(&run_id)),
        "swept {report:?}"
    );
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert!(
        containers.is_empty() && networks.is_empty(),
        "{containers:?} {networks:?}"
    );
}

/// Readiness by an answering API (for images whose output we do not own, like Shopify's Toxiproxy): the
/// proxy started by toxiproxy-server's flags is ready when `GET /version` answers; a process that exits at
/// once is reported as exited with its output, not after the whole ready timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_readiness_waits_for_the_api_and_reports_an_early_exit() {
    let Some((docker, _serial)) =
        docker_or_skip("http_readiness_waits_for_the_api_and_reports_an_early_exit").await
    else {
        return;
    };
    let set = images(&docker).await;
    let (owner, network) = owned_network(&docker).await;
    let spec = |name: &str, image: &str, args: &[&str]| ContainerSpec {
        name: format!("bc-{}-{name}", owner.run_id),
        image: image.to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        labels: owner.labels(),
        network: network.clone(),
        publish: vec![8474],
        files: Vec::new(),
        readiness: Readiness::HttpOk {
            port: 8474,
            path: "/version".into(),
        },
        ready_timeout: Duration::from_secs(30),
    };
    let result = async {
        let proxy = docker::Container::create(
            &docker,
            spec("api", &set.proxy, &["-host=0.0.0.0", "-port=8474"]),
        )
        .await
        .unwrap();
        let started = proxy.start().await.expect("ready by its API");
        assert!(
            started.ready_line.starts_with("GET /version answered 200"),
            "{}",
            started.ready_line
        );
        let url = format!(
            "http://127.0.0.1:{}/version",
            proxy.host_port(8474).unwrap()
        );
        let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
        assert!(body.contains("version"), "{body}");

        let quitter = docker::Container::create(&docker, spec("quits", &set.mock, &["--help"]))
            .await
            .unwrap();
        let err = quitter.start().await.expect_err("--help exits at once");
        assert!(
            matches!(err, docker::DockerError::Exited { .. }),
            "an exit, not a timeout: {err}"
        );
        assert!(err.to_string().contains("Usage"), "with its output: {err}");
    };
    // Clean up whatever the assertions did.
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
    docker::sweep::remove_run(&docker, &owner.run_id)
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
