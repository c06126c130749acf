//! Prometheus Alertmanager (`POST /api/v2/alerts`), so a fleet of upwatch instances is
//! deduplicated, grouped, silenced and routed by the Alertmanager a team already runs.
//!
//! Alertmanager treats an alert as firing until its `endsAt`, and expects the sender to
//! post it again while it still fires (Prometheus does so every minute). So a firing
//! alert is posted through the outbox like any notification and then kept in `active`,
//! from which [`AlertmanagerNotifier::resend`] posts it again every `resend_interval` with
//! `endsAt` four intervals ahead; a resolved one is posted with its real `endsAt` and
//! dropped. If upwatch dies, its alerts end on their own a few intervals later.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{deliver, Notification, SendError};
use crate::alert::TransitionKind;
use crate::config::{AlertmanagerChannel, ChannelConfig, ChannelKind};
use crate::fmt::rfc3339;
use crate::probe::FailureKind;

/// How many resend intervals ahead a firing alert's `endsAt` is set.
const HOLD_INTERVALS: u32 = 4;

/// Sends notifications to one Alertmanager.
pub struct AlertmanagerNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
    /// This instance's page, for `generatorURL`.
    pub(crate) page_url: Option<String>,
    /// Firing alerts to post again, by identity (see [`identity`]).
    active: Mutex<BTreeMap<String, Value>>,
}

/// The Alertmanager `alertname` for a notification.
pub fn alertname(n: &Notification) -> &'static str {
    if n.incident.is_some() {
        "UpwatchVendorIncident"
    } else if n.conditions.iter().any(|c| c.kind == FailureKind::Host) {
        "UpwatchHost"
    } else if n.kind == TransitionKind::Notice {
        "UpwatchNotice"
    } else if !n.conditions.is_empty()
        && n.conditions.iter().all(|c| {
            matches!(
                c.kind,
                FailureKind::VendorOutage | FailureKind::VendorDegraded
            )
        })
    {
        "UpwatchVendorStatus"
    } else {
        "UpwatchTargetFailing"
    }
}

/// Which alert a notification is about: firing, reminders and the resolution of one
/// episode (or one vendor incident) share it.
fn identity(n: &Notification) -> String {
    match &n.incident {
        Some(id) => format!("{}\u{0}incident\u{0}{id}", n.target),
        None => format!("{}\u{0}{}", n.target, n.severity.as_str()),
    }
}

/// One alert in Alertmanager's `postableAlert` form, with `endsAt` left to the caller.
pub fn alert(n: &Notification, page_url: Option<&str>) -> Value {
    let mut labels = Map::new();
    labels.insert("alertname".into(), alertname(n).into());
    labels.insert("target".into(), n.target.as_str().into());
    labels.insert("severity".into(), n.severity.as_str().into());
    labels.insert("location".into(), n.location.as_str().into());
    if let Some(id) = &n.incident {
        labels.insert("incident".into(), id.as_str().into());
    }
    if n.test {
        labels.insert("test".into(), "true".into());
    }
    let mut description = vec![n.summary()];
    description.extend(n.diagnosis().into_iter().map(|(k, v)| format!("{k}: {v}")));
    if let Some(v) = &n.vendor {
        description.push(format!("Vendor: {v}"));
    }
    let mut annotations = Map::new();
    annotations.insert("summary".into(), n.subject().into());
    annotations.insert("description".into(), description.join("\n").into());
    annotations.insert("url".into(), n.url.as_str().into());
    let mut v = json!({
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(&n.started_at),
    });
    if let (Some(page), Some(map)) = (page_url, v.as_object_mut()) {
        map.insert("generatorURL".into(), page.into());
    }
    v
}

fn with_ends_at(mut alert: Value, ends: DateTime<Utc>) -> Value {
    if let Some(map) = alert.as_object_mut() {
        map.insert("endsAt".into(), rfc3339(&ends).into());
    }
    alert
}

impl AlertmanagerNotifier {
    pub(crate) fn new(
        config: Arc<ChannelConfig>,
        http: reqwest::Client,
        page_url: Option<String>,
    ) -> Self {
        AlertmanagerNotifier {
            config,
            http,
            page_url,
            active: Mutex::new(BTreeMap::new()),
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn settings(&self) -> Result<&AlertmanagerChannel, SendError> {
        match &self.config.kind {
            ChannelKind::Alertmanager(c) => Ok(c),
            _ => Err(SendError::permanent("not an alertmanager channel")),
        }
    }

    /// How often firing alerts are posted again.
    pub fn resend_interval(&self) -> Duration {
        self.settings()
            .map_or(Duration::from_secs(60), |c| c.resend_interval)
    }

    fn hold(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.resend_interval() * HOLD_INTERVALS)
            .unwrap_or(chrono::Duration::minutes(4))
    }

    /// Remembers alerts that were firing before a restart (rebuilt from the stored alert
    /// state), so they are kept alive without waiting for the next transition.
    pub fn resume(&self, firing: &[Notification]) {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        for n in firing {
            active.insert(identity(n), alert(n, self.page_url.as_deref()));
        }
    }

    /// How many alerts are kept alive.
    pub fn active_count(&self) -> usize {
        self.active.lock().map_or(0, |a| a.len())
    }

    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let body = {
            let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
            let key = identity(n);
            match n.kind {
                TransitionKind::Resolved => {
                    // Alertmanager matches by labels: resolve exactly what was posted.
                    let posted = active
                        .remove(&key)
                        .unwrap_or_else(|| alert(n, self.page_url.as_deref()));
                    with_ends_at(posted, n.resolved_at.unwrap_or(now))
                }
                // A one-off: shown once, then it ends by itself.
                TransitionKind::Notice => {
                    with_ends_at(alert(n, self.page_url.as_deref()), now + self.hold())
                }
                TransitionKind::Firing | TransitionKind::Reminder => {
                    let a = alert(n, self.page_url.as_deref());
                    // A test alert is posted once, never kept alive.
                    if !n.test {
                        active.insert(key, a.clone());
                    }
                    with_ends_at(a, now + self.hold())
                }
            }
        };
        self.post(vec![body], now).await
    }

    /// Posts every firing alert again with `endsAt` pushed ahead; called every
    /// `resend_interval` while the daemon runs.
    pub async fn resend(&self, now: DateTime<Utc>) -> Result<usize, SendError> {
        let ends = now + self.hold();
        let batch: Vec<Value> = {
            let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
            active
                .values()
                .map(|a| with_ends_at(a.clone(), ends))
                .collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        self.post(batch, now).await.map(|()| n)
    }

    async fn post(&self, alerts: Vec<Value>, now: DateTime<Utc>) -> Result<(), SendError> {
        let cfg = self.settings()?;
        let body = serde_json::to_vec(&alerts).map_err(|e| SendError::permanent(e.to_string()))?;
        let req = self
            .http
            .post(cfg.url.expose())
            .headers(cfg.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .timeout(self.config.timeout)
            .body(body);
        deliver(req, now).await.map_err(|mut e| {
            e.message = format!("{}: {}", cfg.display_url, e.message);
            e
        })
    }
}

/// Keeps `notifier`'s firing alerts alive until `cancel`: one post of all of them every
/// resend interval. A failed post is logged once per failure streak; the next interval
/// tries again (the alerts stay active meanwhile).
pub async fn keep_alive(
    notifier: Arc<super::Notifier>,
    clock: crate::clock::WallClock,
    cancel: tokio_util::sync::CancellationToken,
) {
    let super::Notifier::Alertmanager(am) = &*notifier else {
        return;
    };
    let mut tick = tokio::time::interval(am.resend_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: alerts resumed from the store are posted at once.
    let mut failing = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match am.resend(clock()).await {
            Ok(n) => {
                if failing {
                    tracing::info!(channel = %am.config.name, alerts = n, "alertmanager reachable again");
                }
                failing = false;
                if n > 0 {
                    tracing::debug!(channel = %am.config.name, alerts = n, "firing alerts posted again");
                }
            }
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(channel = %am.config.name, error = %e, "cannot post firing alerts to alertmanager; trying again every {}", crate::fmt::human_duration(am.resend_interval()));
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::probe::Failure;
    use chrono::TimeZone;

    fn firing() -> Notification {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let mut n = Notification::new(
            TransitionKind::Firing,
            Severity::Critical,
            "mistral-models",
            "https://api.mistral.ai/v1/models",
            vec![Failure::http_status(503, "200")],
            t0,
            "paris",
        );
        n.id = "abc".into();
        n.evidence.error_class = Some(crate::probe::provider::ErrorClass::Upstream);
        n.vendor = Some("status.mistral.ai reports a partial outage".into());
        n
    }

    #[test]
    fn the_alert_carries_labels_annotations_and_times() {
        let a = alert(&firing(), Some("https://upwatch.example/"));
        assert_eq!(
            a,
            json!({
                "labels": {
                    "alertname": "UpwatchTargetFailing",
                    "target": "mistral-models",
                    "severity": "critical",
                    "location": "paris",
                },
                "annotations": {
                    "summary": "[FIRING] mistral-models: HTTP 503 (critical)",
                    "description": format!("HTTP 503, expected 200\nCause: upstream: {}\nVendor: status.mistral.ai reports a partial outage", crate::probe::provider::ErrorClass::Upstream.remedy()),
                    "url": "https://api.mistral.ai/v1/models",
                },
                "startsAt": "2026-11-23T10:02:00.000Z",
                "generatorURL": "https://upwatch.example/",
            })
        );
    }

    #[test]
    fn names_tell_targets_pages_and_incidents_apart() {
        let mut n = firing();
        assert_eq!(alertname(&n), "UpwatchTargetFailing");
        n.conditions = vec![Failure::new(FailureKind::VendorOutage, "major outage")];
        assert_eq!(alertname(&n), "UpwatchVendorStatus");
        n.incident = Some("inc-1".into());
        assert_eq!(alertname(&n), "UpwatchVendorIncident");
        assert_ne!(identity(&n), identity(&firing()));
        let mut reminder = firing();
        reminder.kind = TransitionKind::Reminder;
        assert_eq!(identity(&reminder), identity(&firing()));
    }
}
