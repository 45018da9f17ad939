//! Docker runtime tests on a real engine: images, the one `Environment` on 13 containers (faults, reset),
//! no leftovers after drop or a failed start, the sweep after a SIGKILL, readiness. Skip loudly without Docker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bc_engine::docker::{
    self, images, labels, layout, sweep_stale, BuildOptions, ContainerSpec, DockerRuntime,
    ImageSet, Readiness, RunOwner,
};
use bc_engine::env::{
    EnvConfig, EnvError, Environment, InstanceId, InstanceState, RuntimeKind, Topology,
};
use bc_protocol::{decode_line, encode_line, Message, Role, ServerKind, PROTOCOL_VERSION};
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
};
use testcontainers::bollard::Docker;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use crate::meddle;

/// Env var telling the child test it is the process to be SIGKILLed.
const CHILD_ENV: &str = "BC_DOCKER_TEST_CHILD";

/// The Docker tests run one at a time: an environment's start sweeps dead runs, which would race with
/// the sweep test, and the engine serialises most work anyway.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The engine and this test's turn, or `None` after printing why the test is skipped.
pub(crate) async fn docker_or_skip(
    test: &str,
) -> Option<(Docker, tokio::sync::MutexGuard<'static, ()>)> {
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

/// Two sites, every server kind, the default configuration database.
fn topology() -> Topology {
    let path = BuildOptions::default()
        .workspace
        .join("fixtures/config/default.yaml");
    Topology::load(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
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

/// The one environment type on the Docker runtime; its run id names and labels the containers.
async fn start_env(
    docker: &Docker,
    set: &ImageSet,
    topology: Topology,
) -> Result<(Environment, String), EnvError> {
    let cfg = EnvConfig::new(topology).with_runtime(RuntimeKind::Docker);
    let t0 = Instant::now();
    let runtime = DockerRuntime::start_with(docker, set, &cfg).await?;
    let run_id = runtime.run_id().to_string();
    eprintln!("containers started: {:?}", runtime.start_report());
    let env = Environment::with_runtime(cfg, Box::new(runtime), t0).await?;
    Ok((env, run_id))
}

/// The container's state as the engine reports it (its name derives from the instance id).
async fn engine_state(docker: &Docker, run_id: &str, id: &InstanceId) -> (bool, bool) {
    let name = layout::container_name(run_id, id);
    let state = docker
        .inspect_container(&name, None)
        .await
        .unwrap()
        .state
        .unwrap();
    (state.running == Some(true), state.paused == Some(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_serves_desktops_through_the_proxy_and_takes_faults() {
    let Some((docker, _serial)) =
        docker_or_skip("environment_serves_desktops_through_the_proxy_and_takes_faults").await
    else {
        return;
    };
    let set = images(&docker).await;
    let (env, run_id) = start_env(&docker, &set, topology())
        .await
        .unwrap_or_else(|e| panic!("environment start failed: {e}"));
    let (containers, networks) = labelled(&docker, &run_id).await;
    assert_eq!(containers.len(), 13, "{containers:?}");
    assert_eq!(networks.len(), 1, "{networks:?}");

    // A desktop-like client registers with SIP Server A primary through the proxy's published port.
    let sip_a = InstanceId::new("A", ServerKind::SipServer, Role::Primary);
    assert_eq!(sip_a.to_string(), "A.sip_server.primary");
    let addr = env.proxy_address(&sip_a).unwrap();
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

    // kill: the container goes down and its control port stops answering; a start brings it back.
    let control = env.control_url(&sip_a).unwrap();
    env.runtime().kill(&sip_a).await.unwrap();
    assert_eq!(engine_state(&docker, &run_id, &sip_a).await, (false, false));
    assert_eq!(
        env.instance_status(&sip_a).unwrap().state,
        InstanceState::Down
    );
    assert!(health(&control, Duration::from_millis(500)).await.is_err());
    let eof = tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await;
    assert!(
        matches!(eof, Ok(Ok(None)) | Ok(Err(_))),
        "the desktop's connection ends when the server is killed: {eof:?}"
    );
    env.runtime().start(&sip_a).await.unwrap();
    let status = env.instance_status(&sip_a).unwrap();
    assert_eq!(
        (status.state, status.incarnation),
        (InstanceState::Running, 2)
    );
    assert!(status.pid.is_some(), "{status:?}");
    assert_eq!(
        env.health(&sip_a).await.unwrap().server,
        ServerKind::SipServer
    );

    // freeze: open but mute; thaw answers again.
    let stat_b = InstanceId::new("B", ServerKind::StatServer, Role::Backup);
    let stat_control = env.control_url(&stat_b).unwrap();
    env.runtime().freeze(&stat_b).await.unwrap();
    assert_eq!(engine_state(&docker, &run_id, &stat_b).await, (true, true));
    assert!(health(&stat_control, Duration::from_millis(300))
        .await
        .is_err());
    env.runtime().thaw(&stat_b).await.unwrap();
    env.health(&stat_b).await.unwrap();

    // stop: SIGTERM is handled (graceful exit 0 within the grace).
    let cfg_b = InstanceId::new("B", ServerKind::ConfigServer, Role::Primary);
    let graceful = env.runtime().stop(&cfg_b).await.unwrap();
    assert!(graceful, "bc-mock exits 0 on SIGTERM");
    env.runtime().freeze(&stat_b).await.unwrap();

    // reset (the path real runs take): everything running again, mocks and proxy reset.
    let took = env.reset().await.unwrap();
    eprintln!("reset after a stop and a freeze: {took:?}");
    let status = env.instance_status(&cfg_b).unwrap();
    assert_eq!(
        (status.state, status.incarnation),
        (InstanceState::Running, 2)
    );
    assert_eq!(
        env.instance_status(&stat_b).unwrap().state,
        InstanceState::Running
    );
    assert_eq!(engine_state(&docker, &run_id, &stat_b).await, (true, false));
    for id in env.instances() {
        let h = env.health(&id).await.unwrap();
        assert_eq!(h.active, id.role == Role::Primary, "{id}: {h:?}");
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
    let topology = topology()
        .with_sites(["A"])
        .unwrap()
        .with_stat_server(false);
    let (env, run_id) = start_env(&docker, &set, topology).await.unwrap();
    assert_eq!(labelled(&docker, &run_id).await.0.len(), 5);
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
    // The proxy's binary as the mock image: it rejects bc-mock's arguments and exits at once. The start
    // must fail with its output and leave nothing.
    let set = images(&docker).await;
    let broken = ImageSet {
        mock: set.proxy.clone(),
        ..set
    };
    let topology = topology()
        .with_sites(["A"])
        .unwrap()
        .with_stat_server(false);
    let err = start_env(&docker, &broken, topology)
        .await
        .err()
        .expect("the mock containers exit at once");
    let text = err.to_string();
    assert!(text.contains("exited before it was ready"), "{text}");
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![format!("{}={}", labels::PID, std::process::id())],
    );
    // Other tests of this process may be running: only this environment's instances are checked.
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
                .is_some_and(|i| i.starts_with("A."))
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
            "docker_env::child_leaves_containers_behind",
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

/// SIGKILL of a container through the engine, behind the harness's back.
async fn docker_kill(docker: Docker, name: String) {
    let options = KillContainerOptionsBuilder::default()
        .signal("SIGKILL")
        .build();
    docker
        .kill_container(&name, Some(options))
        .await
        .unwrap_or_else(|e| panic!("docker kill {name}: {e}"));
}

/// The two examples on containers: the proxy container, then the Stat Server A primary (which
/// no step touches) killed during `sip-server-failover[preferred=A]`; each run is `error` naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_killed_behind_the_harness_are_infrastructure_errors() {
    let Some((docker, _serial)) =
        docker_or_skip("containers_killed_behind_the_harness_are_infrastructure_errors").await
    else {
        return;
    };
    let set = images(&docker).await;
    let sc = meddle::planned(meddle::HA_SUITE, meddle::SIP_FAILOVER_A);
    let stat_a = InstanceId::new("A", ServerKind::StatServer, Role::Primary);
    let cases = [
        (None, "the fault proxy", "fault proxy"),
        (
            Some(stat_a),
            "A.stat_server.primary",
            "A.stat_server.primary",
        ),
    ];
    for (victim, error_name, component) in cases {
        let (mut env, run_id) = start_env(&docker, &set, topology())
            .await
            .unwrap_or_else(|e| panic!("environment start failed: {e}"));
        let name = match &victim {
            None => layout::proxy_container_name(&run_id),
            Some(id) => layout::container_name(&run_id, id),
        };
        let r = meddle::run_meddled(&mut env, &sc, 2, docker_kill(docker.clone(), name)).await;
        eprintln!("errors: {:?}\nfailures: {:?}", r.errors, r.failures);
        assert_eq!(
            r.verdict,
            bc_engine::check::Verdict::Error,
            "{:?} {:?}",
            r.errors,
            r.failures
        );
        let want = format!("infrastructure: {error_name} exited unexpectedly (signal 9) at +");
        assert!(r.errors[0].starts_with(&want), "{:?}", r.errors);
        // Step 1's ha_failover killed A's SIP Server primary: requested, so not flagged. (A slow
        // exit report may let the probe add that the dead API stopped answering: same component.)
        let infra = meddle::infra_entries(&r);
        assert!(infra.iter().all(|(c, _)| c == component), "{infra:?}");
        assert!(
            infra
                .iter()
                .any(|(_, l)| l.contains("exited unexpectedly (signal 9)")),
            "{infra:?}"
        );
        let xml = meddle::junit_of(&r);
        assert!(xml.contains("<error") && !xml.contains("<failure"), "{xml}");
        env.shutdown().await.unwrap();
    }
}
