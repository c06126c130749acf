//! ntfy: a JSON publish to the server's root with the topic, a title, the message,
//! a priority (5 for critical, 4 for warning, 3 for a recovery or a notice), tags that
//! ntfy shows as emoji, and a click-through to the status page. Authenticated with an
//! access token or a user and password when the topic needs it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::{Digest, Tone};
use super::{deliver, Notification, SendError};
use crate::alert::TransitionKind;
use crate::config::{ChannelConfig, ChannelKind, NtfyAuth};

/// The public server unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://ntfy.sh";

/// Sends notifications to one ntfy topic.
pub struct NtfyNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
    pub(crate) page_url: Option<String>,
}

fn priority_and_tags(tone: Tone) -> (u8, &'static str) {
    match tone {
        Tone::Critical => (5, "rotating_light"),
        Tone::Warning => (4, "warning"),
        Tone::Resolved => (3, "white_check_mark"),
        Tone::Notice => (3, "information_source"),
    }
}

fn publish(topic: &str, title: String, message: String, tone: Tone, click: Option<&str>) -> Value {
    let (priority, tag) = priority_and_tags(tone);
    let mut v = json!({
        "topic": topic,
        "title": title,
        "message": message,
        "priority": priority,
        "tags": [tag, "upwatch"],
    });
    if let (Some(url), Some(map)) = (click, v.as_object_mut()) {
        map.insert("click".into(), Value::from(url));
    }
    v
}

/// The publish body for `n`.
pub fn payload(n: &Notification, topic: &str, page_url: Option<&str>) -> Value {
    let mut message = String::new();
    if n.kind == TransitionKind::Resolved {
        message.push_str("Last failing conditions:\n");
    }
    for c in &n.conditions {
        message.push_str(&format!("• {}: {}\n", c.kind.as_str(), c.detail));
    }
    for (label, line) in n.diagnosis() {
        message.push_str(&format!("{label}: {line}\n"));
    }
    if let Some(v) = &n.vendor {
        message.push_str(&format!("Vendor: {v}\n"));
    }
    message.push_str(&format!(
        "Since {} · {} · {}",
        n.started_at.format("%Y-%m-%d %H:%M UTC"),
        n.location,
        n.url
    ));
    publish(topic, n.subject(), message, Tone::of(n), page_url)
}

/// One publish for a batch (see [`super::digest`]).
pub fn group_payload(batch: &[Notification], topic: &str, page_url: Option<&str>) -> Value {
    let d = Digest::of(batch);
    let mut message = String::new();
    for (title, lines) in d.sections() {
        message.push_str(&format!("{title}:\n"));
        for l in lines {
            message.push_str(&format!("• {l}\n"));
        }
    }
    publish(
        topic,
        d.subject(),
        message.trim_end().to_string(),
        d.tone(),
        page_url,
    )
}

impl NtfyNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Ntfy(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not an ntfy channel"));
        };
        self.post(&payload(n, &cfg.topic, self.page_url.as_deref()), now)
            .await
    }

    pub(crate) async fn send_group(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        let ChannelKind::Ntfy(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not an ntfy channel"));
        };
        self.post(
            &group_payload(batch, &cfg.topic, self.page_url.as_deref()),
            now,
        )
        .await
    }

    async fn post(&self, body: &Value, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Ntfy(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not an ntfy channel"));
        };
        let mut req = self
            .http
            .post(&cfg.url)
            .json(body)
            .timeout(self.config.timeout);
        req = match &cfg.auth {
            NtfyAuth::None => req,
            NtfyAuth::Token(t) => req.bearer_auth(t.expose()),
            NtfyAuth::Basic(user, password) => req.basic_auth(user, Some(password.expose())),
        };
        deliver(req, now).await.map_err(|mut e| {
            e.message = format!("ntfy {}: {}", cfg.url, e.message);
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::probe::Failure;
    use chrono::TimeZone;

    #[test]
    fn priority_follows_severity_and_recovery() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            "mistral-models",
            "https://api.mistral.ai/v1/models",
            vec![Failure::http_status(503, "200")],
            t0,
            "paris",
        );
        n.id = "n1".into();
        assert_eq!(
            payload(&n, "ops-alerts", Some("https://upwatch.example.com/")),
            json!({
                "topic": "ops-alerts",
                "title": "[FIRING] mistral-models: HTTP 503 (critical)",
                "message": "• http_status: HTTP 503, expected 200\nSince 2026-11-23 10:02 UTC · paris · https://api.mistral.ai/v1/models",
                "priority": 5,
                "tags": ["rotating_light", "upwatch"],
                "click": "https://upwatch.example.com/",
            })
        );
        n.severity = Severity::Warning;
        assert_eq!(payload(&n, "t", None)["priority"], 4);
        n.kind = TransitionKind::Resolved;
        n.resolved_at = Some(t0 + chrono::Duration::minutes(3));
        let resolved = payload(&n, "t", None);
        assert_eq!(
            (resolved["priority"].clone(), resolved["tags"][0].clone()),
            (json!(3), json!("white_check_mark"))
        );
        assert!(resolved.get("click").is_none());
    }
}
