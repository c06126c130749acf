//! Atom and RSS incident feeds (`/history.atom`, `/history.rss`, `/feed.rss`, ...).
//! Entries are grouped by id; the newest status word wins (Statuspage puts the update
//! trail newest first inside each entry, with the word in `<strong>`, and "Update" is not a
//! status). An incident is open unless it says Resolved, Completed or Postmortem; an entry
//! with no status word at all counts as open only if it changed within a day of the feed's
//! own `updated`, so a feed of plain news does not read as a pile of open incidents.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Utc};
use quick_xml::events::Event;
use quick_xml::Reader;

use super::{looks_like_html, text_body, ParseError, MAX_ITEMS, MAX_UPDATE_CHARS};
use crate::statuspage::model::{
    decode_entities, parse_time, plain_text, Incident, IncidentStatus, Level, Maintenance, Snapshot,
};
use crate::statuspage::Platform;

#[derive(Debug, Default, Clone)]
struct Entry {
    id: String,
    title: String,
    link: Option<String>,
    content: String,
    updated: Option<DateTime<Utc>>,
    published: Option<DateTime<Utc>>,
}

/// Deepest element nesting read; deeper documents are refused (bounded work).
const MAX_DEPTH: usize = 64;

/// Parses an Atom or RSS document.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let text = text_body(body)?;
    if looks_like_html(text) {
        return Err(ParseError::Html {
            expected: "an Atom or RSS feed",
        });
    }
    let (feed_updated, entries) = read_entries(text)?;
    let mut snap = Snapshot::new(Platform::Feed);
    snap.updated_at = feed_updated.or_else(|| entries.iter().filter_map(|e| e.updated).max());
    // Group by id, keeping first-seen order.
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    for e in entries {
        match groups.iter_mut().find(|g| g[0].id == e.id) {
            Some(g) => g.push(e),
            None => groups.push(vec![e]),
        }
    }
    for mut group in groups {
        group.sort_by_key(|e| std::cmp::Reverse(e.updated.or(e.published)));
        let newest = &group[0];
        let word = group.iter().find_map(|e| status_word(&e.content, &e.title));
        let last_changed = newest.updated.or(newest.published);
        let open = match &word {
            Some(Word::Incident(st)) => st.is_open(),
            Some(Word::MaintenanceInProgress) => {
                snap.maintenances.push(Maintenance {
                    id: newest.id.clone(),
                    title: newest.title.clone(),
                    starts_at: last_changed,
                    ends_at: None,
                    url: newest.link.clone(),
                });
                false
            }
            Some(Word::MaintenanceScheduled) => false,
            None => match (last_changed, snap.updated_at) {
                (Some(c), Some(f)) => f - c <= TimeDelta::days(1),
                _ => false,
            },
        };
        if !open {
            continue;
        }
        let status = match word {
            Some(Word::Incident(st)) => st,
            _ => IncidentStatus::Unknown,
        };
        let published = group.iter().filter_map(|e| e.published).min();
        snap.incidents.push(Incident {
            id: newest.id.clone(),
            title: newest.title.clone(),
            status,
            raw_status: None,
            impact: Level::Unknown,
            started_at: first_update_time(&newest.content, published.or(last_changed))
                .or(published),
            updated_at: last_changed,
            last_update: last_update(&newest.content),
            url: newest.link.clone(),
        });
    }
    Ok(snap)
}

fn read_entries(text: &str) -> Result<(Option<DateTime<Utc>>, Vec<Entry>), ParseError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut path: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    let mut current: Option<Entry> = None;
    let mut feed_updated = None;
    let mut buf = String::new();
    let mut saw_root = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| ParseError::Xml(e.to_string()))?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                if path.is_empty() {
                    if !matches!(name.as_str(), "feed" | "rss" | "rdf") {
                        return Err(super::shape("feed", format!("root element <{name}>")));
                    }
                    saw_root = true;
                }
                if path.len() >= MAX_DEPTH {
                    return Err(ParseError::Xml("nested too deeply".into()));
                }
                if (name == "entry" || name == "item") && current.is_none() {
                    current = Some(Entry::default());
                }
                if name == "link" {
                    link_href(&e, current.as_mut());
                }
                path.push(name);
                buf.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase();
                if name == "link" {
                    link_href(&e, current.as_mut());
                }
            }
            Event::Text(t) => {
                buf.push_str(&t.decode().map_err(|e| ParseError::Xml(e.to_string()))?);
            }
            Event::CData(t) => buf.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| ParseError::Xml(e.to_string()))?;
                buf.push_str(&decode_entities(&format!("&{name};")));
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { break };
                let value = std::mem::take(&mut buf);
                match (current.as_mut(), name.as_str()) {
                    (Some(_), "entry" | "item") => {
                        if let Some(mut e) = current.take() {
                            if e.id.is_empty() {
                                e.id = e.link.clone().unwrap_or_else(|| e.title.clone());
                            }
                            if entries.len() < MAX_ITEMS {
                                entries.push(e);
                            }
                        }
                    }
                    (Some(e), "id" | "guid") => e.id = value.trim().to_string(),
                    (Some(e), "title") => e.title = plain_text(&value, 300),
                    // The longest of content / summary / description holds the trail.
                    (Some(e), "content" | "description" | "summary" | "encoded")
                        if value.len() > e.content.len() =>
                    {
                        e.content = value
                    }
                    (Some(e), "updated" | "lastbuilddate" | "modified") => {
                        e.updated = parse_time(&value)
                    }
                    (Some(e), "published" | "pubdate" | "date" | "issued") => {
                        e.published = parse_time(&value)
                    }
                    (Some(e), "link") if !value.trim().is_empty() && e.link.is_none() => {
                        e.link = Some(value.trim().to_string())
                    }
                    (None, "updated" | "lastbuilddate" | "pubdate") => {
                        feed_updated = parse_time(&value)
                    }
                    _ => {}
                }
                if path.is_empty() {
                    break;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(super::shape("feed", "no <feed> or <rss> element"));
    }
    // RSS items have only pubDate: treat it as the last change.
    for e in &mut entries {
        if e.updated.is_none() {
            e.updated = e.published;
        }
    }
    Ok((feed_updated, entries))
}

fn link_href(e: &quick_xml::events::BytesStart<'_>, entry: Option<&mut Entry>) {
    let Some(entry) = entry else { return };
    let mut href = None;
    let mut rel = None;
    for a in e.attributes().flatten() {
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.into_owned())
            .ok();
        match a.key.as_ref() {
            b"href" => href = v,
            b"rel" => rel = v,
            _ => {}
        }
    }
    if rel.as_deref().is_none_or(|r| r == "alternate") && entry.link.is_none() {
        entry.link = href;
    }
}

enum Word {
    Incident(IncidentStatus),
    MaintenanceInProgress,
    MaintenanceScheduled,
}

/// The first status word in `<strong>` (newest first in Statuspage feeds), else a
/// `[Resolved]`-style word in the title.
fn status_word(content: &str, title: &str) -> Option<Word> {
    let lower = content.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<strong>") {
        let start = from + i + "<strong>".len();
        let Some(len) = lower[start..].find("</strong>") else {
            break;
        };
        let word = &lower[start..start + len];
        if let Some(w) = word_of(word) {
            return Some(w);
        }
        from = start + len;
    }
    let t = title.to_ascii_lowercase();
    let bracketed = t
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .or_else(|| t.split(':').next().filter(|w| w.len() < 20));
    bracketed.and_then(word_of)
}

fn word_of(word: &str) -> Option<Word> {
    let w = word.trim();
    match w {
        "scheduled" => Some(Word::MaintenanceScheduled),
        "in progress" => Some(Word::MaintenanceInProgress),
        _ => IncidentStatus::from_word(w).map(Word::Incident),
    }
}

/// The newest update's text: the first paragraph, without its date and status word.
fn last_update(content: &str) -> Option<String> {
    let first = content
        .split("</p>")
        .find(|p| !plain_text(p, 10).is_empty())?;
    let text = plain_text(first, MAX_UPDATE_CHARS * 2);
    let body = text.split_once(" - ").map(|(_, b)| b).unwrap_or(&text);
    let body = plain_text(body, MAX_UPDATE_CHARS);
    (!body.is_empty()).then_some(body)
}

/// The time of the oldest update in a Statuspage entry ("Jul 9, 04:34 UTC", the last
/// `<small>`), with the year taken from `reference` (a year back if that lands after it).
fn first_update_time(content: &str, reference: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let reference = reference?;
    let lower = content.to_ascii_lowercase();
    let start = lower.rfind("<small>")? + "<small>".len();
    let len = lower[start..].find("</small>")?;
    let text = plain_text(&content[start..start + len], 40);
    let text = text.trim_end_matches("UTC").trim().replace(" ,", ",");
    let parse = |year: i32| {
        NaiveDateTime::parse_from_str(&format!("{year} {text}"), "%Y %b %d, %H:%M")
            .ok()
            .map(|n| Utc.from_utc_datetime(&n))
    };
    let at = parse(reference.year())?;
    if at > reference + TimeDelta::days(1) {
        parse(reference.year() - 1)
    } else {
        Some(at)
    }
}
