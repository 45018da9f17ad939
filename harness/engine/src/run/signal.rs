//! Cancellation: SIGINT or SIGTERM as a watch that turns true, and its hand-over to the workers'
//! stop (which `--fail-fast` also sets without being an interruption).

use std::sync::Arc;

use tokio::sync::watch;

/// Passes the signal's cancellation on to the workers' stop (until the run ends).
pub(super) async fn follow(mut signal: watch::Receiver<bool>, stop: Arc<watch::Sender<bool>>) {
    loop {
        if *signal.borrow_and_update() {
            let _ = stop.send(true);
            return;
        }
        if signal.changed().await.is_err() || stop.is_closed() {
            return;
        }
    }
}

/// A cancellation signal that turns true on SIGINT or SIGTERM.
pub fn signal_cancel() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
        // Keep the sender alive so receivers do not see a closed channel.
        std::future::pending::<()>().await;
    });
    rx
}
