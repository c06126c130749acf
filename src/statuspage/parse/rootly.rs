//! Rootly-hosted status pages: `/api/v1/status.json` (overall status and services) and
//! `/api/v1/incidents.json` (incidents). No capture of either was available when this was
//! written, so the reader accepts the plausible spellings (a `status` word or object;
//! `components` or `services`; flat or JSON:API `attributes` items) and refuses anything
//! without a recognisable status word, so the poller moves on instead of guessing.

use serde_json::Value;

use super::{arr, json_body, level_of, s, shape, status_of, statuspage_impact, t, ParseError};
use crate::statuspage::model::{Component, Incident, Level, Snapshot};
use crate::statuspage::Platform;

/// `attributes` of a JSON:API item, or the item itself.
fn attrs(v: &Value) -> &Value {
    v.get("attributes").filter(|a| a.is_object()).unwrap_or(v)
}

/// Parses the status document.
pub fn parse_status(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Rootly JSON")?;
    let root = v.get("data").map(attrs).unwrap_or(&v);
    let indicator = match root.get("status") {
        Some(Value::String(w)) => level_of(Some(w.clone())).0,
        Some(o @ Value::Object(_)) => s(o, "indicator")
            .map(|w| statuspage_impact(Some(w)))
            .or_else(|| s(o, "status").map(|w| level_of(Some(w)).0))
            .unwrap_or(Level::Unknown),
        _ => Level::Unknown,
    };
    let services: Vec<&Value> = ["components", "services"]
        .iter()
        .flat_map(|k| arr(root, k).iter())
        .collect();
    let mut snap = Snapshot::new(Platform::Rootly);
    for c in services {
        let a = attrs(c);
        let Some(name) = s(a, "name").or_else(|| s(a, "title")) else {
            continue;
        };
        let (status, raw_status) = level_of(s(a, "status"));
        snap.components.push(Component {
            name,
            group: s(a, "group").or_else(|| s(a, "group_name")),
            status,
            raw_status,
            is_group: false,
        });
    }
    if indicator == Level::Unknown && snap.components.iter().all(|c| c.status == Level::Unknown) {
        return Err(shape("rootly", "no recognisable status word"));
    }
    if indicator != Level::Unknown {
        snap.indicator = Some(indicator);
    }
    snap.updated_at = t(root, "updated_at");
    Ok(snap)
}

/// Parses the incidents document into `snap`'s open incidents.
pub fn parse_incidents(body: &[u8], snap: &mut Snapshot) -> Result<(), ParseError> {
    let v = json_body(body, "Rootly JSON")?;
    let items: &[Value] = match &v {
        Value::Array(a) => &a[..a.len().min(super::MAX_ITEMS)],
        _ if v.get("incidents").is_some() => arr(&v, "incidents"),
        _ if v.get("data").is_some() => arr(&v, "data"),
        _ => return Err(shape("rootly", "no incidents array")),
    };
    for i in items {
        let a = attrs(i);
        let (status, raw_status) = status_of(s(a, "status"));
        if !status.is_open() || t(a, "resolved_at").is_some() {
            continue;
        }
        let impact = s(a, "impact")
            .or_else(|| s(a, "severity"))
            .map(|w| match Level::from_word(&w) {
                Some(l) => l,
                None => statuspage_impact(Some(w)),
            })
            .unwrap_or(Level::Unknown);
        snap.incidents.push(Incident {
            id: s(i, "id").or_else(|| s(a, "id")).unwrap_or_default(),
            title: s(a, "title")
                .or_else(|| s(a, "name"))
                .unwrap_or_else(|| "(untitled)".into()),
            status,
            raw_status,
            impact,
            started_at: t(a, "started_at").or_else(|| t(a, "created_at")),
            updated_at: t(a, "updated_at"),
            last_update: super::update_text(s(a, "summary").or_else(|| s(a, "last_update"))),
            url: s(a, "url").or_else(|| s(a, "short_url")),
        });
    }
    Ok(())
}
