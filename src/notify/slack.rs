//! Slack incoming webhook: a Block Kit message coloured by severity. The webhook URL is a
//! credential and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{http_outcome, Notification, SendError};
use crate::alert::{Severity, TransitionKind};
use crate::config::{ChannelConfig, ChannelKind};

/// Sends notifications to one Slack channel.
pub struct SlackNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Block Kit message for `n`.
pub fn payload(n: &Notification) -> Value {
    let (colour, icon) = match (n.kind, n.severity) {
        (TransitionKind::Resolved, _) => ("#2eb67d", "✅"),
        (TransitionKind::Notice, _) => ("#1d9bd1", "ℹ️"),
        (_, Severity::Critical) => ("#e01e5a", "🔴"),
        (_, Severity::Warning) => ("#ecb22e", "🟠"),
    };
    let title = match n.kind {
        TransitionKind::Notice => format!("{icon} NOTICE: {}", n.target),
        TransitionKind::Firing => format!("{icon} FIRING: {} ({})", n.target, n.severity.as_str()),
        TransitionKind::Reminder => format!(
            "{icon} STILL FIRING: {} ({})",
            n.target,
            n.severity.as_str()
        ),
        TransitionKind::Resolved => format!(
            "{icon} RESOLVED: {} after {}",
            n.target,
            n.duration_text(n.started_at)
        ),
    };
    let title = if n.test {
        format!("[TEST] {title}")
    } else {
        title
    };
    let conditions = n
        .conditions
        .iter()
        .map(|c| format!("• `{}` {}", c.kind.as_str(), esc(&c.detail)))
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Since*\n{}", n.started_at.format("%Y-%m-%d %H:%M UTC"))}),
        json!({"type": "mrkdwn", "text": format!("*Location*\n{}", esc(&n.location))}),
    ];
    if let Some(status) = n.evidence.status {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Status*\nHTTP {status}")}));
    }
    if let Some(ms) = n.evidence.latency_ms {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Latency*\n{ms:.0} ms")}));
    }
    if let Some(end) = n.resolved_at {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Resolved*\n{}", end.format("%Y-%m-%d %H:%M UTC"))}));
    }
    let what = match n.kind {
        TransitionKind::Resolved => "Last failing conditions",
        TransitionKind::Notice => "What changed",
        _ => "Failing conditions",
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": title}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{what}*\n{conditions}")}}),
    ];
    let diagnosis = n.diagnosis();
    if !diagnosis.is_empty() {
        let text = diagnosis
            .iter()
            .map(|(label, line)| format!("*{label}:* {}", esc(line)))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if let Some(v) = &n.vendor {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Vendor*\n{}", esc(v))}}));
    }
    blocks.push(json!({"type": "section", "fields": fields}));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{}|{}> · upwatch", esc(&n.url), esc(&n.url))}]}));
    json!({
        "text": n.subject(),
        "attachments": [{
            "color": colour,
            "blocks": blocks,
        }],
    })
}

impl SlackNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Slack(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a slack channel"));
        };
        // The URL is the credential: never let it into an error message.
        let result = self
            .http
            .post(cfg.url.expose())
            .json(&payload(n))
            .timeout(self.config.timeout)
            .send()
            .await
            .map_err(|e| e.without_url());
        http_outcome(result, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Failure, FailureKind};
    use chrono::TimeZone;

    #[test]
    fn firing_message_has_colour_conditions_and_link() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            "api",
            "https://api.example.com/v1?k=***",
            vec![
                Failure::http_status(503, "200"),
                Failure::new(FailureKind::TooSlow, "latency 4.200 s > 3.000 s"),
            ],
            t0,
            "local",
        );
        n.id = "x".into();
        n.evidence.status = Some(503);
        n.evidence.latency_ms = Some(4200.5);
        let p = payload(&n);
        assert_eq!(p["text"], "[FIRING] api: HTTP 503 (+1 more) (critical)");
        let a = &p["attachments"][0];
        assert_eq!(a["color"], "#e01e5a");
        assert_eq!(a["blocks"][0]["text"]["text"], "🔴 FIRING: api (critical)");
        assert_eq!(
            a["blocks"][1]["text"]["text"],
            "*Failing conditions*\n• `http_status` HTTP 503, expected 200\n• `too_slow` latency 4.200 s &gt; 3.000 s"
        );
        let fields: Vec<&str> = a["blocks"][2]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            vec![
                "*Since*\n2026-11-23 10:02 UTC",
                "*Location*\nlocal",
                "*Status*\nHTTP 503",
                "*Latency*\n4200 ms"
            ]
        );
    }
}
