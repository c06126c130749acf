//! What an alert transition tells a channel: the [`Notification`] the engine produces and the
//! outbox stores (as JSON), with the facts of the result behind it as typed [`Evidence`].
//! Channels render from these fields; none of them reads a result back out of JSON, so a
//! renamed field is a compile error, not a line silently missing from an alert.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Severity, TransitionKind};
use crate::correlate::Side;
use crate::fmt::human_duration;
use crate::probe::provider::ErrorClass;
use crate::probe::{Failure, FailureKind, ProbeResult};

/// One notification for one channel, as queued in the outbox (JSON) and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable across retries: receivers dedup on it.
    pub id: String,
    /// Firing, reminder, resolved or notice.
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
    /// What the result behind the transition showed, typed; every channel renders from it.
    /// Rows queued by a version without it read as empty evidence.
    #[serde(default)]
    pub evidence: Evidence,
    /// The probe result that caused it, in `check --format json` form: carried only for
    /// the webhook's documented `last_result` field, never read back by a channel.
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
    /// Targets that depend on this one and fail with it: their own alerts are held while
    /// it fails, so they are named here instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_failing: Vec<String>,
    /// Set on a resolved notification for people whose firing one was still undelivered:
    /// this one message tells the whole episode ("was down from ... to ...").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub folded: bool,
}

/// The facts of the result behind a notification that people act on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// HTTP status, when a response head arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Total time of the probe, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The error class (its remedy is derived from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// Which side the failure is most likely on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// The provider's own error message, decoded from the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message: Option<String>,
    /// The first request id (header name, value) support will ask for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<(String, String)>,
    /// The presented certificate, shown when a condition is about TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateEvidence>,
    /// The tightest rate-limit window, shown when a condition is about rate limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<RatelimitEvidence>,
}

/// The leaf certificate a server presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateEvidence {
    /// Issuer distinguished name.
    pub issuer: String,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whole days from the probe to `not_after` (negative once expired).
    pub days_left: i64,
}

/// A rate-limit window as the provider reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatelimitEvidence {
    /// The window's allowance.
    pub limit: Option<f64>,
    /// What is left of it.
    pub remaining: Option<f64>,
    /// Seconds the provider asked us to wait.
    pub retry_after_s: Option<f64>,
}

impl Evidence {
    /// The facts of `r` that alerts show.
    pub fn of(r: &ProbeResult) -> Self {
        let response = r.response.as_ref();
        Evidence {
            status: r.status,
            latency_ms: Some(crate::fmt::ms(r.total)),
            error_class: r.error_class,
            side: r.side.clone(),
            provider_message: response
                .and_then(|x| x.provider_error.as_ref())
                .and_then(|e| e.message.clone()),
            request_id: response.and_then(|x| x.request_ids.first().cloned()),
            certificate: r.tls.as_ref().map(|t| CertificateEvidence {
                issuer: t.issuer.clone(),
                not_after: t.not_after,
                days_left: t.days_left,
            }),
            ratelimit: response
                .filter(|x| !x.ratelimit.is_empty())
                .map(|x| RatelimitEvidence {
                    limit: x.ratelimit.tightest().and_then(|l| l.limit),
                    remaining: x.ratelimit.tightest().and_then(|l| l.remaining),
                    retry_after_s: x.ratelimit.retry_after_s,
                }),
        }
    }
}

impl Notification {
    /// A notification with no evidence, vendor word or incident, not a test, id unset.
    pub fn new(
        kind: TransitionKind,
        severity: Severity,
        target: impl Into<String>,
        url: impl Into<String>,
        conditions: Vec<Failure>,
        started_at: DateTime<Utc>,
        location: impl Into<String>,
    ) -> Self {
        Notification {
            id: String::new(),
            kind,
            severity,
            target: target.into(),
            url: url.into(),
            conditions,
            started_at,
            resolved_at: None,
            location: location.into(),
            evidence: Evidence::default(),
            last_result: serde_json::Value::Null,
            test: false,
            vendor: None,
            incident: None,
            also_failing: Vec::new(),
            folded: false,
        }
    }

    /// The same notification under a fresh id: one per channel, each deduplicated alone.
    pub fn for_channel(&self) -> Self {
        Notification {
            id: new_id(),
            ..self.clone()
        }
    }

    /// `firing` (also for reminders), `resolved` or `notice`.
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
            TransitionKind::Resolved if self.folded => {
                format!("{test}[RESOLVED] {}", self.episode())
            }
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

    /// A key that names the alert episode, the same on its firing, reminders and recovery
    /// (`upwatch/<location>/<target>/<severity>/<start>`), and one of its own for a notice
    /// or a test: what pagers deduplicate on and chats thread by.
    pub fn episode_key(&self) -> String {
        match self.kind {
            TransitionKind::Notice => format!("upwatch/{}/notice/{}", self.location, self.id),
            _ if self.test => format!("upwatch/{}/test/{}", self.location, self.id),
            _ => format!(
                "upwatch/{}/{}/{}/{}",
                self.location,
                self.target,
                self.severity.as_str(),
                self.started_at.timestamp()
            ),
        }
    }

    /// The whole episode in one phrase: `api was down from 10:02 to 10:14 UTC (12m)`.
    pub fn episode(&self) -> String {
        let end = self.resolved_at.unwrap_or(self.started_at);
        format!(
            "{} was down from {} to {} UTC ({})",
            self.target,
            self.started_at.format("%H:%M"),
            end.format("%H:%M"),
            self.duration_text(end)
        )
    }

    /// What the result behind the notification says about the failure, as labelled lines:
    /// the error class and its remedy, the likely side, what the provider said, the request
    /// id support will ask for, and the certificate or rate limit when a condition is about
    /// them. Empty when the evidence holds none of it.
    pub fn diagnosis(&self) -> Vec<(&'static str, String)> {
        let e = &self.evidence;
        let mut lines = Vec::new();
        if let Some(class) = e.error_class {
            lines.push(("Cause", format!("{}: {}", class.as_str(), class.remedy())));
        }
        if let Some(side) = &e.side {
            lines.push(("Likely", side.text()));
        }
        if let Some(msg) = &e.provider_message {
            lines.push(("Provider", msg.clone()));
        }
        if let Some((name, id)) = &e.request_id {
            lines.push(("Request", format!("{name}: {id}")));
        }
        if !self.also_failing.is_empty() {
            lines.push((
                "Also",
                format!(
                    "{} failing with it (depends on it: held, not alerted on its own)",
                    self.also_failing.join(", ")
                ),
            ));
        }
        let about = |pred: fn(FailureKind) -> bool| self.conditions.iter().any(|c| pred(c.kind));
        if let Some(c) = e
            .certificate
            .as_ref()
            .filter(|_| about(FailureKind::is_tls))
        {
            lines.push((
                "Cert",
                format!(
                    "valid until {} ({} days left), issued by {}",
                    c.not_after.format("%Y-%m-%d %H:%M UTC"),
                    c.days_left,
                    c.issuer
                ),
            ));
        }
        let limited =
            |k: FailureKind| matches!(k, FailureKind::RateLimited | FailureKind::RatelimitLow);
        if let Some(r) = e.ratelimit.as_ref().filter(|_| about(limited)) {
            let mut parts = Vec::new();
            if let (Some(left), Some(limit)) = (r.remaining, r.limit) {
                parts.push(format!("{left} of {limit} left"));
            }
            if let Some(s) = r.retry_after_s {
                parts.push(format!("retry after {s} s"));
            }
            if !parts.is_empty() {
                lines.push(("Limit", parts.join(", ")));
            }
        }
        lines
    }

    /// The first condition, short (the measured value without the expectation): what a
    /// pager shows.
    fn headline(&self) -> String {
        let short = self
            .conditions
            .first()
            .map(Failure::measured)
            .unwrap_or("failing");
        match self.conditions.len() {
            0 | 1 => short.to_string(),
            n => format!("{short} (+{} more)", n - 1),
        }
    }

    /// A clearly labelled test notification for `test-alert`.
    pub fn test_message(location: &str, now: DateTime<Utc>) -> Self {
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Warning,
            "upwatch-test",
            "https://example.invalid/upwatch-test",
            vec![Failure::new(
                FailureKind::HttpStatus,
                "this is a test notification from upwatch test-alert; no action needed",
            )],
            now,
            location,
        );
        n.id = new_id();
        n.test = true;
        n
    }
}

/// A random 128-bit id in hex.
pub fn new_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample(kind: TransitionKind) -> Notification {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let mut n = Notification::new(
            kind,
            Severity::Critical,
            "mistral-models",
            "https://api.mistral.ai/v1/models",
            vec![Failure::http_status(503, "200")],
            t0,
            "local",
        );
        n.id = "0123".into();
        n.resolved_at =
            (kind == TransitionKind::Resolved).then(|| t0 + chrono::Duration::minutes(12));
        n
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
        let mut two = sample(TransitionKind::Firing);
        two.conditions
            .push(Failure::new(FailureKind::TooSlow, "latency 4.2 s > 3 s"));
        assert_eq!(
            two.subject(),
            "[FIRING] mistral-models: HTTP 503 (+1 more) (critical)"
        );
    }

    #[test]
    fn a_folded_recovery_tells_the_whole_episode() {
        let mut n = sample(TransitionKind::Resolved);
        n.folded = true;
        assert_eq!(
            n.subject(),
            "[RESOLVED] mistral-models was down from 10:02 to 10:14 UTC (12m)"
        );
    }

    #[test]
    fn the_diagnosis_comes_from_typed_evidence() {
        assert!(sample(TransitionKind::Firing).diagnosis().is_empty());
        let mut n = sample(TransitionKind::Firing);
        n.evidence = Evidence {
            error_class: Some(ErrorClass::Auth),
            side: Some(Side::Account),
            provider_message: Some("Unauthorized".into()),
            request_id: Some(("x-request-id".into(), "req-401".into())),
            ..Evidence::default()
        };
        assert_eq!(
            n.diagnosis(),
            vec![
                ("Cause", format!("auth: {}", ErrorClass::Auth.remedy())),
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

    #[test]
    fn certificate_and_limit_lines_only_when_a_condition_is_about_them() {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let mut n = sample(TransitionKind::Firing);
        n.evidence.certificate = Some(CertificateEvidence {
            issuer: "CN=Test CA".into(),
            not_after: t,
            days_left: -2,
        });
        n.evidence.ratelimit = Some(RatelimitEvidence {
            limit: Some(100.0),
            remaining: Some(0.0),
            retry_after_s: Some(30.0),
        });
        assert!(n.diagnosis().is_empty(), "an HTTP 503 shows neither");
        n.conditions = vec![
            Failure::new(FailureKind::TlsExpired, "certificate expired 2 days ago"),
            Failure::new(FailureKind::RateLimited, "HTTP 429"),
        ];
        assert_eq!(
            n.diagnosis(),
            vec![
                (
                    "Cert",
                    "valid until 2026-11-21 10:00 UTC (-2 days left), issued by CN=Test CA"
                        .to_string()
                ),
                ("Limit", "0 of 100 left, retry after 30 s".to_string()),
            ]
        );
    }

    #[test]
    fn a_row_queued_before_evidence_existed_still_reads() {
        let json = r#"{"id":"a","kind":"firing","severity":"critical","target":"t","url":"u",
            "conditions":[],"started_at":"2026-11-23T10:02:00Z","resolved_at":null,
            "location":"l","last_result":{"status":503},"test":false}"#;
        let n: Notification = serde_json::from_str(json).unwrap();
        assert_eq!(n.evidence, Evidence::default());
        assert_eq!(n.last_result["status"], 503);
    }
}
