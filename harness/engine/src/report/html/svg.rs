//! A small typed SVG writer: elements and attributes are Rust enums and every text and attribute
//! value is escaped on output, so nothing a desktop prints can break the page. No charting crate.

use std::fmt::Write as _;

/// The SVG elements the report draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// The root.
    Svg,
    /// A group.
    G,
    /// A link (SVG 2 `href`).
    A,
    /// A rectangle.
    Rect,
    /// A straight line.
    Line,
    /// A path (crosses, brackets).
    Path,
    /// A circle.
    Circle,
    /// Text.
    Text,
    /// A tooltip of its parent.
    Title,
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::Svg => "svg",
            Tag::G => "g",
            Tag::A => "a",
            Tag::Rect => "rect",
            Tag::Line => "line",
            Tag::Path => "path",
            Tag::Circle => "circle",
            Tag::Text => "text",
            Tag::Title => "title",
        }
    }
}

/// The attributes the report sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// `id` (deep links).
    Id,
    /// `class` (all styling is in the page's CSS).
    Class,
    /// `viewBox`.
    ViewBox,
    /// `width`.
    Width,
    /// `height`.
    Height,
    /// `x`.
    X,
    /// `y`.
    Y,
    /// `x1`.
    X1,
    /// `y1`.
    Y1,
    /// `x2`.
    X2,
    /// `y2`.
    Y2,
    /// `cx`.
    Cx,
    /// `cy`.
    Cy,
    /// `r`.
    R,
    /// `d`.
    D,
    /// `href` (in-page anchors only).
    Href,
    /// `text-anchor`.
    TextAnchor,
    /// `role`.
    Role,
    /// `aria-label`.
    AriaLabel,
}

impl Attr {
    fn name(self) -> &'static str {
        match self {
            Attr::Id => "id",
            Attr::Class => "class",
            Attr::ViewBox => "viewBox",
            Attr::Width => "width",
            Attr::Height => "height",
            Attr::X => "x",
            Attr::Y => "y",
            Attr::X1 => "x1",
            Attr::Y1 => "y1",
            Attr::X2 => "x2",
            Attr::Y2 => "y2",
            Attr::Cx => "cx",
            Attr::Cy => "cy",
            Attr::R => "r",
            Attr::D => "d",
            Attr::Href => "href",
            Attr::TextAnchor => "text-anchor",
            Attr::Role => "role",
            Attr::AriaLabel => "aria-label",
        }
    }
}

/// A child of an element.
#[derive(Debug, Clone)]
enum Node {
    El(El),
    Text(String),
}

/// One element with its attributes and children.
#[derive(Debug, Clone)]
pub struct El {
    tag: Tag,
    attrs: Vec<(Attr, String)>,
    children: Vec<Node>,
}

/// A coordinate with one decimal: finer than a pixel, and keeps the file small.
pub fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

impl El {
    /// An empty element.
    pub fn new(tag: Tag) -> El {
        El {
            tag,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }
    /// With an attribute (escaped on output).
    pub fn attr(mut self, a: Attr, v: impl ToString) -> El {
        self.attrs.push((a, v.to_string()));
        self
    }
    /// With a numeric attribute.
    pub fn at(self, a: Attr, v: f64) -> El {
        self.attr(a, num(v))
    }
    /// With a child element.
    pub fn child(mut self, c: El) -> El {
        self.children.push(Node::El(c));
        self
    }
    /// Adds a child element in place.
    pub fn push(&mut self, c: El) {
        self.children.push(Node::El(c));
    }
    /// With text content (escaped on output).
    pub fn text(mut self, t: &str) -> El {
        self.children.push(Node::Text(t.to_string()));
        self
    }
    /// With a `<title>` tooltip.
    pub fn title(self, t: &str) -> El {
        self.child(El::new(Tag::Title).text(t))
    }
    /// The element as markup.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
    fn write(&self, out: &mut String) {
        let name = self.tag.name();
        out.push('<');
        out.push_str(name);
        for (a, v) in &self.attrs {
            let _ = write!(out, " {}=\"", a.name());
            escape(v, out);
            out.push('"');
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Node::El(e) => e.write(out),
                Node::Text(t) => escape(t, out),
            }
        }
        let _ = write!(out, "</{name}>");
    }
}

/// Escapes text for XML content and attribute values; control characters (invalid in XML 1.0,
/// and desktops print them) become U+FFFD.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_attributes_and_text() {
        let e = El::new(Tag::Text)
            .attr(Attr::Class, "a\"b")
            .at(Attr::X, 1.25)
            .at(Attr::Y, 3.0)
            .text("<x> & \u{1b}[0m");
        assert_eq!(
            e.render(),
            "<text class=\"a&quot;b\" x=\"1.2\" y=\"3\">&lt;x&gt; &amp; \u{fffd}[0m</text>"
        );
        assert_eq!(El::new(Tag::G).render(), "<g/>");
    }
}
