//! Notification channels: one file per channel type behind [`Notifier`], each with a pure
//! payload builder (tested for exact output) separate from `send`, plus the durable outbox
//! dispatcher ([`outbox`]). Errors say whether a retry can help.

pub mod alertmanager;
pub mod email;
pub mod outbox;
pub mod slack;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Severity, TransitionKind};
use crate::config::{ChannelConfig, ChannelKind};
use crate::fmt::human_duration;
use crate::probe::Failure;
use crate::tls::TlsOptions;

/// One notification for one channel, as queued in the outbox (JSON) and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable across retries: receivers dedup on it.
    pub id: String,
    /// Firing, reminder or resolved.
    pub kind: TransitionKind,
    /// Severity of the alert.
    pub severity: Severity,
    /// Target name.
    pub target: String,
    /// Target URL, as it may be shown.
    pub url: String,
    /// The failing conditions with their measured values.
    pub conditions: Vec<Failure>,
    /// First failing probe of the episode.
    pub started_at: DateTime<Utc>,
    /// Recovery time (resolved only).
    pub resolved_at: Option<DateTime<Utc>>,
    /// `daemon.location` of the instance that saw it.
    pub location: String,
    /// The probe result that caused it, in `check --format json` form.
    pub last_result: serde_json::Value,
    /// A `test-alert` message, not a real alert.
    #[serde(default)]
    pub test: bool,
    /// What the vendor's status page says ("status.mistral.ai reports partial outage: ..."),
    /// for a target linked to one, or the incident's own text for a vendor incident alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The vendor incident's id, for the announcement of one (firing when it appears,
    /// resolved when it ends): receivers that track alerts by identity key on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
}

impl Notification {
    /// `firing` (also for reminders) or `resolved`.
    pub fn status(&self) -> &'static str {
        match self.kind {
            TransitionKind::Firing | TransitionKind::Reminder => "firing",
            TransitionKind::Resolved => "resolved",
            TransitionKind::Notice => "notice",
        }
    }

    /// The conditions in one line: `HTTP 503, expected 200; latency 4.213 s > 3.000 s`.
    pub fn summary(&self) -> String {
        if self.conditions.is_empty() {
            return "no conditions recorded".to_string();
        }
        self.conditions
            .iter()
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// How long the episode lasted (resolved) or has lasted so far, e.g. `12m`, `1h 3m`.
    pub fn duration_text(&self, now: DateTime<Utc>) -> String {
        let end = self.resolved_at.unwrap_or(now);
        human_duration((end - self.started_at).to_std().unwrap_or_default())
    }

    /// Email subject / chat headline, e.g. `[FIRING] mistral-models: HTTP 503 (critical)`.
    pub fn subject(&self) -> String {
        let test = if self.test { "[TEST] " } else { "" };
        match self.kind {
            TransitionKind::Firing => format!(
                "{test}[FIRING] {}: {} ({})",
                self.target,
                self.headline(),
                self.severity.as_str()
            ),
            TransitionKind::Reminder => format!(
                "{test}[FIRING] {}: {} ({}, still failing)",
                self.target,
                self.headline(),
                self.severity.as_str()
            ),
            TransitionKind::Resolved => format!(
                "{test}[RESOLVED] {} after {}",
                self.target,
                self.duration_text(self.started_at)
            ),
            TransitionKind::Notice => {
                format!("{test}[NOTICE] {}: {}", self.target, self.headline())
            }
        }
    }

    /// What the result that caused the notification says about the failure, as labelled
    /// lines: the error class and its remedy, the likely side, what the provider said, and
    /// the request id support will ask for. Empty when the result carries none of it.
    pub fn diagnosis(&self) -> Vec<(&'static str, String)> {
        let r = &self.last_result;
        let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let mut lines = Vec::new();
        if let Some(class) = text(r.get("error_class")) {
            let remedy = text(r.get("remedy")).unwrap_or_default();
            lines.push(("Cause", format!("{class}: {remedy}")));
        }
        if let Some(side) = text(r.pointer("/side/text")) {
            lines.push(("Likely", side));
        }
        if let Some(msg) = text(r.pointer("/provider_error/message")) {
            lines.push(("Provider", msg));
        }
        if let Some(ids) = r.get("request_ids").and_then(|v| v.as_object()) {
            if let Some((name, id)) = ids.iter().next() {
                lines.push(("Request", format!("{name}: {}", id.as_str().unwrap_or(""))));
            }
        }
        lines
    }

    /// The first condition, short: what a pager shows.
    fn headline(&self) -> String {
        let first = self
            .conditions
            .first()
            .map(|c| c.detail.as_str())
            .unwrap_or("failing");
        let short = first.split(", expected").next().unwrap_or(first);
        match self.conditions.len() {
            0 | 1 => short.to_string(),
            n => format!("{short} (+{} more)", n - 1),
        }
    }

    /// A clearly labelled test notification for `test-alert`.
    pub fn test_message(location: &str, now: DateTime<Utc>) -> Self {
        Notification {
            id: new_id(),
            kind: TransitionKind::Firing,
            severity: Severity::Warning,
            target: "upwatch-test".to_string(),
            url: "https://example.invalid/upwatch-test".to_string(),
            conditions: vec![Failure::new(
                crate::probe::FailureKind::HttpStatus,
                "this is a test notification from upwatch test-alert; no action needed",
            )],
            started_at: now,
            resolved_at: None,
            location: location.to_string(),
            last_result: serde_json::Value::Null,
            test: true,
            vendor: None,
            incident: None,
        }
    }
}

/// A random 128-bit id in hex.
pub fn new_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Why a delivery failed, and whether retrying can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What the receiver or the network said.
    pub message: String,
    /// False when the receiver rejected the message for good (bad URL, 4xx, SMTP 5xx).
    pub retryable: bool,
    /// The receiver's own wait request (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendError {
    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure retrying will not fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// A ready-to-use channel.
pub enum Notifier {
    /// SMTP (boxed: the transport is much larger than an HTTP client handle).
    Email(Box<email::EmailNotifier>),
    /// Slack incoming webhook.
    Slack(slack::SlackNotifier),
    /// Generic webhook.
    Webhook(webhook::WebhookNotifier),
    /// Prometheus Alertmanager.
    Alertmanager(alertmanager::AlertmanagerNotifier),
}

/// Why the channels could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifySetupError {
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsSetupError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for notifications: {0}")]
    Http(String),
    /// The SMTP transport could not be built.
    #[error("channel {channel}: {message}")]
    Smtp {
        /// Channel name.
        channel: String,
        /// What failed.
        message: String,
    },
}

impl Notifier {
    /// Builds every configured channel, sharing one HTTP client (and so one TLS config).
    /// `page_url` is this instance's page, which Alertmanager alerts link to.
    pub fn build_all(
        channels: &[Arc<ChannelConfig>],
        page_url: Option<&str>,
    ) -> Result<Vec<Arc<Notifier>>, NotifySetupError> {
        let tls = crate::tls::client_config(&TlsOptions {
            ca_file: None,
            insecure: false,
        })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .user_agent(concat!("upwatch/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| NotifySetupError::Http(e.to_string()))?;
        channels
            .iter()
            .map(|c| {
                Ok(Arc::new(match &c.kind {
                    ChannelKind::Email(e) => {
                        Notifier::Email(Box::new(email::EmailNotifier::new(c.clone(), e)?))
                    }
                    ChannelKind::Slack(_) => Notifier::Slack(slack::SlackNotifier {
                        config: c.clone(),
                        http: http.clone(),
                    }),
                    ChannelKind::Webhook(_) => Notifier::Webhook(webhook::WebhookNotifier {
                        config: c.clone(),
                        http: http.clone(),
                    }),
                    ChannelKind::Alertmanager(_) => {
                        Notifier::Alertmanager(alertmanager::AlertmanagerNotifier::new(
                            c.clone(),
                            http.clone(),
                            page_url.map(str::to_string),
                        ))
                    }
                }))
            })
            .collect()
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        match self {
            Notifier::Email(n) => &n.config.name,
            Notifier::Slack(n) => &n.config.name,
            Notifier::Webhook(n) => &n.config.name,
            Notifier::Alertmanager(n) => &n.config.name,
        }
    }

    /// Limit for one delivery attempt.
    pub fn timeout(&self) -> Duration {
        match self {
            Notifier::Email(n) => n.config.timeout,
            Notifier::Slack(n) => n.config.timeout,
            Notifier::Webhook(n) => n.config.timeout,
            Notifier::Alertmanager(n) => n.config.timeout,
        }
    }

    /// Delivers one notification, bounded by the channel's timeout.
    pub async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let fut = async {
            match self {
                Notifier::Email(c) => c.send(n, now).await,
                Notifier::Slack(c) => c.send(n, now).await,
                Notifier::Webhook(c) => c.send(n, now).await,
                Notifier::Alertmanager(c) => c.send(n, now).await,
            }
        };
        match tokio::time::timeout(self.timeout(), fut).await {
            Ok(r) => r,
            Err(_) => Err(SendError::transient(format!(
                "no answer within {}",
                human_duration(self.timeout())
            ))),
        }
    }
}

/// Classifies an HTTP receiver's answer (Slack and webhooks).
pub(crate) async fn http_outcome(
    result: Result<reqwest::Response, reqwest::Error>,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    let resp = match result {
        Ok(r) => r,
        // Connect errors, timeouts, resets: the receiver may come back.
        Err(e) => return Err(SendError::transient(crate::error_chain(&e))),
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::http_date::retry_after(v, now));
    let body: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let message = format!(
        "HTTP {}{}",
        status.as_u16(),
        if body.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", body.trim())
        }
    );
    let retryable = status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
    Err(SendError {
        message,
        retryable,
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(kind: TransitionKind) -> Notification {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        Notification {
            id: "0123".into(),
            kind,
            severity: Severity::Critical,
            target: "mistral-models".into(),
            url: "https://api.mistral.ai/v1/models".into(),
            conditions: vec![Failure::new(
                crate::probe::FailureKind::HttpStatus,
                "HTTP 503, expected 200",
            )],
            started_at: t0,
            resolved_at: (kind == TransitionKind::Resolved)
                .then(|| t0 + chrono::Duration::minutes(12)),
            location: "local".into(),
            last_result: serde_json::Value::Null,
            test: false,
            vendor: None,
            incident: None,
        }
    }

    #[test]
    fn subjects_read_like_a_pager() {
        assert_eq!(
            sample(TransitionKind::Firing).subject(),
            "[FIRING] mistral-models: HTTP 503 (critical)"
        );
        assert_eq!(
            sample(TransitionKind::Reminder).subject(),
            "[FIRING] mistral-models: HTTP 503 (critical, still failing)"
        );
        assert_eq!(
            sample(TransitionKind::Resolved).subject(),
            "[RESOLVED] mistral-models after 12m"
        );
    }

    #[test]
    fn the_diagnosis_comes_from_the_result() {
        assert!(sample(TransitionKind::Firing).diagnosis().is_empty());
        let mut n = sample(TransitionKind::Firing);
        n.last_result = serde_json::json!({
            "error_class": "auth",
            "remedy": "the key was rejected",
            "side": {"side": "account", "text": "your account or key"},
            "provider_error": {"type": "invalid_request_error", "message": "Unauthorized"},
            "request_ids": {"x-request-id": "req-401"},
        });
        assert_eq!(
            n.diagnosis(),
            vec![
                ("Cause", "auth: the key was rejected".to_string()),
                ("Likely", "your account or key".to_string()),
                ("Provider", "Unauthorized".to_string()),
                ("Request", "x-request-id: req-401".to_string()),
            ]
        );
        let text = crate::notify::slack::payload(&n).to_string();
        assert!(text.contains("*Likely:* your account or key"), "{text}");
        let (plain, html) = crate::notify::email::bodies(&n);
        assert!(
            plain.contains("Cause:    auth: the key was rejected"),
            "{plain}"
        );
        assert!(
            html.contains("<b>Request:</b> x-request-id: req-401"),
            "{html}"
        );
    }
}
