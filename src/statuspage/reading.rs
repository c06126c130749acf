//! One poll of one status page as plain data, its JSON form (`check`, API, store) and the
//! sentence a failing target's alert carries ([`VendorWord`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::model::{rfc3339, Incident, Level, Snapshot};

/// Why a page could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnreadableReason {
    /// A bot challenge answered instead of the page.
    Blocked,
    /// The page answered, but in no layout or format upwatch knows.
    Unrecognised,
    /// No answer: DNS, connection, TLS, timeout, or an HTTP error status.
    Unreachable,
}

impl UnreadableReason {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UnreadableReason::Blocked => "blocked",
            UnreadableReason::Unrecognised => "unrecognised",
            UnreadableReason::Unreachable => "unreachable",
        }
    }

    fn words(self) -> &'static str {
        match self {
            UnreadableReason::Blocked => "blocked by a challenge",
            UnreadableReason::Unrecognised => "unrecognised format",
            UnreadableReason::Unreachable => "unreachable",
        }
    }
}

/// A page that could not be read, and what was seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unreadable {
    /// The reason class.
    pub reason: UnreadableReason,
    /// What each endpoint answered, for the operator.
    pub detail: String,
}

/// One poll of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// `[[status_page]]` name.
    pub page: Arc<str>,
    /// The page URL.
    pub url: String,
    /// Host name, for sentences.
    pub host: String,
    /// When the poll started.
    pub checked_at: DateTime<Utc>,
    /// How long it took (every request of it).
    pub duration: Duration,
    /// The endpoint that answered, when one did.
    pub endpoint: Option<String>,
    /// What the page says, or why it could not be read.
    pub outcome: Result<Snapshot, Unreadable>,
    /// The worst of everything the page says (`unknown` when unreadable).
    pub overall: Level,
    /// The page's own time stopped advancing for `stale_after` while incidents are open.
    pub stale: bool,
}

impl Reading {
    /// A reading of `page` that could not be read at all.
    pub fn unreadable(
        page: &crate::config::StatusPage,
        checked_at: DateTime<Utc>,
        duration: Duration,
        endpoint: Option<String>,
        why: Unreadable,
    ) -> Reading {
        Reading {
            page: page.name.clone(),
            url: page.url.to_string(),
            host: page.host.clone(),
            checked_at,
            duration,
            endpoint,
            outcome: Err(why),
            overall: Level::Unknown,
            stale: false,
        }
    }

    /// Whether the vendor admits to nothing worse than maintenance (an unreadable page is
    /// not an outage; its `reason` says why it is unknown).
    pub fn ok(&self) -> bool {
        !self.overall.is_problem()
    }

    /// Open incidents (none when unreadable).
    pub fn incidents(&self) -> &[Incident] {
        self.outcome
            .as_ref()
            .map(|s| &s.incidents[..])
            .unwrap_or(&[])
    }

    /// The incident that best explains the page: worst impact, then most recent start.
    pub fn headline_incident(&self) -> Option<&Incident> {
        self.incidents()
            .iter()
            .max_by_key(|i| (i.impact, i.started_at))
    }

    /// The `check --format json` object.
    pub fn to_check_json(&self) -> Value {
        let snap = self.outcome.as_ref().ok();
        let unreadable = self.outcome.as_ref().err();
        json!({
            "page": &*self.page,
            "url": self.url,
            "ok": self.ok(),
            "platform": snap.map(|s| s.platform),
            "overall": self.overall,
            "indicator": snap.and_then(|s| s.indicator),
            "components": snap.map(|s| s.components.iter().filter(|c| !c.is_group).map(|c| json!({
                "name": c.name,
                "group": c.group,
                "status": c.status,
                "raw_status": c.raw_status,
            })).collect::<Vec<_>>()).unwrap_or_default(),
            "incidents": self.incidents().iter().map(|i| json!({
                "id": i.id,
                "title": i.title,
                "status": i.status,
                "raw_status": i.raw_status,
                "impact": i.impact,
                "started_at": i.started_at.map(|t| rfc3339(&t)),
                "updated_at": i.updated_at.map(|t| rfc3339(&t)),
                "last_update": i.last_update,
                "url": i.url,
            })).collect::<Vec<_>>(),
            "maintenances": snap.map(|s| s.maintenances.iter().map(|m| json!({
                "id": m.id,
                "title": m.title,
                "starts_at": m.starts_at.map(|t| rfc3339(&t)),
                "ends_at": m.ends_at.map(|t| rfc3339(&t)),
                "url": m.url,
            })).collect::<Vec<_>>()).unwrap_or_default(),
            "updated_at": snap.and_then(|s| s.updated_at).map(|t| rfc3339(&t)),
            "stale": self.stale,
            "reason": unreadable.map(|u| u.reason),
            "detail": unreadable.map(|u| u.detail.clone()),
            "endpoint": self.endpoint,
            "checked_at": rfc3339(&self.checked_at),
            "duration_ms": crate::fmt::ms(self.duration),
        })
    }

    /// What the vendor says, for a failing target's alert.
    pub fn vendor_word(&self) -> VendorWord {
        let incident = self.headline_incident();
        let text = match &self.outcome {
            Err(u) => format!("status page unreadable ({})", u.reason.words()),
            Ok(_) if self.overall.is_problem() || incident.is_some() => {
                let mut t = format!("{} reports {}", self.host, self.overall.words());
                if let Some(i) = incident {
                    t.push_str(&format!(": {}", i.title));
                    // The date only when it is not the day of the reading.
                    let since = i
                        .started_at
                        .map(|s| {
                            let f = if s.date_naive() == self.checked_at.date_naive() {
                                "%H:%M"
                            } else {
                                "%Y-%m-%d %H:%M"
                            };
                            format!(" since {} UTC", s.format(f))
                        })
                        .unwrap_or_default();
                    t.push_str(&format!(" ({}{since})", i.status.as_str()));
                }
                if self.stale {
                    t.push_str(" [page not updated recently]");
                }
                t
            }
            Ok(_) => format!(
                "{} reports {}: likely our key, network or an unannounced incident",
                self.host,
                self.overall.words()
            ),
        };
        VendorWord {
            page: self.page.to_string(),
            overall: self.overall,
            incident_title: incident.map(|i| i.title.clone()),
            incident_url: incident.and_then(|i| i.url.clone()),
            reason: self
                .outcome
                .as_ref()
                .err()
                .map(|u| u.reason.as_str().to_string()),
            text,
            checked_at: self.checked_at,
        }
    }
}

/// The vendor's current word, attached to a failing target's result and alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VendorWord {
    /// `[[status_page]]` name.
    pub page: String,
    /// The page's overall level.
    pub overall: Level,
    /// The headline incident's title.
    pub incident_title: Option<String>,
    /// Its link.
    pub incident_url: Option<String>,
    /// Why the page is unreadable, when it is.
    pub reason: Option<String>,
    /// One sentence: "status.mistral.ai reports partial outage: ... (investigating since
    /// 10:02 UTC)".
    pub text: String,
    /// When the page was read.
    pub checked_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statuspage::{IncidentStatus, Platform};

    fn reading(snap: Result<Snapshot, Unreadable>, at: &str) -> Reading {
        let overall = snap
            .as_ref()
            .map(|s| s.overall(false))
            .unwrap_or(Level::Unknown);
        Reading {
            page: Arc::from("mistral-status"),
            url: "https://status.mistral.ai/".into(),
            host: "status.mistral.ai".into(),
            checked_at: at.parse().unwrap(),
            duration: Duration::ZERO,
            endpoint: None,
            outcome: snap,
            overall,
            stale: false,
        }
    }

    #[test]
    fn the_three_sentences() {
        let mut s = Snapshot::new(Platform::Rootly);
        s.incidents.push(Incident {
            id: "1".into(),
            title: "Elevated error rates on Chat Completions".into(),
            status: IncidentStatus::Investigating,
            raw_status: None,
            impact: Level::PartialOutage,
            started_at: Some("2026-11-23T10:02:00Z".parse().unwrap()),
            updated_at: None,
            last_update: None,
            url: Some("https://status.mistral.ai/incidents/1".into()),
        });
        let w = reading(Ok(s), "2026-11-23T10:30:00Z").vendor_word();
        assert_eq!(w.text, "status.mistral.ai reports partial outage: Elevated error rates on Chat Completions (investigating since 10:02 UTC)");
        assert_eq!(
            w.incident_url.as_deref(),
            Some("https://status.mistral.ai/incidents/1")
        );

        let green = reading(Ok(Snapshot::new(Platform::Rootly)), "2026-11-23T10:30:00Z");
        assert_eq!(
            green.vendor_word().text,
            "status.mistral.ai reports operational: likely our key, network or an unannounced incident"
        );
        let blocked = reading(
            Err(Unreadable {
                reason: UnreadableReason::Blocked,
                detail: "403: bot challenge".into(),
            }),
            "2026-11-23T10:30:00Z",
        );
        assert_eq!(
            blocked.vendor_word().text,
            "status page unreadable (blocked by a challenge)"
        );
        assert!(blocked.ok(), "unreadable is not an outage");
    }
}
