//! Property tests: generated valid suites survive serialize -> parse unchanged, and randomly
//! mutated suite text never panics the loader and every error it reports has a location.
//! Case counts are modest (seeded by proptest's defaults) so the suite stays fast.

use bc_suite::*;
use proptest::prelude::*;

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v)
}

fn site_ref() -> impl Strategy<Value = SiteRef> {
    prop_oneof![
        Just(SiteRef::A),
        Just(SiteRef::B),
        Just(SiteRef::Preferred),
        Just(SiteRef::Other)
    ]
}

fn kind() -> impl Strategy<Value = ServerKind> {
    prop::sample::select(ServerKind::ALL.to_vec())
}

fn role() -> impl Strategy<Value = Option<Role>> {
    prop_oneof![
        Just(None),
        Just(Some(Role::Primary)),
        Just(Some(Role::Backup))
    ]
}

fn dur() -> impl Strategy<Value = HumanDuration> {
    (1u64..600_000).prop_map(HumanDuration::from_millis)
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,10}"
}

/// Free text that stresses quoting: colons, hashes, quotes, words YAML might read as bool/null.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,30}",
        Just("yes".to_string()),
        Just("null".to_string()),
        Just("1.5".to_string()),
        Just("key: value # not a comment".to_string()),
        Just("- dash".to_string()),
    ]
}

fn server_target() -> impl Strategy<Value = ServerTarget> {
    (site_ref(), kind(), role()).prop_map(|(site, server, role)| ServerTarget {
        site,
        server,
        group: None,
        role,
    })
}

fn link_target() -> impl Strategy<Value = LinkTarget> {
    (site_ref(), prop::option::of(kind()), role()).prop_map(|(site, server, role)| LinkTarget {
        site,
        role: server.and(role),
        group: None,
        server,
    })
}

fn marker() -> impl Strategy<Value = Option<Spanned<String>>> {
    prop::option::of(name().prop_map(sp))
}

#[expect(
    clippy::too_many_lines,
    reason = "a test reads as one script, top to bottom"
)]
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::StartDesktop),
        (site_ref(), marker()).prop_map(|(s, m)| Step::KillSite(SiteAction {
            site: sp(s),
            marker: m
        })),
        (site_ref(), marker()).prop_map(|(s, m)| Step::StopSite(SiteAction {
            site: sp(s),
            marker: m
        })),
        (server_target(), marker()).prop_map(|(t, m)| Step::KillServer(ServerAction {
            server: sp(t),
            marker: m
        })),
        (server_target(), marker()).prop_map(|(t, m)| Step::FreezeServer(ServerAction {
            server: sp(t),
            marker: m
        })),
        (link_target(), marker()).prop_map(|(l, m)| Step::BlackHole(LinkAction {
            link: sp(l),
            marker: m,
            share: None,
            agents: None,
        })),
        (link_target(), marker()).prop_map(|(l, m)| Step::Refuse(LinkAction {
            link: sp(l),
            marker: m,
            share: None,
            agents: None,
        })),
        (
            link_target(),
            0u64..5000,
            prop::option::of(0u64..500),
            marker()
        )
            .prop_map(|(l, ms, j, m)| {
                Step::Latency(LatencyFault {
                    link: sp(l),
                    ms: sp(ms),
                    jitter_ms: j.map(sp),
                    marker: m,
                    share: None,
                    agents: None,
                })
            }),
        (
            link_target(),
            dur(),
            1u32..20,
            prop::option::of(prop::sample::select(vec![
                FlapMode::Refuse,
                FlapMode::BlackHole,
                FlapMode::Reset
            ])),
            marker()
        )
            .prop_map(|(l, p, c, mode, m)| Step::Flap(FlapFault {
                link: sp(l),
                period: sp(p),
                count: sp(c),
                mode: mode.map(sp),
                marker: m,
                share: None,
                agents: None,
            })),
        (
            prop::sample::select(vec![Level::Tenant, Level::AgentGroup, Level::Person]),
            prop::option::of(name()),
            site_ref(),
            marker()
        )
            .prop_map(|(level, n, s, m)| Step::SetPreferredSite(SetPreferredSite {
                level: sp(level),
                name: n.map(sp),
                site: sp(s),
                marker: m
            })),
        (site_ref(), marker()).prop_map(|(s, m)| Step::DeliverCall(CallDelivery {
            via: sp(s),
            marker: m
        })),
        name().prop_map(|n| Step::Heal(sp(n))),
        dur().prop_map(|d| Step::Wait(sp(d))),
        name().prop_map(|n| Step::Mark(sp(n))),
        (
            prop::option::of(site_ref()),
            prop::option::of(prop::collection::vec(kind(), 1..3)),
            prop::option::of(dur()),
            prop::option::of(name()),
            prop::option::of(name())
        )
            .prop_map(|(s, servers, within, from, measure)| Step::ExpectLoggedIn(
                ExpectLoggedIn {
                    site: s.map(sp),
                    servers: servers.map(|v| v.into_iter().map(sp).collect()),
                    within: within.map(sp),
                    from: from.map(sp),
                    measure: measure.map(sp),
                    agents: None,
                }
            )),
        (site_ref(), dur(), prop::option::of(0u32..4)).prop_map(|(s, d, g)| {
            Step::ExpectStaysLoggedIn(ExpectStaysLoggedIn {
                site: sp(s),
                duration: sp(d),
                servers: None,
                gaps: g.map(sp),
                agents: None,
            })
        }),
        (prop::option::of(dur()), prop::option::of(name())).prop_map(|(w, f)| {
            Step::ExpectCallAnswered(ExpectCallAnswered {
                within: w.map(sp),
                from: f.map(sp),
                measure: None,
            })
        }),
    ]
}

fn invariant() -> impl Strategy<Value = Invariant> {
    prop_oneof![
        Just(Invariant::NeverLoggedInAtBothPeers),
        dur().prop_map(|d| Invariant::NeverSplit { longer_than: sp(d) }),
        (0u32..5, prop::option::of(dur())).prop_map(|(c, p)| Invariant::MaxSwitchovers {
            count: sp(c),
            per: p.map(sp)
        }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        name(),
        prop::option::of(text()),
        prop::collection::vec(prop::sample::select(RuleId::ALL.to_vec()), 0..3),
        prop::collection::vec(step(), 1..8),
        prop::collection::vec(invariant(), 0..3),
        any::<bool>(),
        prop::option::of(dur()),
    )
        .prop_map(
            |(id, title, rules, steps, invariants, each, budget)| Scenario {
                id: sp(id),
                title,
                description: None,
                rules: rules.into_iter().map(sp).collect(),
                tags: vec![],
                requires: vec![],
                skip_if: vec![],
                agent: None,
                budget: budget.map(sp),
                preferred_site: None,
                for_each_preferred_site: each,
                herd: None,
                steps: steps.into_iter().map(sp).collect(),
                invariants: invariants.into_iter().map(sp).collect(),
                measurements: vec![],
            },
        )
}

fn suite() -> impl Strategy<Value = Suite> {
    (
        name(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec(name(), 0..3),
        prop::collection::vec(prop::sample::select(Capability::ALL.to_vec()), 0..2),
        any::<bool>(),
        prop::collection::vec(scenario(), 1..4),
    )
        .prop_map(
            |(id, title, description, tags, requires, stat, scenarios)| Suite {
                version: sp(1),
                id: sp(id),
                title,
                description,
                tags: tags.into_iter().map(sp).collect(),
                rules: vec![sp(RuleId::Bc4)],
                requires: requires.into_iter().map(sp).collect(),
                skip_if: vec![],
                topology: Topology {
                    stat_server: stat,
                    ..Topology::default()
                },
                config: Some(sp("fixtures/suites/config.yaml".into())),
                agent: sp("agent1001".into()),
                budget: None,
                scenarios: scenarios.into_iter().map(sp).collect(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn generated_suites_round_trip(s in suite()) {
        let text = serde_saphyr::to_string(&s).expect("serializes");
        let (parsed, diags) = parse_str("generated.yaml", &text);
        prop_assert!(diags.is_empty(), "{}\n{}", text, render_plain(&diags.errors));
        prop_assert_eq!(parsed.expect("parsed"), s, "{}", text);
    }
}

/// One random edit of the text: delete, insert, duplicate or swap.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, what: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    ReplaceWord { at: usize, with: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop::sample::select(vec![
        ":",
        "- ",
        "  ",
        "\t",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "\n",
        "#",
        "&a ",
        "*a",
        "!!str ",
        "? ",
        "|",
        ">",
        "~",
        "0",
        "-1",
        "99999999999999999999",
        "ms",
        "/",
        "kill_site",
        "preferred",
        "\u{e9}",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(junk.clone(), 1..3)).prop_map(|(at, w)| {
            Mutation::Insert {
                at,
                what: w.concat(),
            }
        }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), junk).prop_map(|(at, w)| Mutation::ReplaceWord {
            at,
            with: w.to_string()
        }),
    ]
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut s = text.to_string();
    match m {
        Mutation::Delete { at, len } => {
            let a = floor_boundary(&s, at % (s.len() + 1));
            let b = floor_boundary(&s, a + len);
            s.replace_range(a..b, "");
        }
        Mutation::Insert { at, what } => {
            let a = floor_boundary(&s, at % (s.len() + 1));
            s.insert_str(a, what);
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = s.lines().collect();
            let i = line % lines.len().max(1);
            if let Some(l) = lines.get(i).copied() {
                lines.insert(i, l);
            }
            s = lines.join("\n");
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = s.lines().collect();
            let n = lines.len().max(1);
            if !lines.is_empty() {
                lines.swap(a % n, b % n);
            }
            s = lines.join("\n");
        }
        Mutation::ReplaceWord { at, with } => {
            let a = floor_boundary(&s, at % (s.len() + 1));
            let rest = &s[a..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            s.replace_range(a..a + end, with);
        }
    }
    s
}

fn seeds() -> &'static [String] {
    static SEEDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(load_seeds)
}

fn load_seeds() -> Vec<String> {
    let root = crate::common::repo();
    let mut v: Vec<String> = crate::common::files(&root.join("suites/examples"), &["yaml"])
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    v.push(std::fs::read_to_string(root.join("suites/certification/bc06-one-peer.yaml")).unwrap());
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_suites_never_panic_and_errors_have_locations(
        seed in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let seeds = seeds();
        let mut text = seed.get(seeds).clone();
        for m in &muts {
            text = apply(&text, m);
        }
        static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
        let dir = DIR.get_or_init(|| crate::common::repo().join("suites/examples"));
        match load_str("mutated.yaml", &text, dir) {
            Ok(_) => {}
            Err(d) => {
                prop_assert!(!d.errors.is_empty());
                for e in &d.errors {
                    let empty = e.message.contains("empty");
                    prop_assert!(
                        !e.span.is_unknown() || empty,
                        "error without location: {}\n---\n{}", e.message, text
                    );
                    prop_assert!(e.span.offset <= text.len());
                    // Rendering must not panic either.
                    let _ = render_plain(std::slice::from_ref(e));
                }
            }
        }
    }
}
