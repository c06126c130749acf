//! Slack incoming webhook: a Block Kit message coloured by severity. The webhook URL is a
//! credential and never appears in output.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::Digest;
use super::{deliver, Notification, SendError};
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
        TransitionKind::Resolved if n.folded => format!("{icon} RESOLVED: {}", n.episode()),
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

/// Lines per section block: Slack cuts a section's text at 3,000 characters.
const LINES_PER_SECTION: usize = 15;

/// One Block Kit message for a batch of notifications (see [`super::digest`]).
pub fn group_payload(batch: &[Notification]) -> Value {
    let d = Digest::of(batch);
    let colour = if !d.firing.is_empty() {
        if d.firing.iter().any(|n| n.severity == Severity::Critical) {
            "#e01e5a"
        } else {
            "#ecb22e"
        }
    } else if !d.resolved.is_empty() {
        "#2eb67d"
    } else {
        "#1d9bd1"
    };
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": d.subject()}})];
    let mut list = |title: &str, lines: Vec<String>| {
        for (i, chunk) in lines.chunks(LINES_PER_SECTION).enumerate() {
            let head = if i == 0 {
                format!("*{title}*\n")
            } else {
                String::new()
            };
            let text = chunk
                .iter()
                .map(|l| format!("• {}", esc(l)))
                .collect::<Vec<_>>()
                .join("\n");
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{head}{text}")}}));
        }
    };
    if !d.firing.is_empty() {
        let lines = d.firing.iter().map(|n| d.firing_line(n)).collect();
        list(&format!("Failing ({})", d.firing.len()), lines);
    }
    if !d.resolved.is_empty() {
        let lines = d
            .resolved
            .iter()
            .map(|n| Digest::resolved_line(n))
            .collect();
        list(&format!("Recovered ({})", d.resolved.len()), lines);
    }
    if !d.notices.is_empty() {
        let lines = d.notices.iter().map(|n| Digest::notice_line(n)).collect();
        list("Notices", lines);
    }
    if let Some(v) = d.shared_vendor() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Vendor*\n{}", esc(v))}}));
    }
    let location = batch.first().map_or("", |n| n.location.as_str());
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{} notifications grouped · {} · upwatch", batch.len(), esc(location))}]}));
    json!({
        "text": d.subject(),
        "attachments": [{
            "color": colour,
            "blocks": blocks,
        }],
    })
}

impl SlackNotifier {
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
        let ChannelKind::Slack(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a slack channel"));
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

    #[test]
    fn a_group_is_one_message_with_a_line_per_alert() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let one = |target: &str, kind: TransitionKind| {
            let mut n = Notification::new(
                kind,
                Severity::Critical,
                target,
                "https://api.example.com/v1",
                vec![Failure::http_status(503, "200")],
                t0,
                "paris",
            );
            n.vendor = Some("status.example.com reports <partial> outage".into());
            if kind == TransitionKind::Resolved {
                n.resolved_at = Some(t0 + chrono::Duration::minutes(3));
            }
            n
        };
        let mut batch: Vec<Notification> = (1..=20)
            .map(|i| one(&format!("m-{i}"), TransitionKind::Firing))
            .collect();
        batch.push(one("old", TransitionKind::Resolved));
        let p = group_payload(&batch);
        assert_eq!(
            p["text"],
            "[FIRING] 20, [RESOLVED] 1: m-1, m-2, m-3 (+18 more)"
        );
        let a = &p["attachments"][0];
        assert_eq!(a["color"], "#e01e5a");
        let texts: Vec<&str> = a["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .collect();
        // 20 failing lines in two sections of at most 15, one recovery, the vendor once.
        assert!(texts[1].starts_with("*Failing (20)*\n• m-1 (critical): HTTP 503, expected 200\n"));
        assert_eq!(texts[1].lines().count(), 16);
        assert_eq!(texts[2].lines().count(), 5);
        assert_eq!(
            texts[3],
            "*Recovered (1)*\n• old recovered after 3m (critical)"
        );
        assert_eq!(
            texts[4],
            "*Vendor*\nstatus.example.com reports &lt;partial&gt; outage"
        );
        assert_eq!(
            a["blocks"][5]["elements"][0]["text"],
            "21 notifications grouped · paris · upwatch"
        );
    }
}
