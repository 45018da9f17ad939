//! A bounded excerpt of a suite file for a diagnostic whose lines are too long to echo whole:
//! lines around the span clipped to a window, rendered with the file's own line and column numbers.

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Most bytes of one line a diagnostic shows; a longer line is cut to a window around the span.
/// Miette echoes whole lines, so a one-line suite nested 100,000 deep would echo 200 KB per error.
pub const MAX_SHOWN_LINE: usize = 240;

/// How many bytes of context the window keeps on each side of the span.
const SIDE: usize = MAX_SHOWN_LINE / 3;

/// The lines of context miette shows above and below the span (its default).
const CONTEXT_LINES: usize = 1;

/// The excerpt: the span's line and its neighbours, each clipped, with the span moved into it.
#[derive(Debug, Clone)]
pub struct Snippet {
    name: String,
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// 0-based line of the span inside `text`.
    span_line: usize,
    /// Bytes of the span's line cut before the window (added back to the reported column).
    head_cut: usize,
    /// The span in `text` coordinates.
    span: SourceSpan,
}

impl Snippet {
    /// `None` when every line miette would show is short enough: the full source renders as before.
    pub fn clip(name: &str, text: &str, offset: usize, len: usize) -> Option<Snippet> {
        let lines: Vec<(usize, &str)> = line_starts(text);
        let at = lines
            .iter()
            .rposition(|(start, _)| *start <= offset)
            .unwrap_or(0);
        let first = at.saturating_sub(CONTEXT_LINES);
        let last = (at + CONTEXT_LINES).min(lines.len().saturating_sub(1));
        let shown = &lines[first..=last];
        if shown.iter().all(|(_, l)| l.len() <= MAX_SHOWN_LINE) {
            return None;
        }
        let mut out = String::new();
        let (mut head_cut, mut span) = (0, SourceSpan::new(0.into(), 0));
        for (i, (start, line)) in shown.iter().enumerate() {
            if first + i == at {
                let rel = offset - start;
                let from = floor_boundary(line, rel.saturating_sub(SIDE));
                let shown_len = len.min(MAX_SHOWN_LINE - SIDE);
                let to = ceil_boundary(line, (rel + shown_len + SIDE).min(line.len()));
                let span_end = ceil_boundary(line, rel + shown_len).min(to);
                head_cut = from;
                let prefix = cut_marker(from, true);
                span = SourceSpan::new(
                    (out.len() + prefix.len() + rel - from).into(),
                    span_end - rel,
                );
                out.push_str(&prefix);
                out.push_str(&line[from..to]);
                out.push_str(&cut_marker(line.len() - to, false));
            } else {
                let to = floor_boundary(line, MAX_SHOWN_LINE.min(line.len()));
                out.push_str(&line[..to]);
                out.push_str(&cut_marker(line.len() - to, false));
            }
            out.push('\n');
        }
        let prefix_len = cut_marker(head_cut, true).len();
        Some(Snippet {
            name: name.to_string(),
            text: out,
            first_line: first,
            span_line: at - first,
            // The reported column must be the file's: undo the cut and the marker's own width.
            head_cut: head_cut.wrapping_sub(prefix_len),
            span,
        })
    }

    /// The span to label, in the excerpt's coordinates.
    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.as_str().read_span(span, before, after)?;
        let line = inner.line();
        let column = if line == self.span_line {
            inner.column().wrapping_add(self.head_cut)
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

/// Each line's byte offset and text (without its newline).
fn line_starts(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        out.push((start, l.trim_end_matches(['\n', '\r'])));
        start += l.len();
    }
    if out.is_empty() {
        out.push((0, ""));
    }
    out
}

/// Says how much of the line is not shown; empty when nothing was cut.
fn cut_marker(bytes: usize, before: bool) -> String {
    match (bytes, before) {
        (0, _) => String::new(),
        (n, true) => format!("[… {n} bytes] "),
        (n, false) => format!(" [… {n} bytes]"),
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::{Snippet, MAX_SHOWN_LINE};

    #[test]
    fn short_lines_are_not_clipped() {
        assert!(Snippet::clip("f", "a: 1\nb: 2\n", 5, 1).is_none());
    }

    #[test]
    fn a_long_line_keeps_a_window_around_the_span() {
        let line = format!("steps: {}X{}", "[".repeat(50_000), "]".repeat(50_000));
        let text = format!("version: 1\n{line}\nend: 1\n");
        let at = text.find('X').unwrap();
        let s = Snippet::clip("f", &text, at, 1).unwrap();
        assert!(s.text.len() < 4 * MAX_SHOWN_LINE, "{}", s.text.len());
        let span = s.span();
        assert_eq!(&s.text[span.offset()..span.offset() + span.len()], "X");
        assert!(s.text.contains("bytes]"));
    }
}
