//! Telegram, through a bot: `sendMessage` to one chat with HTML text (escaped), link
//! previews off. The bot token sits in the request path, so no error or log line ever
//! shows the URL.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::digest::Digest;
use super::{deliver, Notification, SendError};
use crate::alert::TransitionKind;
use crate::config::{ChannelConfig, ChannelKind, ChatId};

/// The Bot API's address unless `url` says otherwise.
pub const DEFAULT_URL: &str = "https://api.telegram.org";

/// Telegram's limit on a message's text.
const TEXT_CHARS: usize = 4096;

/// Sends notifications to one Telegram chat.
pub struct TelegramNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

/// Escapes text for Telegram's HTML parse mode.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: String) -> String {
    if s.chars().count() <= TEXT_CHARS {
        return s;
    }
    // Cut on a line, so no HTML tag is left open.
    let mut out = String::new();
    for line in s.lines() {
        if out.chars().count() + line.chars().count() + 2 > TEXT_CHARS {
            out.push('…');
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn body(chat: &ChatId, text: String) -> Value {
    let chat_id = match chat {
        ChatId::Id(n) => json!(n),
        ChatId::Channel(name) => json!(name),
    };
    json!({
        "chat_id": chat_id,
        "text": cut(text),
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
    })
}

/// The `sendMessage` body for `n`.
pub fn payload(n: &Notification, chat: &ChatId) -> Value {
    let what = match n.kind {
        TransitionKind::Resolved => "Last failing conditions",
        TransitionKind::Notice => "What changed",
        _ => "Failing conditions",
    };
    let mut text = format!("<b>{}</b>\n\n<i>{what}</i>\n", esc(&n.subject()));
    for c in &n.conditions {
        text.push_str(&format!(
            "• <code>{}</code> {}\n",
            c.kind.as_str(),
            esc(&c.detail)
        ));
    }
    for (label, line) in n.diagnosis() {
        text.push_str(&format!("<b>{label}:</b> {}\n", esc(&line)));
    }
    if let Some(v) = &n.vendor {
        text.push_str(&format!("<b>Vendor:</b> {}\n", esc(v)));
    }
    text.push_str(&format!(
        "\nSince {} · {} · {}",
        n.started_at.format("%Y-%m-%d %H:%M UTC"),
        esc(&n.location),
        esc(&n.url)
    ));
    body(chat, text)
}

/// One message for a batch (see [`super::digest`]).
pub fn group_payload(batch: &[Notification], chat: &ChatId) -> Value {
    let d = Digest::of(batch);
    let mut text = format!("<b>{}</b>\n", esc(&d.subject()));
    for (title, lines) in d.sections() {
        text.push_str(&format!("\n<i>{}</i>\n", esc(&title)));
        for l in lines {
            text.push_str(&format!("• {}\n", esc(&l)));
        }
    }
    body(chat, text)
}

impl TelegramNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Telegram(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a telegram channel"));
        };
        self.post(&payload(n, &cfg.chat_id), now).await
    }

    pub(crate) async fn send_group(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        let ChannelKind::Telegram(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a telegram channel"));
        };
        self.post(&group_payload(batch, &cfg.chat_id), now).await
    }

    async fn post(&self, body: &Value, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Telegram(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a telegram channel"));
        };
        let url = format!(
            "{}/bot{}/sendMessage",
            cfg.url.trim_end_matches('/'),
            cfg.bot_token.expose()
        );
        // The token is in the path: reqwest's error must not carry the URL.
        deliver(
            self.http.post(url).json(body).timeout(self.config.timeout),
            now,
        )
        .await
        .map_err(|mut e| {
            e.message = format!(
                "Telegram: {}",
                e.message.replace(cfg.bot_token.expose(), "***")
            );
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
    fn the_message_is_escaped_html_for_one_chat() {
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            "mistral-models",
            "https://api.mistral.ai/v1/models?a=1&b=2",
            vec![Failure::new(
                crate::probe::FailureKind::BodyMismatch,
                "body does not contain \"<data>\"",
            )],
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap(),
            "paris",
        );
        n.id = "n1".into();
        assert_eq!(
            payload(&n, &ChatId::Id(-1001234567890)),
            json!({
                "chat_id": -1001234567890i64,
                "text": "<b>[FIRING] mistral-models: body does not contain \"&lt;data&gt;\" (critical)</b>\n\n<i>Failing conditions</i>\n• <code>body_mismatch</code> body does not contain \"&lt;data&gt;\"\n\nSince 2026-11-23 10:02 UTC · paris · https://api.mistral.ai/v1/models?a=1&amp;b=2",
                "parse_mode": "HTML",
                "disable_web_page_preview": true,
            })
        );
        let channel = payload(&n, &ChatId::Channel("@upwatch_alerts".into()));
        assert_eq!(channel["chat_id"], "@upwatch_alerts");
    }

    #[test]
    fn a_long_batch_is_cut_on_a_line_within_the_limit() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let batch: Vec<Notification> = (0..300)
            .map(|i| {
                Notification::new(
                    TransitionKind::Firing,
                    Severity::Critical,
                    format!("api-{i}"),
                    "https://x/",
                    vec![Failure::http_status(503, "200")],
                    t0,
                    "paris",
                )
            })
            .collect();
        let text = group_payload(&batch, &ChatId::Id(1))["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.chars().count() <= TEXT_CHARS, "{}", text.len());
        assert!(text.ends_with('…'));
        assert!(text.starts_with("<b>[FIRING] 300 alerts: api-0, api-1, api-2 (+297 more)</b>"));
    }
}
