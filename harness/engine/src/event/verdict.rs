//! A scenario's verdict once the harness's own errors are known: defined once, for the run that
//! produces a result and for `verify`, which derives it again from the journal.

use crate::check::{Failure, Verdict};

/// How every lateness error starts (`HarnessTiming::overloaded`).
pub const LATENESS: &str = "harness overloaded:";

/// Errors of earlier attempts, kept with a retried result, carry this (`worker`).
pub const RETRIED: &str = " (retried): ";

/// Said beside the lateness when a load-proof failure stands (the run's result adds it).
pub const STANDS: &str = "the failure stands: it shows the desktop acting early, which a slow machine cannot cause (it only delays what a desktop does)";

/// The verdict of checks that gave `checks` (with these `failures`) once the harness's `errors`
/// count: `error`, unless every error of this attempt is the harness's lateness and a failure is
/// load-proof (`Failure::load_proof`). Slowness can delay what a desktop does, never make it act
/// early; a failure that shows it acting early is the desktop's, however late the harness was.
pub fn verdict_with_errors(checks: Verdict, failures: &[Failure], errors: &[String]) -> Verdict {
    let own: Vec<&String> = errors
        .iter()
        .filter(|e| !e.contains(RETRIED) && *e != STANDS)
        .collect();
    if own.is_empty() {
        return checks;
    }
    let only_late = own.iter().all(|e| e.starts_with(LATENESS));
    if only_late && checks == Verdict::Fail && failures.iter().any(|f| f.load_proof) {
        return Verdict::Fail;
    }
    checks.worsen(Verdict::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_proof_failure_stands_when_the_harness_was_only_late() {
        let early = Failure::new("HERD-3", 1, "retried early").load_proof();
        let late = Failure::new("HERD-2", 1, "bunched");
        let slow = vec![format!("{LATENESS} decided 1029 ms late")];
        let v = |f: &[Failure], e: &[String]| verdict_with_errors(Verdict::Fail, f, e);
        assert_eq!(v(&[early.clone(), late.clone()], &slow), Verdict::Fail);
        let said = vec![slow[0].clone(), STANDS.to_string()];
        assert_eq!(v(std::slice::from_ref(&early), &said), Verdict::Fail);
        assert_eq!(
            v(std::slice::from_ref(&late), &slow),
            Verdict::Error,
            "slowness may bunch"
        );
        let broken = vec![slow[0].clone(), "the observation feed closed".into()];
        assert_eq!(v(std::slice::from_ref(&early), &broken), Verdict::Error);
        assert_eq!(
            verdict_with_errors(Verdict::Pass, &[], &slow),
            Verdict::Error,
            "a pass is never justified by a late harness"
        );
        let retried = vec![format!("attempt 1{RETRIED}{}", slow[0])];
        assert_eq!(v(&[late], &retried), Verdict::Fail);
        let t = super::super::HarnessTiming {
            decision_lag_us: 600_000,
            bound_us: 500_000,
            ..Default::default()
        };
        assert!(t.overloaded().is_some_and(|m| m.starts_with(LATENESS)));
    }
}
