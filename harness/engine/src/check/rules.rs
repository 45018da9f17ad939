//! Which rule a failing check breaks: its own when it has one (BC-6, BC-5, BC-7), otherwise the
//! rule of the scenario that uses it, so "no switchover" in a BC-8 scenario is reported as BC-8.

use super::CheckSpec;

/// The flapping rule, which `max_switchovers` states when the scenario checks it.
const THRASH: &str = "BC-11";

/// The rules `spec` stands for in a scenario checking `scenario` rules with the checks `present`.
/// A check of no rule of its own takes the scenario's rules, less those other checks of the
/// scenario enforce by themselves (an `expect_logged_in` of a BC-4 + BC-5 scenario with
/// `never_split` is BC-4), or all of them when that leaves none.
pub fn of<'a>(
    spec: &CheckSpec,
    scenario: &[String],
    present: impl IntoIterator<Item = &'a CheckSpec>,
) -> Vec<String> {
    if let Some(own) = spec.own_rule() {
        return vec![own.to_string()];
    }
    let thrash = matches!(spec, CheckSpec::MaxSwitchovers { .. });
    if thrash && (scenario.is_empty() || scenario.iter().any(|r| r == THRASH)) {
        return vec![THRASH.to_string()];
    }
    let owned: Vec<&str> = present
        .into_iter()
        .filter_map(CheckSpec::own_rule)
        .collect();
    let rest: Vec<String> = scenario
        .iter()
        .filter(|r| !owned.contains(&r.as_str()))
        .cloned()
        .collect();
    if rest.is_empty() {
        scenario.to_vec()
    } else {
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_switchover_takes_the_scenario_rule() {
        let max = CheckSpec::MaxSwitchovers {
            count: 0,
            per_ms: 10_000,
        };
        let ha = [CheckSpec::NoSwitchoverOnHaFailover, max.clone()];
        assert_eq!(of(&max, &rules(&["BC-7"]), &ha), rules(&["BC-7"]));
        assert_eq!(of(&max, &rules(&["BC-8"]), [&max]), rules(&["BC-8"]));
        assert_eq!(of(&max, &rules(&["BC-11"]), [&max]), rules(&["BC-11"]));
        assert_eq!(of(&max, &[], [&max]), rules(&["BC-11"]));
    }

    #[test]
    fn own_rules_stay_and_are_left_to_their_checks() {
        let split = CheckSpec::NeverSplit {
            longer_than_ms: 1_000,
        };
        let alive = CheckSpec::DesktopAlive;
        let scenario = rules(&["BC-4", "BC-5"]);
        assert_eq!(of(&split, &scenario, [&split]), rules(&["BC-5"]));
        assert_eq!(of(&alive, &scenario, [&split, &alive]), rules(&["BC-4"]));
        assert_eq!(of(&alive, &scenario, [&alive]), scenario);
        assert_eq!(
            of(
                &CheckSpec::NeverLoggedInAtBothPeers,
                &rules(&["BC-4"]),
                std::iter::empty()
            ),
            rules(&["BC-6"])
        );
    }
}
