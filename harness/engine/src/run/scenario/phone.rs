//! The agent's phone in a scenario (`run --phone`): started before the steps and awaited until
//! registered, told to dial (`phone_dials`, PH-3), and PH-2 armed at each `deliver_call`.

use std::time::Duration;

use bc_suite::{PlannedScenario, Site};

use super::driver::{Driver, Stop};
use crate::check::spec::CheckSpec;
use crate::check::Activation;
use crate::env::DesktopSpec;

/// The environment variable telling a phone its preferred site (`A`, `B`).
pub const PHONE_PREFERRED_ENV: &str = "BC_PHONE_PREFERRED_SITE";

/// Starts the agent's phone (when the run has one) before any step: a phone is powered on before
/// the agent logs in. The built-in phone prefers the scenario's preferred site.
pub(super) fn start(
    d: &mut Driver<'_>,
    phone: Option<&DesktopSpec>,
    sc: &PlannedScenario,
    config: &std::path::Path,
) -> Result<(), Stop> {
    let Some(spec) = phone else {
        return Ok(());
    };
    let mut spec = spec.clone();
    if let Some(site) = sc.preferred_site {
        // Every phone is told its preferred peer (as its SRV priority would); bc-phone by flag.
        spec.env
            .push((PHONE_PREFERRED_ENV.into(), site.as_str().into()));
        if spec.argv.iter().any(|a| a.ends_with("bc-phone")) {
            spec.argv.extend(["--prefer".into(), site.as_str().into()]);
        }
    }
    match spec.spawn(config) {
        Ok(phone) => {
            d.note(format!("phone started: {}", phone.argv().join(" ")));
            d.phone = Some(phone);
            Ok(())
        }
        Err(e) => Err(d.harness_error(format!("cannot start the phone: {e}"))),
    }
}

/// With a phone, the steps start once it has registered at every site (as an agent's phone is up
/// before the shift), for at most PH-1's window: a phone that is not is PH-1's to judge.
pub(super) async fn await_registered(d: &mut Driver<'_>, sc: &PlannedScenario) -> Result<(), Stop> {
    if d.phone.is_none() {
        return Ok(());
    }
    let sites: Vec<String> = sc.sites.iter().map(|s| s.as_str().to_string()).collect();
    let t0 = std::time::Instant::now();
    let window = std::time::Duration::from_millis(super::PH1_WINDOW_MS);
    let all = move |ev: &crate::check::Evaluator| {
        let seen = ev.state().phone_registered_sites();
        sites.iter().all(|s| seen.contains(s))
    };
    match d.drive(tokio::time::sleep(window), all).await? {
        None => d.note(format!(
            "precondition: the phone registered at every site in {} ms",
            t0.elapsed().as_millis()
        )),
        Some(()) => d.note(format!(
            "precondition: the phone did not register at every site within {} ms; the steps start anyway",
            window.as_millis()
        )),
    }
    Ok(())
}

/// `phone_dials`: PH-3 from this step, then `dial NUMBER` to the phone; the step lasts until
/// PH-3 is decided, like an expectation.
pub(super) async fn dials(
    d: &mut Driver<'_>,
    index: usize,
    via: Site,
    number: &str,
    within: Duration,
) -> Result<(), Stop> {
    let spec = CheckSpec::PhoneDialed {
        number: number.to_string(),
        site: via.as_str().into(),
        within_ms: within.as_millis() as u64,
    };
    let h = d.ev.add(spec, Activation::Step(index));
    let sent = d
        .phone
        .as_ref()
        .is_some_and(|p| p.send_line(&format!("dial {number}")));
    if !sent {
        return Err(d.harness_error(
            "phone_dials: the run has no phone whose stdin takes `dial NUMBER`".into(),
        ));
    }
    d.drive(std::future::pending::<()>(), move |ev| ev.decided(h))
        .await?;
    Ok(())
}

/// PH-2 from a `deliver_call` step: the call must ring the phone.
pub(super) fn expect_ringing(d: &mut Driver<'_>, index: usize) {
    let spec = CheckSpec::PhoneRang {
        within_ms: super::PH2_WINDOW_MS,
    };
    d.ev.add(spec, Activation::Step(index));
}
