//! The HTML fallback. It reads only the banner and component elements of layouts it knows
//! (Statuspage's `page-status` class and `data-component-status` attributes, incident.io's
//! embedded page data, Checkly's `status-circle` colour) and never searches the page for
//! words: legends such as "Major Outage" appear on every healthy page. Anything else is
//! `unrecognised`. Also finds feed links and recognises bot challenges.

use serde_json::Value;

use super::{statuspage_impact, text_body, ParseError};
use crate::statuspage::model::{plain_text, Component, Incident, IncidentStatus, Level, Snapshot};
use crate::statuspage::Platform;

/// One start tag: lower-case name, attributes (lower-case names, entity-decoded values)
/// and the byte range of the whole tag.
#[derive(Debug)]
pub(crate) struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub end: usize,
}

impl Tag {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|x| x == class))
    }

    fn class_with_prefix(&self, prefix: &str) -> Option<&str> {
        self.attr("class")?
            .split_ascii_whitespace()
            .find_map(|x| x.strip_prefix(prefix))
    }
}

/// Start tags in document order from byte `from`; the contents of `<script>` and `<style>`
/// are skipped as text. Bounded: one pass over the input.
pub(crate) fn tags(html: &str, from: usize) -> impl Iterator<Item = Tag> + '_ {
    let mut pos = from.min(html.len());
    std::iter::from_fn(move || loop {
        let lt = pos + html.get(pos..)?.find('<')?;
        let rest = &html[lt + 1..];
        let name_len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        if name.is_empty() || !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            pos = lt + 1;
            if name.starts_with("!--") {
                pos = html[lt..]
                    .find("-->")
                    .map(|e| lt + e + 3)
                    .unwrap_or(html.len());
            }
            continue;
        }
        let (attrs, end) = attributes(html, lt + 1 + name_len);
        pos = end;
        if name == "script" || name == "style" {
            // The tag is returned; its body is skipped on the next call.
            let close = format!("</{name}");
            let skip_to = html[end..]
                .to_ascii_lowercase()
                .find(&close)
                .map(|e| end + e)
                .unwrap_or(html.len());
            pos = skip_to;
        }
        return Some(Tag { name, attrs, end });
    })
}

/// Attributes from `i` to the closing `>`; returns them and the index after `>`.
fn attributes(html: &str, mut i: usize) -> (Vec<(String, String)>, usize) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'>' {
            return (attrs, i + 1);
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = html[start..i].to_ascii_lowercase();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            let (value, next) = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = html[vs..]
                    .bytes()
                    .position(|c| c == q)
                    .map(|p| vs + p)
                    .unwrap_or(b.len());
                (&html[vs..ve], (ve + 1).min(b.len()))
            } else {
                let vs = i;
                let mut ve = i;
                while ve < b.len() && !b[ve].is_ascii_whitespace() && b[ve] != b'>' {
                    ve += 1;
                }
                (&html[vs..ve], ve)
            };
            attrs.push((key, crate::statuspage::model::decode_entities(value)));
            i = next;
        } else if !key.is_empty() {
            attrs.push((key, String::new()));
        } else {
            i += 1;
        }
    }
    (attrs, b.len())
}

/// The text from byte `from` up to the closing `</name>` of the element that starts there,
/// as plain text (nested elements of other names are fine; bounded to 4 KiB).
fn text_until(html: &str, from: usize, name: &str) -> String {
    let window = clip(html, from, 4096);
    let close = format!("</{name}");
    let end = window
        .to_ascii_lowercase()
        .find(&close)
        .unwrap_or(window.len());
    plain_text(&window[..end], 300)
}

/// At most `len` bytes of `html` from `from` (a char boundary), cut back to a char
/// boundary: a byte cut may land inside a character.
fn clip(html: &str, from: usize, len: usize) -> &str {
    let mut end = html.len().min(from.saturating_add(len));
    while end > from && !html.is_char_boundary(end) {
        end -= 1;
    }
    html.get(from..end).unwrap_or("")
}

/// Whether a response is a bot challenge rather than the page (Cloudflare's interstitial).
pub fn is_challenge(status: u16, cf_mitigated: Option<&str>, body: &[u8]) -> bool {
    if cf_mitigated.is_some_and(|v| v.eq_ignore_ascii_case("challenge")) {
        return true;
    }
    let head = &body[..body.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let marker = text.contains("<title>just a moment...</title>")
        || text.contains("challenges.cloudflare.com")
        || text.contains("cf-browser-verification")
        || text.contains("_cf_chl_opt");
    marker && (matches!(status, 403 | 429 | 503) || text.contains("<title>just a moment"))
}

/// Feed URLs a page advertises with `<link rel="alternate" type="application/atom+xml">`
/// (or RSS), as written (maybe relative).
pub fn feed_links(html: &str) -> Vec<String> {
    tags(html, 0)
        .take_while(|t| t.name != "body")
        .filter(|t| t.name == "link")
        .filter(|t| {
            t.attr("rel")
                .is_some_and(|r| r.eq_ignore_ascii_case("alternate"))
        })
        .filter(|t| {
            t.attr("type")
                .is_some_and(|ty| ty.contains("atom+xml") || ty.contains("rss+xml"))
        })
        .filter_map(|t| t.attr("href").map(str::to_string))
        .take(4)
        .collect()
}

/// Reads a page of a known layout.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let text = text_body(body)?;
    let html = text;
    if let Some(s) = statuspage_layout(html) {
        return Ok(s);
    }
    if let Some(s) = incidentio_layout(html) {
        return Ok(s);
    }
    if let Some(s) = checkly_layout(html) {
        return Ok(s);
    }
    Err(super::shape(
        "html",
        "no status banner or component list of a known layout",
    ))
}

fn statuspage_layout(html: &str) -> Option<Snapshot> {
    let mut snap = Snapshot::new(Platform::Statuspage);
    let mut found = false;
    let mut next_is_group = false;
    for tag in tags(html, 0) {
        if tag.has_class("page-status") {
            if let Some(word) = tag.class_with_prefix("status-") {
                snap.indicator = Some(statuspage_impact(Some(word.to_string())));
                found = true;
            }
        }
        if tag.has_class("component-container") && tag.has_class("is-group") {
            next_is_group = true;
        }
        if let Some(word) = tag.attr("data-component-status") {
            let (status, raw_status) = super::level_of(Some(word.to_string()));
            // The name is in the next `<span class="name">` (Statuspage nests a span in it).
            let name = tags(html, tag.end)
                .take(12)
                .find(|t| t.name == "span" && t.has_class("name"))
                .map(|t| text_until(html, t.end, "span"))
                .filter(|n| !n.is_empty());
            if let Some(name) = name {
                if snap.components.len() < super::MAX_ITEMS {
                    snap.components.push(Component {
                        name,
                        group: None,
                        status,
                        raw_status,
                        is_group: next_is_group,
                    });
                }
                found = true;
            }
            next_is_group = false;
        }
        if tag.has_class("unresolved-incident") {
            let impact = statuspage_impact(tag.class_with_prefix("impact-").map(str::to_string));
            let title_tag = tags(html, tag.end)
                .take(20)
                .find(|t| t.name == "a" && t.has_class("actual-title"));
            let title = title_tag
                .as_ref()
                .map(|t| text_until(html, t.end, "a"))
                .unwrap_or_else(|| "(untitled)".into());
            let url = title_tag.and_then(|t| t.attr("href").map(str::to_string));
            let window = clip(html, tag.end, 4096);
            let status = window
                .to_ascii_lowercase()
                .find("<strong>")
                .map(|i| text_until(window, i + 8, "strong"))
                .and_then(|w| IncidentStatus::from_word(&w))
                .unwrap_or(IncidentStatus::Unknown);
            snap.incidents.push(Incident {
                id: url.clone().unwrap_or_else(|| title.clone()),
                title,
                status,
                raw_status: None,
                impact,
                started_at: None,
                updated_at: None,
                last_update: None,
                url,
            });
            found = true;
        }
    }
    found.then_some(snap)
}

fn incidentio_layout(html: &str) -> Option<Snapshot> {
    let tag =
        tags(html, 0).find(|t| t.name == "script" && t.attr("id") == Some("__NEXT_DATA__"))?;
    let end = html[tag.end..].find("</script").map(|e| tag.end + e)?;
    let data: Value = serde_json::from_str(&html[tag.end..end]).ok()?;
    let summary = find_summary(&data, 0)?;
    super::incidentio::from_value(summary).ok()
}

/// The first object (depth-first, bounded) with `ongoing_incidents`.
fn find_summary(v: &Value, depth: usize) -> Option<&Value> {
    if depth > 12 {
        return None;
    }
    match v {
        Value::Object(m) => {
            if m.contains_key("ongoing_incidents") {
                return Some(v);
            }
            m.values().find_map(|x| find_summary(x, depth + 1))
        }
        Value::Array(a) => a.iter().take(200).find_map(|x| find_summary(x, depth + 1)),
        _ => None,
    }
}

fn checkly_layout(html: &str) -> Option<Snapshot> {
    let tag = tags(html, 0).find(|t| {
        t.attr("class").is_some_and(|c| {
            c.split_ascii_whitespace()
                .any(|x| x.contains("status-circle"))
        })
    })?;
    let look = format!(
        "{} {}",
        tag.attr("class").unwrap_or(""),
        tag.attr("style").unwrap_or("")
    )
    .to_ascii_lowercase();
    let level = if look.contains("green") {
        Level::Operational
    } else if look.contains("yellow") {
        Level::Degraded
    } else if look.contains("orange") {
        Level::PartialOutage
    } else if look.contains("red") {
        Level::MajorOutage
    } else if look.contains("blue") {
        Level::Maintenance
    } else {
        return None;
    };
    let mut snap = Snapshot::new(Platform::Checkly);
    snap.indicator = Some(level);
    Some(snap)
}
