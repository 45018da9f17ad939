//! A container's attached output: read up to the ready line, then drained in the background into a
//! bounded log (error messages, `log_tail`); the end of the stream is the exit of the incarnation.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::{oneshot, watch};

use super::Container;
use crate::env::docker::error::DockerError;

/// The attached output of one container incarnation.
pub(super) type OutputStream = std::pin::Pin<
    Box<
        dyn futures::Stream<
                Item = Result<
                    testcontainers::bollard::container::LogOutput,
                    testcontainers::bollard::errors::Error,
                >,
            > + Send,
    >,
>;

/// How much of a container's recent output is kept (error messages, `log_tail`).
const OUTPUT_TAIL_BYTES: usize = 8192;

impl Container {
    /// Keeps reading the attached output into the log; its end is the exit of this incarnation, told both
    /// as a one-shot (for the owner) and as a watch (for a readiness wait).
    pub(super) fn drain(
        &self,
        mut output: OutputStream,
    ) -> (oneshot::Receiver<()>, watch::Receiver<bool>) {
        let (tx, exited) = oneshot::channel();
        let (ended_tx, ended) = watch::channel(false);
        let log = Arc::clone(&self.log);
        tokio::spawn(async move {
            while let Some(Ok(out)) = output.next().await {
                push_log(&log, &String::from_utf8_lossy(&out.into_bytes()));
            }
            let _ = ended_tx.send(true);
            let _ = tx.send(());
        });
        (exited, ended)
    }

    /// Reads the attached output until the readiness condition holds; an ended stream means the process exited.
    pub(super) async fn read_until_line(
        &self,
        output: &mut OutputStream,
        prefix: &str,
    ) -> Result<String, DockerError> {
        let mut pending = String::new();
        let mut tail = String::new();
        while let Some(Ok(out)) = output.next().await {
            // Ready lines are looked for on stdout and stderr alike: what matters is the words.
            let text = String::from_utf8_lossy(&out.into_bytes()).into_owned();
            push_tail(&mut tail, &text);
            push_log(&self.log, &text);
            pending.push_str(&text);
            // Only complete lines count: a chunk may end in the middle of the ready line.
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if line.starts_with(prefix) {
                    return Ok(line.trim_end().to_string());
                }
            }
        }
        // The output ended: the process exited before it was ready.
        let code = self.exit_code().await;
        Err(DockerError::Exited {
            name: self.spec.name.clone(),
            code,
            output: tail,
        })
    }
}

/// Appends to the shared log buffer.
fn push_log(log: &Mutex<String>, text: &str) {
    push_tail(&mut log.lock().unwrap_or_else(|e| e.into_inner()), text);
}

/// Appends to a bounded buffer keeping only the last bytes (at a char boundary).
fn push_tail(tail: &mut String, text: &str) {
    tail.push_str(text);
    if tail.len() > OUTPUT_TAIL_BYTES {
        let mut cut = tail.len() - OUTPUT_TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}
