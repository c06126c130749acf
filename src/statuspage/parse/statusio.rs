//! Status.io's public status API (`/1.0/status/{page_id}`): numeric codes 100 operational,
//! 200 planned maintenance, 300 degraded performance, 400 partial disruption, 500 service
//! disruption, 600 security event.

use serde_json::Value;

use super::{arr, json_body, s, shape, t, update_text, ParseError};
use crate::statuspage::model::{Component, Incident, IncidentStatus, Level, Snapshot};
use crate::statuspage::Platform;

fn code(v: &Value) -> (Level, Option<String>) {
    let level = match v.get("status_code").and_then(Value::as_i64) {
        Some(100) => Level::Operational,
        Some(200) => Level::Maintenance,
        Some(300) => Level::Degraded,
        Some(400) => Level::PartialOutage,
        Some(500) => Level::MajorOutage,
        // A security event says nothing about availability by itself.
        Some(600) => Level::Degraded,
        _ => Level::Unknown,
    };
    let raw = (level == Level::Unknown).then(|| s(v, "status")).flatten();
    (level, raw)
}

/// Parses a status document.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Status.io JSON")?;
    let result = v
        .get("result")
        .filter(|r| r.is_object())
        .ok_or_else(|| shape("statusio", "no \"result\" object"))?;
    let overall = result
        .get("status_overall")
        .filter(|o| o.is_object())
        .ok_or_else(|| shape("statusio", "no result.status_overall"))?;
    let mut snap = Snapshot::new(Platform::Statusio);
    snap.indicator = Some(code(overall).0);
    snap.updated_at = t(overall, "updated");
    for c in arr(result, "status") {
        let Some(name) = s(c, "name") else { continue };
        let (status, raw_status) = code(c);
        snap.components.push(Component {
            name,
            group: None,
            status,
            raw_status,
            is_group: false,
        });
    }
    for i in arr(result, "incidents") {
        let mut messages: Vec<&Value> = arr(i, "messages").iter().collect();
        messages.sort_by_key(|m| std::cmp::Reverse(t(m, "datetime")));
        let last = messages.first().copied();
        // Message `state`: 100 investigating, 200 identified, 300 monitoring.
        let status = match last.and_then(|m| m.get("state")).and_then(Value::as_i64) {
            Some(200) => IncidentStatus::Identified,
            Some(300) => IncidentStatus::Monitoring,
            _ => IncidentStatus::Investigating,
        };
        let impact = last
            .and_then(|m| m.get("status").and_then(Value::as_i64))
            .map(|c| code(&serde_json::json!({ "status_code": c })).0)
            .unwrap_or(Level::Unknown);
        snap.incidents.push(Incident {
            id: s(i, "_id").or_else(|| s(i, "id")).unwrap_or_default(),
            title: s(i, "name").unwrap_or_else(|| "(untitled)".into()),
            status,
            raw_status: None,
            impact,
            started_at: t(i, "datetime_open"),
            updated_at: last.and_then(|m| t(m, "datetime")),
            last_update: last.and_then(|m| update_text(s(m, "details"))),
            url: None,
        });
    }
    if let Some(m) = result.get("maintenance") {
        for a in arr(m, "active") {
            snap.maintenances
                .push(crate::statuspage::model::Maintenance {
                    id: s(a, "_id").or_else(|| s(a, "id")).unwrap_or_default(),
                    title: s(a, "name").unwrap_or_else(|| "(untitled)".into()),
                    starts_at: t(a, "datetime_planned_start"),
                    ends_at: t(a, "datetime_planned_end"),
                    url: None,
                });
        }
    }
    Ok(snap)
}
