//! The environment a run kept (`run --keep-env=on-failure`), served as if `env up` had started it:
//! its failed scenario's faults held (listed and healable), its desktop running until `env down`.

use std::net::SocketAddr;
use std::path::Path;

use tokio::sync::watch;

use super::owner::Lab;
use super::up::{free_state_dir, serve, Place, Ready};
use crate::fault::Faults;
use crate::run::KeptEnv;

/// Serves the kept environment from `state_dir` until `env down`, Ctrl-C or SIGTERM; calls
/// `ready` once `env status` can reach it. Everything is torn down on return.
pub async fn serve_kept(
    kept: KeptEnv,
    state_dir: &Path,
    control_listen: SocketAddr,
    stop: watch::Receiver<bool>,
    ready: impl FnOnce(&Ready),
) -> Result<(), String> {
    let KeptEnv {
        agent,
        config,
        env,
        events,
        kept,
        ..
    } = kept;
    let config = std::fs::canonicalize(&config).unwrap_or(config);
    let state_dir = match free_state_dir(state_dir) {
        Ok(d) => d,
        Err(e) => {
            // Nobody can reach it: tear it down rather than leave it behind.
            if let Some(d) = &kept.desktop {
                let _ = d.terminate().await;
            }
            let _ = env.heal_all().await;
            let _ = env.shutdown().await;
            return Err(e);
        }
    };
    let connection = env.connection_file(&agent).map_err(|e| e.to_string())?;
    let connection_file = state_dir.join(format!("desktop-{agent}.json"));
    connection
        .write(&connection_file)
        .map_err(|e| e.to_string())?;
    let lab = Lab::with_events(env, Some(events), config.clone(), agent.clone());
    for (step, guard) in kept.faults {
        lab.hold(step, guard);
    }
    if let Some(d) = kept.desktop {
        lab.keep_desktop(d).await;
    }
    let place = Place {
        state_dir,
        control_listen,
        config,
        agent,
    };
    serve(lab, place, connection, connection_file, stop, ready).await
}
