//! Checkly-hosted status pages (status.mistral.ai until September 2026). The summary is
//! Instatus-shaped with underscored enums and a `severity` per incident; the services and
//! uptime documents list components and per-day events.

use super::{arr, json_body, s, shape, status_of, t, ParseError};
use crate::statuspage::model::{Component, Incident, IncidentStatus, Level, Snapshot};
use crate::statuspage::Platform;

/// Checkly's severity / service status words. Checkly's own "MAJOR" is taken at its word
/// (a major outage); `MEDIUM` is a partial outage.
pub(crate) fn severity(word: Option<String>) -> Level {
    match word.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("OPERATIONAL") | Some("UP") | Some("NONE") => Level::Operational,
        Some("MINOR") | Some("LOW") | Some("DEGRADED") => Level::Degraded,
        Some("MEDIUM") | Some("PARTIAL") => Level::PartialOutage,
        Some("MAJOR") | Some("CRITICAL") | Some("HIGH") => Level::MajorOutage,
        Some("MAINTENANCE") | Some("UNDER_MAINTENANCE") => Level::Maintenance,
        _ => Level::Unknown,
    }
}

/// The summary document.
pub fn parse_summary(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Checkly JSON")?;
    super::instatus::summary(&v, Platform::Checkly)
}

/// The services document: an array of `{name, status, group}`.
pub fn parse_services(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Checkly JSON")?;
    let items = v
        .as_array()
        .ok_or_else(|| shape("checkly", "services: expected an array"))?;
    let mut snap = Snapshot::new(Platform::Checkly);
    for c in items.iter().take(super::MAX_ITEMS) {
        let Some(name) = s(c, "name") else { continue };
        let raw = s(c, "status");
        let status = severity(raw.clone());
        snap.components.push(Component {
            name,
            group: s(c, "group"),
            raw_status: raw.filter(|_| status == Level::Unknown),
            status,
            is_group: false,
        });
    }
    Ok(snap)
}

/// The uptime document: groups of services with per-day events. An event whose last
/// update is not resolved is an open incident; a service is as bad as its worst open event.
pub fn parse_uptime(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Checkly JSON")?;
    if !v.get("uptime").is_some_and(|u| u.is_array()) {
        return Err(shape("checkly", "uptime: no \"uptime\" array"));
    }
    let mut snap = Snapshot::new(Platform::Checkly);
    for group in arr(&v, "uptime") {
        let group_name = s(group, "name");
        for svc in arr(group, "services") {
            let Some(name) = s(svc, "name") else { continue };
            let mut level = Level::Operational;
            for day in arr(svc, "days") {
                for e in arr(day, "events") {
                    let (status, raw_status) = status_of(s(e, "lastUpdateStatus"));
                    if !status.is_open() {
                        continue;
                    }
                    let impact = severity(s(e, "severity"));
                    level = level.max(impact);
                    let id = s(e, "id").unwrap_or_default();
                    if snap.incidents.iter().any(|i| i.id == id) {
                        continue;
                    }
                    snap.incidents.push(Incident {
                        id,
                        title: s(e, "name").unwrap_or_else(|| "(untitled)".into()),
                        status: if status == IncidentStatus::Unknown && raw_status.is_none() {
                            IncidentStatus::Investigating
                        } else {
                            status
                        },
                        raw_status,
                        impact,
                        started_at: t(e, "created_at"),
                        updated_at: None,
                        last_update: None,
                        url: None,
                    });
                }
            }
            snap.components.push(Component {
                name,
                group: group_name.clone(),
                status: level,
                raw_status: None,
                is_group: false,
            });
        }
    }
    Ok(snap)
}
