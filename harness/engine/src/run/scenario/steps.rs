//! The step loop of a scenario: its preconditions, then each step by family: desktop start, waits
//! and markers, expectations here; faults and heals in `faults`.

use bc_suite::{Action, HealTarget, PlannedScenario};

use super::driver::{Driver, Stop};
use super::{faults, herd, phone, trigger, Ctx};
use crate::check::Activation;
use crate::env::now_us;
use crate::event::RunEvent;
use crate::fault::{ConfigLevel, Fault, Faults};
use crate::observe::{DesktopEvent, EntryKind};
use crate::run::translate;

/// Runs the preconditions and every step; `Err` when the scenario stopped early.
pub(super) async fn execute(
    d: &mut Driver<'_>,
    ctx: &Ctx<'_>,
    sc: &PlannedScenario,
    dn: &str,
) -> Result<(), Stop> {
    if dn.is_empty() {
        return Err(d.harness_error(format!(
            "agent `{}` is not in the environment's configuration database",
            sc.agent
        )));
    }
    if !sc.ha {
        d.note("topology ha: false is not supported by the environment; backups run anyway");
    }
    pin_preferred_site(d, sc).await?;
    let configs = match &sc.herd {
        Some(h) => herd::connection_files(d, h)?,
        None => vec![d
            .env
            .write_connection_file(&sc.agent)
            .map_err(|e| d.harness_error(format!("cannot write the connection file: {e}")))?],
    };
    let config = &configs[0];
    phone::start(d, ctx.phone, sc, config)?;
    phone::await_registered(d, sc).await?;
    // A fired trigger waits for the step after it, then releases its held message.
    let mut fired: Option<trigger::Fired> = None;
    let mut armed: Option<trigger::Armed> = None;
    for (i, step) in sc.steps.iter().enumerate() {
        if let Some(Action::On(t)) = sc.steps.get(i + 1).map(|s| &s.action) {
            armed = Some(trigger::arm(d, t).await?);
        }
        let description = translate::describe(&step.action);
        (ctx.emit)(RunEvent::StepStarted {
            id: sc.id.clone(),
            index: step.index,
            description: description.clone(),
        });
        let step_ts = now_us();
        d.push(
            step_ts,
            EntryKind::Step {
                index: step.index,
                description: description.clone(),
            },
        );
        if let Some(spec) = translate::expectation(&step.action, sc, ctx.capabilities, ctx.timers) {
            d.record_marker(step_ts, step.marker.as_deref());
            let h = register(d, sc, step, spec);
            d.drive(std::future::pending::<()>(), move |ev| ev.decided(h))
                .await?;
            continue;
        }
        match &step.action {
            Action::StartDesktop => {
                d.record_marker(step_ts, step.marker.as_deref());
                start_desktop(d, ctx, sc, &configs).await?;
            }
            Action::Wait(dur) => {
                d.record_marker(step_ts, step.marker.as_deref());
                d.wait(*dur).await?;
            }
            Action::Mark => d.record_marker(step_ts, step.marker.as_deref()),
            Action::On(t) => {
                let a = match armed.take() {
                    Some(a) => a,
                    None => trigger::arm(d, t).await?,
                };
                fired = Some(trigger::wait(d, a, t, step.marker.as_deref()).await?);
                continue;
            }
            Action::Heal(target) => {
                d.record_marker(step_ts, step.marker.as_deref());
                match target {
                    HealTarget::All => faults::heal_all(d).await?,
                    HealTarget::Marker { marker, step: s } => {
                        faults::heal_marker(d, step_ts, marker, *s).await?;
                    }
                }
            }
            Action::PhoneDials {
                via,
                number,
                within,
            } => {
                d.record_marker(step_ts, step.marker.as_deref());
                phone::dials(d, step.index, *via, number, *within).await?;
            }
            Action::DeliverCall { .. } if d.phone.is_some() => {
                phone::expect_ringing(d, step.index);
                faults::inject(d, step, step_ts, &description, dn).await?;
            }
            _ => faults::inject(d, step, step_ts, &description, dn).await?,
        }
        if let Some(f) = fired.take() {
            trigger::release(d, f).await?;
        }
        if d.decided_bad() {
            return Err(Stop::Decided);
        }
    }
    Ok(())
}

/// `pin_preferred_site`: the agent's preferred site set on its Person before the desktop starts.
/// Registers an expectation at its step: for every agent, or in a herd for the group it names.
fn register(
    d: &mut Driver<'_>,
    sc: &PlannedScenario,
    step: &bc_suite::PlannedStep,
    spec: crate::check::CheckSpec,
) -> usize {
    let activation = Activation::Step(step.index);
    match step.among {
        Some(g) => {
            let members = herd::group(&d.aims, g, d.herd_agents);
            let named = herd::group_name(sc, &d.aims, g);
            d.ev.add_among(spec, activation, &members, named)
        }
        None => d.ev.add(spec, activation),
    }
}

async fn pin_preferred_site(d: &mut Driver<'_>, sc: &PlannedScenario) -> Result<(), Stop> {
    let (true, Some(site)) = (sc.pin_preferred_site, sc.preferred_site) else {
        return Ok(());
    };
    let fault = Fault::SetPreferredSite {
        level: ConfigLevel::Person,
        object: sc.agent.clone(),
        site: Some(site.as_str().into()),
    };
    let env = d.env;
    match d.drive(env.inject(&fault), |_| false).await? {
        Some(Ok(_)) => d.note(format!(
            "precondition: preferred site {site} set on Person {}",
            sc.agent
        )),
        Some(Err(e)) => return Err(d.harness_error(format!("precondition failed: {e}"))),
        None => {}
    }
    Ok(())
}

/// Output lines a herd desktop's ring keeps per agent it serves (a site loss is ~10 lines each).
const HERD_LINES_PER_AGENT: usize = 40;

/// `start_desktop`: a fresh desktop with the connection files and the run's seed; a herd's
/// processes all at once or, with a ramp, process k at k × ramp / (M − 1) after the first, the
/// servers' feeds read meanwhile (a floor logs in over minutes, not at one instant).
async fn start_desktop(
    d: &mut Driver<'_>,
    ctx: &Ctx<'_>,
    sc: &PlannedScenario,
    configs: &[std::path::PathBuf],
) -> Result<(), Stop> {
    let mut spec = ctx.desktop.clone();
    spec.env
        .push(("BC_HARNESS_SEED".into(), ctx.seed.to_string()));
    if let Some(h) = &sc.herd {
        // A herd process logs for each of its agents: its ring keeps every agent's story, the
        // switchover as the desktop logged it (what scripts/herd-vs-desktop-logs compares).
        let per = (h.agents as usize).div_ceil(configs.len().max(1));
        spec.log_capacity = spec.log_capacity.max(per * HERD_LINES_PER_AGENT);
    }
    let ramp = sc
        .herd
        .as_ref()
        .map(|h| h.ramp)
        .filter(|r| !r.is_zero() && configs.len() > 1);
    let started = match ramp {
        Some(_) => spec.spawn_first(configs),
        None => spec.spawn_herd(configs),
    };
    let desk = started.map_err(|e| d.harness_error(format!("cannot start the desktop: {e}")))?;
    d.push(
        now_us(),
        EntryKind::Desktop(DesktopEvent::Started {
            pid: desk.pid(),
            command: desk.argv().join(" "),
        }),
    );
    d.desktop = Some(desk);
    let Some(ramp) = ramp else {
        return Ok(());
    };
    let gap = ramp / u32::try_from(configs.len() - 1).unwrap_or(u32::MAX);
    for k in 1..configs.len() {
        d.wait(gap).await?;
        let started = match d.desktop.as_mut() {
            Some(desk) => desk
                .start_next(&spec, configs)
                .map(|new| new.then(|| desk.newest_pid())),
            None => Ok(None),
        };
        match started {
            Err(e) => {
                return Err(d.harness_error(format!("cannot start desktop process #{k}: {e}")))
            }
            // Each process of a ramp on the timeline: when it started is what a ramp is about.
            Ok(Some(pid)) => d.push(
                now_us(),
                EntryKind::Desktop(DesktopEvent::Started {
                    pid,
                    command: spec.argv_for(&configs[k]).join(" "),
                }),
            ),
            Ok(None) => {}
        }
    }
    d.note(format!(
        "herd: {} desktop processes started over {} ms",
        configs.len(),
        ramp.as_millis()
    ));
    Ok(())
}
