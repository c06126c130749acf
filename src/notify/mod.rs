//! Notification channels: one file per channel type behind [`Notifier`], each with a pure
//! payload builder (tested for exact output) separate from `send`, plus the durable outbox
//! dispatcher ([`outbox`]). Errors say whether a retry can help.

pub mod alertmanager;
pub mod digest;
pub mod email;
pub mod outbox;
pub mod slack;
pub mod webhook;

pub use crate::alert::notification::{new_id, Evidence, Notification};

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{ChannelConfig, ChannelKind, Grouping};
use crate::fmt::human_duration;
use crate::tls::TlsOptions;

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

    /// The channel's validated settings.
    pub fn config(&self) -> &ChannelConfig {
        match self {
            Notifier::Email(n) => &n.config,
            Notifier::Slack(n) => &n.config,
            Notifier::Webhook(n) => &n.config,
            Notifier::Alertmanager(n) => &n.config,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.config().name
    }

    /// Limit for one delivery attempt.
    pub fn timeout(&self) -> Duration {
        self.config().timeout
    }

    /// Whether people read this channel (email, Slack), rather than a machine.
    pub fn for_people(&self) -> bool {
        matches!(self, Notifier::Email(_) | Notifier::Slack(_))
    }

    /// How the channel batches notifications for people (`None`: one message each).
    pub fn grouping(&self) -> Option<Grouping> {
        self.config().group
    }

    /// Delivers one notification, bounded by the channel's timeout.
    pub async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        self.bounded(async {
            match self {
                Notifier::Email(c) => c.send(n, now).await,
                Notifier::Slack(c) => c.send(n, now).await,
                Notifier::Webhook(c) => c.send(n, now).await,
                Notifier::Alertmanager(c) => c.send(n, now).await,
            }
        })
        .await
    }

    /// Delivers a batch as one message (channels that group: email and Slack), bounded by
    /// the channel's timeout.
    pub async fn send_group(
        &self,
        batch: &[Notification],
        now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        self.bounded(async {
            match self {
                Notifier::Email(c) => c.send_group(batch, now).await,
                Notifier::Slack(c) => c.send_group(batch, now).await,
                // Validation keeps grouping off these; a machine wants one event each.
                Notifier::Webhook(_) | Notifier::Alertmanager(_) => Err(SendError::permanent(
                    "webhook and alertmanager channels take one notification at a time",
                )),
            }
        })
        .await
    }

    async fn bounded(
        &self,
        fut: impl std::future::Future<Output = Result<(), SendError>>,
    ) -> Result<(), SendError> {
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
