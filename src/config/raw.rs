//! The serde mirror of monitor.toml. Every value is `Spanned` so validation can point at it;
//! every key is optional here so a missing key gets our own message, not serde's.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Option<Spanned<T>>;

/// A threshold: a count of consecutive probes (`3`) or M of the last N (`"3 of 5"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawThreshold {
    Count(i64),
    Text(String),
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub state_dir: S<String>,
    pub listen: S<String>,
    pub log_format: S<String>,
    pub location: S<String>,
    pub max_concurrency: S<i64>,
    pub max_connections: S<i64>,
    pub header_timeout: S<String>,
    pub shutdown_grace: S<String>,
    pub api_token: S<String>,
    pub api_token_file: S<String>,
    pub protect_metrics: S<bool>,
    pub external_url: S<String>,
}

/// `[[target.assert]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAssert {
    pub json: S<String>,
    pub header: S<String>,
    pub on: S<String>,
    pub op: S<String>,
    pub value: S<toml::Value>,
    #[serde(rename = "in")]
    pub one_of: S<Vec<Spanned<toml::Value>>>,
    #[serde(rename = "match")]
    pub match_: S<String>,
    pub severity: S<String>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub retention: S<String>,
    pub aggregate_retention: S<String>,
}

/// The per-target keys that `[defaults]` may also set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub interval: S<String>,
    pub timeout: S<String>,
    pub max_latency: S<String>,
    pub retries: S<i64>,
    pub retry_delay: S<String>,
    pub tls_min_days: S<i64>,
    pub expect_status: S<Vec<Spanned<i64>>>,
    pub ip_version: S<String>,
    pub reuse_connection: S<bool>,
    pub headers: S<BTreeMap<String, Spanned<String>>>,
    pub max_body_size: S<String>,
    pub follow_redirects: S<bool>,
    pub max_redirects: S<i64>,
    pub allow_insecure_redirects: S<bool>,
}

/// `[[target]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub name: S<String>,
    pub url: S<String>,
    pub method: S<String>,
    pub headers: S<BTreeMap<String, Spanned<String>>>,
    pub bearer_token: S<String>,
    pub bearer_token_file: S<String>,
    pub body: S<String>,
    pub interval: S<String>,
    pub schedule: S<String>,
    pub timeout: S<String>,
    pub expect_status: S<Vec<Spanned<i64>>>,
    pub max_latency: S<String>,
    pub expect_body_contains: S<String>,
    pub tls_min_days: S<i64>,
    pub tls_ca_file: S<String>,
    pub tls_insecure: S<bool>,
    pub ip_version: S<String>,
    pub reuse_connection: S<bool>,
    pub retries: S<i64>,
    pub retry_delay: S<String>,
    pub max_body_size: S<String>,
    pub follow_redirects: S<bool>,
    pub max_redirects: S<i64>,
    pub allow_insecure_redirects: S<bool>,
    pub assert: S<Vec<Spanned<RawAssert>>>,
    pub channels: S<Vec<Spanned<String>>>,
    pub failure_threshold: S<RawThreshold>,
    pub success_threshold: S<RawThreshold>,
    pub repeat_interval: S<String>,
    pub send_resolved: S<bool>,
    pub severity_overrides: S<BTreeMap<String, Spanned<String>>>,
    pub status_page: S<String>,
    pub depends_on: S<Vec<Spanned<String>>>,
    #[serde(rename = "kind")]
    pub kind: S<String>,
    pub model: S<String>,
    pub prompt: S<String>,
    pub max_ttft: S<String>,
    pub expect_models: S<Vec<Spanned<String>>>,
    pub notify_catalog_changes: S<bool>,
    pub request_id_headers: S<Vec<Spanned<String>>>,
    pub ratelimit_warn_fraction: S<super::llm::Number>,
    pub rate_limit_group: S<String>,
}

/// `[[status_page]]`: a vendor status page to poll.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatusPage {
    pub name: S<String>,
    pub url: S<String>,
    pub interval: S<String>,
    pub timeout: S<String>,
    pub format: S<String>,
    pub components: S<Vec<Spanned<String>>>,
    pub channels: S<Vec<Spanned<String>>>,
    pub stale_after: S<String>,
    pub max_body_size: S<String>,
    pub tls_ca_file: S<String>,
    pub failure_threshold: S<RawThreshold>,
    pub success_threshold: S<RawThreshold>,
    pub repeat_interval: S<String>,
    pub send_resolved: S<bool>,
}

/// `[alerting]`: default alert policy and delivery settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerting {
    pub failure_threshold: S<RawThreshold>,
    pub success_threshold: S<RawThreshold>,
    pub repeat_interval: S<String>,
    pub send_resolved: S<bool>,
    pub channels: S<Vec<Spanned<String>>>,
    pub delivery_max_age: S<String>,
    pub group: S<bool>,
    pub group_wait: S<String>,
    pub group_interval: S<String>,
}

/// `[[channel]]`: one notification channel; which keys apply depends on `type`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChannel {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub timeout: S<String>,
    // email
    pub host: S<String>,
    pub port: S<i64>,
    pub tls: S<String>,
    pub username: S<String>,
    pub password: S<String>,
    pub password_file: S<String>,
    pub from: S<String>,
    pub to: S<Vec<Spanned<String>>>,
    pub tls_ca_file: S<String>,
    // slack, webhook
    pub url: S<String>,
    pub url_file: S<String>,
    // webhook, alertmanager
    pub headers: S<BTreeMap<String, Spanned<String>>>,
    // webhook
    pub secret: S<String>,
    pub secret_file: S<String>,
    pub signature: S<String>,
    pub secrets: S<Vec<Spanned<String>>>,
    // alertmanager
    pub resend_interval: S<String>,
    // pagerduty
    pub routing_key: S<String>,
    pub routing_key_file: S<String>,
    // telegram
    pub bot_token: S<String>,
    pub bot_token_file: S<String>,
    pub chat_id: S<toml::Value>,
    // ntfy (also username, password, password_file)
    pub topic: S<String>,
    pub token: S<String>,
    pub token_file: S<String>,
    // opsgenie
    pub api_key: S<String>,
    pub api_key_file: S<String>,
    // email, slack, discord: batching for people
    pub group: S<bool>,
    pub group_wait: S<String>,
    pub group_interval: S<String>,
}

/// `[[maintenance]]`: a recurring window in which alerts are held.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMaintenance {
    pub name: S<String>,
    pub schedule: S<String>,
    pub duration: S<String>,
    pub timezone: S<String>,
    pub targets: S<Vec<Spanned<String>>>,
}
