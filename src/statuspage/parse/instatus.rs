//! Instatus `/summary.json`: `page.status` in `UP` / `HASISSUES` / `UNDERMAINTENANCE`,
//! `activeIncidents`, `activeMaintenances`. Checkly's status pages serve a look-alike
//! (see [`super::checkly`]), so the shared reading lives here.

use serde_json::Value;

use super::{arr, json_body, level_of, s, shape, status_of, t, ParseError};
use crate::statuspage::model::{Incident, Level, Maintenance, Snapshot};
use crate::statuspage::Platform;

/// Parses an Instatus summary (a Checkly one is accepted and labelled as such).
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Instatus JSON")?;
    let platform = if is_checkly(&v) {
        Platform::Checkly
    } else {
        Platform::Instatus
    };
    summary(&v, platform)
}

/// Whether an Instatus-shaped summary comes from Checkly: underscored enums
/// (`HAS_ISSUES`), `severity` and `startedAt` on incidents, or a Checkly page URL.
pub(crate) fn is_checkly(v: &Value) -> bool {
    let page = v.get("page").unwrap_or(&Value::Null);
    s(page, "status").is_some_and(|st| st.contains('_'))
        || s(page, "url").is_some_and(|u| u.contains("checkly"))
        || arr(v, "activeIncidents")
            .iter()
            .any(|i| i.get("severity").is_some() || i.get("startedAt").is_some())
}

/// Reads the shared summary shape.
pub(crate) fn summary(v: &Value, platform: Platform) -> Result<Snapshot, ParseError> {
    let name = platform.as_str();
    let page = v
        .get("page")
        .filter(|p| p.is_object())
        .ok_or_else(|| shape(name, "no \"page\" object"))?;
    let word = s(page, "status").ok_or_else(|| shape(name, "no page.status"))?;
    let (indicator, _) = level_of(Some(word.clone()));
    if indicator == Level::Unknown && v.get("activeIncidents").is_none() {
        return Err(shape(name, format!("unknown page.status {word:?}")));
    }
    let mut snap = Snapshot::new(platform);
    snap.indicator = Some(indicator);
    for i in arr(v, "activeIncidents") {
        let (status, raw_status) = status_of(s(i, "status"));
        let impact = match platform {
            Platform::Checkly => super::checkly::severity(s(i, "severity")),
            _ => level_of(s(i, "impact")).0,
        };
        let inc = Incident {
            id: s(i, "id")
                .or_else(|| s(i, "url"))
                .or_else(|| s(i, "name"))
                .unwrap_or_default(),
            title: s(i, "name").unwrap_or_else(|| "(untitled)".into()),
            status,
            raw_status,
            impact,
            started_at: t(i, "startedAt").or_else(|| t(i, "started")),
            updated_at: t(i, "updatedAt").or_else(|| t(i, "updated")),
            last_update: None,
            url: s(i, "url"),
        };
        if inc.status.is_open() {
            snap.incidents.push(inc);
        }
    }
    for m in arr(v, "activeMaintenances") {
        let st = s(m, "status").unwrap_or_default().to_ascii_uppercase();
        if st.replace('_', "") != "INPROGRESS" {
            continue;
        }
        let starts_at = t(m, "start").or_else(|| t(m, "startedAt"));
        // Instatus gives the duration in minutes, as a string or a number.
        let minutes = s(m, "duration").and_then(|d| d.parse::<i64>().ok());
        snap.maintenances.push(Maintenance {
            id: s(m, "id")
                .or_else(|| s(m, "url"))
                .or_else(|| s(m, "name"))
                .unwrap_or_default(),
            title: s(m, "name").unwrap_or_else(|| "(untitled)".into()),
            starts_at,
            ends_at: starts_at
                .zip(minutes)
                .and_then(|(st, m)| st.checked_add_signed(chrono::TimeDelta::try_minutes(m)?)),
            url: s(m, "url"),
        });
    }
    Ok(snap)
}
