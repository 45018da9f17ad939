//! A flap aimed at a share of a herd, through the runner: the chosen agents' connections to A are
//! reset in every down half-period and the spared agents' never, read from the mocks' own events.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{run_suite_whole, temp_suite, ONE_AT_A_TIME};

/// Down phases of the flap (`count`), and its period: 1 s down, then 1 s up, three times.
const COUNT: usize = 3;
const PERIOD_US: i64 = 2_000_000;
/// A reset reaches the mock within milliseconds of the proxy's change; with halves of 1 s, 150 ms
/// either side of a down half still tells it from the up halves around it.
const SLACK_US: i64 = 150_000;

/// Ten agents at A, a fifth of them flapping (2 agents: few enough to run on two cores). HERD-2's
/// bound is raised: two hit agents reconnecting in one 100 ms window are a fifth of the floor,
/// and their dispersal is not what this checks. The spared agents must not lose one session.
const SUITE: &str = "\
version: 1
id: herd-flap
agent: agent1001
budget: 30s
topology: {stat_server: false}
scenarios:
  - id: fifth-flapping
    rules: [BC-4]
    herd: {agents: 10, desktops: 2, preferred: [{site: A, percent: 100}], max_burst_percent: 50}
    steps:
      - expect_logged_in: {site: A, within: 25s}
      - flap: {link: A, period: 2s, count: 3, mode: reset, share: 20%, marker: wobble}
      - expect_stays_logged_in: {site: A, for: 8s, gaps: 0, agents: spared}
      - expect_logged_in: {within: 20s, agents: hit}
";

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// The flap's down phases from the timeline: (start, end) of each, from its fault entry and the
/// heal entry that ends it, and the agents each lists.
fn down_phases(entries: &[Value]) -> Vec<(i64, i64, BTreeSet<String>)> {
    let ts = |e: &Value| e["ts_us"].as_i64().unwrap();
    entries
        .iter()
        .filter(|e| e["entry"] == "fault")
        .map(|down| {
            let description = down["description"].as_str().unwrap();
            assert!(
                description.contains("(for 2 of 10 agents: ")
                    && description.ends_with("(flapping)"),
                "a down phase says whom it is for: {description}"
            );
            let up = entries
                .iter()
                .find(|e| e["entry"] == "heal" && e["fault"] == down["id"])
                .unwrap_or_else(|| panic!("down phase {} comes up again", down["id"]));
            (ts(down), ts(up), strings(&down["agents"]))
        })
        .collect()
}

/// One CS Proxy or SIP Server connection at A, as its mock saw it.
#[derive(Default)]
struct Conn {
    user: Option<String>,
    opened: i64,
    closed: Option<i64>,
}

/// Every CS Proxy and SIP Server connection at A (by server, HA slot and connection id), with the
/// agent it served: the user a CS Proxy registration names, the DN a SIP registration names (a
/// herd's DNs are 30001 onwards, in agent order).
fn connections_at_a(entries: &[Value]) -> Vec<Conn> {
    let mut by_id: BTreeMap<(String, String, i64), Conn> = BTreeMap::new();
    for e in entries.iter().filter(|e| e["entry"] == "observed") {
        let ev = &e["event"];
        if ev["site"] != "A" || !ev["conn"].is_i64() {
            continue;
        }
        let text = |k: &str| ev[k].as_str().unwrap_or_default().to_string();
        let key = (text("server"), text("role"), ev["conn"].as_i64().unwrap());
        let ts = ev["ts_us"].as_i64().unwrap();
        let c = by_id.entry(key).or_default();
        match ev["kind"].as_str().unwrap() {
            "client_connected" => c.opened = ts,
            "client_registered" if ev["user_name"].is_string() => c.user = Some(text("user_name")),
            "dn_registered" => {
                let dn: usize = text("dn").parse().unwrap();
                c.user = Some(bc_suite::herd_username(dn - 30_001));
            }
            "client_disconnected" => c.closed = Some(ts),
            _ => {}
        }
    }
    by_id.into_values().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aimed_flap_resets_the_chosen_agents_while_down_and_never_the_others() {
    let _one = ONE_AT_A_TIME.lock().await;
    let suite = temp_suite(SUITE);
    let result = run_suite_whole(suite.path(), None).await;
    assert_eq!(
        result["verdict"], "pass",
        "checks: {:#}\nfailures: {:#}",
        result["checks"], result["failures"]
    );
    let entries = result["timeline"]["entries"].as_array().unwrap();

    // The flap is bounded: exactly `count` down phases, each listing the same seeded 20 %, the
    // last one up again five half-periods after the first went down.
    let downs = down_phases(entries);
    assert_eq!(downs.len(), COUNT, "one fault entry per down phase");
    let hit = downs[0].2.clone();
    assert_eq!(hit.len(), 2, "20 % of 10 agents: {hit:?}");
    assert!(downs.iter().all(|(_, _, a)| *a == hit), "{downs:?}");
    let span = downs[COUNT - 1].1 - downs[0].0;
    let expected = (2 * COUNT as i64 - 1) * PERIOD_US / 2;
    assert!(
        (span - expected).abs() < 300_000,
        "first down to last up: {span} µs, not about {expected} µs"
    );

    let conns = connections_at_a(entries);
    let agents: BTreeSet<&str> = conns.iter().filter_map(|c| c.user.as_deref()).collect();
    assert_eq!(agents.len(), 10, "every agent registered at A: {agents:?}");
    assert!(
        agents
            .iter()
            .all(|a| bc_suite::herd_index(a).is_some_and(|i| i < 10)),
        "{agents:?}"
    );
    // Spared agents: not one connection closed from the first down to well after the last up.
    let (from, to) = (downs[0].0 - SLACK_US, downs[COUNT - 1].1 + PERIOD_US);
    for c in &conns {
        let (Some(user), Some(closed)) = (&c.user, c.closed) else {
            continue;
        };
        assert!(
            hit.contains(user) || closed < from || closed > to,
            "spared agent {user} lost a connection at A at {closed} µs (flapping {from}..{to})"
        );
    }
    // Hit agents: every connection of theirs open when a down half begins is reset in that half
    // (the phase, and how long after its fault entry: a reset can precede the entry, which is
    // stamped once every proxy has its toxic).
    let mut resets: BTreeMap<&str, Vec<(usize, i64)>> = BTreeMap::new();
    for (phase, (down, up, _)) in downs.iter().enumerate() {
        for c in conns.iter().filter(|c| c.opened < *down) {
            let Some(user) = c.user.as_deref().filter(|u| hit.contains(*u)) else {
                continue;
            };
            if c.closed.is_some_and(|t| t < down - SLACK_US) {
                continue;
            }
            let closed = c
                .closed
                .filter(|t| *t <= up + SLACK_US)
                .unwrap_or_else(|| panic!("{user}'s connection open at {down} µs outlived the down half ending {up} µs: {:?}", c.closed));
            resets
                .entry(user)
                .or_default()
                .push((phase + 1, closed - down));
        }
    }
    // All were logged in at A when the first down half began (the step before the flap); later
    // ones reach them when they have reconnected in the up half between, which is up to them.
    let first: BTreeSet<&str> = resets
        .iter()
        .filter(|(_, r)| r.iter().any(|(phase, _)| *phase == 1))
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(
        first,
        hit.iter().map(String::as_str).collect(),
        "every hit agent lost its link in the first down half: {resets:?}"
    );
    eprintln!(
        "aimed flap: hit {hit:?}; resets per agent as (down phase, µs from its entry): {resets:?}; first down to last up {span} µs"
    );
}
