//! The probe result: what one probe of one target observed, as plain data.
//!
//! Everything downstream (logs, `check`, the store, metrics, the alert engine and the API)
//! consumes this type, so it carries the raw facts later stages need (selected
//! response headers for rate limits and request ids, a body excerpt for provider error
//! decoding, certificate facts) and never a secret. A target being down is a value here,
//! not an `Err`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::fmt::{ms, rfc3339};

/// Overall verdict of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// At least one failure that makes the target unusable.
    Down,
    /// Usable, but a warning-level condition failed (slow, certificate expiring soon).
    Degraded,
    /// Every condition held.
    Up,
}

impl Health {
    /// Lower-case name used in logs, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Down => "down",
            Health::Degraded => "degraded",
            Health::Up => "up",
        }
    }

    /// The numeric level used in metrics and the store: 0 down, 1 degraded, 2 up.
    pub fn level(self) -> u8 {
        match self {
            Health::Down => 0,
            Health::Degraded => 1,
            Health::Up => 2,
        }
    }

    /// The health of a numeric [`Health::level`].
    pub fn from_level(level: i64) -> Option<Health> {
        match level {
            0 => Some(Health::Down),
            1 => Some(Health::Degraded),
            2 => Some(Health::Up),
            _ => None,
        }
    }
}

/// The typed reasons a probe can fail. Names are part of the JSON contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Name resolution failed or returned no usable address.
    Dns,
    /// The TCP connection was actively refused (or reset while connecting).
    ConnectRefused,
    /// The TCP connection did not complete within the timeout.
    ConnectTimeout,
    /// The server's certificate (or one in its chain) is past `notAfter`.
    TlsExpired,
    /// The server's certificate is before `notBefore`.
    TlsNotYetValid,
    /// The chain does not lead to a trusted root.
    TlsUnknownIssuer,
    /// The certificate is not valid for the host name probed.
    TlsHostnameMismatch,
    /// Any other TLS failure (protocol alert, bad encoding, handshake reset).
    TlsHandshake,
    /// The probe ran out of time in a phase other than connect.
    Timeout,
    /// The status code is not one of `expect_status`.
    HttpStatus,
    /// The response took longer than `max_latency`.
    TooSlow,
    /// The leaf certificate expires in fewer than `tls_min_days` days.
    TlsExpiring,
    /// The body does not contain `expect_body_contains`.
    BodyMismatch,
    /// The connection broke or the HTTP exchange failed for another reason.
    Io,
    /// A vendor status page admits to degraded service (status page alerts only).
    VendorDegraded,
    /// A vendor status page admits to a partial or major outage (status page alerts only).
    VendorOutage,
    /// The provider answered 429: this key is being rate-limited (a warning by default).
    RateLimited,
    /// A rate-limit window's remaining share fell under `ratelimit_warn_fraction`.
    RatelimitLow,
    /// A model named in `expect_models` is no longer in the catalog.
    ModelMissing,
    /// A chat completion's event stream ended early, broke, or carried an error event.
    StreamIncomplete,
    /// The model catalog changed (notices only: never makes a probe fail).
    CatalogChanged,
    /// This machine could not give the probe what it needs: no file descriptor (EMFILE,
    /// ENFILE), no memory or buffer space (ENOMEM, ENOBUFS), no local port (EADDRNOTAVAIL).
    /// Never the target's fault.
    LocalResource,
    /// This machine has no route to the address (ENETUNREACH, EHOSTUNREACH): its own
    /// network when every host fails so, the path to this one otherwise.
    NoRoute,
    /// This machine lost its network or its resources (the `@host` alert only: a
    /// target's own alerts are held meanwhile).
    Host,
    /// The answer is not HTTP: bytes that are no status line, a status out of range, a
    /// response head over the size limit.
    Protocol,
    /// Redirects went on past `max_redirects`, or in a loop.
    TooManyRedirects,
    /// A redirect that is not followed on purpose: `https` to `http` (unless
    /// `allow_insecure_redirects`), or a `Location` that is not an http(s) URL.
    RedirectRefused,
    /// The body is longer than `max_body_size` and a check needs all of it (the model
    /// catalog, a chat stream, `expect_body_contains` not found in what was read).
    BodyTooLarge,
    /// A `[[target.assert]]` failed.
    Assertion,
    /// A `[[target.assert]]` with `severity = "warning"` failed (degrades only).
    AssertionWarning,
}

impl FailureKind {
    /// Every kind, in documentation order.
    pub const ALL: [FailureKind; 30] = [
        FailureKind::Dns,
        FailureKind::ConnectRefused,
        FailureKind::ConnectTimeout,
        FailureKind::TlsExpired,
        FailureKind::TlsNotYetValid,
        FailureKind::TlsUnknownIssuer,
        FailureKind::TlsHostnameMismatch,
        FailureKind::TlsHandshake,
        FailureKind::Timeout,
        FailureKind::HttpStatus,
        FailureKind::TooSlow,
        FailureKind::TlsExpiring,
        FailureKind::BodyMismatch,
        FailureKind::Io,
        FailureKind::VendorDegraded,
        FailureKind::VendorOutage,
        FailureKind::RateLimited,
        FailureKind::RatelimitLow,
        FailureKind::ModelMissing,
        FailureKind::StreamIncomplete,
        FailureKind::CatalogChanged,
        FailureKind::LocalResource,
        FailureKind::NoRoute,
        FailureKind::Host,
        FailureKind::Protocol,
        FailureKind::TooManyRedirects,
        FailureKind::RedirectRefused,
        FailureKind::BodyTooLarge,
        FailureKind::Assertion,
        FailureKind::AssertionWarning,
    ];

    /// The kind with this JSON name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The JSON / log name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::ConnectRefused => "connect_refused",
            FailureKind::ConnectTimeout => "connect_timeout",
            FailureKind::TlsExpired => "tls_expired",
            FailureKind::TlsNotYetValid => "tls_not_yet_valid",
            FailureKind::TlsUnknownIssuer => "tls_unknown_issuer",
            FailureKind::TlsHostnameMismatch => "tls_hostname_mismatch",
            FailureKind::TlsHandshake => "tls_handshake",
            FailureKind::Timeout => "timeout",
            FailureKind::HttpStatus => "http_status",
            FailureKind::TooSlow => "too_slow",
            FailureKind::TlsExpiring => "tls_expiring",
            FailureKind::BodyMismatch => "body_mismatch",
            FailureKind::Io => "io",
            FailureKind::VendorDegraded => "vendor_degraded",
            FailureKind::VendorOutage => "vendor_outage",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::RatelimitLow => "ratelimit_low",
            FailureKind::ModelMissing => "model_missing",
            FailureKind::StreamIncomplete => "stream_incomplete",
            FailureKind::CatalogChanged => "catalog_changed",
            FailureKind::LocalResource => "local_resource",
            FailureKind::NoRoute => "no_route",
            FailureKind::Host => "host",
            FailureKind::Protocol => "protocol",
            FailureKind::TooManyRedirects => "too_many_redirects",
            FailureKind::RedirectRefused => "redirect_refused",
            FailureKind::BodyTooLarge => "body_too_large",
            FailureKind::Assertion => "assertion",
            FailureKind::AssertionWarning => "assertion_warning",
        }
    }

    /// Whether the failure only degrades the target (warning) instead of taking it down
    /// (critical). Health, and so uptime, follows this; `severity_overrides` changes only
    /// the alert's severity. A 429 is here: the provider is up and answering.
    pub fn degrades_only(self) -> bool {
        matches!(
            self,
            FailureKind::TooSlow
                | FailureKind::TlsExpiring
                | FailureKind::VendorDegraded
                | FailureKind::RateLimited
                | FailureKind::RatelimitLow
                | FailureKind::CatalogChanged
                | FailureKind::AssertionWarning
        )
    }

    /// Whether the failure is a TLS problem (used by alert rules: "TLS failures").
    pub fn is_tls(self) -> bool {
        matches!(
            self,
            FailureKind::TlsExpired
                | FailureKind::TlsNotYetValid
                | FailureKind::TlsUnknownIssuer
                | FailureKind::TlsHostnameMismatch
                | FailureKind::TlsHandshake
                | FailureKind::TlsExpiring
        )
    }
}

/// The phases of one request, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Host name resolution.
    Dns,
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// Request sent until the response head arrived.
    Ttfb,
    /// Reading the response body.
    Transfer,
}

impl Phase {
    /// The phase's name in logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Ttfb => "ttfb",
            Phase::Transfer => "transfer",
        }
    }
}

/// What separates the measured status from the expected ones in an `http_status` detail;
/// [`Failure::http_status`] writes it and [`Failure::measured`] reads it, nothing else.
const HTTP_STATUS_EXPECTED: &str = ", expected ";

/// One failed condition, with a human-readable detail naming the measured value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What failed.
    pub kind: FailureKind,
    /// The measured value and expectation, e.g. `HTTP 503, expected 200`.
    pub detail: String,
    /// The phase the failure happened in, when it is tied to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

impl Failure {
    /// A failure not tied to a phase.
    pub fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            phase: None,
        }
    }

    /// The status was not one of `expected` (written as the config lists them).
    pub fn http_status(status: u16, expected: &str) -> Self {
        Failure::new(
            FailureKind::HttpStatus,
            format!("HTTP {status}{HTTP_STATUS_EXPECTED}{expected}"),
        )
    }

    /// The measured value without the expectation (`HTTP 503` of `HTTP 503, expected
    /// 200`): what a pager headline shows. The whole detail for every other kind.
    pub fn measured(&self) -> &str {
        match self.kind {
            FailureKind::HttpStatus => self
                .detail
                .split_once(HTTP_STATUS_EXPECTED)
                .map_or(self.detail.as_str(), |(measured, _)| measured),
            _ => &self.detail,
        }
    }

    /// A failure that happened during `phase`.
    pub fn in_phase(kind: FailureKind, phase: Phase, detail: impl Into<String>) -> Self {
        Failure {
            kind,
            detail: detail.into(),
            phase: Some(phase),
        }
    }
}

/// Time spent in each phase. A phase that was not reached is `None`; the phases that were
/// reached add up to the probe's total (a timed-out phase counts the time until the timeout).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Every hop before the final request, when redirects were followed.
    pub redirect: Option<Duration>,
    /// Name resolution (zero for IP literals).
    pub dns: Option<Duration>,
    /// TCP connect.
    pub connect: Option<Duration>,
    /// TLS handshake (`None` for plain HTTP).
    pub tls: Option<Duration>,
    /// Request written until the response head was read.
    pub ttfb: Option<Duration>,
    /// Response body read.
    pub transfer: Option<Duration>,
}

impl Phases {
    /// Sum of the phases that were reached.
    pub fn sum(&self) -> Duration {
        [
            self.redirect,
            self.dns,
            self.connect,
            self.tls,
            self.ttfb,
            self.transfer,
        ]
        .into_iter()
        .flatten()
        .sum()
    }

    /// Moves the time of a hop that redirected into `redirect`, so that the other phases
    /// time only the final request and all of them still add up to the total.
    pub fn redirected(&mut self) {
        let hop = self.sum();
        *self = Phases {
            redirect: Some(hop),
            ..Phases::default()
        };
    }

    /// Sets one phase's time.
    pub fn set(&mut self, phase: Phase, d: Duration) {
        let slot = match phase {
            Phase::Dns => &mut self.dns,
            Phase::Connect => &mut self.connect,
            Phase::Tls => &mut self.tls,
            Phase::Ttfb => &mut self.ttfb,
            Phase::Transfer => &mut self.transfer,
        };
        *slot = Some(d);
    }
}

/// HTTP protocol version actually used (from ALPN for HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpVersion {
    /// HTTP/1.1.
    #[serde(rename = "http/1.1")]
    Http11,
    /// HTTP/2.
    #[serde(rename = "h2")]
    H2,
}

impl HttpVersion {
    /// The ALPN-style name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http11 => "http/1.1",
            HttpVersion::H2 => "h2",
        }
    }
}

/// Facts about the server's leaf certificate and the negotiated session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsFacts {
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names and IP addresses from the subjectAltName extension.
    pub sans: Vec<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days from the probe to `not_after` (negative once expired).
    pub days_left: i64,
    /// Negotiated protocol version, e.g. `TLSv1.3`.
    pub version: Option<String>,
}

/// What the response looked like, beyond its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseInfo {
    /// Body size in bytes as read (the whole body, even past what was kept).
    pub size: u64,
    /// Response headers that later stages read (rate limits, retry-after, request ids,
    /// content type); names lower-case, values capped. Cookies are never kept.
    pub headers: Vec<(String, String)>,
    /// The start of the body of an unexpected response, for diagnosis: at most
    /// [`BODY_EXCERPT_CHARS`] characters, lossily decoded.
    pub body_excerpt: Option<String>,
    /// The provider's error, decoded from the body of an unexpected response.
    pub provider_error: Option<super::provider::ProviderError>,
    /// Request ids for a support ticket (`x-request-id`, `cf-ray`, ...), name and value.
    pub request_ids: Vec<(String, String)>,
    /// Rate-limit headers, as of the response.
    pub ratelimit: super::ratelimit::RateLimits,
    /// The body was longer than `max_body_size`: reading stopped there.
    pub truncated: bool,
}

/// How many characters of an unexpected response body a result keeps.
pub const BODY_EXCERPT_CHARS: usize = 512;

impl ResponseInfo {
    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything one probe of one target observed.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Target name from the config.
    pub target: Arc<str>,
    /// The URL as it may be shown: no userinfo, query values and secrets masked.
    pub url: Arc<str>,
    /// Wall-clock time the probe started.
    pub checked_at: DateTime<Utc>,
    /// Verdict derived from `failures`.
    pub health: Health,
    /// HTTP status, when a response head arrived.
    pub status: Option<u16>,
    /// Protocol used, when a connection was made.
    pub http_version: Option<HttpVersion>,
    /// Per-phase timings.
    pub phases: Phases,
    /// Total time of the attempt reported (equals `phases.sum()`).
    pub total: Duration,
    /// Leaf certificate facts for HTTPS, when the handshake got far enough.
    pub tls: Option<TlsFacts>,
    /// Every failed condition (empty when up).
    pub failures: Vec<Failure>,
    /// Response details, when a response head arrived.
    pub response: Option<ResponseInfo>,
    /// The address connected to.
    pub remote_addr: Option<SocketAddr>,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Whether an existing connection was reused (so dns/connect/tls were not measured).
    pub reused_connection: bool,
    /// Which side a failure most likely lies on (None when up or only degraded).
    pub error_class: Option<super::provider::ErrorClass>,
    /// What the linked vendor status page says, attached by the pipeline to results that
    /// are not up (`None` when the target links no page or is up).
    pub vendor: Option<crate::statuspage::VendorWord>,
    /// Which side the failure is most likely on, attached by the pipeline (it needs the
    /// vendor's word and the other targets' health).
    pub side: Option<crate::correlate::Side>,
    /// The model catalog as listed (`data[].id`, sorted), for targets that read it.
    pub models: Option<Vec<String>>,
    /// A chat probe's stream: time to first token and how it ended.
    pub chat: Option<ChatInfo>,
    /// Redirects followed before the final response, in order.
    pub redirects: Vec<Hop>,
}

/// One redirect followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The 3xx status.
    pub status: u16,
    /// Where it pointed (resolved against the request's URL; secrets masked).
    pub location: String,
}

/// What a chat probe's stream showed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatInfo {
    /// Request sent until the first event carrying generated content.
    pub ttft: Option<Duration>,
    /// The stream as read.
    pub stream: super::llm::ChatStream,
}

impl ProbeResult {
    /// A result before anything was observed: up, no failures, one attempt, no phases.
    pub fn started(target: Arc<str>, url: Arc<str>, checked_at: DateTime<Utc>) -> Self {
        ProbeResult {
            target,
            url,
            checked_at,
            health: Health::Up,
            status: None,
            http_version: None,
            phases: Phases::default(),
            total: Duration::ZERO,
            tls: None,
            failures: Vec::new(),
            response: None,
            remote_addr: None,
            attempts: 1,
            reused_connection: false,
            error_class: None,
            vendor: None,
            side: None,
            models: None,
            chat: None,
            redirects: Vec::new(),
        }
    }

    /// Health implied by a set of failures: down if any failure is not degrade-only.
    pub fn health_of(failures: &[Failure]) -> Health {
        if failures.is_empty() {
            Health::Up
        } else if failures.iter().all(|f| f.kind.degrades_only()) {
            Health::Degraded
        } else {
            Health::Down
        }
    }

    /// True when every condition held.
    pub fn ok(&self) -> bool {
        self.health == Health::Up
    }

    /// The result as the JSON object `upwatch check --format json` prints, one per line.
    /// Field names are a stable contract for scripts.
    pub fn to_check_json(&self) -> Value {
        let phases = json!({
            "redirect_ms": self.phases.redirect.map(ms),
            "dns_ms": self.phases.dns.map(ms),
            "connect_ms": self.phases.connect.map(ms),
            "tls_ms": self.phases.tls.map(ms),
            "ttfb_ms": self.phases.ttfb.map(ms),
            "transfer_ms": self.phases.transfer.map(ms),
        });
        let tls = self.tls.as_ref().map(|t| {
            json!({
                "subject": t.subject,
                "issuer": t.issuer,
                "sans": t.sans,
                "not_before": rfc3339(&t.not_before),
                "not_after": rfc3339(&t.not_after),
                "days_left": t.days_left,
                "version": t.version,
            })
        });
        json!({
            "target": &*self.target,
            "url": &*self.url,
            "ok": self.ok(),
            "health": self.health,
            "status": self.status,
            "latency_ms": ms(self.total),
            "phases": phases,
            "http_version": self.http_version,
            "tls": tls,
            "failures": self.failures,
            "checked_at": rfc3339(&self.checked_at),
            "remote_addr": self.remote_addr.map(|a| a.to_string()),
            "size_bytes": self.response.as_ref().map(|r| r.size),
            "body_truncated": self.response.as_ref().map(|r| r.truncated),
            "redirects": (!self.redirects.is_empty()).then_some(&self.redirects),
            "attempts": self.attempts,
            "reused_connection": self.reused_connection,
            "error_class": self.error_class,
            "remedy": self.error_class.map(|c| c.remedy()),
            "side": self.side.as_ref().map(|s| json!({"side": s.as_str(), "text": s.text()})),
            "ttft_ms": self.chat.as_ref().and_then(|c| c.ttft).map(ms),
            "stream": self.chat.as_ref().map(|c| json!({
                "events": c.stream.events,
                "content": c.stream.content,
                "done": c.stream.done,
                "finish_reason": c.stream.finish_reason,
                "error": c.stream.error,
            })),
            "models": self.models,
            "vendor": self.vendor.as_ref().map(|v| json!({
                "page": v.page,
                "overall": v.overall,
                "incident_title": v.incident_title,
                "incident_url": v.incident_url,
                "reason": v.reason,
                "text": v.text,
            })),
            "provider_error": self.response.as_ref().and_then(|r| r.provider_error.as_ref()),
            "request_id": self.response.as_ref().and_then(|r| r.request_ids.first()).map(|(_, v)| v),
            "request_ids": self.response.as_ref().map(|r| {
                r.request_ids
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<serde_json::Map<String, Value>>()
            }),
            "ratelimit": self.response.as_ref().filter(|r| !r.ratelimit.is_empty()).map(|r| {
                let tight = r.ratelimit.tightest();
                json!({
                    "limit": tight.and_then(|l| l.limit),
                    "remaining": tight.and_then(|l| l.remaining),
                    "reset_at": tight.and_then(|l| l.reset_at).map(|t| rfc3339(&t)),
                    "retry_after_s": r.ratelimit.retry_after_s,
                    "limits": r.ratelimit.limits.iter().map(|l| json!({
                        "kind": l.kind,
                        "limit": l.limit,
                        "remaining": l.remaining,
                        "reset_at": l.reset_at.map(|t| rfc3339(&t)),
                    })).collect::<Vec<_>>(),
                })
            }),
        })
    }

    /// One-line summary of the failures for logs and tables: `kind: detail; kind: detail`.
    pub fn failure_summary(&self) -> String {
        failure_line(&self.failures)
    }
}

/// Failures on one line: `kind: detail; kind: detail`.
pub fn failure_line(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.kind.as_str(), f.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_failure_kinds() {
        assert_eq!(ProbeResult::health_of(&[]), Health::Up);
        let slow = Failure::new(FailureKind::TooSlow, "latency 4.2 s > 3 s");
        let expiring = Failure::new(FailureKind::TlsExpiring, "expires in 3 days");
        let status = Failure::new(FailureKind::HttpStatus, "HTTP 503");
        assert_eq!(
            ProbeResult::health_of(&[slow.clone(), expiring.clone()]),
            Health::Degraded
        );
        assert_eq!(ProbeResult::health_of(&[slow, status]), Health::Down);
    }

    #[test]
    fn kinds_round_trip_by_name() {
        for k in FailureKind::ALL {
            assert_eq!(FailureKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(FailureKind::from_name("nope"), None);
    }

    #[test]
    fn the_measured_part_of_a_status_failure() {
        let f = Failure::http_status(503, "200");
        assert_eq!(f.detail, "HTTP 503, expected 200");
        assert_eq!(f.measured(), "HTTP 503");
        let slow = Failure::new(FailureKind::TooSlow, "latency 4.2 s > 3 s, expected less");
        assert_eq!(
            slow.measured(),
            slow.detail,
            "other kinds keep their whole detail"
        );
    }

    #[test]
    fn phases_sum_only_reached_phases() {
        let mut p = Phases::default();
        p.set(Phase::Dns, Duration::from_millis(2));
        p.set(Phase::Connect, Duration::from_millis(3));
        assert_eq!(p.sum(), Duration::from_millis(5));
        assert_eq!(p.tls, None);
    }
}
