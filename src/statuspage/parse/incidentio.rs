//! incident.io's widget API (`/api/v1/summary`) and the same summary embedded in its pages:
//! `ongoing_incidents` with `current_worst_impact` and `affected_components`,
//! `in_progress_maintenances`. Only affected components are listed; the rest are taken to
//! be operational by the page itself, so they are not invented here.

use serde_json::Value;

use super::{arr, json_body, level_of, s, shape, status_of, t, update_text, ParseError};
use crate::statuspage::model::{Component, Incident, Level, Maintenance, Snapshot};
use crate::statuspage::Platform;

/// Parses a widget summary document.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "incident.io JSON")?;
    from_value(&v)
}

/// Reads a summary object already parsed (the HTML reader finds one inside a page).
pub fn from_value(v: &Value) -> Result<Snapshot, ParseError> {
    if !v.is_object()
        || (v.get("ongoing_incidents").is_none() && v.get("in_progress_maintenances").is_none())
    {
        return Err(shape(
            "incidentio",
            "neither \"ongoing_incidents\" nor \"in_progress_maintenances\"",
        ));
    }
    let mut snap = Snapshot::new(Platform::IncidentIo);
    for i in arr(v, "ongoing_incidents") {
        let impact = level_of(s(i, "current_worst_impact")).0;
        for c in arr(i, "affected_components") {
            let Some(name) = s(c, "name") else { continue };
            let (status, raw_status) = match s(c, "current_status") {
                Some(w) => level_of(Some(w)),
                None => (impact, None),
            };
            if let Some(existing) = snap.components.iter_mut().find(|x| x.name == name) {
                existing.status = existing.status.max(status);
            } else {
                snap.components.push(Component {
                    name,
                    group: s(c, "group_name"),
                    status,
                    raw_status,
                    is_group: false,
                });
            }
        }
        let (status, raw_status) = status_of(s(i, "status"));
        snap.incidents.push(Incident {
            id: s(i, "id").unwrap_or_default(),
            title: s(i, "name").unwrap_or_else(|| "(untitled)".into()),
            status,
            raw_status,
            impact,
            started_at: t(i, "started_at").or_else(|| t(i, "published_at")),
            updated_at: t(i, "last_update_at"),
            last_update: update_text(s(i, "last_update_message")),
            url: s(i, "url"),
        });
    }
    snap.incidents.retain(|i| i.status.is_open());
    for m in arr(v, "in_progress_maintenances") {
        snap.maintenances.push(Maintenance {
            id: s(m, "id").unwrap_or_default(),
            title: s(m, "name").unwrap_or_else(|| "(untitled)".into()),
            starts_at: t(m, "started_at"),
            ends_at: t(m, "scheduled_end_at").or_else(|| t(m, "scheduled_end")),
            url: s(m, "url"),
        });
    }
    if snap.incidents.is_empty() && snap.maintenances.is_empty() {
        snap.indicator = Some(Level::Operational);
    }
    Ok(snap)
}
