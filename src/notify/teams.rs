//! Microsoft Teams, through a Workflows webhook: a `message` carrying one Adaptive Card
//! (not the retired Office 365 connector card), its title coloured by severity, the
//! conditions, the diagnosis as facts and a button to the status page. The webhook URL is
//! a credential (it carries a signature) and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::{Digest, Tone};
use super::{deliver, Notification, SendError};
use crate::alert::TransitionKind;
use crate::config::{ChannelConfig, ChannelKind};

/// Sends notifications to one Teams channel.
pub struct TeamsNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
    pub(crate) page_url: Option<String>,
}

/// Adaptive Card text colours.
fn colour(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical => "Attention",
        Tone::Warning => "Warning",
        Tone::Resolved => "Good",
        Tone::Notice => "Accent",
    }
}

/// The `message` with one Adaptive Card built from `body` blocks.
fn card(mut body: Vec<Value>, facts: Vec<Value>, page_url: Option<&str>) -> Value {
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if let (Some(url), Some(map)) = (page_url, content.as_object_mut()) {
        map.insert(
            "actions".into(),
            json!([{"type": "Action.OpenUrl", "title": "Open the status page", "url": url}]),
        );
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn title(text: String, tone: Tone) -> Value {
    json!({"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "color": colour(tone), "wrap": true})
}

/// The message for `n`.
pub fn payload(n: &Notification, page_url: Option<&str>) -> Value {
    let what = match n.kind {
        TransitionKind::Resolved => "Last failing conditions",
        TransitionKind::Notice => "What changed",
        _ => "Failing conditions",
    };
    let conditions = n
        .conditions
        .iter()
        .map(|c| format!("- **{}** {}", c.kind.as_str(), c.detail))
        .collect::<Vec<_>>()
        .join("\n");
    let mut facts: Vec<Value> = n
        .diagnosis()
        .into_iter()
        .map(|(label, line)| json!({"title": label, "value": line}))
        .collect();
    if let Some(v) = &n.vendor {
        facts.push(json!({"title": "Vendor", "value": v}));
    }
    facts.push(
        json!({"title": "Since", "value": n.started_at.format("%Y-%m-%d %H:%M UTC").to_string()}),
    );
    facts.push(json!({"title": "Location", "value": n.location}));
    facts.push(json!({"title": "URL", "value": n.url}));
    let body = vec![
        title(n.subject(), Tone::of(n)),
        json!({"type": "TextBlock", "text": what, "weight": "Bolder", "wrap": true}),
        json!({"type": "TextBlock", "text": conditions, "wrap": true}),
    ];
    card(body, facts, page_url)
}

/// One message for a batch (see [`super::digest`]).
pub fn group_payload(batch: &[Notification], page_url: Option<&str>) -> Value {
    let d = Digest::of(batch);
    let mut body = vec![title(d.subject(), d.tone())];
    for (heading, lines) in d.sections() {
        body.push(json!({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true}));
        let text = lines
            .iter()
            .map(|l| format!("- {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        body.push(json!({"type": "TextBlock", "text": text, "wrap": true}));
    }
    card(body, Vec::new(), page_url)
}

impl TeamsNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        self.post(&payload(n, self.page_url.as_deref()), now).await
    }

    pub(crate) async fn send_group(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        self.post(&group_payload(batch, self.page_url.as_deref()), now)
            .await
    }

    async fn post(&self, body: &Value, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Teams(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a teams channel"));
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

    #[test]
    fn a_firing_alert_is_one_adaptive_card() {
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
            payload(&n, Some("https://upwatch.example.com/")),
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "msteams": {"width": "Full"},
                        "body": [
                            {"type": "TextBlock", "text": "[FIRING] mistral-models: HTTP 503 (critical)", "weight": "Bolder", "size": "Medium", "color": "Attention", "wrap": true},
                            {"type": "TextBlock", "text": "Failing conditions", "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": "- **http_status** HTTP 503, expected 200", "wrap": true},
                            {"type": "FactSet", "facts": [
                                {"title": "Since", "value": "2026-11-23 10:02 UTC"},
                                {"title": "Location", "value": "paris"},
                                {"title": "URL", "value": "https://api.mistral.ai/v1/models"},
                            ]},
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open the status page", "url": "https://upwatch.example.com/"}],
                    },
                }],
            })
        );
        n.kind = TransitionKind::Resolved;
        let resolved = payload(&n, None);
        assert_eq!(
            resolved["attachments"][0]["content"]["body"][0]["color"],
            "Good"
        );
        assert!(resolved["attachments"][0]["content"]
            .get("actions")
            .is_none());
    }
}
