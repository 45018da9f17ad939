//! The HTML report, structurally: pages made from recorded timelines replayed through the checkers;
//! the SVG parses as XML and draws a deadline per timed check, a band per fault, the decision.

use crate::html_support;

use bc_engine::check::Status;
use bc_engine::observe::{Change, Effect, EntryKind, Subject, Target, Timeline};
use bc_engine::report::html;
use bc_protocol::{DisconnectHow, EventKind, ObservedEvent, Role, ServerKind};
use html_support::{invariants, journal, logged_in, result};

/// Every `<svg ...>...</svg>` of the page, parsed.
fn svgs(page: &str) -> Vec<String> {
    page.match_indices("<svg ")
        .map(|(i, _)| {
            let end = page[i..].find("</svg>").expect("svg closed") + i + "</svg>".len();
            let text = page[i..end].to_string();
            roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("SVG is not XML: {e}\n{text}"));
            text
        })
        .collect()
}

fn count_class(svg: &str, class: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|w| w == class))
        })
        .count()
}

fn faults(r: &bc_engine::event::ScenarioResult) -> usize {
    let t = r.timeline.as_ref().unwrap();
    t.entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Fault { .. }))
        .count()
}

#[test]
fn passing_switchover_draws_deadlines_decisions_and_bands() {
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, 2));
    let r = result("kill-site-switchover", &["BC-4", "BC-5"], &checks);
    assert_eq!(r.verdict.as_str(), "pass", "{:#?}", r.checks);
    let bands = faults(&r);
    let page = html::render(&journal(vec![r])).unwrap();
    let svg = &svgs(&page)[0];
    assert_eq!(
        count_class(svg, "deadline"),
        1,
        "one deadline line per timed check"
    );
    assert_eq!(
        count_class(svg, "decided"),
        1,
        "the deciding event of the pass"
    );
    assert_eq!(count_class(svg, "missed"), 0);
    assert_eq!(count_class(svg, "band"), bands, "one band per fault");
    assert_eq!(
        count_class(svg, "measure"),
        2,
        "switchover and detection brackets"
    );
    // The decision links to the event that decided it, which has that id.
    let doc = roxmltree::Document::parse(svg).unwrap();
    let href = doc
        .descendants()
        .find(|n| n.has_tag_name("a"))
        .and_then(|a| a.attribute("href"))
        .unwrap();
    assert!(
        doc.descendants()
            .any(|n| n.attribute("id") == Some(&href[1..])),
        "{href} has no target"
    );
    assert!(page.contains("A.sip_server.primary"), "a lane per instance");
    assert!(
        page.contains("desktop says") && !page.contains("<hello>"),
        "the log tail is escaped"
    );
    assert!(
        !page.contains('\u{1b}') && page.contains("hello") && page.contains("bold"),
        "terminal escapes removed"
    );
}

#[test]
fn failed_deadline_is_a_cross_and_the_failing_check_is_named() {
    let r = result("never-switches", &["BC-4"], &[logged_in("B", 10_000, 2)]);
    assert_eq!(r.verdict.as_str(), "fail");
    let Status::Fail(f) = &r.checks[0].status else {
        panic!("{:#?}", r.checks)
    };
    let check = f.check.clone();
    let page = html::render(&journal(vec![r])).unwrap();
    let svg = &svgs(&page)[0];
    assert_eq!(count_class(svg, "deadline"), 1);
    assert_eq!(count_class(svg, "missed"), 1, "a cross at the deadline");
    assert_eq!(count_class(svg, "decided"), 0);
    let escaped = check.replace('`', "&#96;");
    assert!(
        page.contains(&check) || page.contains(&escaped),
        "{check} not in the page"
    );
    assert!(
        page.contains("class=\"v-fail\""),
        "the matrix cell and the badge say fail"
    );
}

#[test]
fn invariant_violation_is_a_red_strip() {
    let r = result("black-hole-dual-login", &["BC-6"], &invariants());
    assert_eq!(r.verdict.as_str(), "fail", "{:#?}", r.checks);
    let bands = faults(&r);
    let page = html::render(&journal(vec![r])).unwrap();
    let svg = &svgs(&page)[0];
    assert_eq!(count_class(svg, "violations"), 1);
    assert_eq!(count_class(svg, "band"), bands);
    assert_eq!(
        count_class(svg, "deadline"),
        0,
        "invariants have no deadline"
    );
}

#[test]
fn page_is_self_contained_and_carries_its_journal() {
    let mut checks = invariants();
    checks.push(logged_in("B", 5_000, 2));
    let results = vec![
        result("kill-site-switchover", &["BC-4"], &checks),
        result("never-switches", &["BC-4"], &[logged_in("B", 10_000, 2)]),
        result("flap-thrash", &["BC-11"], &invariants()),
        result("early-exit", &["BC-1"], &invariants()),
        result("call-answered", &["BC-12"], &invariants()),
    ];
    let page = html::render(&journal(results)).unwrap();
    for bad in ["http://", "https://", "<link", "<img", "@import", "url("] {
        assert!(
            !page.contains(bad),
            "the page must not load anything: found {bad}"
        );
    }
    assert!(page.contains("@media print"));
    assert_eq!(svgs(&page).len(), 5);
    for rule in 1..=12 {
        assert!(
            page.contains(&format!("<th>BC-{rule}</th>")),
            "matrix row BC-{rule}"
        );
    }
    assert!(
        page.contains("bc-harness run fixtures/timelines --desktop"),
        "replay command"
    );
    // The embedded journal renders the same page again (the date of rendering is not in it).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cert.html");
    std::fs::write(&path, &page).unwrap();
    let again = html::render(&html::load(&path).unwrap()).unwrap();
    assert_eq!(again, page);
}

#[test]
fn trace_counts_from_the_marker_and_finds_the_deciding_entry() {
    let r = result("never-switches", &["BC-4"], &[logged_in("B", 10_000, 2)]);
    let t = r.timeline.as_ref().unwrap();
    let traced = html::trace::trace(t, &r.checks);
    assert_eq!(traced.len(), 1);
    assert_eq!(traced[0].deadline_us - traced[0].from_us, 10_000_000);
    assert!(
        traced[0].from_us <= traced[0].start_us,
        "the marker precedes the step"
    );
    let r = result(
        "kill-site-switchover",
        &["BC-4"],
        &[logged_in("B", 5_000, 2)],
    );
    let t = r.timeline.as_ref().unwrap();
    match html::trace::trace(t, &r.checks)[0].decided {
        html::trace::Decided::Entry(i, ts) => assert_eq!(t.entries[i].ts_us, ts),
        other => panic!("a pass is decided by an entry: {other:?}"),
    }
}

#[test]
fn journals_merge_into_one_page() {
    let a = journal(vec![result(
        "kill-site-switchover",
        &["BC-4"],
        &invariants(),
    )]);
    let b = journal(vec![result(
        "never-switches",
        &["BC-4"],
        &[logged_in("B", 10_000, 2)],
    )]);
    let page = html::render(&html::merge(vec![a, b])).unwrap();
    assert_eq!(svgs(&page).len(), 2);
    assert!(page.contains("1 passed") && page.contains("1 failed") && page.contains("of 2"));
}

/// `A`'s primary SIP Server of `group` (`None`: as a deployment of one group reports it) on `conn`.
fn sip_event(ts_us: i64, group: Option<u32>, conn: u64, kind: EventKind) -> EntryKind {
    EntryKind::Observed {
        event: ObservedEvent {
            seq: 0,
            ts_us,
            server: ServerKind::SipServer,
            site: "A".into(),
            role: Role::Primary,
            group,
            conn: Some(conn),
            kind,
        },
    }
}

fn fault_on(id: u32, server: ServerKind, group: Option<u32>) -> EntryKind {
    EntryKind::Fault {
        id,
        marker: None,
        description: format!("kill {server:?} g{group:?}"),
        effects: vec![Effect {
            target: Target {
                site: "A".into(),
                server: Some(server),
                role: Some(Role::Primary),
                group,
            },
            change: Change::Killed,
        }],
        agents: vec![],
    }
}

#[test]
fn sip_server_groups_get_their_own_lanes_and_bands() {
    let mut t = Timeline::new(Subject {
        scenario: "two-groups".into(),
        username: "agent1".into(),
        agent_id: "1001".into(),
        dn: "5001".into(),
        sites: vec!["A".into(), "B".into()],
        uses_stat_server: false,
        client_timeout_ms: 10_000,
        rules: vec![],
    });
    let connected = || EventKind::ClientConnected {
        peer: "127.0.0.1:1".into(),
    };
    // Each instance numbers its own connections: both groups have a connection 1.
    t.push(1_000_000, sip_event(1_000_000, None, 1, connected()));
    t.push(1_000_000, sip_event(1_000_000, Some(2), 1, connected()));
    t.push(2_000_000, fault_on(1, ServerKind::SipServer, Some(1)));
    let gone = EventKind::ClientDisconnected {
        how: DisconnectHow::Fin,
    };
    t.push(3_000_000, sip_event(3_000_000, Some(2), 1, gone));
    t.push(4_000_000, fault_on(2, ServerKind::SipServer, None));
    t.push(5_000_000, fault_on(3, ServerKind::ConfigServer, None));

    let pic = html::lanes::picture(&t);
    let labels: Vec<String> = pic.lanes.keys().map(|k| k.label()).collect();
    assert_eq!(
        labels,
        [
            "A.config_server.primary",
            "A.sip_server.primary",
            "A.sip_server.g2.primary"
        ],
        "a lane per instance, group 1 first; the configuration server only from its fault's band"
    );
    let lane = |label: &str| {
        let (k, l) = pic.lanes.iter().find(|(k, _)| k.label() == label).unwrap();
        (k.clone(), l.clone())
    };
    let (g1, one) = lane("A.sip_server.primary");
    let (g2, two) = lane("A.sip_server.g2.primary");
    let conns = |l: &html::lanes::Lane| -> Vec<(i64, i64)> {
        l.bars.iter().map(|b| (b.from_us, b.to_us)).collect()
    };
    assert_eq!(
        conns(&one),
        [(1_000_000, 2_000_000)],
        "group 1's connection ends at its kill"
    );
    assert_eq!(
        conns(&two),
        [(1_000_000, 3_000_000)],
        "group 2's connection 1 is its own, untouched by group 1's kill"
    );
    let bands: Vec<Vec<_>> = pic.bands.iter().map(|b| b.lanes.clone()).collect();
    assert_eq!(
        bands[0],
        std::slice::from_ref(&g1),
        "a fault on group 1's peer bands group 1 only"
    );
    assert_eq!(
        bands[1],
        [g1, g2],
        "a fault naming no group bands every group seen"
    );
    let proxy: Vec<String> = bands[2].iter().map(|k| k.label()).collect();
    assert_eq!(
        proxy,
        ["A.config_server.primary"],
        "other kinds are not in groups"
    );
}
