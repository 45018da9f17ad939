//! Error recovery for the structure pass: after an error, patch the text and parse again.
//! A near miss is replaced by its suggestion; otherwise the offending key or list item is blanked.

/// Where the last structure error was, and what could fix it.
pub(crate) struct Found {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The suggested replacement of the word at the location, if any.
    pub fix: Option<String>,
    /// Whether the error is an unknown mapping key.
    pub unknown_key: bool,
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start_matches(' ').len()
}

fn is_blank(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

fn item_dash(l: &str) -> Option<usize> {
    let t = l.trim_start_matches(' ');
    (t.starts_with("- ") || t == "-").then(|| indent(l))
}

/// Lines `start..end` that belong to the node starting on line `start` at indentation `ind`.
fn block_end(lines: &[&str], start: usize, ind: usize) -> usize {
    let mut end = start + 1;
    while end < lines.len() && (is_blank(lines[end]) || indent(lines[end]) > ind) {
        end += 1;
    }
    end
}

/// The text patched so that parsing gets past the error, or `None` when no safe patch exists.
pub(crate) fn recover(text: &str, f: &Found) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let li = (f.line as usize).checked_sub(1)?;
    let line = *lines.get(li)?;
    let col = line
        .char_indices()
        .nth((f.column as usize).saturating_sub(1))
        .map(|(b, _)| b)?;
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();

    // A near miss: replace the word by the suggestion.
    if let Some(fix) = &f.fix {
        let rest = &line[col..];
        let wlen = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        let word = &rest[..wlen];
        if wlen > 0 && word != fix && strsim::jaro_winkler(word, fix) >= 0.7 {
            out[li] = format!("{}{}{}", &line[..col], fix, &rest[wlen..]);
            return Some(out.join("\n"));
        }
    }

    // An unknown key in block style: blank the key and its children.
    if f.unknown_key && indent(line) == col && line[col..].contains(':') {
        let end = block_end(&lines, li, col);
        for l in out.iter_mut().take(end).skip(li) {
            l.clear();
        }
        return Some(out.join("\n"));
    }

    // Otherwise blank the innermost list item holding the error, if it has a sibling
    // (an empty list would only cause a new, misleading error).
    let mut start = None;
    let mut limit = usize::MAX;
    for i in (0..=li).rev() {
        let l = lines[i];
        if is_blank(l) {
            continue;
        }
        if let Some(d) = item_dash(l) {
            if i == li || d < limit {
                start = Some((i, d));
                break;
            }
        }
        limit = limit.min(indent(l));
        if limit == 0 {
            break;
        }
    }
    let (s, d) = start?;
    let end = block_end(&lines, s, d);
    let sibling_after = lines[end..]
        .iter()
        .find(|l| !is_blank(l))
        .is_some_and(|l| item_dash(l) == Some(d));
    let sibling_before = lines[..s]
        .iter()
        .rev()
        .find(|l| !is_blank(l) && indent(l) <= d)
        .is_some_and(|l| item_dash(l) == Some(d));
    if !(sibling_after || sibling_before) {
        return None;
    }
    for l in out.iter_mut().take(end).skip(s) {
        l.clear();
    }
    Some(out.join("\n"))
}
