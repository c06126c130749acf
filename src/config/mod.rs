//! monitor.toml: parse (serde mirror in [`raw`]), then validate into checked types.
//!
//! Runtime code only ever sees [`Config`]. Loading reports every problem it can find at once,
//! each with file:line:column, the key path and, for unknown keys, the closest known key.
//! Secrets (header values, `${VAR}` values, `*_file` contents) are wrapped or recorded in a
//! [`Redactor`] here so nothing downstream can print them by accident.

mod alerting;
mod assertions;
mod defaults;
mod depends;
mod env;
mod error;
mod fields;
mod llm;
mod load;
mod pages;
mod raw;
mod target;
mod types;
mod validate;

pub use alerting::{
    Alerting, AlertmanagerChannel, ChannelConfig, ChannelKind, EmailChannel, Grouping, Maintenance,
    SlackChannel, SmtpTls, WebhookChannel,
};
pub use alerting::{ChatId, NtfyAuth};
pub use env::{expand, ExpandError, Expanded};
pub use error::{ConfigError, Diagnostic};
pub use llm::{chat_body, LlmOptions, ProbeKind, RateLimitGroup, CHAT_INTERVAL, CHAT_PROMPT};
pub use load::{load, load_with, parse, Env, VarLookup};
pub use pages::StatusPage;
pub use types::{
    Config, Daemon, IpVersion, LogFormat, Redirects, StoreSettings, Target, TlsOptions,
};
pub use validate::ENV_OVERRIDES;

use defaults::Defaults;
use validate::Validator;

use fields::fields_of;
use llm::RawRateLimitGroup;
use raw::{
    RawAlerting, RawChannel, RawDaemon, RawDefaults, RawMaintenance, RawStatusPage, RawStore,
    RawTarget,
};

/// The top-level keys monitor.toml accepts.
pub(crate) const TOP_KEYS: &[&str] = &[
    "daemon",
    "defaults",
    "target",
    "alerting",
    "channel",
    "maintenance",
    "store",
    "status_page",
    "rate_limit_group",
];

/// Every key each section accepts, straight from the serde mirror (the README test checks
/// that each one is documented).
pub fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("daemon", fields_of::<RawDaemon>()),
        ("defaults", fields_of::<RawDefaults>()),
        ("target", fields_of::<RawTarget>()),
        ("alerting", fields_of::<RawAlerting>()),
        ("channel", fields_of::<RawChannel>()),
        ("maintenance", fields_of::<RawMaintenance>()),
        ("store", fields_of::<RawStore>()),
        ("status_page", fields_of::<RawStatusPage>()),
        ("rate_limit_group", fields_of::<RawRateLimitGroup>()),
    ]
}

#[cfg(test)]
mod tests;
