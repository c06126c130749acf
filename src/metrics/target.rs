//! The per-target series, kept compactly and encoded at scrape time.
//!
//! With prometheus-client's `Family`, every series is its own hash-map entry with an owned
//! copy of the target name, and every histogram carries a lock and room for native
//! buckets: about 4.5 KB per target, 225 MB at 50,000 targets (measured). Here a target's
//! series live in one struct of atomics (under 1 KB) and [`TargetSeries`] writes them out
//! as the same families, names and labels.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::DURATION_BUCKETS;
use crate::alert::Severity;
use crate::probe::{Health, ProbeResult};

/// Phases with a histogram on every probe; `ttft` (chat probes only) is kept apart.
const PHASES: [&str; 6] = ["dns", "connect", "tls", "ttfb", "transfer", "total"];
const HEALTHS: [Health; 3] = [Health::Up, Health::Degraded, Health::Down];
/// Marks an optional gauge that has no value yet.
const UNSET: u64 = u64::MAX;

/// Upper bounds with their (non-cumulative) counts, as the encoder takes them.
type Buckets = [(f64, u64); DURATION_BUCKETS.len() + 1];

/// A histogram of [`DURATION_BUCKETS`] plus `+Inf`; the count is the sum of the buckets, so
/// the two always agree in a scrape.
#[derive(Default)]
struct Hist {
    buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    sum: AtomicF64,
}

impl Hist {
    fn observe(&self, v: f64) {
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.add(v);
    }

    /// (sum, count, non-cumulative buckets), or `None` before the first observation.
    fn snapshot(&self) -> Option<(f64, u64, Buckets)> {
        let mut buckets = [(f64::INFINITY, 0); DURATION_BUCKETS.len() + 1];
        for (i, (bound, n)) in buckets.iter_mut().enumerate() {
            *bound = DURATION_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            *n = self.buckets[i].load(Ordering::Relaxed);
        }
        let count: u64 = buckets.iter().map(|b| b.1).sum();
        (count > 0).then(|| (self.sum.get(), count, buckets))
    }
}

/// An f64 in an `AtomicU64`; [`UNSET`] (a NaN pattern no arithmetic here produces) means
/// no value.
struct AtomicF64(AtomicU64);

impl Default for AtomicF64 {
    fn default() -> Self {
        AtomicF64(AtomicU64::new(0f64.to_bits()))
    }
}

impl AtomicF64 {
    fn unset() -> Self {
        AtomicF64(AtomicU64::new(UNSET))
    }
    fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    fn add(&self, v: f64) {
        // Only this target's probes write here, so the loop practically never retries.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some((f64::from_bits(old) + v).to_bits())
            });
    }
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn value(&self) -> Option<f64> {
        let bits = self.0.load(Ordering::Relaxed);
        (bits != UNSET).then(|| f64::from_bits(bits))
    }
}

/// An i64 gauge that may have no value yet.
struct OptI64(AtomicI64);

impl OptI64 {
    fn unset() -> Self {
        OptI64(AtomicI64::new(i64::MIN))
    }
    fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    fn value(&self) -> Option<i64> {
        let v = self.0.load(Ordering::Relaxed);
        (v != i64::MIN).then_some(v)
    }
}

/// Every per-target series of one target.
struct Series {
    success: OptI64,
    health: OptI64,
    status_code: OptI64,
    cert_expiry: OptI64,
    catalog_models: OptI64,
    last_duration: AtomicF64,
    last_probe: AtomicF64,
    ttft: AtomicF64,
    probes: [AtomicU64; HEALTHS.len()],
    alerts_firing: [AtomicI64; Severity::ALL.len()],
    durations: [Hist; PHASES.len()],
    ttft_hist: OnceLock<Box<Hist>>,
}

impl Series {
    fn new() -> Self {
        Series {
            success: OptI64::unset(),
            health: OptI64::unset(),
            status_code: OptI64::unset(),
            cert_expiry: OptI64::unset(),
            catalog_models: OptI64::unset(),
            last_duration: AtomicF64::unset(),
            last_probe: AtomicF64::unset(),
            ttft: AtomicF64::unset(),
            probes: Default::default(),
            alerts_firing: Default::default(),
            durations: Default::default(),
            ttft_hist: OnceLock::new(),
        }
    }

    fn observe(&self, r: &ProbeResult) {
        self.success.set(i64::from(r.ok()));
        self.health.set(i64::from(r.health.level()));
        self.status_code.set(r.status.map_or(0, i64::from));
        self.last_duration.set(r.total.as_secs_f64());
        self.last_probe
            .set(r.checked_at.timestamp_millis() as f64 / 1000.0);
        if let Some(tls) = &r.tls {
            self.cert_expiry.set(tls.not_after.timestamp());
        }
        let phases = [
            r.phases.dns,
            r.phases.connect,
            r.phases.tls,
            r.phases.ttfb,
            r.phases.transfer,
            Some(r.total),
        ];
        for (hist, d) in self.durations.iter().zip(phases) {
            if let Some(d) = d {
                hist.observe(d.as_secs_f64());
            }
        }
        if let Some(ttft) = r.chat.as_ref().and_then(|c| c.ttft) {
            self.ttft.set(ttft.as_secs_f64());
            self.ttft_hist
                .get_or_init(Box::default)
                .observe(ttft.as_secs_f64());
        }
        if let Some(models) = &r.models {
            self.catalog_models.set(models.len() as i64);
        }
        if let Some(i) = HEALTHS.iter().position(|h| *h == r.health) {
            self.probes[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The per-target series of every target, by name (scrapes list them in name order).
#[derive(Default, Clone)]
pub(super) struct TargetSeries(Arc<RwLock<BTreeMap<Arc<str>, Arc<Series>>>>);

impl std::fmt::Debug for TargetSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TargetSeries")
    }
}

impl TargetSeries {
    fn get(&self, target: &str) -> Arc<Series> {
        if let Some(s) = self.0.read().unwrap_or_else(|p| p.into_inner()).get(target) {
            return s.clone();
        }
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(Arc::from(target))
            .or_insert_with(|| Arc::new(Series::new()))
            .clone()
    }

    /// Creates `target`'s series (counters and alert gauges at zero).
    pub(super) fn register(&self, target: &str) {
        self.get(target);
    }

    pub(super) fn observe(&self, r: &ProbeResult) {
        self.get(&r.target).observe(r);
    }

    pub(super) fn alert_firing(&self, target: &str, severity: Severity, firing: bool) {
        if let Some(i) = Severity::ALL.iter().position(|s| *s == severity) {
            self.get(target).alerts_firing[i].store(i64::from(firing), Ordering::Relaxed);
        }
    }
}

/// A sample of one family: a gauge, a counter or a histogram.
// One sample at a time lives on the stack while it is written, so size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sample {
    Gauge(i64),
    FGauge(f64),
    Counter(u64),
    Hist(f64, u64, Buckets),
}

/// How a family reads a target's series.
enum Read {
    /// One sample, once the target has a value.
    One(fn(&Series) -> Option<Sample>),
    /// One sample per value of an extra label (its name first).
    Each(
        &'static str,
        fn(&Series, &mut dyn FnMut(&'static str, Sample)),
    ),
}

/// One exported family: name, help (ending in a period, as `Registry::register` writes
/// it), type, and how to read it.
struct FamilyDef {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    read: Read,
}

impl FamilyDef {
    /// Calls `out` with each sample of `s`, and the extra label (name, value) if any.
    fn samples(&self, s: &Series, out: &mut dyn FnMut(Option<ExtraLabel>, Sample)) {
        match self.read {
            Read::One(read) => {
                if let Some(sample) = read(s) {
                    out(None, sample);
                }
            }
            Read::Each(label, read) => read(s, &mut |value, sample| {
                out(Some((label, value)), sample);
            }),
        }
    }
}

/// A label besides `target`: name and value.
type ExtraLabel = (&'static str, &'static str);

const FAMILIES: &[FamilyDef] = &[
    FamilyDef {
        name: "upwatch_probe_success",
        help: "Whether the last probe passed every condition (1) or not (0).",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.success.value().map(Sample::Gauge)),
    },
    FamilyDef {
        name: "upwatch_probe_health",
        help: "Health of the last probe: 0 down, 1 degraded, 2 up.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.health.value().map(Sample::Gauge)),
    },
    FamilyDef {
        name: "upwatch_probe_duration_seconds",
        help: "Probe time by phase (dns, connect, tls, ttfb, transfer), in total, and time to first token (ttft) for chat probes.",
        kind: MetricType::Histogram,
        read: Read::Each("phase", |s, out| {
            let ttft = s.ttft_hist.get().map(|h| ("ttft", &**h));
            for (phase, h) in PHASES.iter().copied().zip(&s.durations).chain(ttft) {
                if let Some((sum, count, buckets)) = h.snapshot() {
                    out(phase, Sample::Hist(sum, count, buckets));
                }
            }
        }),
    },
    FamilyDef {
        name: "upwatch_probe_last_duration_seconds",
        help: "Total time of the last probe.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.last_duration.value().map(Sample::FGauge)),
    },
    FamilyDef {
        name: "upwatch_probe_http_status_code",
        help: "HTTP status of the last probe (0 when no response arrived).",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.status_code.value().map(Sample::Gauge)),
    },
    FamilyDef {
        name: "upwatch_probe_tls_cert_expiry_timestamp_seconds",
        help: "notAfter of the leaf certificate seen by the last HTTPS probe, unix seconds.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.cert_expiry.value().map(Sample::Gauge)),
    },
    FamilyDef {
        name: "upwatch_probe_timestamp_seconds",
        help: "When the last probe started, unix seconds.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.last_probe.value().map(Sample::FGauge)),
    },
    FamilyDef {
        name: "upwatch_probes",
        help: "Probes completed, by health.",
        kind: MetricType::Counter,
        read: Read::Each("health", |s, out| {
            for (h, n) in HEALTHS.iter().zip(&s.probes) {
                out(h.as_str(), Sample::Counter(n.load(Ordering::Relaxed)));
            }
        }),
    },
    FamilyDef {
        name: "upwatch_alerts_firing",
        help: "Whether an alert of this severity is firing (1) or not (0).",
        kind: MetricType::Gauge,
        read: Read::Each("severity", |s, out| {
            for (sev, v) in Severity::ALL.iter().zip(&s.alerts_firing) {
                out(sev.as_str(), Sample::Gauge(v.load(Ordering::Relaxed)));
            }
        }),
    },
    FamilyDef {
        name: "upwatch_probe_ttft_seconds",
        help: "Time to first token of the last chat probe that streamed content.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.ttft.value().map(Sample::FGauge)),
    },
    FamilyDef {
        name: "upwatch_catalog_models",
        help: "Models the last catalog probe listed.",
        kind: MetricType::Gauge,
        read: Read::One(|s| s.catalog_models.value().map(Sample::Gauge)),
    },
];

fn encode_sample(
    metric: &mut prometheus_client::encoding::MetricEncoder<'_>,
    target: &str,
    extra: Option<ExtraLabel>,
    sample: Sample,
) -> Result<(), std::fmt::Error> {
    let one = [("target", target)];
    let two;
    let labels: &[(&str, &str)] = match extra {
        Some(extra) => {
            two = [("target", target), extra];
            &two
        }
        None => &one,
    };
    let mut m = metric.encode_family(&labels)?;
    match sample {
        Sample::Gauge(v) => m.encode_gauge(&v),
        Sample::FGauge(v) => m.encode_gauge(&v),
        Sample::Counter(v) => m.encode_counter::<NoLabelSet, _, u64>(&v, None),
        Sample::Hist(sum, count, buckets) => {
            m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
        }
    }
}

impl Collector for TargetSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Copied out so a scrape never holds the lock while it formats.
        let all: Vec<(Arc<str>, Arc<Series>)> = self
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for family in FAMILIES {
            // Like a Family with no series, a family with no sample is left out.
            let mut any = false;
            for (_, series) in &all {
                family.samples(series, &mut |_, _| any = true);
                if any {
                    break;
                }
            }
            if !any {
                continue;
            }
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, family.kind)?;
            let mut result = Ok(());
            for (target, series) in &all {
                family.samples(series, &mut |extra, sample| {
                    if result.is_ok() {
                        result = encode_sample(&mut metric, target, extra, sample);
                    }
                });
            }
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;
    use std::time::Duration;

    type Labels = Vec<(String, String)>;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sorted_lines(registry: &Registry) -> Vec<String> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    fn result(target: &str, d: Duration) -> ProbeResult {
        ProbeResult {
            phases: crate::probe::Phases {
                connect: Some(d),
                ..Default::default()
            },
            total: d,
            ..ProbeResult::started(
                Arc::from(target),
                Arc::from("http://127.0.0.1/"),
                chrono::Utc::now(),
            )
        }
    }

    /// The compact series must read exactly like prometheus-client's own families did.
    #[test]
    fn the_exposition_matches_prometheus_clients_families() {
        let series = TargetSeries::default();
        let mut ours = Registry::default();
        ours.register_collector(Box::new(series.clone()));

        let mut theirs = Registry::default();
        let hist: Family<Labels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        let probes = Family::<Labels, Counter>::default();
        let firing = Family::<Labels, Gauge>::default();
        let status = Family::<Labels, Gauge>::default();
        let last = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        // register() adds the period ours carries.
        let def = |i: usize| (FAMILIES[i].name, FAMILIES[i].help.trim_end_matches('.'));
        theirs.register(def(2).0, def(2).1, hist.clone());
        theirs.register(def(7).0, def(7).1, probes.clone());
        theirs.register(def(8).0, def(8).1, firing.clone());
        theirs.register(def(4).0, def(4).1, status.clone());
        theirs.register(def(3).0, def(3).1, last.clone());

        for (target, ms) in [
            ("b", [0.4, 3.0, 70.0, 70.0]),
            ("a", [1.0, 1.0, 40_000.0, 2.5]),
        ] {
            series.register(target);
            for h in HEALTHS {
                let _ =
                    probes.get_or_create(&labels(&[("target", target), ("health", h.as_str())]));
            }
            for sev in Severity::ALL {
                let _ = firing
                    .get_or_create(&labels(&[("target", target), ("severity", sev.as_str())]));
            }
            for v in ms {
                let d = Duration::from_secs_f64(v / 1000.0);
                let mut r = result(target, d);
                r.status = Some(200);
                series.observe(&r);
                for phase in ["connect", "total"] {
                    hist.get_or_create(&labels(&[("target", target), ("phase", phase)]))
                        .observe(d.as_secs_f64());
                }
                probes
                    .get_or_create(&labels(&[
                        ("target", target),
                        ("health", r.health.as_str()),
                    ]))
                    .inc();
                status
                    .get_or_create(&labels(&[("target", target)]))
                    .set(200);
                last.get_or_create(&labels(&[("target", target)]))
                    .set(d.as_secs_f64());
            }
        }
        series.alert_firing("a", Severity::Critical, true);
        firing
            .get_or_create(&labels(&[("target", "a"), ("severity", "critical")]))
            .set(1);

        // Only the families both sides have (success, health, timestamps differ in setup).
        let keep = |l: &String| {
            [
                FAMILIES[2].name,
                FAMILIES[7].name,
                FAMILIES[8].name,
                FAMILIES[4].name,
                FAMILIES[3].name,
            ]
            .iter()
            .any(|n| l.contains(n))
        };
        let ours: Vec<String> = sorted_lines(&ours).into_iter().filter(keep).collect();
        let theirs: Vec<String> = sorted_lines(&theirs).into_iter().filter(keep).collect();
        assert!(ours.iter().any(|l| l.contains("le=\"+Inf\"")), "{ours:#?}");
        assert_eq!(ours, theirs);
    }
}
