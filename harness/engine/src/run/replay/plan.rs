//! What a replayed herd runs: the repeated run's scenario as a herd of N agents (same topology,
//! faults and steps), and the desktop that replays the measured delays for each agent.

use std::path::Path;
use std::time::Duration;

use bc_suite::{Action, Capability, HealTarget, HerdPlan, PlannedScenario, PlannedStep, Site};

/// Agents per desktop process (as `herd.desktops` defaults to), and the most processes: a
/// 2-core machine serves 2,000 agents in 40 (suites/herds/herd-site-loss-2000.yaml).
const AGENTS_PER_DESKTOP: u32 = 50;
const MAX_DESKTOPS: u32 = 40;

/// The floor logs in over this much per agent (20 s for 2,000, as herd-site-loss-2000.yaml does),
/// at most [`MAX_RAMP`]: 2,000 logins in one second are a herd of their own.
const RAMP_PER_AGENT: Duration = Duration::from_millis(10);
const MAX_RAMP: Duration = Duration::from_secs(60);

/// From this many agents the mocks ping every 2 s and drop a client silent for 8 s (unless the
/// suite says otherwise), a deployment's keep-alive: at the run's 500 ms the keep-alives of
/// thousands of agents alone would load the machine more than the fault does.
const FLOOR_KEEPALIVE_FROM: u32 = 500;

/// The run `sc` as a herd of `agents` replaying `runs` repetitions (id `RUN-ID (herd of N
/// replayed from K runs)`); `Err` says why it cannot be one (then it is not replayed).
pub fn herd(sc: &PlannedScenario, agents: u32, runs: usize) -> Result<PlannedScenario, String> {
    if !(2..=bc_suite::MAX_HERD_AGENTS as u32).contains(&agents) {
        return Err(format!(
            "a replayed herd has 2 to {} agents, not {agents}",
            bc_suite::MAX_HERD_AGENTS
        ));
    }
    if sc.herd.is_some() {
        return Err("the run is a herd already".into());
    }
    let one_agents = sc.steps.iter().find(|s| {
        matches!(
            s.action,
            Action::DeliverCall { .. }
                | Action::PhoneDials { .. }
                | Action::ExpectCallAnswered { .. }
                | Action::On(_)
        )
    });
    if let Some(s) = one_agents {
        return Err(format!(
            "its step {} (`{}`) is one agent's: calls, phones and triggers are not a herd's",
            s.index,
            crate::run::translate::describe(&s.action)
        ));
    }
    let desktops = agents.div_ceil(AGENTS_PER_DESKTOP).clamp(1, MAX_DESKTOPS);
    let ramp = if desktops > 1 {
        (RAMP_PER_AGENT * agents).min(MAX_RAMP)
    } else {
        Duration::ZERO
    };
    let mut h = sc.clone();
    h.id = replay_id(&sc.id, agents, runs);
    h.title = Some(format!(
        "{}: a floor of {agents} replaying the first contacts of {runs} measured runs",
        sc.title.as_deref().unwrap_or(&sc.scenario_id)
    ));
    // A Stat Server registration names no user: a herd's sessions could not be told apart.
    h.stat_server = false;
    // The floor's agents carry their preferred site on their Persons (`env::floor`).
    h.pin_preferred_site = false;
    if agents >= FLOOR_KEEPALIVE_FROM {
        h.server_ping_interval.get_or_insert(Duration::from_secs(2));
        h.server_client_timeout
            .get_or_insert(Duration::from_secs(8));
    }
    if !ramp.is_zero() {
        start_after_the_ramp(&mut h);
    }
    h.herd = Some(HerdPlan {
        agents,
        desktops,
        preferred: vec![(sc.preferred_site.unwrap_or(Site::A), 100)],
        max_burst_percent: 20,
        max_round_percent: 60,
        max_attempts_per_minute: HerdPlan::DEFAULT_MAX_ATTEMPTS_PER_MINUTE,
        ramp,
    });
    Ok(h)
}

/// Moves the `start` marker from the start of `start_desktop` to a step right after it: the one
/// desktop's deadlines "from start" count from the floor's start, when its last process started
/// (a ramp's later processes could not otherwise be logged in within a budget of the first's).
fn start_after_the_ramp(h: &mut PlannedScenario) {
    let Some(i) = h
        .steps
        .iter()
        .position(|s| matches!(s.action, Action::StartDesktop))
    else {
        return;
    };
    let mark = PlannedStep {
        index: i + 1,
        line: h.steps[i].line,
        marker: h.steps[i].marker.take(),
        action: Action::Mark,
        aim: None,
        among: None,
    };
    h.steps.insert(i + 1, mark);
    for (k, s) in h.steps.iter_mut().enumerate() {
        s.index = k;
        // A heal names the step that set its fault by index.
        if let Action::Heal(HealTarget::Marker { step, .. }) = &mut s.action {
            if *step > i {
                *step += 1;
            }
        }
    }
}

/// The replayed herd's run id, beside the arithmetic one's `RUN-ID (herd of N from K runs)`.
pub fn replay_id(run: &str, agents: u32, runs: usize) -> String {
    format!("{run} (herd of {agents} replayed from {runs} runs)")
}

/// The replaying desktop's argv: the reference desktop reading the delays, with the declared
/// capabilities it has as flags (failing back, switching on a Stat Server loss), so that the
/// floor does what the measured desktop declared.
pub fn desktop_argv(bin: &Path, delays: &Path, capabilities: &[Capability]) -> Vec<String> {
    let mut argv = vec![
        bin.display().to_string(),
        "--config".into(),
        crate::env::CONFIG_PLACEHOLDER.into(),
        "--replay-delays".into(),
        delays.display().to_string(),
    ];
    for (c, flag) in [
        (Capability::Failback, "--failback"),
        (Capability::StatLossTriggersDr, "--stat-loss-triggers-dr"),
    ] {
        if capabilities.contains(&c) {
            argv.push(flag.into());
        }
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(agents: u32) -> Result<PlannedScenario, String> {
        let text = "version: 1\nid: s\nconfig: fixtures/config/default.yaml\nagent: agent1001\n\
                    scenarios:\n  - id: x\n    rules: [BC-4]\n    for_each_preferred_site: true\n    steps:\n      \
                    - expect_logged_in: {site: preferred}\n      - kill_site: preferred\n      \
                    - expect_logged_in: {site: other}\n";
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let loaded = bc_suite::load_str("t.yaml", text, &root).expect("a valid suite");
        let planned = bc_suite::plan(&loaded, &Default::default()).expect("planned");
        herd(&planned[1], agents, 10)
    }

    #[test]
    fn the_run_becomes_a_herd_at_its_preferred_site() {
        let h = planned(200).unwrap();
        assert_eq!(h.id, "s/x[preferred=B] (herd of 200 replayed from 10 runs)");
        let herd = h.herd.as_ref().unwrap();
        assert_eq!((herd.agents, herd.desktops), (200, 4));
        assert_eq!(herd.preferred, vec![(Site::B, 100)]);
        assert_eq!(herd.ramp, Duration::from_secs(2));
        assert!(!h.stat_server && !h.pin_preferred_site);
        assert_eq!(
            h.server_ping_interval, None,
            "a small floor keeps the run's"
        );
        let big = planned(2000).unwrap();
        let herd = big.herd.as_ref().unwrap();
        assert_eq!((herd.desktops, herd.ramp), (40, Duration::from_secs(20)));
        assert_eq!(big.server_ping_interval, Some(Duration::from_secs(2)));
        assert_eq!(planned(5000).unwrap().herd.unwrap().desktops, 40);
        let small = planned(30).unwrap();
        assert_eq!(small.herd.as_ref().unwrap().ramp, Duration::ZERO);
        assert_eq!(small.steps[0].marker.as_deref(), Some("start"));
        assert!(planned(1).unwrap_err().contains("2 to 5000 agents"));
    }

    #[test]
    fn after_a_ramp_the_floor_starts_when_its_last_desktop_did() {
        let text = "version: 1\nid: s\nconfig: fixtures/config/default.yaml\nagent: agent1001\n\
                    scenarios:\n  - id: x\n    rules: [BC-4]\n    steps:\n      \
                    - expect_logged_in: {site: A}\n      - kill_site: {site: A, marker: loss}\n      \
                    - heal: loss\n      - expect_logged_in: {site: A, within: 20s, from: loss}\n";
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let loaded = bc_suite::load_str("t.yaml", text, &root).expect("a valid suite");
        let planned = bc_suite::plan(&loaded, &Default::default()).expect("planned");
        let h = herd(&planned[0], 200, 10).unwrap();
        let actions: Vec<String> = h
            .steps
            .iter()
            .map(|s| format!("{} {:?} {:?}", s.index, s.marker, s.action))
            .collect();
        assert!(
            matches!(h.steps[0].action, Action::StartDesktop),
            "{actions:#?}"
        );
        assert_eq!(h.steps[0].marker, None, "{actions:#?}");
        assert!(matches!(h.steps[1].action, Action::Mark), "{actions:#?}");
        assert_eq!(h.steps[1].marker.as_deref(), Some("start"));
        let heal = h.steps.iter().find_map(|s| match &s.action {
            Action::Heal(HealTarget::Marker { step, .. }) => Some(*step),
            _ => None,
        });
        assert_eq!(heal, Some(3), "the heal still names the kill: {actions:#?}");
        assert!(matches!(h.steps[3].action, Action::KillSite(Site::A)));
    }

    #[test]
    fn the_desktop_reads_the_delays_and_declares_what_the_run_declared() {
        let argv = desktop_argv(
            Path::new("/bin/bc-reference-desktop"),
            Path::new("/tmp/d.json"),
            &[Capability::StatServer, Capability::Failback],
        );
        assert_eq!(
            argv.join(" "),
            "/bin/bc-reference-desktop --config {config} --replay-delays /tmp/d.json --failback"
        );
    }
}
