//! The journal inside the page: gzip, then base64, in a `<script type="application/octet-stream">`
//! (never executed, never rendered), with the SHA-256 of the JSON, so the file alone can be checked.

use std::io::{Read, Write};

use base64::Engine as _;
use flate2::{read::GzDecoder, write::GzEncoder, Compression};

/// The element id of the embedded journal.
pub const ID: &str = "journal";
const OPEN: &str =
    "<script type=\"application/octet-stream\" id=\"journal\" data-encoding=\"gzip+base64\"";
const HASH: &str = " data-sha256=\"";
const CLOSE: &str = "</script>";

/// SHA-256 of the journal JSON, hex.
pub fn sha256(journal_json: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(journal_json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The journal JSON as the page's embedded element (base64 has no `<`, so it cannot end the script early).
pub fn element(journal_json: &str) -> String {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(journal_json.as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let hash = sha256(journal_json);
    format!("{OPEN}{HASH}{hash}\">{b64}{CLOSE}")
}

/// The hash the page claims for its journal (pages written before it was recorded have none).
pub fn claimed_sha256(html: &str) -> Option<String> {
    let start = html.find(OPEN)? + OPEN.len();
    let rest = html[start..].strip_prefix(HASH)?;
    Some(rest[..rest.find('"')?].to_string())
}

/// The journal JSON embedded in a page, if it has one.
pub fn extract(html: &str) -> Result<String, String> {
    let open = html
        .find(OPEN)
        .ok_or("no embedded journal (`<script id=\"journal\">`) in this HTML file")?;
    let start = html[open..]
        .find('>')
        .ok_or("the embedded journal's tag is not closed")?
        + open
        + 1;
    let len = html[start..]
        .find(CLOSE)
        .ok_or("the embedded journal is not terminated")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(html[start..start + len].trim())
        .map_err(|e| format!("the embedded journal is not base64: {e}"))?;
    let mut json = String::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut json)
        .map_err(|e| format!("the embedded journal is not gzip: {e}"))?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let json = r#"{"version":1,"events":[]}"#;
        let page = format!("<p>x</p>{}<p>y</p>", super::element(json));
        assert_eq!(super::extract(&page).unwrap(), json);
        assert_eq!(super::claimed_sha256(&page), Some(super::sha256(json)));
        assert!(super::extract("<p>")
            .unwrap_err()
            .contains("no embedded journal"));
    }
}
