//! Upptime's `history/summary.json`: an array of sites with `status` up / degraded / down.
//! The per-site `status` is what Upptime saw last and wins over its uptime percentages,
//! which lag (a site can be down at "100.00%").

use super::{json_body, s, shape, ParseError};
use crate::statuspage::model::{Component, Level, Snapshot};
use crate::statuspage::Platform;

/// Parses a summary.
pub fn parse(body: &[u8]) -> Result<Snapshot, ParseError> {
    let v = json_body(body, "Upptime JSON")?;
    let sites = v
        .as_array()
        .ok_or_else(|| shape("upptime", "expected an array of sites"))?;
    let mut snap = Snapshot::new(Platform::Upptime);
    for site in sites.iter().take(super::MAX_ITEMS) {
        let Some(name) = s(site, "name") else {
            continue;
        };
        let raw = s(site, "status");
        let status = match raw.as_deref() {
            Some("up") => Level::Operational,
            Some("degraded") => Level::Degraded,
            Some("down") => Level::MajorOutage,
            _ => Level::Unknown,
        };
        snap.components.push(Component {
            name,
            group: None,
            raw_status: raw.filter(|_| status == Level::Unknown),
            status,
            is_group: false,
        });
    }
    if snap.components.is_empty() && !sites.is_empty() {
        return Err(shape("upptime", "no site has a name"));
    }
    Ok(snap)
}
