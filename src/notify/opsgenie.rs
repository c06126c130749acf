//! Opsgenie, through the Alert API v2: a firing alert creates an alert under an `alias`
//! that stays the same for the whole episode (Opsgenie deduplicates on it, so reminders
//! add to its count), and the recovery closes it by that alias. The API key goes in the
//! `Authorization: GenieKey` header and never appears in output. (Opsgenie reaches its
//! end of support in 2027; Jira Service Management's alert API is its successor.)

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{deliver, Notification, SendError};
use crate::alert::{Severity, TransitionKind};
use crate::config::{ChannelConfig, ChannelKind};

/// The US API unless `url` says otherwise (the EU one is `https://api.eu.opsgenie.com`).
pub const DEFAULT_URL: &str = "https://api.opsgenie.com";

// Opsgenie's documented limits.
const MESSAGE: usize = 130;
const ALIAS: usize = 512;
const DESCRIPTION: usize = 15_000;

/// Sends alerts to one Opsgenie team or integration.
pub struct OpsgenieNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).collect::<String>() + "…"
}

/// The alias of `n`'s alert: one per alert episode, one per notice or test.
pub fn alias(n: &Notification) -> String {
    cut(&n.episode_key(), ALIAS)
}

/// What to send for `n`: the path under the API's address and the body.
pub fn request(n: &Notification) -> (String, Value) {
    if n.kind == TransitionKind::Resolved {
        let path = format!(
            "/v2/alerts/{}/close?identifierType=alias",
            url::form_urlencoded::byte_serialize(alias(n).as_bytes()).collect::<String>()
        );
        let note = format!("Recovered: {}", n.subject());
        return (
            path,
            json!({"source": "upwatch", "note": cut(&note, 25_000)}),
        );
    }
    let priority = match (n.kind, n.test, n.severity) {
        (TransitionKind::Notice, _, _) | (_, true, _) => "P5",
        (_, _, Severity::Critical) => "P1",
        (_, _, Severity::Warning) => "P3",
    };
    let mut description = String::new();
    for c in &n.conditions {
        description.push_str(&format!("• {}: {}\n", c.kind.as_str(), c.detail));
    }
    for (label, line) in n.diagnosis() {
        description.push_str(&format!("{label}: {line}\n"));
    }
    if let Some(v) = &n.vendor {
        description.push_str(&format!("Vendor: {v}\n"));
    }
    description.push_str(&format!("URL: {}", n.url));
    let mut details = Map::new();
    details.insert("location".into(), Value::from(n.location.as_str()));
    details.insert("url".into(), Value::from(n.url.as_str()));
    details.insert(
        "started_at".into(),
        Value::from(crate::fmt::rfc3339(&n.started_at)),
    );
    if let Some(c) = n.conditions.first() {
        details.insert("kind".into(), Value::from(c.kind.as_str()));
    }
    (
        "/v2/alerts".to_string(),
        json!({
            "message": cut(&n.subject(), MESSAGE),
            "alias": alias(n),
            "description": cut(&description, DESCRIPTION),
            "priority": priority,
            "source": "upwatch",
            "entity": n.target,
            "tags": ["upwatch", n.severity.as_str(), n.location],
            "details": details,
        }),
    )
}

impl OpsgenieNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Opsgenie(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not an opsgenie channel"));
        };
        let (path, body) = request(n);
        deliver(
            self.http
                .post(format!("{}{path}", cfg.url.trim_end_matches('/')))
                .header(
                    http::header::AUTHORIZATION,
                    format!("GenieKey {}", cfg.api_key.expose()),
                )
                .json(&body)
                .timeout(self.config.timeout),
            now,
        )
        .await
        .map_err(|mut e| {
            e.message = format!(
                "Opsgenie: {}",
                e.message.replace(cfg.api_key.expose(), "***")
            );
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Failure;
    use chrono::TimeZone;

    #[test]
    fn create_then_close_by_the_same_alias() {
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            "mistral-models",
            "https://api.mistral.ai/v1/models",
            vec![Failure::http_status(503, "200")],
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap(),
            "paris",
        );
        n.id = "n1".into();
        let (path, body) = request(&n);
        assert_eq!(path, "/v2/alerts");
        assert_eq!(
            body,
            json!({
                "message": "[FIRING] mistral-models: HTTP 503 (critical)",
                "alias": "upwatch/paris/mistral-models/critical/1795428120",
                "description": "• http_status: HTTP 503, expected 200\nURL: https://api.mistral.ai/v1/models",
                "priority": "P1",
                "source": "upwatch",
                "entity": "mistral-models",
                "tags": ["upwatch", "critical", "paris"],
                "details": {
                    "location": "paris",
                    "url": "https://api.mistral.ai/v1/models",
                    "started_at": "2026-11-23T10:02:00.000Z",
                    "kind": "http_status",
                },
            })
        );
        let mut resolved = n.clone();
        resolved.kind = TransitionKind::Resolved;
        resolved.resolved_at = Some(n.started_at + chrono::Duration::minutes(12));
        let (path, body) = request(&resolved);
        assert_eq!(
            path,
            "/v2/alerts/upwatch%2Fparis%2Fmistral-models%2Fcritical%2F1795428120/close?identifierType=alias"
        );
        assert_eq!(body["source"], "upwatch");
        let mut warn = n.clone();
        warn.severity = Severity::Warning;
        assert_eq!(request(&warn).1["priority"], "P3");
        n.conditions = vec![Failure::new(crate::probe::FailureKind::Io, "x".repeat(500))];
        assert_eq!(
            request(&n).1["message"].as_str().unwrap().chars().count(),
            MESSAGE
        );
    }
}
