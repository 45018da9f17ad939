//! Source locations carried by model values so later passes can point at the YAML.
//! `Spanned<T>` compares and serializes as its value alone: locations never change meaning.

use std::fmt;
use std::ops::Deref;

use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a value sits in its source file (1-based line and column, 0-based byte offset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// 1-based line; 0 when unknown (values built in code).
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
    /// Byte offset of the first character in the source text.
    pub offset: usize,
    /// Length in bytes (0 for a point).
    pub len: usize,
}

impl Span {
    /// True for spans of values that did not come from a file.
    pub fn is_unknown(&self) -> bool {
        self.line == 0
    }

    pub(crate) fn from_location(loc: &serde_saphyr::Location) -> Self {
        let s = loc.span();
        Span {
            line: loc.line() as u32,
            column: loc.column() as u32,
            offset: s.byte_offset().unwrap_or(0) as usize,
            len: s.byte_len().unwrap_or(0) as usize,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value with the location of the YAML node it was read from.
#[derive(Clone, Default)]
pub struct Spanned<T> {
    /// The value itself.
    pub value: T,
    /// Where it was written (unknown for values built in code).
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value built in code (unknown location).
    pub fn new(value: T) -> Self {
        Spanned {
            value,
            span: Span::default(),
        }
    }

    /// Wraps a value with a known location.
    pub fn with_span(value: T, span: Span) -> Self {
        Spanned { value, span }
    }

    /// Transforms the value, keeping the location.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            span: self.span,
        }
    }
}

impl<T> From<T> for Spanned<T> {
    fn from(value: T) -> Self {
        Spanned::new(value)
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Spanned {
            value: inner.value,
            span: Span::from_location(&inner.referenced),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}
