//! One parser per platform, each a pure function from a body to a [`Snapshot`]. They read
//! outside input: every field is optional, a value of the wrong type counts as absent, and
//! the only errors are typed ([`ParseError`]); nothing here may panic (fuzzed, see
//! `fuzz/`, and mutated in `tests/statuspage_robust.rs`).

pub mod betterstack;
pub mod checkly;
pub mod feed;
pub mod html;
pub mod incidentio;
pub mod instatus;
pub mod rootly;
pub mod statusio;
pub mod statuspage;
pub mod upptime;

use serde_json::Value;

use super::model::{parse_time, plain_text, IncidentStatus, Level};
use chrono::{DateTime, Utc};

/// Why a body is not a page of the expected format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to read.
    #[error("empty body")]
    Empty,
    /// Not UTF-8 text.
    #[error("body is not UTF-8 text")]
    NotUtf8,
    /// HTML where JSON or XML was expected (a single-page app answers every path with it).
    #[error("got an HTML page, not {expected}")]
    Html {
        /// What was expected.
        expected: &'static str,
    },
    /// Not valid JSON (truncated, or another format).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Not valid XML.
    #[error("invalid XML: {0}")]
    Xml(String),
    /// Valid, but not this platform's shape.
    #[error("not a {platform} document: {why}")]
    Shape {
        /// The platform the parser reads.
        platform: &'static str,
        /// What is missing or of the wrong type.
        why: String,
    },
}

/// Longest update text kept per incident.
pub(crate) const MAX_UPDATE_CHARS: usize = 500;
/// At most this many components, incidents or maintenances are kept from one document.
pub(crate) const MAX_ITEMS: usize = 500;

/// Checks the body is non-empty UTF-8 and not HTML, and parses it as JSON.
pub(crate) fn json_body(body: &[u8], expected: &'static str) -> Result<Value, ParseError> {
    let text = text_body(body)?;
    if looks_like_html(text) {
        return Err(ParseError::Html { expected });
    }
    serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))
}

/// Checks the body is non-empty UTF-8 (a leading BOM is dropped).
pub(crate) fn text_body(body: &[u8]) -> Result<&str, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(text)
}

/// Whether a text starts like an HTML document.
pub(crate) fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start()
        .chars()
        .take(15)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.starts_with("<head")
}

/// A shape error.
pub(crate) fn shape(platform: &'static str, why: impl Into<String>) -> ParseError {
    ParseError::Shape {
        platform,
        why: why.into(),
    }
}

/// A string field (numbers are rendered, so ids of either type work).
pub(crate) fn s(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(x) if !x.trim().is_empty() => Some(x.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A timestamp field in any supported form.
pub(crate) fn t(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    match v.get(key)? {
        Value::String(x) => parse_time(x),
        Value::Number(n) => n.as_i64().and_then(super::model::from_epoch),
        _ => None,
    }
}

/// An array field; absent or of another type is empty.
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| &a[..a.len().min(MAX_ITEMS)])
        .unwrap_or(&[])
}

/// A component status word on our scale, keeping the raw word when unknown.
pub(crate) fn level_of(word: Option<String>) -> (Level, Option<String>) {
    match word {
        None => (Level::Unknown, None),
        Some(w) => match Level::from_word(&w) {
            Some(l) => (l, None),
            None => (Level::Unknown, Some(w)),
        },
    }
}

/// An incident status word, keeping the raw word when unknown. A missing status is
/// `Unknown` (and so open: the page listed it among current incidents).
pub(crate) fn status_of(word: Option<String>) -> (IncidentStatus, Option<String>) {
    match word {
        None => (IncidentStatus::Unknown, None),
        Some(w) => match IncidentStatus::from_word(&w) {
            Some(st) => (st, None),
            None => (IncidentStatus::Unknown, Some(w)),
        },
    }
}

/// Statuspage's impact / indicator words: `none`, `minor`, `major`, `critical`,
/// `maintenance`. Its "major" is the "Partial System Outage" indicator; "critical" is
/// "Major System Outage".
pub(crate) fn statuspage_impact(word: Option<String>) -> Level {
    match word.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("none") => Level::Operational,
        Some("minor") => Level::Degraded,
        Some("major") => Level::PartialOutage,
        Some("critical") => Level::MajorOutage,
        Some("maintenance") => Level::Maintenance,
        Some(other) => Level::from_word(other).unwrap_or(Level::Unknown),
        None => Level::Unknown,
    }
}

/// Plain text of an update body.
pub(crate) fn update_text(text: Option<String>) -> Option<String> {
    text.map(|b| plain_text(&b, MAX_UPDATE_CHARS))
        .filter(|b| !b.is_empty())
}
