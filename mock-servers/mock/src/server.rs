//! Starts one instance: binds the protocol, control and sync listeners, spawns the accept loops,
//! and hands back the real addresses plus a handle to wait for or trigger the end.

use crate::options::Options;
use crate::state::Instance;
use crate::{conn, control, sync};
use bc_protocol::{EventKind, Role, ServerKind};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("config-proxy needs --config (the configuration database yaml)")]
    NoConfig,
    #[error(transparent)]
    Db(#[from] crate::configdb::DbError),
    #[error("invalid capacity: {0}")]
    Capacity(String),
}

/// A running instance.
pub struct Running {
    pub instance: Arc<Instance>,
    pub listen: SocketAddr,
    pub control: SocketAddr,
    pub sync_listen: Option<SocketAddr>,
    /// The SIP listener's address (UDP and TCP), when configured.
    pub sip: Option<SocketAddr>,
}

impl Running {
    /// The one line printed on stdout when ready (see docs/control.md).
    pub fn ready_line(&self) -> String {
        let o = &self.instance.opts;
        let role = match o.role {
            Role::Primary => "primary",
            Role::Backup => "backup",
        };
        let mut s = format!(
            "bc-mock ready server={} site={} role={} listen={} control={}",
            o.kind.as_str(),
            o.site,
            role,
            self.listen,
            self.control
        );
        if let Some(a) = self.sync_listen {
            s.push_str(&format!(" sync={a}"));
        }
        if let Some(a) = self.sip {
            s.push_str(&format!(" sip={a}"));
        }
        s
    }

    /// Starts a graceful shutdown and waits until it is done.
    pub async fn shutdown(&self) {
        self.instance.graceful_shutdown().await;
    }

    /// Waits until the instance has finished (after a graceful shutdown).
    pub async fn finished(&self) {
        self.instance.finished.cancelled().await;
    }
}

/// Tells the keep-alive counts of every live connection each period, until the instance finishes.
async fn keepalive_periods(inst: Arc<Instance>) {
    let mut every = tokio::time::interval(crate::keepalive::SUMMARY_EVERY);
    every.tick().await;
    loop {
        tokio::select! {
            _ = inst.finished.cancelled() => return,
            _ = every.tick() => inst.keepalive_period(),
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Binds everything and starts serving. Must run inside a tokio runtime.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    if opts.kind == ServerKind::ConfigServer && opts.config.is_none() {
        return Err(StartError::NoConfig);
    }
    opts.capacity.validate().map_err(StartError::Capacity)?;
    let db = match &opts.config {
        Some(p) => crate::configdb::ConfigDb::load(p)?,
        None => Default::default(),
    };
    let listener = bind(opts.listen).await?;
    let control_l = bind(opts.control).await?;
    let sync_l = match opts.sync_listen {
        Some(a) if opts.kind == ServerKind::SipServer => Some(bind(a).await?),
        _ => None,
    };
    let listen = listener.local_addr().map_err(|source| StartError::Bind {
        addr: opts.listen,
        source,
    })?;
    let control = control_l.local_addr().map_err(|source| StartError::Bind {
        addr: opts.control,
        source,
    })?;
    let sync_listen = sync_l.as_ref().and_then(|l| l.local_addr().ok());
    let sync_to = opts
        .sync_to
        .clone()
        .filter(|_| opts.kind == ServerKind::SipServer);
    let inst = Instance::new(opts, db);
    *inst.listen.lock().unwrap_or_else(|e| e.into_inner()) = listen.to_string();
    let active = inst.lock().active;
    inst.emit(
        None,
        EventKind::Started {
            listen: listen.to_string(),
            active,
        },
    );

    let i = inst.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = i.stopping.cancelled() => return,
                a = listener.accept() => a,
            };
            match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(conn::serve(i.clone(), stream));
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    });
    if inst.opts.keepalive_events == crate::keepalive::KeepaliveEvents::Summary {
        tokio::spawn(keepalive_periods(inst.clone()));
    }
    let router = control::router(inst.clone());
    let i = inst.clone();
    tokio::spawn(async move {
        let serve = axum::serve(control_l, router);
        tokio::select! {
            _ = i.finished.cancelled() => {}
            r = serve => if let Err(e) = r { tracing::error!(error = %e, "control api stopped") },
        }
    });
    if let Some(l) = sync_l {
        tokio::spawn(sync::run_listener(inst.clone(), l));
    }
    if let Some(to) = sync_to {
        tokio::spawn(sync::run_sender(inst.clone(), to));
    }
    let sip = match inst.opts.sip.clone() {
        Some(cfg) if inst.kind() == ServerKind::SipServer => {
            let addr = cfg.listen;
            let w = crate::sipwire::start(inst.clone(), cfg)
                .await
                .map_err(|source| StartError::Bind { addr, source })?;
            Some(w.local)
        }
        _ => None,
    };
    Ok(Running {
        instance: inst,
        listen,
        control,
        sync_listen,
        sip,
    })
}
