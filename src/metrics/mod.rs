//! What upwatch exports to Prometheus: one registry, fed by the pipeline (probe results and
//! alert states), the outbox (deliveries) and the result writer (flushes); encoded by the
//! server's `/metrics` in the OpenMetrics text format.
//!
//! Names follow blackbox_exporter's where they overlap. Labels are low-cardinality on
//! purpose: target and channel names, phases, health, severities and failure kinds, all
//! bounded by the config; never a URL, status text or error text. Every series carries
//! `location` (a registry-wide label).

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::alert::Severity;
use target::TargetSeries;

pub mod format;
mod target;
use crate::probe::ProbeResult;

/// Histogram buckets for probe phases, seconds: 1 ms to 30 s.
pub const DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindL {
    target: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitL {
    target: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelL {
    channel: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PageL {
    page: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonL {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionL {
    version: &'static str,
}

type FGauge = Gauge<f64, AtomicU64>;

struct Inner {
    registry: Registry,
    targets: TargetSeries,
    failures: Family<KindL, Counter>,
    notifications: Family<ChannelL, Counter>,
    outbox_pending: Gauge,
    alerts_unsaved: Gauge,
    http_shed: Family<ReasonL, Counter>,
    runtime_tasks: Gauge,
    store_flush: Histogram,
    store_rows: Counter,
    page_overall: Family<PageL, Gauge>,
    page_incidents: Family<PageL, Gauge>,
    page_last: Family<PageL, FGauge>,
    ratelimit_remaining: Family<LimitL, FGauge>,
    ratelimit_limit: Family<LimitL, FGauge>,
    ratelimit_reset: Family<LimitL, FGauge>,
}

/// Outcome of one delivery attempt, as counted in `upwatch_notifications_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The channel accepted it.
    Delivered,
    /// It failed and will be retried.
    Retry,
    /// Given up (rejected for good or too old).
    Dead,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Retry => "retry",
            Delivery::Dead => "dead",
        }
    }
}

/// The metrics registry; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry whose every series carries `location`.
    pub fn new(location: &str) -> Self {
        let mut registry = Registry::with_labels(
            [(Cow::Borrowed("location"), Cow::Owned(location.to_string()))].into_iter(),
        );
        let failures = Family::<KindL, Counter>::default();
        registry.register(
            "upwatch_probe_failures",
            "Failed conditions, by kind",
            failures.clone(),
        );
        let notifications = Family::<ChannelL, Counter>::default();
        registry.register(
            "upwatch_notifications",
            "Notification delivery attempts, by outcome (delivered, retry, dead)",
            notifications.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "upwatch_outbox_pending",
            "Notifications queued and not yet delivered",
            outbox_pending.clone(),
        );
        let alerts_unsaved = Gauge::default();
        registry.register(
            "upwatch_alert_changes_unsaved",
            "Alert state changes and notifications the store could not record (a full disk): kept in memory, notifications delivered from it, written when the store takes them again",
            alerts_unsaved.clone(),
        );
        let http_shed = Family::<ReasonL, Counter>::default();
        for reason in ["evicted", "refused"] {
            let _ = http_shed.get_or_create(&ReasonL { reason });
        }
        registry.register(
            "upwatch_http_connections_shed",
            "Connections the HTTP server closed at its connection cap: evicted (an idle or slow one, to make room) or refused (every held one was busy)",
            http_shed.clone(),
        );
        let runtime_tasks = Gauge::default();
        registry.register(
            "upwatch_runtime_tasks",
            "Tasks alive in the async runtime (about one per target and status page, plus one per open HTTP connection and a few more): flat in a healthy daemon",
            runtime_tasks.clone(),
        );
        let build_info = Family::<VersionL, Gauge>::default();
        build_info
            .get_or_create(&VersionL {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "upwatch_build_info",
            "Always 1; the version is a label",
            build_info,
        );
        let store_flush = Histogram::new(DURATION_BUCKETS);
        registry.register(
            "upwatch_store_flush_seconds",
            "Time to write one batch of results to the store",
            store_flush.clone(),
        );
        let store_rows = Counter::default();
        registry.register(
            "upwatch_store_results_written",
            "Probe results written to the store",
            store_rows.clone(),
        );
        let page_overall = Family::<PageL, Gauge>::default();
        registry.register(
            "upwatch_statuspage_overall",
            "What a vendor status page admits to: 0 operational, 1 maintenance, 2 degraded, 3 partial outage, 4 major outage, -1 unknown (unreadable)",
            page_overall.clone(),
        );
        let page_incidents = Family::<PageL, Gauge>::default();
        registry.register(
            "upwatch_statuspage_incidents_open",
            "Open incidents on a vendor status page",
            page_incidents.clone(),
        );
        let page_last = Family::<PageL, FGauge>::default();
        registry.register(
            "upwatch_statuspage_timestamp_seconds",
            "Unix time of the last poll of a vendor status page",
            page_last.clone(),
        );
        let ratelimit_remaining = Family::<LimitL, FGauge>::default();
        registry.register(
            "upwatch_ratelimit_remaining",
            "What the provider says is left of a rate-limit window (kind: requests, tokens, default, ...), as of the last response that carried it",
            ratelimit_remaining.clone(),
        );
        let ratelimit_limit = Family::<LimitL, FGauge>::default();
        registry.register(
            "upwatch_ratelimit_limit",
            "The allowance of a rate-limit window, as of the last response that carried it",
            ratelimit_limit.clone(),
        );
        let ratelimit_reset = Family::<LimitL, FGauge>::default();
        registry.register(
            "upwatch_ratelimit_reset_timestamp_seconds",
            "When a rate-limit window refills, unix seconds",
            ratelimit_reset.clone(),
        );
        let targets = TargetSeries::default();
        registry.register_collector(Box::new(targets.clone()));
        Metrics(Arc::new(Inner {
            targets,
            ratelimit_remaining,
            ratelimit_limit,
            ratelimit_reset,
            page_overall,
            page_incidents,
            page_last,
            registry,
            failures,
            notifications,
            outbox_pending,
            alerts_unsaved,
            http_shed,
            runtime_tasks,
            store_flush,
            store_rows,
        }))
    }

    /// Counts a connection the HTTP server closed at its cap.
    pub fn http_shed(&self, shed: crate::server::conns::Shed) {
        let reason = match shed {
            crate::server::conns::Shed::Evicted => "evicted",
            crate::server::conns::Shed::Refused => "refused",
        };
        self.0.http_shed.get_or_create(&ReasonL { reason }).inc();
    }

    /// Records one status page reading.
    pub fn observe_page(&self, r: &crate::statuspage::Reading) {
        let l = PageL {
            page: r.page.to_string(),
        };
        self.0.page_overall.get_or_create(&l).set(r.overall.gauge());
        self.0
            .page_incidents
            .get_or_create(&l)
            .set(r.incidents().len() as i64);
        self.0
            .page_last
            .get_or_create(&l)
            .set(r.checked_at.timestamp_millis() as f64 / 1000.0);
    }

    /// Creates the per-target counters and alert gauges at zero, so `rate()` and alert
    /// rules see every target from the first scrape.
    pub fn register_target(&self, target: &str) {
        self.0.targets.register(target);
    }

    /// Records one probe result.
    pub fn observe(&self, r: &ProbeResult) {
        let m = &self.0;
        m.targets.observe(r);
        for l in r.response.iter().flat_map(|resp| &resp.ratelimit.limits) {
            let label = LimitL {
                target: r.target.to_string(),
                kind: l.kind.clone(),
            };
            if let Some(v) = l.remaining {
                m.ratelimit_remaining.get_or_create(&label).set(v);
            }
            if let Some(v) = l.limit {
                m.ratelimit_limit.get_or_create(&label).set(v);
            }
            if let Some(at) = l.reset_at {
                m.ratelimit_reset
                    .get_or_create(&label)
                    .set(at.timestamp_millis() as f64 / 1000.0);
            }
        }
        for f in &r.failures {
            m.failures
                .get_or_create(&KindL {
                    target: r.target.to_string(),
                    kind: f.kind.as_str(),
                })
                .inc();
        }
    }

    /// Sets whether `target`'s alert of `severity` is firing.
    pub fn alert_firing(&self, target: &str, severity: Severity, firing: bool) {
        self.0.targets.alert_firing(target, severity, firing);
    }

    /// Counts one delivery attempt on `channel`.
    pub fn notification(&self, channel: &str, outcome: Delivery) {
        self.0
            .notifications
            .get_or_create(&ChannelL {
                channel: channel.to_string(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Records one flush of `rows` results that took `took`.
    pub fn store_flush(&self, took: Duration, rows: usize) {
        self.0.store_flush.observe(took.as_secs_f64());
        self.0.store_rows.inc_by(rows as u64);
    }

    /// Sets how many alert changes and notifications wait in memory for the store.
    pub fn set_alerts_unsaved(&self, n: usize) {
        self.0
            .alerts_unsaved
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Sets the outbox backlog (read from the store at scrape time).
    pub fn set_outbox_pending(&self, pending: u64) {
        self.0
            .outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Sets the runtime's live task count (read at scrape time).
    pub fn set_runtime_tasks(&self, tasks: usize) {
        self.0
            .runtime_tasks
            .set(i64::try_from(tasks).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }

    /// The exposition in `format`.
    pub fn encode_as(&self, format: format::Format) -> String {
        match format {
            format::Format::OpenMetrics => self.encode(),
            format::Format::Text => format::to_text(&self.encode()),
        }
    }
}
