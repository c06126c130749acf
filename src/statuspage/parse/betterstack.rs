//! Better Stack (Better Uptime) status pages' `/index.json`: JSON:API with
//! `data.type == "status_page"`, `data.attributes.aggregate_state` (operational, degraded,
//! downtime, maintenance) and `included` resources and status reports.

use serde_json::Value;

use super::{arr, json_body, level_of, s, shape, t, ParseError};
use crate::statuspage::model::{Component, Incident, IncidentStatus, Maintenance, Snapshot};
use crate::statuspage::Platform;

/// Parses an index document.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Better Stack JSON")?;
    let data = v
        .get("data")
        .filter(|d| s(d, "type").as_deref() == Some("status_page"))
        .ok_or_else(|| shape("betterstack", "data.type is not \"status_page\""))?;
    let attrs = data.get("attributes").unwrap_or(&Value::Null);
    let mut snap = Snapshot::new(Platform::BetterStack);
    snap.indicator = Some(level_of(s(attrs, "aggregate_state")).0);
    snap.updated_at = t(attrs, "updated_at");
    let sections: Vec<(String, String)> = arr(&v, "included")
        .iter()
        .filter(|i| s(i, "type").as_deref() == Some("status_page_section"))
        .filter_map(|i| {
            let a = i.get("attributes")?;
            Some((s(i, "id")?, s(a, "name")?))
        })
        .collect();
    for item in arr(&v, "included") {
        let a = item.get("attributes").unwrap_or(&Value::Null);
        match s(item, "type").as_deref() {
            Some("status_page_resource") => {
                let Some(name) = s(a, "public_name").or_else(|| s(a, "name")) else {
                    continue;
                };
                let (status, raw_status) = level_of(s(a, "status"));
                let group = s(a, "status_page_section_id")
                    .and_then(|id| sections.iter().find(|(sid, _)| *sid == id))
                    .map(|(_, n)| n.clone());
                snap.components.push(Component {
                    name,
                    group,
                    status,
                    raw_status,
                    is_group: false,
                });
            }
            Some("status_report") => {
                let state = s(a, "aggregate_state").unwrap_or_default();
                if state == "resolved" {
                    continue;
                }
                let id = s(item, "id").unwrap_or_default();
                let title = s(a, "title").unwrap_or_else(|| "(untitled)".into());
                if s(a, "report_type").as_deref() == Some("maintenance") {
                    snap.maintenances.push(Maintenance {
                        id,
                        title,
                        starts_at: t(a, "starts_at"),
                        ends_at: t(a, "ends_at"),
                        url: None,
                    });
                } else {
                    snap.incidents.push(Incident {
                        id,
                        title,
                        status: IncidentStatus::Investigating,
                        raw_status: None,
                        impact: level_of(Some(state)).0,
                        started_at: t(a, "starts_at"),
                        updated_at: t(a, "updated_at"),
                        last_update: None,
                        url: None,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(snap)
}
