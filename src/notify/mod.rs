//! Notification channels: one file per channel type behind [`Notifier`], each with a pure
//! payload builder (tested for exact output) separate from `send`, plus the durable outbox
//! dispatcher ([`outbox`]). Errors say whether a retry can help.

pub mod alertmanager;
pub mod digest;
pub mod discord;
pub mod email;
pub mod google_chat;
pub mod ntfy;
pub mod opsgenie;
pub mod outbox;
pub mod pagerduty;
pub mod slack;
pub mod teams;
pub mod telegram;
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
    /// PagerDuty Events API v2.
    PagerDuty(pagerduty::PagerDutyNotifier),
    /// Discord webhook.
    Discord(discord::DiscordNotifier),
    /// Telegram bot.
    Telegram(telegram::TelegramNotifier),
    /// ntfy topic.
    Ntfy(ntfy::NtfyNotifier),
    /// Microsoft Teams (Workflows webhook).
    Teams(teams::TeamsNotifier),
    /// Google Chat space webhook.
    GoogleChat(google_chat::GoogleChatNotifier),
    /// Opsgenie Alert API v2.
    Opsgenie(opsgenie::OpsgenieNotifier),
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
                    ChannelKind::Discord(_) => Notifier::Discord(discord::DiscordNotifier {
                        config: c.clone(),
                        http: http.clone(),
                    }),
                    ChannelKind::Telegram(_) => Notifier::Telegram(telegram::TelegramNotifier {
                        config: c.clone(),
                        http: http.clone(),
                    }),
                    ChannelKind::Ntfy(_) => Notifier::Ntfy(ntfy::NtfyNotifier {
                        config: c.clone(),
                        http: http.clone(),
                        page_url: page_url.map(str::to_string),
                    }),
                    ChannelKind::Teams(_) => Notifier::Teams(teams::TeamsNotifier {
                        config: c.clone(),
                        http: http.clone(),
                        page_url: page_url.map(str::to_string),
                    }),
                    ChannelKind::GoogleChat(_) => {
                        Notifier::GoogleChat(google_chat::GoogleChatNotifier {
                            config: c.clone(),
                            http: http.clone(),
                        })
                    }
                    ChannelKind::Opsgenie(_) => Notifier::Opsgenie(opsgenie::OpsgenieNotifier {
                        config: c.clone(),
                        http: http.clone(),
                    }),
                    ChannelKind::PagerDuty(_) => {
                        Notifier::PagerDuty(pagerduty::PagerDutyNotifier {
                            config: c.clone(),
                            http: http.clone(),
                            page_url: page_url.map(str::to_string),
                        })
                    }
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
            Notifier::PagerDuty(n) => &n.config,
            Notifier::Discord(n) => &n.config,
            Notifier::Telegram(n) => &n.config,
            Notifier::Ntfy(n) => &n.config,
            Notifier::Teams(n) => &n.config,
            Notifier::GoogleChat(n) => &n.config,
            Notifier::Opsgenie(n) => &n.config,
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
        matches!(
            self,
            Notifier::Email(_)
                | Notifier::Slack(_)
                | Notifier::Discord(_)
                | Notifier::Telegram(_)
                | Notifier::Ntfy(_)
                | Notifier::Teams(_)
                | Notifier::GoogleChat(_)
        )
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
                Notifier::PagerDuty(c) => c.send(n, now).await,
                Notifier::Discord(c) => c.send(n, now).await,
                Notifier::Telegram(c) => c.send(n, now).await,
                Notifier::Ntfy(c) => c.send(n, now).await,
                Notifier::Teams(c) => c.send(n, now).await,
                Notifier::GoogleChat(c) => c.send(n, now).await,
                Notifier::Opsgenie(c) => c.send(n, now).await,
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
                Notifier::Discord(c) => c.send_group(batch, now).await,
                Notifier::Telegram(c) => c.send_group(batch, now).await,
                Notifier::Ntfy(c) => c.send_group(batch, now).await,
                Notifier::Teams(c) => c.send_group(batch, now).await,
                Notifier::GoogleChat(c) => c.send_group(batch, now).await,
                // Validation keeps grouping off these; a machine wants one event each.
                Notifier::Webhook(_)
                | Notifier::Alertmanager(_)
                | Notifier::PagerDuty(_)
                | Notifier::Opsgenie(_) => {
                    Err(SendError::permanent(
                        "webhook, alertmanager, pagerduty and opsgenie channels take one notification at a time",
                    ))
                }
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

/// Most bytes of a receiver's error reply read: enough for its message, and a receiver
/// that answers with an endless body cannot hold a delivery.
const REPLY_BYTES: usize = 4096;

/// The start of `resp`'s body, at most `cap` bytes (more only when one chunk brings
/// them, and then cut); whatever arrived when the body fails.
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match resp.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk[..chunk.len().min(cap - out.len())]),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// Sends `req` and classifies the answer. reqwest's errors can carry the URL, which for
/// most channels is itself the credential: they are stripped of it here.
pub(crate) async fn deliver(
    req: reqwest::RequestBuilder,
    now: DateTime<Utc>,
) -> Result<(), SendError> {
    http_outcome(req.send().await.map_err(|e| e.without_url()), now).await
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
    let body: String = String::from_utf8_lossy(&read_capped(resp, REPLY_BYTES).await)
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A receiver that refuses with a body that never ends: the delivery reads the start of
    /// it, reports the refusal, and hangs up.
    #[tokio::test]
    async fn an_endless_error_reply_is_read_only_to_its_start() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let head = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 1000000000\r\n\r\n";
            let mut written = 0u64;
            if tcp.write_all(head).await.is_ok() {
                let chunk = [b'x'; 16 * 1024];
                while tcp.write_all(&chunk).await.is_ok() {
                    written += chunk.len() as u64;
                }
            }
            written
        });
        let tls = crate::tls::client_config(&TlsOptions {
            ca_file: None,
            insecure: false,
        })
        .unwrap();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .build()
            .unwrap();
        let sent = http
            .post(format!("http://{addr}/hook"))
            .body("{}")
            .send()
            .await;
        let outcome = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            http_outcome(sent, Utc::now()),
        )
        .await
        .expect("the delivery does not read the whole reply");
        let err = outcome.unwrap_err();
        assert!(err.retryable);
        assert_eq!(err.message, format!("HTTP 500: {}", "x".repeat(200)));
        let written = server.await.unwrap();
        assert!(written < 64 << 20, "the receiver wrote {written} bytes");
    }
}
