//! Suite errors as miette diagnostics: message, file:line:col, source snippet, help line.
//! Every pass reports into a [`Diagnostics`] so all errors of a file come out together.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};

use crate::snippet::Snippet;
use crate::span::Span;

/// Which pass found an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The file could not be read.
    Io,
    /// Not well-formed YAML (indentation, quotes, ...).
    Syntax,
    /// Missing, wrong or too new `version`.
    Version,
    /// Well-formed YAML that does not fit the model (unknown keys, wrong types, ...).
    Structure,
    /// Fits the model but means nothing (unknown references, impossible timings, ...).
    Semantic,
}

impl Phase {
    fn code(self) -> &'static str {
        match self {
            Phase::Io => "suite::io",
            Phase::Syntax => "suite::syntax",
            Phase::Version => "suite::version",
            Phase::Structure => "suite::structure",
            Phase::Semantic => "suite::semantic",
        }
    }
}

/// One error in one suite file.
#[derive(Debug, Clone)]
pub struct SuiteError {
    /// The pass that found it.
    pub phase: Phase,
    /// What is wrong (lowercase, no location).
    pub message: String,
    /// Where (unknown span: whole file).
    pub span: Span,
    /// Short label under the snippet.
    pub label: String,
    /// How to fix it, e.g. "did you mean `kill_site`?".
    pub help: Option<String>,
    /// The file name as given and its text, for rendering.
    pub source: Arc<NamedSource<Arc<String>>>,
    /// A clipped excerpt to render instead of `source` when a line near the span is too long.
    snippet: Option<Arc<Snippet>>,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl SuiteError {
    /// `file:line:col: message` on one line (for logs and tests).
    pub fn one_line(&self) -> String {
        if self.span.is_unknown() {
            format!("{}: {}", self.source.name(), self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.source.name(),
                self.span.line,
                self.span.column,
                self.message
            )
        }
    }
}

impl std::error::Error for SuiteError {}

impl Diagnostic for SuiteError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.phase.code()))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.clone()) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.span.is_unknown() {
            None
        } else if let Some(snippet) = &self.snippet {
            Some(&**snippet)
        } else {
            Some(&*self.source)
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.span.is_unknown() {
            return None;
        }
        let span = match &self.snippet {
            Some(snippet) => snippet.span(),
            None => SourceSpan::new(self.span.offset.into(), self.span.len),
        };
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(self.label.clone()), span),
        )))
    }
}

/// Collects the errors of one file.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    source: Arc<NamedSource<Arc<String>>>,
    text: Arc<String>,
    /// The errors, in the order found.
    pub errors: Vec<SuiteError>,
}

impl Diagnostics {
    /// Starts collecting for a file named `name` with text `text`.
    pub fn new(name: &str, text: Arc<String>) -> Self {
        Diagnostics {
            source: Arc::new(NamedSource::new(name, text.clone())),
            text,
            errors: Vec::new(),
        }
    }

    /// The file name as given.
    pub fn name(&self) -> &str {
        self.source.name()
    }

    /// Records an error.
    pub fn push(
        &mut self,
        phase: Phase,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let span = self.fix_span(span);
        let snippet = (!span.is_unknown())
            .then(|| Snippet::clip(self.name(), &self.text, span.offset, span.len))
            .flatten()
            .map(Arc::new);
        self.errors.push(SuiteError {
            phase,
            message: message.into(),
            span,
            label: label.into(),
            help,
            source: self.source.clone(),
            snippet,
        });
    }

    /// Records a semantic error.
    pub fn semantic(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let message = message.into();
        self.push(Phase::Semantic, span, message, "here", help);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Spans from the parser may lack a byte length: stretch them over the token at the offset
    /// so the snippet underlines the whole word, and derive the offset from line/column when
    /// it is missing.
    fn fix_span(&self, mut span: Span) -> Span {
        if span.is_unknown() {
            return span;
        }
        let text = self.text.as_str();
        if span.offset == 0 && (span.line > 1 || span.column > 1) {
            span.offset = offset_of(text, span.line, span.column);
        }
        span.offset = span.offset.min(text.len());
        while !text.is_char_boundary(span.offset) {
            span.offset -= 1;
        }
        if span.len == 0 {
            let rest = &text[span.offset..];
            let end = rest.find(['\n', ',', '}', ']', '#']).unwrap_or(rest.len());
            let token = rest[..end].trim_end();
            let token = token
                .strip_suffix(':')
                .or_else(|| token.split(": ").next())
                .unwrap_or(token);
            span.len = token.len();
        }
        span.len = span.len.min(text.len() - span.offset);
        span
    }
}

/// Byte offset of a 1-based line and character column.
pub(crate) fn offset_of(text: &str, line: u32, column: u32) -> usize {
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return off
                + l.char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map(|(b, _)| b)
                    .unwrap_or(l.len());
        }
        off += l.len();
    }
    text.len()
}

/// Renders errors as plain text (no colours), as `bc-harness validate` and snapshot tests do.
pub fn render_plain(errors: &[SuiteError]) -> String {
    render(errors, GraphicalTheme::unicode_nocolor())
}

/// Renders errors with colours when stderr is a terminal.
pub fn render_for_terminal(errors: &[SuiteError]) -> String {
    render(errors, GraphicalTheme::default())
}

fn render(errors: &[SuiteError], theme: GraphicalTheme) -> String {
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for e in errors {
        let _ = handler.render_report(&mut out, e);
    }
    out
}
