//! The validated configuration: the types runtime code reads. Built only by [`super::load`];
//! no raw value reaches them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method};
use url::Url;

use super::*;
use crate::schedule::ScheduleSpec;
use crate::secret::Redactor;

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
        if name == crate::alert::engine::HOST {
            return Some((String::new(), self.alerting.policy.channels.clone()));
        }
        if let Some(t) = self.targets.iter().find(|t| &*t.name == name) {
            return Some((t.display_url.to_string(), t.alert.channels.clone()));
        }
        self.status_pages
            .iter()
            .find(|p| &*p.name == name)
            .map(|p| (p.url.to_string(), p.alert.channels.clone()))
    }

    /// Every name alerts can be keyed by: targets, then status pages (and always the
    /// engine's own `@host`).
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
    /// Most connections the HTTP server holds open at once (also bounded by the
    /// open-file limit, see [`crate::rlimit`]).
    pub max_connections: usize,
    /// How long a client may take to send a request's head, and how long a kept-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
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
    /// Most body bytes read: a longer body is cut there (`body_truncated`), and fails
    /// only the checks that need all of it.
    pub max_body_size: usize,
    /// Whether and how far redirects are followed.
    pub redirects: Redirects,
    /// `[[target.assert]]`, in config order.
    pub assertions: Vec<crate::probe::assert::Assertion>,
    /// Secret values to scrub from anything shown about this target.
    pub redactor: Redactor,
    /// Alert policy (`[alerting]` with this target's overrides).
    pub alert: crate::alert::AlertPolicy,
    /// The `[[status_page]]` whose word explains this target's failures.
    pub status_page: Option<Arc<str>>,
    /// Targets and status pages this one depends on: while one of them fails, this
    /// target's alerts are held and named on the parent's instead.
    pub depends_on: Vec<Arc<str>>,
    /// Plain HTTP or a streaming chat completion.
    pub kind: ProbeKind,
    /// Rate limits, request ids, model catalog and time-to-first-token settings.
    pub llm: LlmOptions,
    /// Line of the `[[target]]` header, for messages that refer back to the config.
    pub line: usize,
}

/// How a target treats a 3xx answer with a `Location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirects {
    /// Follow them (else a 3xx is judged by `expect_status`).
    pub follow: bool,
    /// Most hops followed; one more is `too_many_redirects`.
    pub max: u32,
    /// Follow an `https` → `http` hop (refused by default: it would send the request,
    /// headers and key in clear text).
    pub allow_insecure: bool,
}

impl Default for Redirects {
    fn default() -> Self {
        Redirects {
            follow: true,
            max: 5,
            allow_insecure: false,
        }
    }
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
            .field("redirects", &self.redirects)
            .field("retries", &self.retries)
            .field("kind", &self.kind)
            .field("llm", &self.llm)
            .field("alert", &self.alert)
            .finish_non_exhaustive()
    }
}
