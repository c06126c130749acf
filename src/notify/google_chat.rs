//! Google Chat, through a space's incoming webhook: a text message, threaded per alert
//! episode (`threadKey`), so the recovery lands under its firing message. The webhook URL
//! is a credential (it carries a key and a token) and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::Digest;
use super::{deliver, Notification, SendError};
use crate::config::{ChannelConfig, ChannelKind};

/// Google Chat's limit on a message's text (bytes; kept in characters well below it).
const TEXT_CHARS: usize = 4000;

/// Sends notifications to one Google Chat space.
pub struct GoogleChatNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

fn cut(s: String) -> String {
    if s.chars().count() <= TEXT_CHARS {
        return s;
    }
    s.chars().take(TEXT_CHARS - 1).collect::<String>() + "…"
}

/// One thread per alert episode: its firing, reminders and recovery share it.
pub fn thread_key(n: &Notification) -> String {
    n.episode_key().replace('/', "-")
}

/// The message for `n`.
pub fn payload(n: &Notification) -> Value {
    let mut text = format!("*{}*\n", n.subject());
    for c in &n.conditions {
        text.push_str(&format!("• `{}` {}\n", c.kind.as_str(), c.detail));
    }
    for (label, line) in n.diagnosis() {
        text.push_str(&format!("*{label}:* {line}\n"));
    }
    if let Some(v) = &n.vendor {
        text.push_str(&format!("*Vendor:* {v}\n"));
    }
    text.push_str(&format!(
        "Since {} · {} · {}",
        n.started_at.format("%Y-%m-%d %H:%M UTC"),
        n.location,
        n.url
    ));
    json!({"text": cut(text), "thread": {"threadKey": thread_key(n)}})
}

/// One message for a batch (see [`super::digest`]), in a thread of its own.
pub fn group_payload(batch: &[Notification]) -> Value {
    let d = Digest::of(batch);
    let mut text = format!("*{}*\n", d.subject());
    for (title, lines) in d.sections() {
        text.push_str(&format!("\n*{title}*\n"));
        for l in lines {
            text.push_str(&format!("• {l}\n"));
        }
    }
    let key = batch.first().map_or_else(
        || "upwatch-group".to_string(),
        |n| format!("upwatch-group-{}", n.id),
    );
    json!({"text": cut(text.trim_end().to_string()), "thread": {"threadKey": key}})
}

impl GoogleChatNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        self.post(&payload(n), now).await
    }

    pub(crate) async fn send_group(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        self.post(&group_payload(batch), now).await
    }

    async fn post(&self, body: &Value, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::GoogleChat(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a google_chat channel"));
        };
        // Reply in the alert's thread, or start it.
        let mut url = match url::Url::parse(cfg.url.expose()) {
            Ok(u) => u,
            Err(_) => return Err(SendError::permanent("the webhook URL does not parse")),
        };
        url.query_pairs_mut()
            .append_pair("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
        // The URL is the credential: `deliver` keeps it out of every error message.
        deliver(
            self.http.post(url).json(body).timeout(self.config.timeout),
            now,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Severity, TransitionKind};
    use crate::probe::Failure;
    use chrono::TimeZone;

    #[test]
    fn firing_and_resolved_share_a_thread() {
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
        assert_eq!(
            payload(&n),
            json!({
                "text": "*[FIRING] mistral-models: HTTP 503 (critical)*\n• `http_status` HTTP 503, expected 200\nSince 2026-11-23 10:02 UTC · paris · https://api.mistral.ai/v1/models",
                "thread": {"threadKey": "upwatch-paris-mistral-models-critical-1795428120"},
            })
        );
        let mut resolved = n.clone();
        resolved.kind = TransitionKind::Resolved;
        resolved.id = "n2".into();
        assert_eq!(payload(&resolved)["thread"], payload(&n)["thread"]);
    }
}
