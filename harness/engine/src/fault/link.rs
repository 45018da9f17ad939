//! Link faults on the desktop's proxies: refuse (proxy disabled) and toxics (black hole, one-way
//! partition, reset, latency, bandwidth, slow close, data limit, slicer), confirmed by reading back;
//! a fault on a site's SIP Server pair also reaches the site's SIP link where it means something.

use super::guard::{Applied, HealAction};
use super::select::resolve_links;
use super::{Direction, Fault, FaultError, LinkFault, LinkSelector};
use crate::env::now_us;
use crate::env::shared::Shared;
use bc_toxiproxy::client::{ProxyUpdate, Stream, Toxic};

/// Name stem of the black-hole toxics (`<tag>_black_hole_<stream>`).
pub const BLACK_HOLE_TOXIC: &str = "black_hole";

/// The toxics a link fault adds to each selected proxy, named `<tag>_<what>_<stream>` so that
/// faults can stack; `None` for `Refuse`, which disables the proxy instead.
pub fn link_toxics(fault: &LinkFault, tag: &str) -> Option<Vec<Toxic>> {
    let both = |what: &str, make: &dyn Fn(Stream) -> Toxic| {
        [Stream::Upstream, Stream::Downstream]
            .into_iter()
            .map(|s| make(s).named(format!("{tag}_{what}_{}", s.as_str())))
            .collect::<Vec<_>>()
    };
    Some(match fault {
        LinkFault::Refuse => return None,
        LinkFault::BlackHole => both(BLACK_HOLE_TOXIC, &|s| Toxic::timeout(s, 0)),
        // One direction is enough: the toxic resets the whole connection.
        LinkFault::Reset => {
            vec![Toxic::reset_peer(Stream::Downstream, 0).named(format!("{tag}_reset_downstream"))]
        }
        LinkFault::Latency { ms, jitter_ms } => {
            both("latency", &|s| Toxic::latency(s, *ms, *jitter_ms))
        }
        // Jitter alone is a latency toxic around zero.
        LinkFault::Jitter { ms } => both("latency", &|s| Toxic::latency(s, 0, *ms)),
        LinkFault::Bandwidth { kb_per_s } => both("bandwidth", &|s| Toxic::bandwidth(s, *kb_per_s)),
        LinkFault::SlowClose { delay } => {
            both("slow_close", &|s| Toxic::slow_close(s, millis(*delay)))
        }
        LinkFault::LimitData { bytes } => both("limit_data", &|s| Toxic::limit_data(s, *bytes)),
        // The black hole's toxic on one stream only: its closes are held as well (see timeout.rs).
        LinkFault::OneWay { direction } => {
            let cut = cut_stream(*direction);
            vec![Toxic::timeout(cut, 0).named(format!("{tag}_one_way_{}", cut.as_str()))]
        }
        LinkFault::Slicer {
            average_size,
            size_variation,
            delay_us,
        } => both("slicer", &|s| {
            Toxic::slicer(s, *average_size, *size_variation, *delay_us)
        }),
    })
}

/// The proxy stream a one-way partition cuts: `upstream` carries the desktop's data to the server.
pub fn cut_stream(direction: Direction) -> Stream {
    match direction {
        Direction::ToServer => Stream::Upstream,
        Direction::ToDesktop => Stream::Downstream,
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A link fault in the words of the timeline and the console (`latency 100ms±10ms`).
pub fn describe(fault: &LinkFault) -> String {
    match fault {
        LinkFault::Refuse => "refuse".into(),
        LinkFault::BlackHole => "black_hole".into(),
        LinkFault::Reset => "reset".into(),
        LinkFault::Latency { ms, jitter_ms } => format!("latency {ms}ms±{jitter_ms}ms"),
        // Written as the latency toxic it is, as timelines have always named it.
        LinkFault::Jitter { ms } => format!("latency 0ms±{ms}ms"),
        LinkFault::Bandwidth { kb_per_s } => format!("bandwidth {kb_per_s}KB/s"),
        LinkFault::SlowClose { delay } => format!("slow_close {}ms", millis(*delay)),
        LinkFault::LimitData { bytes } => format!("limit_data {bytes}B"),
        LinkFault::OneWay { direction } => format!("partition_one_way {}", direction.as_str()),
        LinkFault::Slicer {
            average_size,
            size_variation,
            delay_us,
        } => format!("slicer {average_size}±{size_variation}B/{delay_us}us"),
    }
}

fn validate(fault: &LinkFault) -> Result<(), String> {
    match fault {
        LinkFault::Bandwidth { kb_per_s: 0 } => Err("bandwidth must be at least 1 KB/s".into()),
        LinkFault::Slicer {
            average_size: 0, ..
        } => Err("slicer average_size must be at least 1 byte".into()),
        LinkFault::Slicer {
            average_size,
            size_variation,
            ..
        } if size_variation >= average_size => {
            Err("slicer size_variation must be smaller than average_size".into())
        }
        _ => Ok(()),
    }
}

pub(super) async fn apply(
    shared: &Shared,
    fault: &Fault,
    links: &LinkSelector,
    lf: &LinkFault,
) -> Result<Applied, FaultError> {
    let name = fault.to_string();
    let invalid = |reason| FaultError::Invalid {
        fault: name.clone(),
        reason,
    };
    validate(lf).map_err(invalid)?;
    let (proxies, sip) = link_names(shared, links).map_err(invalid)?;
    let tag = format!("bc{}", shared.faults.next_id());
    let not_confirmed = |reason| FaultError::NotConfirmed {
        fault: name.clone(),
        reason,
    };
    match link_toxics(lf, &tag) {
        None => {
            let proxies: Vec<String> = proxies.into_iter().chain(sip).collect();
            let actions = set_enabled(shared, &proxies, false)
                .await
                .map_err(not_confirmed)?;
            let at = now_us();
            Ok(Applied::new(
                at,
                actions,
                vec![HealAction::EnableProxies(proxies)],
            ))
        }
        Some(toxics) => {
            let mut added = Vec::new();
            let mut actions = Vec::new();
            let targets = toxic_targets(&proxies, sip.as_deref(), &toxics);
            for (p, t) in &targets {
                let r = shared.toxi.add_toxic(p, t).await;
                if let Err(e) = r {
                    // Leave nothing half-applied behind.
                    let _ = remove_toxics(shared, &added).await;
                    return Err(not_confirmed(format!("adding {} to {p}: {e}", t.name)));
                }
                added.push((p.clone(), t.name.clone()));
                actions.push(format!("{p}: +{} {}", t.r#type, t.name));
            }
            let at = now_us();
            for p in proxies.iter().chain(sip.iter()) {
                let state = shared
                    .toxi
                    .proxy(p)
                    .await
                    .map_err(|e| not_confirmed(e.to_string()))?;
                for (_, t) in targets.iter().filter(|(q, _)| q == p) {
                    if !state.toxics.iter().any(|x| x.name == t.name) {
                        return Err(not_confirmed(format!("{p} does not list toxic {}", t.name)));
                    }
                }
            }
            Ok(Applied::new(
                at,
                actions,
                vec![HealAction::RemoveToxics(added)],
            ))
        }
    }
}

/// The desktop links a selector covers, by proxy name, and the site's SIP link when the selector
/// covers the whole SIP Server pair and the environment has SIP on the wire (the phones' path).
pub(super) fn link_names(
    shared: &Shared,
    links: &LinkSelector,
) -> Result<(Vec<String>, Option<String>), String> {
    let proxies = resolve_links(&shared.topology, links)?
        .iter()
        .map(|i| i.proxy_name())
        .collect();
    let covers_pair = links
        .server
        .is_none_or(|s| s == bc_protocol::ServerKind::SipServer)
        && links.role.is_none();
    let sip = covers_pair
        .then(|| {
            shared
                .runtime
                .sip_links()
                .into_iter()
                .find(|l| l.site == links.site)
                .map(|l| l.name)
        })
        .flatten();
    Ok((proxies, sip))
}

/// Every (proxy, toxic) to add: each toxic on each desktop link, and on the SIP link those that
/// mean something for datagrams (black hole, one-way cut, latency); the others leave SIP alone.
pub(super) fn toxic_targets(
    proxies: &[String],
    sip: Option<&str>,
    toxics: &[Toxic],
) -> Vec<(String, Toxic)> {
    let mut out: Vec<(String, Toxic)> = proxies
        .iter()
        .flat_map(|p| toxics.iter().map(move |t| (p.clone(), t.clone())))
        .collect();
    if let Some(sip) = sip {
        out.extend(
            toxics
                .iter()
                .filter(|t| matches!(t.r#type.as_str(), "timeout" | "latency"))
                .map(|t| (sip.to_string(), t.clone())),
        );
    }
    out
}

/// Enables or disables proxies and reads each back.
pub(crate) async fn set_enabled(
    shared: &Shared,
    proxies: &[String],
    on: bool,
) -> Result<Vec<String>, String> {
    let update = ProxyUpdate {
        enabled: Some(on),
        ..ProxyUpdate::default()
    };
    let results = futures::future::join_all(proxies.iter().map(|p| {
        let update = update.clone();
        async move {
            shared
                .toxi
                .update_proxy(p, &update)
                .await
                .map_err(|e| e.to_string())?;
            let state = shared.toxi.proxy(p).await.map_err(|e| e.to_string())?;
            if state.enabled != on {
                return Err(format!("{p} reads back enabled={}", state.enabled));
            }
            Ok(format!(
                "{p}: {}",
                if on { "enabled" } else { "disabled (refusing)" }
            ))
        }
    }))
    .await;
    results.into_iter().collect()
}

/// Removes toxics (already-missing ones are fine) and confirms they are gone.
pub(crate) async fn remove_toxics(
    shared: &Shared,
    list: &[(String, String)],
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (p, t) in list {
        match shared.toxi.remove_toxic(p, t).await {
            Ok(()) => {}
            Err(e) if e.status().map(|s| s.as_u16()) == Some(404) => {}
            Err(e) => return Err(e.to_string()),
        }
        out.push(format!("{p}: -{t}"));
    }
    let mut proxies: Vec<&String> = list.iter().map(|(p, _)| p).collect();
    proxies.dedup();
    for p in proxies {
        let state = shared.toxi.proxy(p).await.map_err(|e| e.to_string())?;
        if let Some(left) = state
            .toxics
            .iter()
            .find(|x| list.iter().any(|(lp, lt)| lp == p && *lt == x.name))
        {
            return Err(format!("{p} still lists toxic {}", left.name));
        }
    }
    Ok(out)
}
