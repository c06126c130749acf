//! Discord webhooks: an embed per alert, coloured by severity, with the conditions, the
//! diagnosis as fields and the episode's start as the timestamp; a batch becomes one embed
//! listing every alert. Nobody is pinged whatever the text says (`allowed_mentions` is
//! empty), and every field stays inside Discord's limits. The webhook URL is a
//! credential and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::{Digest, Tone};
use super::{deliver, Notification, SendError};
use crate::alert::TransitionKind;
use crate::config::{ChannelConfig, ChannelKind};

/// Sends notifications to one Discord channel.
pub struct DiscordNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

// Discord's documented limits.
const CONTENT: usize = 2000;
const TITLE: usize = 256;
const DESCRIPTION: usize = 4096;
const FIELD_VALUE: usize = 1024;

const RED: u32 = 0xe0_31_31;
const AMBER: u32 = 0xe8_b5_00;
const GREEN: u32 = 0x2f_9e_44;
const BLUE: u32 = 0x1d_9b_d1;

/// `s` cut to `max` characters, with an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max - 1).collect::<String>() + "…"
}

fn colour(tone: Tone) -> u32 {
    match tone {
        Tone::Critical => RED,
        Tone::Warning => AMBER,
        Tone::Resolved => GREEN,
        Tone::Notice => BLUE,
    }
}

/// The webhook body for `n`.
pub fn payload(n: &Notification) -> Value {
    let what = match n.kind {
        TransitionKind::Resolved => "Last failing conditions",
        TransitionKind::Notice => "What changed",
        _ => "Failing conditions",
    };
    let conditions = n
        .conditions
        .iter()
        .map(|c| format!("• `{}` {}", c.kind.as_str(), c.detail))
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields: Vec<Value> = n
        .diagnosis()
        .into_iter()
        .map(|(label, line)| json!({"name": label, "value": cut(&line, FIELD_VALUE), "inline": false}))
        .collect();
    if let Some(v) = &n.vendor {
        fields.push(json!({"name": "Vendor", "value": cut(v, FIELD_VALUE), "inline": false}));
    }
    if let Some(status) = n.evidence.status {
        fields.push(json!({"name": "Status", "value": format!("HTTP {status}"), "inline": true}));
    }
    if let Some(ms) = n.evidence.latency_ms {
        fields.push(json!({"name": "Latency", "value": format!("{ms:.0} ms"), "inline": true}));
    }
    fields
        .push(json!({"name": "Location", "value": cut(&n.location, FIELD_VALUE), "inline": true}));
    let mut embed = json!({
        "title": cut(&n.subject(), TITLE),
        "description": cut(&format!("**{what}**\n{conditions}"), DESCRIPTION),
        "color": colour(Tone::of(n)),
        "fields": fields,
        "timestamp": crate::fmt::rfc3339(&n.started_at),
        "footer": {"text": "upwatch"},
    });
    if n.url.starts_with("https://") || n.url.starts_with("http://") {
        if let Some(map) = embed.as_object_mut() {
            map.insert("url".into(), Value::from(n.url.as_str()));
        }
    }
    json!({
        "content": cut(&n.subject(), CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// One message for a batch (see [`super::digest`]): one embed listing every alert.
pub fn group_payload(batch: &[Notification]) -> Value {
    let d = Digest::of(batch);
    let mut text = String::new();
    for (title, lines) in d.sections() {
        text.push_str(&format!("**{title}**\n"));
        for l in lines {
            text.push_str(&format!("• {l}\n"));
        }
    }
    let location = batch.first().map_or("", |n| n.location.as_str());
    json!({
        "content": cut(&d.subject(), CONTENT),
        "embeds": [{
            "title": cut(&d.subject(), TITLE),
            "description": cut(text.trim_end(), DESCRIPTION),
            "color": colour(d.tone()),
            "footer": {"text": format!("{} notifications grouped · {location} · upwatch", batch.len())},
        }],
        "allowed_mentions": {"parse": []},
    })
}

impl DiscordNotifier {
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
        let ChannelKind::Discord(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a discord channel"));
        };
        // The URL is the credential: `deliver` keeps it out of every error message.
        deliver(
            self.http
                .post(cfg.url.expose())
                .json(body)
                .timeout(self.config.timeout),
            now,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::probe::Failure;
    use chrono::TimeZone;

    fn firing(target: &str) -> Notification {
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            target,
            "https://api.mistral.ai/v1/models",
            vec![Failure::http_status(503, "200")],
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap(),
            "paris",
        );
        n.id = "n1".into();
        n
    }

    #[test]
    fn a_firing_alert_is_one_embed_that_pings_nobody() {
        let mut n = firing("mistral-models");
        n.evidence.status = Some(503);
        assert_eq!(
            payload(&n),
            json!({
                "content": "[FIRING] mistral-models: HTTP 503 (critical)",
                "embeds": [{
                    "title": "[FIRING] mistral-models: HTTP 503 (critical)",
                    "description": "**Failing conditions**\n• `http_status` HTTP 503, expected 200",
                    "color": RED,
                    "fields": [
                        {"name": "Status", "value": "HTTP 503", "inline": true},
                        {"name": "Location", "value": "paris", "inline": true},
                    ],
                    "timestamp": "2026-11-23T10:02:00.000Z",
                    "footer": {"text": "upwatch"},
                    "url": "https://api.mistral.ai/v1/models",
                }],
                "allowed_mentions": {"parse": []},
            })
        );
        let mut resolved = n.clone();
        resolved.kind = TransitionKind::Resolved;
        resolved.resolved_at = Some(n.started_at + chrono::Duration::minutes(12));
        assert_eq!(payload(&resolved)["embeds"][0]["color"], GREEN);
        assert_eq!(
            payload(&resolved)["content"],
            "[RESOLVED] mistral-models after 12m"
        );
    }

    #[test]
    fn every_part_stays_inside_discords_limits() {
        let mut n = firing(&"t".repeat(300));
        n.conditions = vec![Failure::new(
            crate::probe::FailureKind::Io,
            "@everyone ".repeat(1000),
        )];
        let p = payload(&n);
        assert!(p["content"].as_str().unwrap().chars().count() <= CONTENT);
        assert!(p["embeds"][0]["title"].as_str().unwrap().chars().count() <= TITLE);
        assert!(
            p["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= DESCRIPTION
        );
        assert_eq!(p["allowed_mentions"], json!({"parse": []}));
        let batch: Vec<Notification> = (0..200).map(|i| firing(&format!("api-{i}"))).collect();
        let g = group_payload(&batch);
        assert!(
            g["embeds"][0]["description"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= DESCRIPTION
        );
        assert!(g["content"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] 200 alerts: api-0, api-1, api-2"));
    }
}
