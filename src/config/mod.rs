//! monitor.toml: parse (serde mirror in [`raw`]), then validate into checked types.
//!
//! Runtime code only ever sees [`Config`]. Loading reports every problem it can find at once,
//! each with file:line:column, the key path and, for unknown keys, the closest known key.
//! Secrets (header values, `${VAR}` values, `*_file` contents) are wrapped or recorded in a
//! [`Redactor`] here so nothing downstream can print them by accident.

mod alerting;
mod env;
mod error;
mod fields;
mod llm;
mod pages;
mod raw;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;
use url::Url;

pub use alerting::{
    Alerting, AlertmanagerChannel, ChannelConfig, ChannelKind, EmailChannel, Maintenance,
    SlackChannel, SmtpTls, WebhookChannel,
};
pub use env::{expand, ExpandError, Expanded};
pub use error::{ConfigError, Diagnostic};
pub use llm::{chat_body, LlmOptions, ProbeKind, RateLimitGroup, CHAT_INTERVAL, CHAT_PROMPT};
pub use pages::StatusPage;

use crate::schedule::ScheduleSpec;
use crate::secret::Redactor;
use error::{suggest, Diagnostics};
use fields::fields_of;
use llm::RawRateLimitGroup;
use raw::{
    RawAlerting, RawChannel, RawDaemon, RawDefaults, RawMaintenance, RawStatusPage, RawStore,
    RawTarget, S,
};

/// The top-level keys monitor.toml accepts.
const TOP_KEYS: &[&str] = &[
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

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: Daemon,
    /// `[[target]]`, in file order.
    pub targets: Vec<Arc<Target>>,
    /// `[alerting]`.
    pub alerting: Alerting,
    /// `[[channel]]`, in file order.
    pub channels: Vec<Arc<ChannelConfig>>,
    /// `[[maintenance]]` windows.
    pub maintenance: Vec<Maintenance>,
    /// `[[status_page]]`, in file order.
    pub status_pages: Vec<Arc<StatusPage>>,
    /// `[store]`.
    pub store: StoreSettings,
    /// `[rate_limit_group.NAME]`, plus a default group for each name a target uses
    /// without defining it.
    pub rate_limit_groups: BTreeMap<Arc<str>, RateLimitGroup>,
    /// Valid but questionable settings, logged at start (e.g. `tls_insecure`).
    pub warnings: Vec<String>,
    /// The `UPWATCH_*` variables that overrode `[daemon]` keys (see [`ENV_OVERRIDES`]),
    /// logged at start so a value that is not the file's is never a mystery.
    pub overrides: Vec<&'static str>,
}

impl Config {
    /// A target's or status page's URL and alert channels, by name.
    pub fn alert_subject(&self, name: &str) -> Option<(String, Vec<Arc<str>>)> {
        if let Some(t) = self.targets.iter().find(|t| &*t.name == name) {
            return Some((t.display_url.to_string(), t.alert.channels.clone()));
        }
        self.status_pages
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| (p.url.to_string(), p.alert.channels.clone()))
    }

    /// Every name alerts can be keyed by: targets, then status pages.
    pub fn alert_names(&self) -> Vec<Arc<str>> {
        self.targets
            .iter()
            .map(|t| t.name.clone())
            .chain(self.status_pages.iter().map(|p| p.name.clone()))
            .collect()
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, else pretty.
    Auto,
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[daemon]`: process-wide settings.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// Where the store and outbox live (`$STATE_DIRECTORY` wins when set).
    pub state_dir: PathBuf,
    /// Address of the HTTP server (metrics, health, API, page).
    pub listen: SocketAddr,
    /// Log format.
    pub log_format: LogFormat,
    /// Label of this instance.
    pub location: String,
    /// Most probes in flight at once.
    pub max_concurrency: usize,
    /// How long shutdown waits for in-flight work.
    pub shutdown_grace: Duration,
    /// When set, the API and page need `Authorization: Bearer <token>`.
    pub api_token: Option<crate::secret::Secret>,
    /// Whether `/metrics` needs the token too.
    pub protect_metrics: bool,
    /// Where people reach this instance's page (behind a proxy, say); links in
    /// Alertmanager alerts point there.
    pub external_url: Option<url::Url>,
}

impl Daemon {
    /// The address of this instance's status page for links: `external_url`, else the
    /// listen address when it is a specific one (a wildcard names no host to visit).
    pub fn page_url(&self) -> Option<String> {
        match &self.external_url {
            Some(u) => Some(u.to_string()),
            None if self.listen.ip().is_unspecified() => None,
            None => Some(format!("http://{}/", self.listen)),
        }
    }
}

/// `[store]`: how long history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// Raw results older than this are pruned.
    pub retention: Duration,
    /// Hourly aggregates older than this are pruned.
    pub aggregate_retention: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            retention: Duration::from_secs(30 * 86_400),
            aggregate_retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// Which address family a target is probed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// Whatever the resolver returns first.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// TLS trust settings of a target (the shared TLS stack's type).
pub use crate::tls::TlsOptions;

/// One probed endpoint, validated.
#[derive(Clone)]
pub struct Target {
    /// Unique name, `[a-z0-9_-]`.
    pub name: Arc<str>,
    /// The URL requested (may hold secrets: show [`Target::display_url`] instead).
    pub url: Url,
    /// The URL as it may be shown anywhere.
    pub display_url: Arc<str>,
    /// HTTP method.
    pub method: Method,
    /// Request headers; every value is marked sensitive.
    pub headers: HeaderMap,
    /// Request body, if any.
    pub body: Option<bytes::Bytes>,
    /// When it runs.
    pub schedule: ScheduleSpec,
    /// Limit for one attempt.
    pub timeout: Duration,
    /// Accepted status codes.
    pub expect_status: Vec<u16>,
    /// Slower than this is degraded (`None`: no limit).
    pub max_latency: Option<Duration>,
    /// Text the body must contain.
    pub expect_body_contains: Option<String>,
    /// Leaf certificate expiring in fewer days is degraded (0: off).
    pub tls_min_days: u32,
    /// Trust settings.
    pub tls: TlsOptions,
    /// Address family.
    pub ip_version: IpVersion,
    /// Keep the connection between probes (then dns/connect/tls are not measured).
    pub reuse_connection: bool,
    /// Extra attempts within one probe before it counts as failed.
    pub retries: u32,
    /// Pause between attempts.
    pub retry_delay: Duration,
    /// Most body bytes kept in memory for checks (the rest is read and counted, not kept).
    pub max_body_size: usize,
    /// Secret values to scrub from anything shown about this target.
    pub redactor: Redactor,
    /// Alert policy (`[alerting]` with this target's overrides).
    pub alert: crate::alert::AlertPolicy,
    /// The `[[status_page]]` whose word explains this target's failures.
    pub status_page: Option<Arc<str>>,
    /// Plain HTTP or a streaming chat completion.
    pub kind: ProbeKind,
    /// Rate limits, request ids, model catalog and time-to-first-token settings.
    pub llm: LlmOptions,
    /// Line of the `[[target]]` header, for messages that refer back to the config.
    pub line: usize,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written by hand: `url` may carry credentials; headers print as "Sensitive".
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("url", &self.display_url)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("schedule", &self.schedule)
            .field("timeout", &self.timeout)
            .field("expect_status", &self.expect_status)
            .field("max_latency", &self.max_latency)
            .field("tls_min_days", &self.tls_min_days)
            .field("tls", &self.tls)
            .field("ip_version", &self.ip_version)
            .field("reuse_connection", &self.reuse_connection)
            .field("retries", &self.retries)
            .field("kind", &self.kind)
            .field("llm", &self.llm)
            .field("alert", &self.alert)
            .finish_non_exhaustive()
    }
}

/// Looks up one environment variable by name.
pub type VarLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where loading looks things up outside the file. Tests pass their own; the binary uses
/// [`Env::process`].
pub struct Env {
    /// Variable lookup for `${VAR}`.
    pub vars: VarLookup,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            vars: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixed set of variables (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env {
            vars: Box::new(move |name| map.get(name).cloned()),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name)
    }

    /// A folder systemd passes in the environment; empty counts as unset.
    fn dir_var(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }
}

/// Loads and validates the config at `path` with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &Env::process())
}

/// Loads and validates the config at `path`, resolving variables through `env`.
pub fn load_with(path: &Path, env: &Env) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, env)
}

/// Validates config `text` as if read from `path` (relative `*_file` names and `state_dir`
/// resolve against `path`'s folder).
pub fn parse(path: &Path, text: &str, env: &Env) -> Result<Config, ConfigError> {
    let mut d = Diagnostics::new(path.display().to_string(), text);
    let root = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            d.push(
                e.span().unwrap_or(0..0),
                "",
                format!("invalid TOML: {}", e.message().trim()),
            );
            return Err(ConfigError::Invalid(d.into_sorted()));
        }
    };
    let config_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();

    let mut daemon: Option<RawDaemon> = None;
    let mut defaults: Option<(RawDefaults, Range<usize>)> = None;
    let mut targets: Vec<(RawTarget, Range<usize>, String)> = Vec::new();
    let mut alerting: Option<RawAlerting> = None;
    let mut store: Option<RawStore> = None;
    let mut channels: Vec<(RawChannel, Range<usize>, String)> = Vec::new();
    let mut windows: Vec<(RawMaintenance, Range<usize>, String)> = Vec::new();
    let mut raw_pages: Vec<(RawStatusPage, Range<usize>, String)> = Vec::new();
    let mut raw_groups: Vec<(String, Range<usize>, RawRateLimitGroup)> = Vec::new();
    for (key, value) in root.into_inner() {
        let span = value.span();
        match key.get_ref().as_ref() {
            "daemon" => daemon = section(&mut d, "daemon", value),
            "defaults" => defaults = section(&mut d, "defaults", value).map(|r| (r, span)),
            "alerting" => alerting = section(&mut d, "alerting", value),
            "store" => store = section(&mut d, "store", value),
            "target" => targets = array_section(&mut d, "target", value),
            "channel" => channels = array_section(&mut d, "channel", value),
            "maintenance" => windows = array_section(&mut d, "maintenance", value),
            "status_page" => raw_pages = array_section(&mut d, "status_page", value),
            "rate_limit_group" => raw_groups = named_sections(&mut d, "rate_limit_group", value),
            other => d.push(key.span(), "", unknown_key_message(other, TOP_KEYS)),
        }
    }

    let mut v = Validator {
        d,
        env,
        config_dir: config_dir.clone(),
        overrides: Vec::new(),
    };
    let raw_daemon = daemon.unwrap_or_default();
    let mut redactor = Redactor::default();
    let daemon = v.daemon(&raw_daemon, &mut redactor);
    let store = v.store(&store.unwrap_or_default());
    let (raw_defaults, _) = defaults.unwrap_or_default();
    let defaults = v.defaults(&raw_defaults);

    let mut warnings = Vec::new();
    let mut built_channels: Vec<Arc<ChannelConfig>> = Vec::new();
    for (raw, span, ctx) in &channels {
        if let Some(c) = v.channel(raw, span.clone(), ctx, &mut warnings) {
            if built_channels.iter().any(|b| b.name == c.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("duplicate channel name {:?}", &*c.name));
            } else {
                built_channels.push(Arc::new(c));
            }
        }
    }
    // Channel names as written, so a reference to a channel with another error is not
    // reported twice.
    let channel_names: Vec<Arc<str>> = channels
        .iter()
        .filter_map(|(r, _, _)| r.name.as_ref().map(|n| Arc::from(n.get_ref().as_str())))
        .collect();
    let raw_alerting = alerting.unwrap_or_default();
    let mut alerting = v.alerting(&raw_alerting);
    alerting.policy.channels = v
        .channel_refs("alerting", &raw_alerting.channels, &channel_names)
        .unwrap_or_default();

    let mut status_pages: Vec<Arc<StatusPage>> = Vec::new();
    for (raw, span, ctx) in &raw_pages {
        if let Some(p) = v.status_page(raw, span.clone(), ctx, &alerting.policy, &channel_names) {
            if status_pages.iter().any(|b| b.name == p.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(
                    at,
                    ctx,
                    format!("duplicate status_page name {:?}", &*p.name),
                );
            } else {
                status_pages.push(Arc::new(p));
            }
        }
    }
    // Page names as written, so a link to a page with another error is not reported twice.
    let page_names: Vec<&str> = raw_pages
        .iter()
        .filter_map(|(r, _, _)| r.name.as_ref().map(|n| n.get_ref().as_str()))
        .collect();

    let mut seen = HashSet::new();
    let mut built = Vec::new();
    for (raw, span, ctx) in &targets {
        let policy = v.target_policy(
            ctx,
            raw,
            &alerting.policy,
            &alerting.policy.channels,
            &channel_names,
        );
        let link = raw.status_page.as_ref().and_then(|p| {
            let name = p.get_ref().as_str();
            if page_names.contains(&name) {
                Some(Arc::<str>::from(name))
            } else {
                let hint = match suggest(name, &page_names) {
                    Some(s) => format!(" (did you mean {s:?}?)"),
                    None if page_names.is_empty() => " (no [[status_page]] is defined)".into(),
                    None => format!(" (status pages: {})", page_names.join(", ")),
                };
                v.d.push(
                    p.span(),
                    ctx,
                    format!("status_page: no status page named {name:?}{hint}"),
                );
                None
            }
        });
        if let Some(mut t) = v.target(raw, span.clone(), ctx, &defaults, &mut warnings) {
            t.alert = policy;
            t.status_page = link;
            if page_names.contains(&&*t.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("name {:?} is also a status_page name: alerts are keyed by name, so give each its own", &*t.name));
            }
            if !seen.insert(t.name.clone()) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("duplicate target name {:?}", &*t.name));
            } else {
                built.push(Arc::new(t));
            }
        }
    }
    if targets.is_empty() && v.d.is_empty() {
        v.d.push(
            0..0,
            "",
            "no [[target]] defined: add at least one, e.g.\n  [[target]]\n  name = \"api\"\n  url = \"https://example.com/health\"",
        );
    }
    let mut rate_limit_groups = v.rate_limit_groups(raw_groups);
    for (name, _) in rate_limit_groups.iter() {
        if !built
            .iter()
            .any(|t| t.llm.rate_limit_group.as_ref() == Some(name))
        {
            warnings.push(format!("rate_limit_group {name:?} is defined but no target uses it (set rate_limit_group = {name:?} on the targets that share the key)"));
        }
    }
    for t in &built {
        if let Some(g) = &t.llm.rate_limit_group {
            rate_limit_groups.entry(g.clone()).or_default();
        }
    }
    // A group whose targets together ask for more than max_rps can never keep up.
    for (name, group) in &rate_limit_groups {
        let demand: f64 = built
            .iter()
            .filter(|t| t.llm.rate_limit_group.as_ref() == Some(name))
            .filter_map(|t| match &t.schedule {
                ScheduleSpec::Interval(d) => Some(1.0 / d.as_secs_f64()),
                ScheduleSpec::Cron(_) => None,
            })
            .sum();
        if demand > group.max_rps {
            warnings.push(format!("rate_limit_group {name:?}: its targets ask for {demand:.2} requests/s, over max_rps = {}; probes will start late and skip ticks (raise the intervals or max_rps)", group.max_rps));
        }
    }
    let mut maintenance = Vec::new();
    for (raw, span, ctx) in &windows {
        if let Some(m) = v.maintenance(raw, span.clone(), ctx, &seen) {
            maintenance.push(m);
        }
    }
    if !v.d.is_empty() {
        return Err(ConfigError::Invalid(v.d.into_sorted()));
    }
    // Routing by channel name from here on: only channels that validated are referenced.
    Ok(Config {
        path: path.to_path_buf(),
        daemon: daemon.expect("daemon is built whenever there are no diagnostics"),
        targets: built,
        alerting,
        channels: built_channels,
        maintenance,
        status_pages,
        store: store.unwrap_or_default(),
        rate_limit_groups,
        warnings,
        overrides: v.overrides,
    })
}

/// Each table of an array of tables (`[[kind]]`), with its span and context.
fn array_section<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    kind: &str,
    value: Spanned<DeValue<'_>>,
) -> Vec<(T, Range<usize>, String)> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_span = item.span();
                let ctx = item_context(kind, &item, i);
                section::<T>(d, &ctx, item).map(|t| (t, item_span, ctx))
            })
            .collect(),
        other => {
            d.push(
                span,
                kind,
                format!(
                    "expected [[{kind}]] tables (an array), found {}",
                    other.type_str()
                ),
            );
            Vec::new()
        }
    }
}

/// Each sub-table of a table of named tables (`[kind.NAME]`), with its span.
fn named_sections<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    kind: &str,
    value: Spanned<DeValue<'_>>,
) -> Vec<(String, Range<usize>, T)> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Table(items) => items
            .into_iter()
            .filter_map(|(name, item)| {
                let name = name.get_ref().to_string();
                let item_span = item.span();
                let ctx = format!("{kind} {name:?}");
                section::<T>(d, &ctx, item).map(|t| (name, item_span, t))
            })
            .collect(),
        other => {
            d.push(
                span,
                kind,
                format!("expected [{kind}.NAME] tables, found {}", other.type_str()),
            );
            Vec::new()
        }
    }
}

/// `target "name"` when the table has a string name, else `target #N` (1-based).
fn item_context(kind: &str, item: &Spanned<DeValue<'_>>, index: usize) -> String {
    let name = item.get_ref().as_table().and_then(|t| {
        t.iter()
            .find(|(k, _)| k.get_ref().as_ref() == "name")
            .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
    });
    match name {
        Some(n) => format!("{kind} {n:?}"),
        None => format!("{kind} #{}", index + 1),
    }
}

fn unknown_key_message(key: &str, known: &[&str]) -> String {
    match suggest(key, known) {
        Some(s) => format!("unknown key {key:?} (did you mean {s:?}?)"),
        None => format!("unknown key {key:?} (known keys: {})", known.join(", ")),
    }
}

/// Deserializes one table into `T`, first reporting (and dropping) every unknown key so
/// the type errors that remain are reported too.
fn section<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    ctx: &str,
    value: Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    let mut table = match value.into_inner() {
        DeValue::Table(t) => t,
        other => {
            d.push(
                span,
                ctx,
                format!("expected a table, found {}", other.type_str()),
            );
            return None;
        }
    };
    let known = fields_of::<T>();
    let unknown: Vec<_> = table
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for k in unknown {
        d.push(k.span(), ctx, unknown_key_message(k.get_ref(), known));
        table.remove(&k);
    }
    // Remember where each value sits so a type error can name its key.
    let spans: Vec<(String, Range<usize>)> = table
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), v.span()))
        .collect();
    match T::deserialize(ValueDeserializer::from(Spanned::new(
        span.clone(),
        DeValue::Table(table),
    ))) {
        Ok(v) => Some(v),
        Err(e) => {
            let at = e.span().unwrap_or(span);
            let key = spans
                .iter()
                .find(|(_, s)| s.start <= at.start && at.end <= s.end)
                .map(|(k, _)| format!("{k}: "))
                .unwrap_or_default();
            d.push(at, ctx, format!("{key}{}", e.message().trim()));
            None
        }
    }
}

/// Per-target settings after `[defaults]` and built-in defaults are applied.
struct Defaults {
    interval: Duration,
    /// Whether `[defaults]` set the interval (a chat target's own default yields to it).
    interval_set: bool,
    timeout: Duration,
    max_latency: Option<Duration>,
    retries: u32,
    retry_delay: Duration,
    tls_min_days: u32,
    expect_status: Vec<u16>,
    ip_version: IpVersion,
    reuse_connection: bool,
    headers: Vec<(String, Spanned<String>)>,
    max_body_size: usize,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            interval: Duration::from_secs(60),
            interval_set: false,
            timeout: Duration::from_secs(10),
            max_latency: Some(Duration::from_secs(3)),
            retries: 0,
            retry_delay: Duration::from_secs(2),
            tls_min_days: 14,
            expect_status: vec![200],
            ip_version: IpVersion::Any,
            reuse_connection: false,
            headers: Vec::new(),
            max_body_size: 1 << 20,
        }
    }
}

struct Validator<'a> {
    d: Diagnostics<'a>,
    env: &'a Env,
    config_dir: PathBuf,
    overrides: Vec<&'static str>,
}

impl Validator<'_> {
    /// `value` from the file, replaced by environment variable `var` when that is set and
    /// not empty. A bad value is reported against the variable, not the file.
    fn env_override<T>(
        &mut self,
        var: &'static str,
        ctx: &str,
        value: Option<T>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Some(text) = self.env.dir_var(var) else {
            return value;
        };
        self.overrides.push(var);
        match parse(text.trim()) {
            // A bad value in the file is still reported: the file must be valid on its own.
            Ok(v) => Some(v),
            Err(m) => {
                self.d.push_env(var, ctx, m);
                None
            }
        }
    }

    /// Expands `${VAR}` in a string value, recording substituted values in `redactor`.
    fn string(
        &mut self,
        ctx: &str,
        key: &str,
        v: &Spanned<String>,
        redactor: Option<&mut Redactor>,
    ) -> Option<String> {
        match expand(v.get_ref(), &|n| self.env.var(n)) {
            Ok(e) => {
                if let Some(r) = redactor {
                    for s in e.substituted {
                        r.add(s);
                    }
                }
                Some(e.value)
            }
            Err(err) => {
                self.d.push(v.span(), ctx, format!("{key}: {err}"));
                None
            }
        }
    }

    /// An optional PEM CA file (relative to the config file), checked to hold certificates.
    /// Empty means none.
    fn ca_file(&mut self, ctx: &str, v: &S<String>) -> Option<Option<PathBuf>> {
        let Some(f) = v else { return Some(None) };
        let name = self.string(ctx, "tls_ca_file", f, None)?;
        if name.is_empty() {
            return Some(None);
        }
        let path = if Path::new(&name).is_absolute() {
            PathBuf::from(&name)
        } else {
            self.config_dir.join(&name)
        };
        match crate::tls::load_ca_file(&path) {
            Ok(_) => Some(Some(path)),
            Err(e) => {
                self.d.push(f.span(), ctx, format!("tls_ca_file: {e}"));
                None
            }
        }
    }

    /// A required `name`: 1-64 characters of a-z, 0-9, _ and -.
    fn name(
        &mut self,
        ctx: &str,
        v: &S<String>,
        table: Range<usize>,
        example: &str,
    ) -> Option<String> {
        let Some(n) = v else {
            self.d.push(
                table,
                ctx,
                format!("missing key \"name\", e.g. name = {example}"),
            );
            return None;
        };
        let s = self.string(ctx, "name", n, None)?;
        if valid_name(&s) {
            Some(s)
        } else {
            self.d.push(
                n.span(),
                ctx,
                format!("name: {s:?} must be 1-64 characters of a-z, 0-9, _ and -"),
            );
            None
        }
    }

    fn duration(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        zero_ok: bool,
    ) -> Option<Option<Duration>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match humantime::parse_duration(text.trim()) {
            Ok(dur) if dur.is_zero() && !zero_ok => {
                self.d
                    .push(v.span(), ctx, format!("{key}: must be greater than zero"));
                None
            }
            Ok(dur) => Some(Some(dur)),
            Err(e) => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: invalid duration {text:?} ({e}); write e.g. \"10s\", \"500ms\" or \"1m30s\""),
                );
                None
            }
        }
    }

    fn int_in(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<i64>,
        range: Range<i64>,
    ) -> Option<Option<i64>> {
        let Some(v) = v else { return Some(None) };
        let n = *v.get_ref();
        if range.contains(&n) {
            Some(Some(n))
        } else {
            self.d.push(
                v.span(),
                ctx,
                format!(
                    "{key}: {n} is out of range ({}..={})",
                    range.start,
                    range.end - 1
                ),
            );
            None
        }
    }

    fn choice<T: Copy>(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        options: &[(&str, T)],
    ) -> Option<Option<T>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match options.iter().find(|(name, _)| *name == text) {
            Some((_, t)) => Some(Some(*t)),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: {text:?} is not one of {}", names.join(" | ")),
                );
                None
            }
        }
    }

    fn size(&mut self, ctx: &str, key: &str, v: &S<String>) -> Option<Option<usize>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match parse_size(&text) {
            Some(n) if n > 0 => Some(Some(n)),
            _ => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!(
                        "{key}: invalid size {text:?}; write e.g. \"1MiB\", \"256KiB\" or \"4096\""
                    ),
                );
                None
            }
        }
    }

    fn statuses(&mut self, ctx: &str, v: &S<Vec<Spanned<i64>>>) -> Option<Option<Vec<u16>>> {
        let Some(v) = v else { return Some(None) };
        if v.get_ref().is_empty() {
            self.d.push(
                v.span(),
                ctx,
                "expect_status: list at least one status, e.g. [200]",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for s in v.get_ref() {
            match u16::try_from(*s.get_ref()) {
                Ok(code) if (100..=599).contains(&code) => out.push(code),
                _ => {
                    self.d.push(
                        s.span(),
                        ctx,
                        format!(
                            "expect_status: {} is not an HTTP status (100..=599)",
                            s.get_ref()
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Some(out))
    }

    fn secret_file(
        &mut self,
        ctx: &str,
        key: &str,
        v: &Spanned<String>,
        redactor: &mut Redactor,
    ) -> Option<String> {
        let name = self.string(ctx, key, v, None)?;
        let creds = self.env.dir_var("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let path = env::resolve_secret_path(&name, creds.as_deref(), &self.config_dir);
        match env::read_secret_file(&path) {
            Ok(s) => {
                redactor.add(s.clone());
                Some(s)
            }
            Err(e) => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: cannot read secret file {}: {e}", path.display()),
                );
                None
            }
        }
    }

    fn store(&mut self, r: &RawStore) -> Option<StoreSettings> {
        let ctx = "store";
        let base = StoreSettings::default();
        let retention = self.duration(ctx, "retention", &r.retention, false)?;
        let aggregate = self.duration(ctx, "aggregate_retention", &r.aggregate_retention, false)?;
        let s = StoreSettings {
            retention: retention.unwrap_or(base.retention),
            aggregate_retention: aggregate.unwrap_or(base.aggregate_retention),
        };
        // Windows of 24 h are computed from raw results, so keep at least that much.
        if s.retention < Duration::from_secs(86_400) {
            let at = r.retention.as_ref().map(|v| v.span()).unwrap_or(0..0);
            self.d.push(at, ctx, "retention: must be at least 1d (the 24 h latency percentiles are computed from raw results)");
            return None;
        }
        if s.aggregate_retention < s.retention {
            let at = r
                .aggregate_retention
                .as_ref()
                .or(r.retention.as_ref())
                .map(|v| v.span())
                .unwrap_or(0..0);
            self.d.push(at, ctx, format!(
                "aggregate_retention: {} is shorter than retention ({}); hourly aggregates must outlive raw results",
                humantime::format_duration(s.aggregate_retention),
                humantime::format_duration(s.retention)
            ));
            return None;
        }
        Some(s)
    }

    fn daemon(&mut self, r: &RawDaemon, redactor: &mut Redactor) -> Option<Daemon> {
        let ctx = "daemon";
        let state_dir = match &r.state_dir {
            Some(s) => self.string(ctx, "state_dir", s, None).map(PathBuf::from),
            None => Some(PathBuf::from("state")),
        };
        let state_dir = match self.env.dir_var("UPWATCH_STATE_DIR") {
            // An explicit override is taken as given (relative to the working directory).
            Some(dir) => {
                self.overrides.push("UPWATCH_STATE_DIR");
                Some(PathBuf::from(dir))
            }
            None => state_dir.map(|p| match self.env.dir_var("STATE_DIRECTORY") {
                // systemd may pass several, colon-separated; the first is ours.
                Some(dirs) => PathBuf::from(dirs.split(':').next().unwrap_or(&dirs)),
                None if p.is_relative() => self.config_dir.join(p),
                None => p,
            }),
        };
        let listen = match &r.listen {
            Some(s) => self.string(ctx, "listen", s, None).and_then(|text| {
                parse_listen(&text)
                    .map_err(|m| self.d.push(s.span(), ctx, m))
                    .ok()
            }),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9777))),
        };
        let listen = self.env_override("UPWATCH_LISTEN", ctx, listen, parse_listen);
        let log_format = self
            .choice(ctx, "log_format", &r.log_format, LOG_FORMATS)
            .map(|f| f.unwrap_or(LogFormat::Auto));
        let log_format = self.env_override("UPWATCH_LOG_FORMAT", ctx, log_format, |text| {
            LOG_FORMATS
                .iter()
                .find(|(name, _)| *name == text)
                .map(|(_, f)| *f)
                .ok_or_else(|| format!("log_format: {text:?} is not one of auto | pretty | json"))
        });
        let location = match &r.location {
            Some(s) => self.string(ctx, "location", s, None).and_then(|l| {
                check_location(&l)
                    .map_err(|m| self.d.push(s.span(), ctx, m))
                    .ok()
            }),
            None => Some("local".to_string()),
        };
        let location = self.env_override("UPWATCH_LOCATION", ctx, location, check_location);
        let max_concurrency = self.int_in(ctx, "max_concurrency", &r.max_concurrency, 1..1_000_001);
        let grace = self.duration(ctx, "shutdown_grace", &r.shutdown_grace, true);
        let api_token = match (&r.api_token, &r.api_token_file) {
            (None, None) => Some(None),
            _ => self
                .secret_pair(
                    ctx,
                    "api_token",
                    &r.api_token,
                    &r.api_token_file,
                    redactor,
                    0..0,
                    false,
                )
                // `${VAR:-}` left empty means "no token", as for bearer_token.
                .map(|t| Some(t).filter(|t| !t.is_empty())),
        };
        let external_url = match &r.external_url {
            None => Some(None),
            Some(s) => self.string(ctx, "external_url", s, None).and_then(|text| {
                match url::Url::parse(&text) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(Some(u)),
                    _ => {
                        self.d.push(
                            s.span(),
                            ctx,
                            format!("external_url: {text:?} is not an http:// or https:// URL"),
                        );
                        None
                    }
                }
            }),
        };
        let protect_metrics = r.protect_metrics.as_ref().map(|b| *b.get_ref());
        let api_token = api_token?;
        if protect_metrics == Some(true) && api_token.is_none() {
            let at = r.protect_metrics.as_ref().map(|b| b.span()).unwrap_or(0..0);
            self.d.push(
                at,
                ctx,
                "protect_metrics: needs api_token (or api_token_file) to be set",
            );
            return None;
        }
        Some(Daemon {
            api_token,
            protect_metrics: protect_metrics.unwrap_or(false),
            external_url: external_url?,
            state_dir: state_dir?,
            listen: listen?,
            log_format: log_format?,
            location: location?,
            max_concurrency: max_concurrency?.map_or(256, |n| n as usize),
            shutdown_grace: grace?.unwrap_or(Duration::from_secs(10)),
        })
    }

    fn defaults(&mut self, r: &RawDefaults) -> Defaults {
        let ctx = "defaults";
        let base = Defaults::default();
        let interval = self.duration(ctx, "interval", &r.interval, false).flatten();
        let timeout = self.duration(ctx, "timeout", &r.timeout, false).flatten();
        let max_latency = self
            .duration(ctx, "max_latency", &r.max_latency, true)
            .flatten();
        let retries = self.int_in(ctx, "retries", &r.retries, 0..11).flatten();
        let retry_delay = self
            .duration(ctx, "retry_delay", &r.retry_delay, true)
            .flatten();
        let tls_min_days = self
            .int_in(ctx, "tls_min_days", &r.tls_min_days, 0..3651)
            .flatten();
        let expect_status = self.statuses(ctx, &r.expect_status).flatten();
        let ip_version = self.ip_version(ctx, &r.ip_version).flatten();
        let max_body_size = self.size(ctx, "max_body_size", &r.max_body_size).flatten();
        Defaults {
            interval_set: interval.is_some(),
            interval: interval.unwrap_or(base.interval),
            timeout: timeout.unwrap_or(base.timeout),
            max_latency: match max_latency {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => base.max_latency,
            },
            retries: retries.map_or(base.retries, |n| n as u32),
            retry_delay: retry_delay.unwrap_or(base.retry_delay),
            tls_min_days: tls_min_days.map_or(base.tls_min_days, |n| n as u32),
            expect_status: expect_status.unwrap_or(base.expect_status),
            ip_version: ip_version.unwrap_or(base.ip_version),
            reuse_connection: r
                .reuse_connection
                .as_ref()
                .map_or(base.reuse_connection, |b| *b.get_ref()),
            headers: r
                .headers
                .as_ref()
                .map(|h| {
                    h.get_ref()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            max_body_size: max_body_size.unwrap_or(base.max_body_size),
        }
    }

    fn ip_version(&mut self, ctx: &str, v: &S<String>) -> Option<Option<IpVersion>> {
        self.choice(
            ctx,
            "ip_version",
            v,
            &[
                ("any", IpVersion::Any),
                ("v4", IpVersion::V4),
                ("v6", IpVersion::V6),
            ],
        )
    }

    fn target(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
        def: &Defaults,
        warnings: &mut Vec<String>,
    ) -> Option<Target> {
        let mut redactor = Redactor::default();
        let missing = |v: &mut Self, key: &str, example: &str| {
            v.d.push(
                span.clone(),
                ctx,
                format!("missing key {key:?}, e.g. {key} = {example}"),
            );
        };

        let name = self.name(ctx, &r.name, span.clone(), "\"my-api\"");
        let llm = self.llm(r, span.clone(), ctx);
        let chat_model = match &llm {
            Some((ProbeKind::Chat { model }, _)) => Some(model.clone()),
            _ => None,
        };

        let url = match &r.url {
            Some(u) => self.string(ctx, "url", u, Some(&mut redactor)).and_then(|text| {
                match Url::parse(&text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
                    Ok(url) => {
                        self.d.push(u.span(), ctx, format!("url: scheme {:?} is not supported; use http:// or https:// with a host", url.scheme()));
                        None
                    }
                    Err(e) => {
                        let shown = redactor.redact(&text);
                        self.d.push(u.span(), ctx, format!("url: {shown:?} is not a valid URL ({e})"));
                        None
                    }
                }
            }),
            None => {
                missing(self, "url", "\"https://api.example.com/health\"");
                None
            }
        };

        let method = match &r.method {
            Some(m) => self.string(ctx, "method", m, None).and_then(|text| {
                Method::from_bytes(text.to_ascii_uppercase().as_bytes())
                    .map_err(|_| {
                        self.d.push(
                            m.span(),
                            ctx,
                            format!("method: {text:?} is not an HTTP method"),
                        )
                    })
                    .ok()
            }),
            None if chat_model.is_some() => Some(Method::POST),
            None => Some(Method::GET),
        };

        // Headers: defaults first, then the target's (which win on the same name).
        let mut headers = HeaderMap::new();
        let mut headers_ok = true;
        let mut header_pairs: Vec<(String, Spanned<String>)> = def.headers.clone();
        if let Some(h) = &r.headers {
            header_pairs.extend(h.get_ref().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (k, v) in &header_pairs {
            let Some(value) = self.string(ctx, &format!("headers.{k}"), v, Some(&mut redactor))
            else {
                headers_ok = false;
                continue;
            };
            let name = match HeaderName::from_bytes(k.as_bytes()) {
                Ok(n) => n,
                Err(_) => {
                    self.d.push(
                        v.span(),
                        ctx,
                        format!("headers: {k:?} is not a valid header name"),
                    );
                    headers_ok = false;
                    continue;
                }
            };
            match HeaderValue::from_str(&value) {
                Ok(mut hv) => {
                    hv.set_sensitive(true);
                    // Every header value may be a credential; scrub them all from output.
                    redactor.add(value);
                    headers.insert(name, hv);
                }
                Err(_) => {
                    self.d.push(v.span(), ctx, format!("headers.{k}: value has characters not allowed in a header (newlines or control characters)"));
                    headers_ok = false;
                }
            }
        }

        let token = match (&r.bearer_token, &r.bearer_token_file) {
            (Some(_), Some(f)) => {
                self.d.push(
                    f.span(),
                    ctx,
                    "set bearer_token or bearer_token_file, not both",
                );
                None
            }
            (Some(t), None) => self
                .string(ctx, "bearer_token", t, Some(&mut redactor))
                .map(Some),
            (None, Some(f)) => self
                .secret_file(ctx, "bearer_token_file", f, &mut redactor)
                .map(Some),
            (None, None) => Some(None),
        };
        let token_ok = match token {
            None => false,
            Some(None) => true,
            Some(Some(t)) if t.is_empty() => {
                let at = r
                    .bearer_token
                    .as_ref()
                    .or(r.bearer_token_file.as_ref())
                    .map_or(span.clone(), |s| s.span());
                let (line, _) = self.d.line_col(at.start);
                warnings.push(format!(
                    "{ctx}: bearer_token is empty (line {line}; is the variable set?): requests go out without a key and an API will answer 401"
                ));
                true
            }
            Some(Some(t)) => match HeaderValue::from_str(&format!("Bearer {t}")) {
                Ok(mut hv) => {
                    hv.set_sensitive(true);
                    redactor.add(t);
                    headers.insert(AUTHORIZATION, hv);
                    true
                }
                Err(_) => {
                    let at = r
                        .bearer_token
                        .as_ref()
                        .or(r.bearer_token_file.as_ref())
                        .map_or(span.clone(), |s| s.span());
                    self.d.push(
                        at,
                        ctx,
                        "bearer_token: the token has characters not allowed in a header",
                    );
                    false
                }
            },
        };

        let body = match (&r.body, &chat_model) {
            (_, Some(model)) => {
                let prompt = match &r.prompt {
                    Some(p) => self.string(ctx, "prompt", p, None),
                    None => Some(CHAT_PROMPT.to_string()),
                };
                prompt.map(|p| Some(chat_body(model, &p)))
            }
            (Some(b), None) => self
                .string(ctx, "body", b, Some(&mut redactor))
                .map(|s| (!s.is_empty()).then(|| bytes::Bytes::from(s))),
            (None, None) => Some(None),
        };
        if chat_model.is_some() {
            for (name, value) in [
                (http::header::CONTENT_TYPE, "application/json"),
                (http::header::ACCEPT, "text/event-stream"),
            ] {
                headers
                    .entry(name)
                    .or_insert(HeaderValue::from_static(value));
            }
        }

        let schedule = match (&r.interval, &r.schedule) {
            (Some(_), Some(s)) => {
                self.d
                    .push(s.span(), ctx, "set interval or schedule, not both");
                None
            }
            (Some(_), None) => self
                .duration(ctx, "interval", &r.interval, false)
                .flatten()
                .and_then(|d| {
                    if d < Duration::from_millis(100) {
                        let at = r.interval.as_ref().map_or(span.clone(), |s| s.span());
                        self.d.push(at, ctx, "interval: must be at least 100ms");
                        None
                    } else {
                        Some(ScheduleSpec::Interval(d))
                    }
                }),
            (None, Some(s)) => self.string(ctx, "schedule", s, None).and_then(|text| {
                ScheduleSpec::cron(text.trim())
                    .map_err(|e| self.d.push(s.span(), ctx, format!("schedule: {e}")))
                    .ok()
            }),
            (None, None) if chat_model.is_some() && !def.interval_set => {
                Some(ScheduleSpec::Interval(CHAT_INTERVAL))
            }
            (None, None) => Some(ScheduleSpec::Interval(def.interval)),
        };

        let timeout = self
            .duration(ctx, "timeout", &r.timeout, false)
            .map(|t| t.unwrap_or(def.timeout));
        let max_latency =
            self.duration(ctx, "max_latency", &r.max_latency, true)
                .map(|m| match m {
                    Some(d) if d.is_zero() => None,
                    Some(d) => Some(d),
                    None => def.max_latency,
                });
        let expect_status = self
            .statuses(ctx, &r.expect_status)
            .map(|s| s.unwrap_or_else(|| def.expect_status.clone()));
        let expect_body_contains = match &r.expect_body_contains {
            Some(s) => self
                .string(ctx, "expect_body_contains", s, None)
                .map(|t| (!t.is_empty()).then_some(t)),
            None => Some(None),
        };
        let tls_min_days = self
            .int_in(ctx, "tls_min_days", &r.tls_min_days, 0..3651)
            .map(|n| n.map_or(def.tls_min_days, |n| n as u32));
        let ca_file = self.ca_file(ctx, &r.tls_ca_file);
        let insecure = r.tls_insecure.as_ref().is_some_and(|b| *b.get_ref());
        let ip_version = self
            .ip_version(ctx, &r.ip_version)
            .map(|v| v.unwrap_or(def.ip_version));
        let retries = self
            .int_in(ctx, "retries", &r.retries, 0..11)
            .map(|n| n.map_or(def.retries, |n| n as u32));
        let retry_delay = self
            .duration(ctx, "retry_delay", &r.retry_delay, true)
            .map(|d| d.unwrap_or(def.retry_delay));
        let max_body_size = self
            .size(ctx, "max_body_size", &r.max_body_size)
            .map(|s| s.unwrap_or(def.max_body_size));

        if let (Some(ScheduleSpec::Interval(iv)), Some(t)) = (&schedule, timeout) {
            if t > *iv {
                let at = r
                    .timeout
                    .as_ref()
                    .or(r.interval.as_ref())
                    .map_or(span.clone(), |s| s.span());
                self.d.push(
                    at,
                    ctx,
                    format!(
                        "timeout ({}) is longer than the interval ({}): every probe could overrun its slot; lower timeout or raise interval",
                        humantime::format_duration(t),
                        humantime::format_duration(*iv)
                    ),
                );
                return None;
            }
        }

        let url = url?;
        let name: Arc<str> = Arc::from(name?.as_str());
        if insecure {
            warnings.push(format!("target {name:?}: tls_insecure = true: certificate verification is off, so TLS failures are not detected"));
        }
        if !headers_ok || !token_ok {
            return None;
        }
        let (kind, llm) = llm?;
        let display_url = Arc::from(redactor.display_url(&url).as_str());
        let (line, _) = self.d.line_col(span.start);
        Some(Target {
            name,
            url,
            display_url,
            method: method?,
            headers,
            body: body?,
            schedule: schedule?,
            timeout: timeout?,
            expect_status: expect_status?,
            max_latency: max_latency?,
            expect_body_contains: expect_body_contains?,
            tls_min_days: tls_min_days?,
            tls: TlsOptions {
                ca_file: ca_file?,
                insecure,
            },
            ip_version: ip_version?,
            reuse_connection: r
                .reuse_connection
                .as_ref()
                .map_or(def.reuse_connection, |b| *b.get_ref()),
            retries: retries?,
            retry_delay: retry_delay?,
            max_body_size: max_body_size?,
            redactor,
            alert: crate::alert::AlertPolicy::default(),
            status_page: None,
            kind,
            llm,
            line,
        })
    }
}

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The `log_format` names.
const LOG_FORMATS: &[(&str, LogFormat)] = &[
    ("auto", LogFormat::Auto),
    ("pretty", LogFormat::Pretty),
    ("json", LogFormat::Json),
];

/// The environment variables that override `[daemon]` keys, for container users.
pub const ENV_OVERRIDES: [(&str, &str); 4] = [
    ("UPWATCH_LISTEN", "listen"),
    ("UPWATCH_LOG_FORMAT", "log_format"),
    ("UPWATCH_STATE_DIR", "state_dir"),
    ("UPWATCH_LOCATION", "location"),
];

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "listen: {text:?} is not an address:port, e.g. \"127.0.0.1:9777\" or \"[::1]:9777\""
        )
    })
}

fn check_location(l: &str) -> Result<String, String> {
    if valid_label(l) {
        Ok(l.to_string())
    } else {
        Err(format!(
            "location: {l:?} must be 1-64 characters of a-z, A-Z, 0-9, _ . -"
        ))
    }
}

fn valid_label(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `"1MiB"`, `"256KiB"`, `"2MB"`, `"4096"` → bytes.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1024,
        "MB" => 1000 * 1000,
        "MiB" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

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
