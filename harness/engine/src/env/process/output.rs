//! Captured output of a supervised process: lines cut to a bounded length, kept in a bounded ring
//! and optionally forwarded, so a child that floods its pipes costs the harness a bounded amount.

use crate::env::clock::now_us;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// Which output stream a captured line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One captured output line with its wall-clock time (µs since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub ts_us: i64,
    pub stream: LogStream,
    pub line: String,
}

/// A bounded ring of captured lines (the oldest are dropped).
#[derive(Debug, Clone)]
pub struct LogRing {
    cap: usize,
    lines: Arc<Mutex<VecDeque<LogLine>>>,
}

impl LogRing {
    pub fn new(cap: usize) -> LogRing {
        LogRing {
            cap: cap.max(1),
            lines: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    pub fn push(&self, line: LogLine) {
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() == self.cap {
            l.pop_front();
        }
        l.push_back(line);
    }

    /// The retained lines, oldest first.
    pub fn snapshot(&self) -> Vec<LogLine> {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }

    /// The last `n` lines joined for an error message (`""` when empty).
    pub fn tail_text(&self, n: usize) -> String {
        let snap = self.snapshot();
        let start = snap.len().saturating_sub(n);
        snap[start..]
            .iter()
            .map(|l| l.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Longest output line kept, in bytes: the rest of a longer line is cut (and counted in the line),
/// so a desktop that prints a 400 MB line or a binary blob costs the harness at most this per line.
pub const MAX_LINE_BYTES: usize = 4096;

/// Splits a byte stream into lines of at most `MAX_LINE_BYTES` (lossy UTF-8, `\r\n` trimmed).
/// Reading never stops early: a child whose pipe is not drained blocks on its next write.
struct LineCutter {
    line: Vec<u8>,
    cut: usize,
}

impl LineCutter {
    fn new() -> Self {
        LineCutter {
            line: Vec::new(),
            cut: 0,
        }
    }

    /// Feeds bytes; returns the lines they complete.
    fn feed(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (part, done) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], Some(i + 1)),
                None => (bytes, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            let kept = part.len().min(room);
            self.line.extend_from_slice(&part[..kept]);
            self.cut += part.len() - kept;
            match done {
                Some(n) => {
                    out.push(self.take());
                    bytes = &bytes[n..];
                }
                None => break,
            }
        }
        out
    }

    /// The last, unterminated line at end of stream, if any.
    fn finish(&mut self) -> Option<String> {
        (!self.line.is_empty() || self.cut > 0).then(|| self.take())
    }

    fn take(&mut self) -> String {
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        let mut text = String::from_utf8_lossy(&self.line).into_owned();
        if self.cut > 0 {
            text.push_str(&format!(" … [{} more bytes cut]", self.cut));
        }
        self.line.clear();
        self.cut = 0;
        text
    }
}

pub(super) async fn pump<R: AsyncRead + Unpin>(
    r: R,
    stream: LogStream,
    log: LogRing,
    tx: Option<mpsc::UnboundedSender<String>>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let mut cutter = LineCutter::new();
    let deliver = |line: String| {
        if let Some(tx) = &tx {
            let _ = tx.send(line.clone());
        }
        log.push(LogLine {
            ts_us: now_us(),
            stream,
            line,
        });
    };
    // Ends at EOF (process exited or closed the stream) or on a read error.
    loop {
        let n = match reader.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(buf) => {
                for line in cutter.feed(buf) {
                    deliver(line);
                }
                buf.len()
            }
        };
        reader.consume(n);
    }
    if let Some(line) = cutter.finish() {
        deliver(line);
    }
}

#[cfg(test)]
mod tests {
    use super::{LineCutter, MAX_LINE_BYTES};

    #[test]
    fn lines_split_across_reads_and_crlf_are_joined_and_trimmed() {
        let mut c = LineCutter::new();
        assert!(c.feed(b"hel").is_empty());
        assert_eq!(c.feed(b"lo\r\nwor"), vec!["hello"]);
        assert_eq!(c.feed(b"ld\n\n"), vec!["world", ""]);
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn a_huge_line_keeps_its_head_and_says_how_much_was_cut() {
        let mut c = LineCutter::new();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..8 {
            assert!(c.feed(&chunk).is_empty());
        }
        let lines = c.feed(b"y\nnext\n");
        assert_eq!(lines.len(), 2);
        let cut = 8 * (1 << 20) + 1 - MAX_LINE_BYTES;
        assert!(lines[0].starts_with(&"x".repeat(MAX_LINE_BYTES)));
        assert!(
            lines[0].ends_with(&format!(" … [{cut} more bytes cut]")),
            "{}",
            &lines[0][MAX_LINE_BYTES..]
        );
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn binary_output_is_kept_lossily_and_an_unterminated_tail_is_flushed() {
        let mut c = LineCutter::new();
        assert_eq!(
            c.feed(&[0xff, 0xfe, b'a', b'\n']),
            vec!["\u{fffd}\u{fffd}a"]
        );
        assert!(c.feed(&[0, 1, 2]).is_empty());
        assert_eq!(c.finish().as_deref(), Some("\u{0}\u{1}\u{2}"));
    }
}
