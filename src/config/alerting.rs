//! Validation of `[alerting]`, `[[channel]]`, `[[maintenance]]` and a target's alert keys.

use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use toml::Spanned;
use url::Url;

use super::raw::{RawAlerting, RawChannel, RawMaintenance, RawTarget, RawThreshold, S};
use super::Validator;
use crate::alert::{AlertPolicy, Severity};
use crate::probe::FailureKind;
use crate::secret::{Redactor, Secret};

/// `[alerting]` after validation.
#[derive(Debug, Clone)]
pub struct Alerting {
    /// Policy every target starts from.
    pub policy: AlertPolicy,
    /// How long a notification is retried before it is marked dead.
    pub delivery_max_age: Duration,
    /// How channels for people batch notifications, unless a channel says otherwise
    /// (`None`: `group = false`).
    pub grouping: Option<Grouping>,
}

/// How a channel for people batches notifications: the first change after a quiet spell
/// waits `wait` for others to join it; after a message, the next goes out no sooner than
/// `interval` later. Everything waiting then goes out as one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// `group_wait`: how long the first change waits for company.
    pub wait: Duration,
    /// `group_interval`: the least time between two messages.
    pub interval: Duration,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            wait: Duration::from_secs(10),
            interval: Duration::from_secs(60),
        }
    }
}

/// A validated `[[channel]]`.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Unique name that targets route to.
    pub name: Arc<str>,
    /// Limit for one delivery attempt.
    pub timeout: Duration,
    /// Type-specific settings.
    pub kind: ChannelKind,
    /// Batching for people (email, Slack); `None` delivers one message per notification,
    /// as the webhook and Alertmanager always do.
    pub group: Option<Grouping>,
}

/// The channel types.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    /// SMTP email.
    Email(EmailChannel),
    /// Slack incoming webhook.
    Slack(SlackChannel),
    /// Generic JSON webhook.
    Webhook(WebhookChannel),
    /// Prometheus Alertmanager's v2 API.
    Alertmanager(AlertmanagerChannel),
    /// PagerDuty's Events API v2.
    PagerDuty(PagerDutyChannel),
    /// A Discord channel's webhook.
    Discord(DiscordChannel),
    /// A Telegram chat, through a bot.
    Telegram(TelegramChannel),
    /// An ntfy topic.
    Ntfy(NtfyChannel),
    /// A Microsoft Teams channel, through a Workflows webhook.
    Teams(UrlChannel),
    /// A Google Chat space's webhook.
    GoogleChat(UrlChannel),
    /// Opsgenie's Alert API v2.
    Opsgenie(OpsgenieChannel),
}

impl ChannelKind {
    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Email(_) => "email",
            ChannelKind::Slack(_) => "slack",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Alertmanager(_) => "alertmanager",
            ChannelKind::PagerDuty(_) => "pagerduty",
            ChannelKind::Discord(_) => "discord",
            ChannelKind::Telegram(_) => "telegram",
            ChannelKind::Ntfy(_) => "ntfy",
            ChannelKind::Teams(_) => "teams",
            ChannelKind::GoogleChat(_) => "google_chat",
            ChannelKind::Opsgenie(_) => "opsgenie",
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// No TLS (loopback relays only; credentials would travel in clear).
    None,
}

/// `type = "email"`.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    /// SMTP server host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// Login, if the server needs one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<Secret>,
    /// Sender mailbox.
    pub from: String,
    /// Recipient mailboxes.
    pub to: Vec<String>,
    /// Extra CA for a private SMTP server.
    pub tls_ca_file: Option<PathBuf>,
}

/// `type = "slack"`.
#[derive(Debug, Clone)]
pub struct SlackChannel {
    /// The incoming-webhook URL (a credential).
    pub url: Secret,
}

/// `type = "webhook"`.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    /// Where to POST (may hold a token).
    pub url: Secret,
    /// The URL as it may be shown.
    pub display_url: String,
    /// Extra request headers (values are sensitive).
    pub headers: HeaderMap,
    /// HMAC-SHA256 signing secret (`X-Upwatch-Signature`).
    pub secret: Option<Secret>,
    /// Standard Webhooks signing keys, already decoded from `whsec_…` (`signature =
    /// "standard-webhooks"`; more than one during a rotation).
    pub standard_keys: Vec<SecretBytes>,
}

/// Key bytes that must not be printed.
#[derive(Clone)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

/// `type = "alertmanager"`.
#[derive(Debug, Clone)]
pub struct AlertmanagerChannel {
    /// `POST` endpoint: the configured URL with `/api/v2/alerts` appended (may hold
    /// basic-auth credentials).
    pub url: Secret,
    /// The endpoint as it may be shown.
    pub display_url: String,
    /// Extra request headers, e.g. `Authorization` (values are sensitive).
    pub headers: HeaderMap,
    /// How often a firing alert is posted again: Alertmanager resolves an alert that is
    /// not re-sent before its `endsAt` (set to four intervals ahead).
    pub resend_interval: Duration,
}

/// `type = "discord"`.
#[derive(Debug, Clone)]
pub struct DiscordChannel {
    /// The webhook URL (a credential: it embeds the webhook's token).
    pub url: Secret,
}

/// A channel that is only its webhook URL (`teams`, `google_chat`).
#[derive(Debug, Clone)]
pub struct UrlChannel {
    /// The webhook URL (a credential: it carries a key or signature).
    pub url: Secret,
}

/// `type = "opsgenie"`.
#[derive(Debug, Clone)]
pub struct OpsgenieChannel {
    /// The API key of an API integration (a credential).
    pub api_key: Secret,
    /// The API's address (US by default; EU `https://api.eu.opsgenie.com`).
    pub url: String,
}

/// Which Telegram chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatId {
    /// A numeric chat id (groups and channels are negative).
    Id(i64),
    /// A public channel's `@username`.
    Channel(String),
}

/// `type = "telegram"`.
#[derive(Debug, Clone)]
pub struct TelegramChannel {
    /// The bot's token (a credential; it goes in the request path).
    pub bot_token: Secret,
    /// The chat to post to.
    pub chat_id: ChatId,
    /// The Bot API's address.
    pub url: String,
}

/// How an ntfy topic is reached.
#[derive(Debug, Clone)]
pub enum NtfyAuth {
    /// An open topic.
    None,
    /// An access token (`Authorization: Bearer`).
    Token(Secret),
    /// A user and password (`Authorization: Basic`).
    Basic(String, Secret),
}

/// `type = "ntfy"`.
#[derive(Debug, Clone)]
pub struct NtfyChannel {
    /// The server's address (JSON is published to its root).
    pub url: String,
    /// The topic.
    pub topic: String,
    /// Its credentials, if it needs them.
    pub auth: NtfyAuth,
}

/// `type = "pagerduty"`.
#[derive(Debug, Clone)]
pub struct PagerDutyChannel {
    /// The integration's routing key (a credential).
    pub routing_key: Secret,
    /// The Events API v2 enqueue endpoint (PagerDuty's, unless overridden).
    pub url: String,
}

/// A validated `[[maintenance]]` window.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// Label for logs.
    pub name: String,
    /// When windows start (in `timezone`).
    pub schedule: cron::Schedule,
    /// How long each window lasts.
    pub duration: Duration,
    /// Time zone the schedule is read in.
    pub timezone: chrono_tz::Tz,
    /// Targets it covers (empty: all).
    pub targets: Vec<Arc<str>>,
}

impl Maintenance {
    /// Whether a window covering `target` is open at `now`.
    pub fn active(&self, target: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        if !self.targets.is_empty() && !self.targets.iter().any(|t| &**t == target) {
            return false;
        }
        let Ok(d) = chrono::Duration::from_std(self.duration) else {
            return false;
        };
        // A window that started at s is open while s <= now < s + duration: look for the
        // first start after now - duration.
        let from = (now - d).with_timezone(&self.timezone);
        self.schedule
            .after(&from)
            .next()
            .is_some_and(|start| start.with_timezone(&chrono::Utc) <= now)
    }
}

/// The alert keys every section that alerts may set, borrowed from its raw table.
pub(super) struct PolicyKeys<'r> {
    pub failure_threshold: &'r S<RawThreshold>,
    pub success_threshold: &'r S<RawThreshold>,
    pub repeat_interval: &'r S<String>,
    pub send_resolved: &'r S<bool>,
    pub channels: &'r S<Vec<Spanned<String>>>,
}

/// The [`PolicyKeys`] of any raw section that has the alert keys.
macro_rules! policy_keys {
    ($r:expr) => {
        PolicyKeys {
            failure_threshold: &$r.failure_threshold,
            success_threshold: &$r.success_threshold,
            repeat_interval: &$r.repeat_interval,
            send_resolved: &$r.send_resolved,
            channels: &$r.channels,
        }
    };
}
pub(super) use policy_keys;

const CHANNEL_TYPES: &[&str] = &[
    "email",
    "slack",
    "discord",
    "webhook",
    "alertmanager",
    "pagerduty",
    "telegram",
    "ntfy",
    "teams",
    "google_chat",
    "opsgenie",
];

impl Validator<'_> {
    pub(super) fn alerting(&mut self, r: &RawAlerting, known: &[Arc<str>]) -> Alerting {
        let ctx = "alerting";
        let policy = self.policy(ctx, policy_keys!(r), &AlertPolicy::default(), known);
        let delivery_max_age = self
            .duration(ctx, "delivery_max_age", &r.delivery_max_age, false)
            .flatten()
            .unwrap_or(Duration::from_secs(24 * 3600));
        let base = Grouping::default();
        let grouping = Grouping {
            wait: self
                .duration(ctx, "group_wait", &r.group_wait, true)
                .flatten()
                .unwrap_or(base.wait),
            interval: self
                .duration(ctx, "group_interval", &r.group_interval, true)
                .flatten()
                .unwrap_or(base.interval),
        };
        Alerting {
            policy,
            delivery_max_age,
            grouping: r
                .group
                .as_ref()
                .is_none_or(|g| *g.get_ref())
                .then_some(grouping),
        }
    }

    /// The alert keys of one section over `base`: `[alerting]` over the built-in policy,
    /// a target or a status page over `[alerting]`. The one place thresholds, repeat
    /// interval, `send_resolved` and channel references are checked.
    pub(super) fn policy(
        &mut self,
        ctx: &str,
        keys: PolicyKeys<'_>,
        base: &AlertPolicy,
        known_channels: &[Arc<str>],
    ) -> AlertPolicy {
        let mut p = base.clone();
        if let Some((m, n)) = self.threshold(ctx, "failure_threshold", keys.failure_threshold) {
            (p.failure_threshold, p.failure_window) = (m, n);
        }
        if let Some((m, n)) = self.threshold(ctx, "success_threshold", keys.success_threshold) {
            (p.success_threshold, p.success_window) = (m, n);
        }
        // Zero turns reminders off.
        if let Some(d) = self
            .duration(ctx, "repeat_interval", keys.repeat_interval, true)
            .flatten()
        {
            p.repeat_interval = (!d.is_zero()).then_some(d);
        }
        if let Some(b) = keys.send_resolved {
            p.send_resolved = *b.get_ref();
        }
        if let Some(ch) = self.channel_refs(ctx, keys.channels, known_channels) {
            p.channels = ch;
        }
        p
    }

    /// A threshold as (M, N): a plain count of consecutive probes is (n, n), 1 to 1000;
    /// `"M of N"` counts M of the last N probes, 1 <= M <= N <= 64.
    fn threshold(&mut self, ctx: &str, key: &str, v: &S<RawThreshold>) -> Option<(u32, u32)> {
        let v = v.as_ref()?;
        let bad = |what: String| {
            format!("{key}: {what}; write a count of consecutive probes (e.g. 2) or \"M of N\" (e.g. \"3 of 5\": 3 of the last 5 probes)")
        };
        let parsed = match v.get_ref() {
            RawThreshold::Count(n) if (1..=1000).contains(n) => Ok((*n as u32, *n as u32)),
            RawThreshold::Count(n) => Err(bad(format!("{n} is out of range 1-1000"))),
            RawThreshold::Text(t) => {
                let parts: Vec<&str> = t.split_whitespace().collect();
                match parts.as_slice() {
                    [m, "of", n] => match (m.parse::<u32>(), n.parse::<u32>()) {
                        (Ok(m), Ok(n)) if m >= 1 && m <= n && n <= 64 => Ok((m, n)),
                        (Ok(_), Ok(_)) => Err(bad(format!("{t:?} needs 1 <= M <= N <= 64"))),
                        _ => Err(bad(format!("{t:?} is not \"M of N\""))),
                    },
                    _ => Err(bad(format!("{t:?} is not a count or \"M of N\""))),
                }
            }
        };
        match parsed {
            Ok(x) => Some(x),
            Err(m) => {
                self.d.push(v.span(), ctx, m);
                None
            }
        }
    }

    /// Channel names listed under `key`, each checked against the defined channels.
    pub(super) fn channel_refs(
        &mut self,
        ctx: &str,
        v: &S<Vec<Spanned<String>>>,
        known: &[Arc<str>],
    ) -> Option<Vec<Arc<str>>> {
        let v = v.as_ref()?;
        let names: Vec<&str> = known.iter().map(|n| &**n).collect();
        let mut out = Vec::new();
        for item in v.get_ref() {
            match known.iter().find(|k| ***k == **item.get_ref()) {
                Some(k) => out.push(k.clone()),
                None => {
                    let hint = match super::error::suggest(item.get_ref(), &names) {
                        Some(s) => format!(" (did you mean {s:?}?)"),
                        None if names.is_empty() => " (no [[channel]] is defined)".to_string(),
                        None => format!(" (channels: {})", names.join(", ")),
                    };
                    self.d.push(
                        item.span(),
                        ctx,
                        format!("channels: no channel named {:?}{hint}", item.get_ref()),
                    );
                }
            }
        }
        Some(out)
    }

    /// A target's alert policy: `[alerting]` with the target's own keys on top.
    pub(super) fn target_policy(
        &mut self,
        ctx: &str,
        r: &RawTarget,
        base: &AlertPolicy,
        known: &[Arc<str>],
    ) -> AlertPolicy {
        let keys = policy_keys!(r);
        let mut p = self.policy(ctx, keys, base, known);
        if let Some(o) = &r.severity_overrides {
            let kinds: Vec<&str> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
            for (kind, sev) in o.get_ref() {
                let Some(k) = FailureKind::from_name(kind) else {
                    let hint = super::error::suggest(kind, &kinds)
                        .map(|s| format!(" (did you mean {s:?}?)"))
                        .unwrap_or_default();
                    self.d.push(
                        sev.span(),
                        ctx,
                        format!("severity_overrides: unknown failure kind {kind:?}{hint}"),
                    );
                    continue;
                };
                match sev.get_ref().as_str() {
                    "none" => {
                        p.severity_overrides.insert(k, None);
                    }
                    s => match Severity::from_name(s) {
                        Some(s) => {
                            p.severity_overrides.insert(k, Some(s));
                        }
                        None => self.d.push(sev.span(), ctx, format!("severity_overrides.{kind}: {s:?} is not one of critical | warning | none")),
                    },
                }
            }
        }
        p
    }

    pub(super) fn channel(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        grouping: Option<Grouping>,
        warnings: &mut Vec<String>,
    ) -> Option<ChannelConfig> {
        let mut redactor = Redactor::default();
        let name = self.name(ctx, &r.name, span.clone(), "\"team-slack\"");
        let Some(kind_v) = &r.kind else {
            self.d.push(
                span,
                ctx,
                format!("missing key \"type\": one of {}", CHANNEL_TYPES.join(" | ")),
            );
            return None;
        };
        let kind_name = self.string(ctx, "type", kind_v, None)?;
        if !CHANNEL_TYPES.contains(&kind_name.as_str()) {
            let hint = super::error::suggest(&kind_name, CHANNEL_TYPES)
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            self.d.push(
                kind_v.span(),
                ctx,
                format!(
                    "type: {kind_name:?} is not one of {}{hint}",
                    CHANNEL_TYPES.join(" | ")
                ),
            );
            return None;
        }
        // Keys that belong to another type are mistakes worth pointing at.
        let applies: &[&str] = match kind_name.as_str() {
            "email" => &[
                "host",
                "port",
                "tls",
                "username",
                "password",
                "password_file",
                "from",
                "to",
                "tls_ca_file",
                "group",
                "group_wait",
                "group_interval",
            ],
            "slack" | "discord" | "teams" | "google_chat" => {
                &["url", "url_file", "group", "group_wait", "group_interval"]
            }
            "opsgenie" => &["url", "api_key", "api_key_file"],
            "alertmanager" => &["url", "url_file", "headers", "resend_interval"],
            "pagerduty" => &["url", "routing_key", "routing_key_file"],
            "telegram" => &[
                "url",
                "bot_token",
                "bot_token_file",
                "chat_id",
                "group",
                "group_wait",
                "group_interval",
            ],
            "ntfy" => &[
                "url",
                "topic",
                "token",
                "token_file",
                "username",
                "password",
                "password_file",
                "group",
                "group_wait",
                "group_interval",
            ],
            _ => &[
                "url",
                "url_file",
                "headers",
                "secret",
                "secret_file",
                "signature",
                "secrets",
            ],
        };
        let present: [(&str, Option<Range<usize>>); 30] = [
            ("host", r.host.as_ref().map(|v| v.span())),
            ("port", r.port.as_ref().map(|v| v.span())),
            ("tls", r.tls.as_ref().map(|v| v.span())),
            ("username", r.username.as_ref().map(|v| v.span())),
            ("password", r.password.as_ref().map(|v| v.span())),
            ("password_file", r.password_file.as_ref().map(|v| v.span())),
            ("from", r.from.as_ref().map(|v| v.span())),
            ("to", r.to.as_ref().map(|v| v.span())),
            ("tls_ca_file", r.tls_ca_file.as_ref().map(|v| v.span())),
            ("url", r.url.as_ref().map(|v| v.span())),
            ("url_file", r.url_file.as_ref().map(|v| v.span())),
            ("headers", r.headers.as_ref().map(|v| v.span())),
            ("secret", r.secret.as_ref().map(|v| v.span())),
            ("secret_file", r.secret_file.as_ref().map(|v| v.span())),
            ("signature", r.signature.as_ref().map(|v| v.span())),
            ("routing_key", r.routing_key.as_ref().map(|v| v.span())),
            ("bot_token", r.bot_token.as_ref().map(|v| v.span())),
            (
                "bot_token_file",
                r.bot_token_file.as_ref().map(|v| v.span()),
            ),
            ("chat_id", r.chat_id.as_ref().map(|v| v.span())),
            ("topic", r.topic.as_ref().map(|v| v.span())),
            ("token", r.token.as_ref().map(|v| v.span())),
            ("token_file", r.token_file.as_ref().map(|v| v.span())),
            ("api_key", r.api_key.as_ref().map(|v| v.span())),
            ("api_key_file", r.api_key_file.as_ref().map(|v| v.span())),
            (
                "routing_key_file",
                r.routing_key_file.as_ref().map(|v| v.span()),
            ),
            ("secrets", r.secrets.as_ref().map(|v| v.span())),
            (
                "resend_interval",
                r.resend_interval.as_ref().map(|v| v.span()),
            ),
            ("group", r.group.as_ref().map(|v| v.span())),
            ("group_wait", r.group_wait.as_ref().map(|v| v.span())),
            (
                "group_interval",
                r.group_interval.as_ref().map(|v| v.span()),
            ),
        ];
        let mut misplaced = false;
        for (key, at) in present {
            if let (Some(at), false) = (at, applies.contains(&key)) {
                let why = if key.starts_with("group") {
                    " (they deliver one payload per alert: machines want events; grouping is for email, slack and discord)"
                } else {
                    ""
                };
                self.d.push(
                    at,
                    ctx,
                    format!("{key}: does not apply to {kind_name} channels{why}"),
                );
                misplaced = true;
            }
        }
        let timeout = self
            .duration(ctx, "timeout", &r.timeout, false)
            .map(|d| d.unwrap_or(Duration::from_secs(10)));
        let url_at = r
            .url
            .as_ref()
            .or(r.url_file.as_ref())
            .map_or(span.clone(), |s| s.span());
        // Slack, webhook and Alertmanager channels need a URL (a credential for Slack).
        let url = match kind_name.as_str() {
            "email" | "pagerduty" | "telegram" | "ntfy" | "opsgenie" => None,
            _ => Some(self.secret_pair(
                ctx,
                "url",
                &r.url,
                &r.url_file,
                &mut redactor,
                span.clone(),
                true,
            )?),
        };
        let kind = match (kind_name.as_str(), url) {
            ("telegram", _) => self
                .telegram(r, span.clone(), ctx, &mut redactor, warnings)
                .map(ChannelKind::Telegram),
            ("ntfy", _) => self
                .ntfy(r, span.clone(), ctx, &mut redactor, warnings)
                .map(ChannelKind::Ntfy),
            ("opsgenie", _) => self
                .opsgenie(r, span.clone(), ctx, &mut redactor, warnings)
                .map(ChannelKind::Opsgenie),
            ("pagerduty", _) => self
                .pagerduty(r, span.clone(), ctx, &mut redactor, warnings)
                .map(ChannelKind::PagerDuty),
            ("email", _) | (_, None) => self
                .email(r, span.clone(), ctx, &mut redactor)
                .map(ChannelKind::Email),
            ("slack" | "discord" | "teams" | "google_chat", Some(url)) => {
                let parsed = Url::parse(url.expose())
                    .map_err(|e| {
                        self.d
                            .push(url_at.clone(), ctx, format!("url: not a valid URL ({e})"))
                    })
                    .ok()?;
                let loopback = parsed.host_str().is_some_and(is_loopback);
                let who = match kind_name.as_str() {
                    "slack" => "Slack",
                    "discord" => "Discord",
                    "teams" => "Teams",
                    _ => "Google Chat",
                };
                if parsed.scheme() != "https" {
                    if loopback {
                        warnings.push(format!("{ctx}: {who} webhook over plain http (allowed only because the host is loopback)"));
                    } else {
                        self.d.push(url_at.clone(), ctx, format!("url: a {who} webhook URL must be https (plain http only for loopback hosts)"));
                        return None;
                    }
                }
                match kind_name.as_str() {
                    "slack" => Some(ChannelKind::Slack(SlackChannel { url })),
                    "discord" => Some(ChannelKind::Discord(DiscordChannel { url })),
                    "teams" => Some(ChannelKind::Teams(UrlChannel { url })),
                    _ => Some(ChannelKind::GoogleChat(UrlChannel { url })),
                }
            }
            ("alertmanager", Some(url)) => {
                let mut parsed = match Url::parse(url.expose()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => u,
                    _ => {
                        self.d.push(
                            url_at,
                            ctx,
                            "url: must be Alertmanager's http:// or https:// address, e.g. \"http://alertmanager:9093\"",
                        );
                        return None;
                    }
                };
                // The base address (as Prometheus is given it) or the full endpoint.
                if !parsed
                    .path()
                    .trim_end_matches('/')
                    .ends_with("/api/v2/alerts")
                {
                    let path = format!("{}/api/v2/alerts", parsed.path().trim_end_matches('/'));
                    parsed.set_path(&path);
                }
                let headers = self.headers(ctx, r, &mut redactor)?;
                let resend_interval = self
                    .duration(ctx, "resend_interval", &r.resend_interval, false)?
                    .unwrap_or(Duration::from_secs(60));
                Some(ChannelKind::Alertmanager(AlertmanagerChannel {
                    display_url: redactor.display_url(&parsed),
                    url: Secret::new(parsed.to_string()),
                    headers,
                    resend_interval,
                }))
            }
            (_, Some(url)) => {
                let parsed = match Url::parse(url.expose()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => u,
                    _ => {
                        self.d
                            .push(url_at, ctx, "url: must be an http:// or https:// URL");
                        return None;
                    }
                };
                let headers = self.headers(ctx, r, &mut redactor)?;
                let standard = self
                    .choice(
                        ctx,
                        "signature",
                        &r.signature,
                        &[("upwatch", false), ("standard-webhooks", true)],
                    )?
                    .unwrap_or_default();
                let secret = self
                    .secret_pair(
                        ctx,
                        "secret",
                        &r.secret,
                        &r.secret_file,
                        &mut redactor,
                        span.clone(),
                        false,
                    )
                    .filter(|s| !s.is_empty());
                let (secret, standard_keys) = if standard {
                    let keys =
                        self.standard_webhook_keys(ctx, r, secret, &mut redactor, span.clone())?;
                    (None, keys)
                } else {
                    if let Some(list) = &r.secrets {
                        self.d.push(
                            list.span(),
                            ctx,
                            "secrets: only with signature = \"standard-webhooks\" (several keys during a rotation); the upwatch signature takes one secret",
                        );
                        return None;
                    }
                    (secret, Vec::new())
                };
                Some(ChannelKind::Webhook(WebhookChannel {
                    display_url: redactor.display_url(&parsed),
                    url,
                    headers,
                    secret,
                    standard_keys,
                }))
            }
        };
        let group = self.channel_grouping(ctx, r, grouping);
        if misplaced {
            return None;
        }
        let kind = kind?;
        let for_people = matches!(
            kind,
            ChannelKind::Email(_)
                | ChannelKind::Slack(_)
                | ChannelKind::Discord(_)
                | ChannelKind::Telegram(_)
                | ChannelKind::Ntfy(_)
                | ChannelKind::Teams(_)
                | ChannelKind::GoogleChat(_)
        );
        Some(ChannelConfig {
            name: Arc::from(name?.as_str()),
            timeout: timeout?,
            kind,
            group: group?.filter(|_| for_people),
        })
    }

    /// `url` over `default`: https, or http on a loopback host (with a warning).
    fn service_url(
        &mut self,
        ctx: &str,
        r: &RawChannel,
        default: &str,
        who: &str,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> Option<String> {
        let Some(v) = &r.url else {
            return Some(default.to_string());
        };
        let text = self.string(ctx, "url", v, Some(&mut *redactor))?;
        match Url::parse(&text) {
            Ok(u) if u.scheme() == "https" => Some(u.to_string()),
            Ok(u) if u.scheme() == "http" && u.host_str().is_some_and(is_loopback) => {
                warnings.push(format!(
                    "{ctx}: {who} over plain http (allowed only because the host is loopback)"
                ));
                Some(u.to_string())
            }
            _ => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!("url: must be an https:// URL (default {default}; plain http only for loopback hosts)"),
                );
                None
            }
        }
    }

    /// `bot_token` (or `bot_token_file`), `chat_id` (a number or `@channel`), `url`.
    fn telegram(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> Option<TelegramChannel> {
        let token = self.credential(
            ctx,
            "bot_token",
            &r.bot_token,
            &r.bot_token_file,
            redactor,
            span.clone(),
            "the token @BotFather gave the bot",
        );
        let url = self.service_url(
            ctx,
            r,
            crate::notify::telegram::DEFAULT_URL,
            "the Telegram Bot API",
            redactor,
            warnings,
        );
        let chat_id = match &r.chat_id {
            None => {
                self.d.push(span, ctx, "missing key \"chat_id\": the chat's numeric id (e.g. -1001234567890) or a public channel's \"@name\"");
                None
            }
            Some(v) => {
                let id = match v.get_ref() {
                    toml::Value::Integer(n) => Some(ChatId::Id(*n)),
                    toml::Value::String(s) => {
                        let s = s.trim();
                        if let Ok(n) = s.parse::<i64>() {
                            Some(ChatId::Id(n))
                        } else if s.len() >= 6
                            && s.len() <= 33
                            && s.starts_with('@')
                            && s[1..]
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_')
                        {
                            Some(ChatId::Channel(s.to_string()))
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                if id.is_none() {
                    self.d.push(v.span(), ctx, "chat_id: must be a chat's numeric id (e.g. -1001234567890) or a public channel's \"@name\" (5 to 32 letters, digits or _)");
                }
                id
            }
        };
        Some(TelegramChannel {
            bot_token: token?,
            chat_id: chat_id?,
            url: url?,
        })
    }

    /// `topic`, `url`, and `token` (or `token_file`) or `username` with `password`.
    fn ntfy(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> Option<NtfyChannel> {
        let url = self.service_url(
            ctx,
            r,
            crate::notify::ntfy::DEFAULT_URL,
            "ntfy",
            redactor,
            warnings,
        );
        let topic = match &r.topic {
            None => {
                self.d.push(span.clone(), ctx, "missing key \"topic\"");
                None
            }
            Some(t) => {
                let text = self.string(ctx, "topic", t, None)?;
                let ok = (1..=64).contains(&text.len())
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !ok {
                    self.d
                        .push(t.span(), ctx, "topic: 1 to 64 letters, digits, _ or -");
                    None
                } else {
                    Some(text)
                }
            }
        };
        let token = self.secret_pair(
            ctx,
            "token",
            &r.token,
            &r.token_file,
            redactor,
            span.clone(),
            false,
        );
        let password = self.secret_pair(
            ctx,
            "password",
            &r.password,
            &r.password_file,
            redactor,
            span.clone(),
            false,
        );
        let user = match &r.username {
            Some(u) => Some(self.string(ctx, "username", u, None)?),
            None => None,
        };
        let auth = match (token, user, password) {
            (None, None, None) => NtfyAuth::None,
            (Some(t), None, None) => NtfyAuth::Token(t),
            (None, Some(u), Some(p)) => NtfyAuth::Basic(u, p),
            _ => {
                self.d.push(span, ctx, "give token (or token_file), or username with password (or password_file), not both");
                return None;
            }
        };
        Some(NtfyChannel {
            url: url?,
            topic: topic?,
            auth,
        })
    }

    /// `api_key` (or `api_key_file`), and `url` over Opsgenie's US API.
    fn opsgenie(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> Option<OpsgenieChannel> {
        let api_key = self.credential(
            ctx,
            "api_key",
            &r.api_key,
            &r.api_key_file,
            redactor,
            span,
            "the key of an Opsgenie API integration",
        );
        let url = self.service_url(
            ctx,
            r,
            crate::notify::opsgenie::DEFAULT_URL,
            "the Opsgenie API",
            redactor,
            warnings,
        );
        Some(OpsgenieChannel {
            api_key: api_key?,
            url: url?,
        })
    }

    /// `routing_key` (or `routing_key_file`), and `url` over PagerDuty's own endpoint.
    fn pagerduty(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> Option<PagerDutyChannel> {
        let routing_key = self.credential(
            ctx,
            "routing_key",
            &r.routing_key,
            &r.routing_key_file,
            redactor,
            span,
            "the integration key of a PagerDuty service's Events API v2 integration",
        );
        let url = self.service_url(
            ctx,
            r,
            crate::notify::pagerduty::DEFAULT_URL,
            "PagerDuty events",
            redactor,
            warnings,
        );
        Some(PagerDutyChannel {
            routing_key: routing_key?,
            url: url?,
        })
    }

    /// The Standard Webhooks keys: `secret` (or `secret_file`), or `secrets`, each a
    /// `whsec_` followed by the base64 of 24 to 64 random bytes.
    fn standard_webhook_keys(
        &mut self,
        ctx: &str,
        r: &RawChannel,
        secret: Option<Secret>,
        redactor: &mut Redactor,
        span: Range<usize>,
    ) -> Option<Vec<SecretBytes>> {
        use base64::Engine as _;
        let mut given: Vec<(Secret, Range<usize>)> = Vec::new();
        let secret_at = r
            .secret
            .as_ref()
            .or(r.secret_file.as_ref())
            .map_or(span.clone(), |s| s.span());
        match (secret, &r.secrets) {
            (Some(_), Some(list)) => {
                self.d.push(list.span(), ctx, "secrets: give secret (one key) or secrets (several, during a rotation), not both");
                return None;
            }
            (Some(s), None) => given.push((s, secret_at)),
            (None, Some(list)) => {
                for v in list.get_ref() {
                    let text = self.string(ctx, "secrets", v, Some(&mut *redactor))?;
                    redactor.add(text.clone());
                    given.push((Secret::new(text), v.span()));
                }
            }
            (None, None) => {
                self.d.push(span, ctx, "signature = \"standard-webhooks\" needs secret (or secret_file, or secrets): the receiver's whsec_… key");
                return None;
            }
        }
        let mut keys = Vec::new();
        for (s, at) in given {
            let decoded = s
                .expose()
                .trim()
                .strip_prefix("whsec_")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
            match decoded {
                Some(k) if (24..=64).contains(&k.len()) => keys.push(SecretBytes(k)),
                _ => {
                    self.d.push(at, ctx, "secret: a Standard Webhooks secret is \"whsec_\" followed by the base64 of 24 to 64 random bytes (e.g. from `openssl rand -base64 32`)");
                    return None;
                }
            }
        }
        Some(keys)
    }

    /// A channel's own `group`, `group_wait` and `group_interval` over `[alerting]`'s.
    fn channel_grouping(
        &mut self,
        ctx: &str,
        r: &RawChannel,
        base: Option<Grouping>,
    ) -> Option<Option<Grouping>> {
        let wait = self.duration(ctx, "group_wait", &r.group_wait, true)?;
        let interval = self.duration(ctx, "group_interval", &r.group_interval, true)?;
        let on = r.group.as_ref().map_or(base.is_some(), |g| *g.get_ref());
        let from = base.unwrap_or_default();
        Some(on.then(|| Grouping {
            wait: wait.unwrap_or(from.wait),
            interval: interval.unwrap_or(from.interval),
        }))
    }

    /// A channel's `headers` table; values may expand variables and are kept sensitive.
    fn headers(&mut self, ctx: &str, r: &RawChannel, redactor: &mut Redactor) -> Option<HeaderMap> {
        let mut headers = HeaderMap::new();
        for (k, v) in r
            .headers
            .as_ref()
            .map(|h| h.get_ref().iter().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let value = self.string(ctx, &format!("headers.{k}"), v, Some(&mut *redactor))?;
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(n), Ok(mut hv)) => {
                    hv.set_sensitive(true);
                    headers.insert(n, hv);
                }
                _ => self
                    .d
                    .push(v.span(), ctx, format!("headers.{k}: not a valid header")),
            }
        }
        Some(headers)
    }

    /// A credential the channel cannot work without: `key` or `key_file`, present and
    /// not empty (`what` says what it is, for the message).
    #[allow(clippy::too_many_arguments)]
    fn credential(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        file: &S<String>,
        redactor: &mut Redactor,
        span: Range<usize>,
        what: &str,
    ) -> Option<Secret> {
        let secret = self.secret_pair(ctx, key, v, file, redactor, span, true)?;
        if secret.is_empty() {
            let at = v.as_ref().or(file.as_ref()).map_or(0..0, |s| s.span());
            self.d.push(at, ctx, format!("{key}: empty; it is {what}"));
            return None;
        }
        Some(secret)
    }

    /// `key` or `key_file`, exactly one (or neither when `!required`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn secret_pair(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        file: &S<String>,
        redactor: &mut Redactor,
        span: Range<usize>,
        required: bool,
    ) -> Option<Secret> {
        match (v, file) {
            (Some(_), Some(f)) => {
                self.d
                    .push(f.span(), ctx, format!("set {key} or {key}_file, not both"));
                None
            }
            (Some(v), None) => self.string(ctx, key, v, Some(redactor)).map(|s| {
                // A URL written in the file is not secret as a whole (its query values and
                // substituted variables are masked on display); a password or key is.
                if !key.ends_with("url") {
                    redactor.add(s.clone());
                }
                Secret::new(s)
            }),
            (None, Some(f)) => self
                .secret_file(ctx, &format!("{key}_file"), f, redactor)
                .map(Secret::new),
            (None, None) if required => {
                self.d
                    .push(span, ctx, format!("missing key {key:?} (or {key}_file)"));
                None
            }
            (None, None) => None,
        }
    }

    fn email(
        &mut self,
        r: &RawChannel,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
    ) -> Option<EmailChannel> {
        let host = match &r.host {
            Some(h) => self.string(ctx, "host", h, None),
            None => {
                self.d.push(
                    span.clone(),
                    ctx,
                    "missing key \"host\", e.g. host = \"smtp.example.com\"",
                );
                None
            }
        };
        let tls = self
            .choice(
                ctx,
                "tls",
                &r.tls,
                &[
                    ("starttls", SmtpTls::Starttls),
                    ("implicit", SmtpTls::Implicit),
                    ("none", SmtpTls::None),
                ],
            )
            .map(|t| t.unwrap_or(SmtpTls::Starttls));
        let port = self.int_in(ctx, "port", &r.port, 1..65536).map(|p| {
            p.map(|p| p as u16).unwrap_or(match tls {
                Some(SmtpTls::Implicit) => 465,
                Some(SmtpTls::None) => 25,
                _ => 587,
            })
        });
        let username = match &r.username {
            Some(u) => self.string(ctx, "username", u, None).map(Some),
            None => Some(None),
        };
        let password = match (&r.password, &r.password_file) {
            (None, None) => Some(None),
            _ => self
                .secret_pair(
                    ctx,
                    "password",
                    &r.password,
                    &r.password_file,
                    redactor,
                    span.clone(),
                    false,
                )
                .map(Some),
        };
        let mailbox = |v: &mut Self, key: &str, s: &Spanned<String>| -> Option<String> {
            let text = v.string(ctx, key, s, None)?;
            match text.parse::<lettre::message::Mailbox>() {
                Ok(_) => Some(text),
                Err(e) => {
                    v.d.push(
                        s.span(),
                        ctx,
                        format!("{key}: {text:?} is not an email address ({e})"),
                    );
                    None
                }
            }
        };
        let from = match &r.from {
            Some(f) => mailbox(self, "from", f),
            None => {
                self.d.push(
                    span.clone(),
                    ctx,
                    "missing key \"from\", e.g. from = \"upwatch <upwatch@example.com>\"",
                );
                None
            }
        };
        let to = match &r.to {
            Some(list) if !list.get_ref().is_empty() => {
                let all: Vec<Option<String>> = list
                    .get_ref()
                    .iter()
                    .map(|s| mailbox(self, "to", s))
                    .collect();
                all.into_iter().collect::<Option<Vec<_>>>()
            }
            Some(list) => {
                self.d
                    .push(list.span(), ctx, "to: list at least one recipient");
                None
            }
            None => {
                self.d.push(
                    span,
                    ctx,
                    "missing key \"to\", e.g. to = [\"oncall@example.com\"]",
                );
                None
            }
        };
        let tls_ca_file = self.ca_file(ctx, &r.tls_ca_file);
        Some(EmailChannel {
            host: host?,
            port: port?,
            tls: tls?,
            username: username?,
            password: password?,
            from: from?,
            to: to?,
            tls_ca_file: tls_ca_file?,
        })
    }

    pub(super) fn maintenance(
        &mut self,
        r: &RawMaintenance,
        span: Range<usize>,
        ctx: &str,
        targets: &HashSet<Arc<str>>,
    ) -> Option<Maintenance> {
        let schedule = match &r.schedule {
            Some(s) => self.string(ctx, "schedule", s, None).and_then(|text| {
                match crate::schedule::ScheduleSpec::cron(text.trim()) {
                    Ok(crate::schedule::ScheduleSpec::Cron(c)) => Some(c.schedule),
                    Ok(_) => None,
                    Err(e) => {
                        self.d.push(s.span(), ctx, format!("schedule: {e}"));
                        None
                    }
                }
            }),
            None => {
                self.d.push(
                    span.clone(),
                    ctx,
                    "missing key \"schedule\", e.g. schedule = \"0 0 2 * * Sun\"",
                );
                None
            }
        };
        let duration = match self.duration(ctx, "duration", &r.duration, false) {
            Some(Some(d)) => Some(d),
            Some(None) => {
                self.d.push(
                    span,
                    ctx,
                    "missing key \"duration\", e.g. duration = \"1h\"",
                );
                None
            }
            None => None,
        };
        let timezone = match &r.timezone {
            Some(tz) => self.string(ctx, "timezone", tz, None).and_then(|name| {
                name.parse::<chrono_tz::Tz>().map_err(|_| self.d.push(tz.span(), ctx, format!("timezone: {name:?} is not an IANA time zone, e.g. \"Europe/Paris\" or \"UTC\""))).ok()
            }),
            None => Some(chrono_tz::UTC),
        };
        let mut covered = Vec::new();
        for t in r
            .targets
            .as_ref()
            .map(|t| t.get_ref().as_slice())
            .unwrap_or_default()
        {
            match targets.get(t.get_ref().as_str()) {
                Some(name) => covered.push(name.clone()),
                None => self.d.push(
                    t.span(),
                    ctx,
                    format!("targets: no target named {:?}", t.get_ref()),
                ),
            }
        }
        let name = r
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_else(|| ctx.to_string());
        Some(Maintenance {
            name,
            schedule: schedule?,
            duration: duration?,
            timezone: timezone?,
            targets: covered,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
