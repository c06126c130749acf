//! PagerDuty, through the Events API v2: a firing alert (and its reminders) is a `trigger`,
//! its recovery a `resolve`, both under one `dedup_key` per alert episode, so PagerDuty
//! keeps one incident per episode and closes it itself. The routing key is a credential:
//! it travels only in the body and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{deliver, Notification, SendError};
use crate::alert::{Severity, TransitionKind};
use crate::config::{ChannelConfig, ChannelKind};

/// Where events go unless `url` says otherwise (PagerDuty's documented endpoint).
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's limit on `payload.summary`.
const SUMMARY_CHARS: usize = 1024;

/// Sends events to one PagerDuty service.
pub struct PagerDutyNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
    pub(crate) page_url: Option<String>,
}

/// The key that ties a trigger to its resolve: one per alert episode, one per notice or
/// test ([`Notification::episode_key`]).
pub fn dedup_key(n: &Notification) -> String {
    n.episode_key()
}

/// The Events API v2 body for `n`.
pub fn payload(n: &Notification, routing_key: &str, page_url: Option<&str>) -> Value {
    if n.kind == TransitionKind::Resolved {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": dedup_key(n),
        });
    }
    // Ours map onto PagerDuty's: a notice or a test pages no one.
    let severity = match (n.kind, n.test, n.severity) {
        (TransitionKind::Notice, _, _) | (_, true, _) => "info",
        (_, _, Severity::Critical) => "critical",
        (_, _, Severity::Warning) => "warning",
    };
    let mut summary = n.subject();
    if summary.chars().count() > SUMMARY_CHARS {
        summary = summary.chars().take(SUMMARY_CHARS - 1).collect::<String>() + "…";
    }
    let mut details = Map::new();
    details.insert(
        "conditions".into(),
        n.conditions
            .iter()
            .map(|c| json!({"kind": c.kind, "detail": c.detail}))
            .collect(),
    );
    details.insert("url".into(), Value::from(n.url.as_str()));
    details.insert(
        "started_at".into(),
        Value::from(crate::fmt::rfc3339(&n.started_at)),
    );
    for (label, line) in n.diagnosis() {
        details.insert(label.to_lowercase().replace(' ', "_"), Value::from(line));
    }
    if let Some(v) = &n.vendor {
        details.insert("vendor".into(), Value::from(v.as_str()));
    }
    if !n.also_failing.is_empty() {
        details.insert("also_failing".into(), json!(n.also_failing));
    }
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n),
        "payload": {
            "summary": summary,
            "source": n.location,
            "severity": severity,
            "timestamp": crate::fmt::rfc3339(&n.started_at),
            "component": n.target,
            "group": "upwatch",
            "class": n.conditions.first().map_or("notice", |c| c.kind.as_str()),
            "custom_details": details,
        },
        "client": "upwatch",
    });
    if let (Some(url), Some(map)) = (page_url, body.as_object_mut()) {
        map.insert("client_url".into(), Value::from(url));
        map.insert(
            "links".into(),
            json!([{"href": url, "text": "upwatch status page"}]),
        );
    }
    body
}

impl PagerDutyNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::PagerDuty(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a pagerduty channel"));
        };
        let body = payload(n, cfg.routing_key.expose(), self.page_url.as_deref());
        deliver(
            self.http
                .post(&cfg.url)
                .json(&body)
                .timeout(self.config.timeout),
            now,
        )
        .await
        .map_err(|mut e| {
            // PagerDuty's error bodies do not echo the key, but a proxy's might.
            e.message = format!(
                "PagerDuty: {}",
                e.message.replace(cfg.routing_key.expose(), "***")
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

    fn firing() -> Notification {
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
        n
    }

    #[test]
    fn a_firing_alert_is_a_trigger_with_the_documented_fields() {
        let n = firing();
        let body = payload(&n, "R0UTING", Some("https://upwatch.example.com/"));
        assert_eq!(
            body,
            json!({
                "routing_key": "R0UTING",
                "event_action": "trigger",
                "dedup_key": "upwatch/paris/mistral-models/critical/1795428120",
                "payload": {
                    "summary": "[FIRING] mistral-models: HTTP 503 (critical)",
                    "source": "paris",
                    "severity": "critical",
                    "timestamp": "2026-11-23T10:02:00.000Z",
                    "component": "mistral-models",
                    "group": "upwatch",
                    "class": "http_status",
                    "custom_details": {
                        "conditions": [{"kind": "http_status", "detail": "HTTP 503, expected 200"}],
                        "url": "https://api.mistral.ai/v1/models",
                        "started_at": "2026-11-23T10:02:00.000Z",
                    },
                },
                "client": "upwatch",
                "client_url": "https://upwatch.example.com/",
                "links": [{"href": "https://upwatch.example.com/", "text": "upwatch status page"}],
            })
        );
    }

    #[test]
    fn the_recovery_resolves_the_same_dedup_key_and_reminders_repeat_it() {
        let n = firing();
        let mut reminder = n.clone();
        reminder.kind = TransitionKind::Reminder;
        reminder.id = "n2".into();
        let mut resolved = n.clone();
        resolved.kind = TransitionKind::Resolved;
        resolved.id = "n3".into();
        resolved.resolved_at = Some(n.started_at + chrono::Duration::minutes(12));
        let key = payload(&n, "k", None)["dedup_key"].clone();
        assert_eq!(payload(&reminder, "k", None)["dedup_key"], key);
        assert_eq!(
            payload(&resolved, "k", None),
            json!({"routing_key": "k", "event_action": "resolve", "dedup_key": key})
        );
        // A warning is a warning; a test or a notice pages no one.
        let mut warn = n.clone();
        warn.severity = Severity::Warning;
        assert_eq!(payload(&warn, "k", None)["payload"]["severity"], "warning");
        assert_ne!(payload(&warn, "k", None)["dedup_key"], key);
        let test = Notification::test_message("paris", n.started_at);
        assert_eq!(payload(&test, "k", None)["payload"]["severity"], "info");
        assert!(payload(&test, "k", None)["dedup_key"]
            .as_str()
            .unwrap()
            .starts_with("upwatch/paris/test/"));
    }

    #[test]
    fn the_summary_fits_pagerdutys_limit() {
        let mut n = firing();
        n.conditions = vec![Failure::new(
            crate::probe::FailureKind::Io,
            "x".repeat(5000),
        )];
        let summary = payload(&n, "k", None)["payload"]["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(summary.chars().count(), SUMMARY_CHARS);
    }
}
