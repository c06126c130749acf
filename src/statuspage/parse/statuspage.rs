//! Atlassian Statuspage `/api/v2/summary.json`, and incident.io's compatible copy of it
//! (told apart by the page id: incident.io uses 26-character ULIDs, Statuspage 12
//! lower-case characters).

use serde_json::Value;

use super::{
    arr, json_body, level_of, s, shape, status_of, statuspage_impact, t, update_text, ParseError,
};
use crate::statuspage::model::{Component, Incident, IncidentStatus, Maintenance, Snapshot};
use crate::statuspage::Platform;

/// Parses a summary document.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Statuspage JSON")?;
    let page = v
        .get("page")
        .filter(|p| p.is_object())
        .ok_or_else(|| shape("statuspage", "no \"page\" object"))?;
    let status = v.get("status").filter(|p| p.is_object());
    if status.is_none() && v.get("components").is_none() {
        return Err(shape("statuspage", "neither \"status\" nor \"components\""));
    }
    let platform = match s(page, "id") {
        Some(id) if is_ulid(&id) => Platform::IncidentIo,
        _ => Platform::Statuspage,
    };
    let mut snap = Snapshot::new(platform);
    snap.updated_at = t(page, "updated_at");
    snap.indicator = status.map(|st| statuspage_impact(s(st, "indicator")));
    // Group names by id, so members can say which group they are in.
    let groups: Vec<(String, String)> = arr(&v, "components")
        .iter()
        .filter(|c| c.get("group").and_then(Value::as_bool) == Some(true))
        .filter_map(|c| Some((s(c, "id")?, s(c, "name")?)))
        .collect();
    for c in arr(&v, "components") {
        let Some(name) = s(c, "name") else { continue };
        let (status, raw_status) = level_of(s(c, "status"));
        let group = s(c, "group_id")
            .and_then(|g| groups.iter().find(|(id, _)| *id == g))
            .map(|(_, n)| n.clone());
        snap.components.push(Component {
            name,
            group,
            status,
            raw_status,
            is_group: c.get("group").and_then(Value::as_bool) == Some(true),
        });
    }
    for i in arr(&v, "incidents") {
        let inc = incident(i);
        if inc.status.is_open() {
            snap.incidents.push(inc);
        }
    }
    for m in arr(&v, "scheduled_maintenances") {
        let st = s(m, "status").unwrap_or_default().to_ascii_lowercase();
        if st == "in_progress" || st == "verifying" {
            snap.maintenances.push(Maintenance {
                id: s(m, "id").unwrap_or_default(),
                title: s(m, "name").unwrap_or_else(|| "(untitled)".into()),
                starts_at: t(m, "scheduled_for").or_else(|| t(m, "started_at")),
                ends_at: t(m, "scheduled_until"),
                url: s(m, "shortlink"),
            });
        }
    }
    Ok(snap)
}

/// One Statuspage-shaped incident (also used for `/api/v2/incidents/unresolved.json`).
pub(crate) fn incident(i: &Value) -> Incident {
    let (mut status, raw_status) = status_of(s(i, "status"));
    if status == IncidentStatus::Unknown && t(i, "resolved_at").is_some() {
        status = IncidentStatus::Resolved;
    }
    // Updates come newest first; sort anyway, the archive re-ordered keys once already.
    let mut updates: Vec<&Value> = arr(i, "incident_updates").iter().collect();
    updates.sort_by_key(|u| std::cmp::Reverse(t(u, "display_at").or_else(|| t(u, "created_at"))));
    let id = s(i, "id").unwrap_or_default();
    Incident {
        title: s(i, "name").unwrap_or_else(|| "(untitled)".into()),
        status,
        raw_status,
        impact: statuspage_impact(s(i, "impact")),
        started_at: t(i, "started_at").or_else(|| t(i, "created_at")),
        updated_at: t(i, "updated_at"),
        last_update: updates.first().and_then(|u| update_text(s(u, "body"))),
        url: s(i, "shortlink").or_else(|| s(i, "url")),
        id,
    }
}

/// A ULID: 26 characters of Crockford base32.
fn is_ulid(id: &str) -> bool {
    id.len() == 26
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
}
