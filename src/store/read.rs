//! Reading the history: what `upwatch status`, the JSON API and the page show. A [`Reader`]
//! has its own read-only connection, so it works beside a running daemon (WAL readers never
//! block the writer) and without one.
//!
//! Definitions (documented in the README):
//! - uptime = probes that were not `down` / all probes, over whole UTC hours (the window
//!   "24h" is the current hour and the 23 before it); degraded probes count as up and are
//!   also reported on their own;
//! - latency percentiles use nearest rank over probes that were not `down` (a refused
//!   connection's 1 ms or a timeout's 10 s says nothing about speed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::maintain::{hour_of, raw_samples, watermark};
use super::{from_ms, ms, Db, StoreError, SCHEMA_VERSION};
use crate::alert::{AlertPhase, AlertState};
use crate::probe::{Failure, Health};

/// The stored health of a result on this host's side: down, but not the target's fault
/// (0, 1 and 2 are [`Health::level`]).
pub const HOST_SIDE: i64 = 3;

/// The health a stored level stands for (a host-side failure is down).
pub fn health_of_level(level: i64) -> Option<Health> {
    match level {
        HOST_SIDE => Some(Health::Down),
        l => Health::from_level(l),
    }
}

/// Statistics of one target over one UTC hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourStats {
    /// Start of the hour, unix seconds.
    pub hour: i64,
    /// Probes.
    pub count: u64,
    /// Probes that were down.
    pub down: u64,
    /// Probes that were degraded.
    pub degraded: u64,
    /// Probes that failed on this host's side (its network or resources): not counted as
    /// down.
    pub host: u64,
    /// Latency of probes that were not down, milliseconds (None when there were none).
    pub min_ms: Option<f64>,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Slowest.
    pub max_ms: Option<f64>,
}

impl HourStats {
    /// Statistics of `samples` (stored health level, total latency ms).
    pub fn from_samples(hour: i64, samples: impl Iterator<Item = (i64, f64)>) -> Self {
        let mut s = HourStats::empty(hour);
        let mut lat = Vec::new();
        for (level, ms) in samples {
            if level == HOST_SIDE {
                s.count += 1;
                s.host += 1;
                continue;
            }
            let Some(h) = Health::from_level(level) else {
                continue;
            };
            s.count += 1;
            match h {
                Health::Down => s.down += 1,
                Health::Degraded => {
                    s.degraded += 1;
                    lat.push(ms);
                }
                Health::Up => lat.push(ms),
            }
        }
        lat.sort_by(f64::total_cmp);
        s.min_ms = lat.first().copied();
        s.max_ms = lat.last().copied();
        s.p50_ms = percentile(&lat, 50.0);
        s.p95_ms = percentile(&lat, 95.0);
        s.p99_ms = percentile(&lat, 99.0);
        s
    }

    fn empty(hour: i64) -> Self {
        HourStats {
            hour,
            count: 0,
            down: 0,
            degraded: 0,
            host: 0,
            min_ms: None,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            max_ms: None,
        }
    }

    /// Fraction of probes not down, as a percentage, over the probes that could judge the
    /// target: those that failed on this host's side count neither way.
    pub fn uptime_percent(&self) -> Option<f64> {
        uptime(self.count, self.down, self.host)
    }
}

/// Percent of `probes - host` that were not down; `None` when none could judge.
fn uptime(probes: u64, down: u64, host: u64) -> Option<f64> {
    let judged = probes.saturating_sub(host);
    (judged > 0).then(|| 100.0 * judged.saturating_sub(down) as f64 / judged as f64)
}

/// Nearest-rank percentile of sorted `v`.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// Uptime over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// "24h", "7d", "30d" or "90d".
    pub window: &'static str,
    /// Probes in the window.
    pub probes: u64,
    /// Of which down.
    pub down: u64,
    /// Of which degraded.
    pub degraded: u64,
    /// Probes not down, percent of those not failed on this host's side (None without
    /// such probes).
    pub uptime_percent: Option<f64>,
    /// Probes degraded, percent.
    pub degraded_percent: Option<f64>,
    /// Of the probes, those that failed on this host's side (not counted as down).
    pub host: u64,
    /// Probes that failed on this host's side, percent.
    pub host_percent: Option<f64>,
}

impl Window {
    /// Totals over `hours` (hourly or daily buckets).
    pub fn over(window: &'static str, hours: &[HourStats]) -> Self {
        let probes: u64 = hours.iter().map(|h| h.count).sum();
        let down: u64 = hours.iter().map(|h| h.down).sum();
        let degraded: u64 = hours.iter().map(|h| h.degraded).sum();
        let host: u64 = hours.iter().map(|h| h.host).sum();
        let pct = |n: u64| (probes > 0).then(|| 100.0 * n as f64 / probes as f64);
        Window {
            window,
            probes,
            down,
            degraded,
            uptime_percent: uptime(probes, down, host),
            degraded_percent: pct(degraded),
            host,
            host_percent: pct(host),
        }
    }
}

/// Latency percentiles over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Probes counted (not down).
    pub samples: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// A firing alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenAlert {
    /// Target name.
    pub target: String,
    /// Severity.
    pub severity: String,
    /// First failing probe of the episode.
    pub started_at: Option<DateTime<Utc>>,
    /// Consecutive failing probes.
    pub fail_streak: u32,
    /// The latest failing conditions.
    pub conditions: Vec<Failure>,
}

/// One incident: an alert from firing to resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    /// Target name.
    pub target: String,
    /// Severity.
    pub severity: String,
    /// First failing probe.
    pub started_at: DateTime<Utc>,
    /// Recovery (None while open).
    pub ended_at: Option<DateTime<Utc>>,
    /// Length so far, seconds.
    pub duration_s: i64,
    /// The conditions when it fired.
    pub cause: String,
}

/// Firing alerts and recent incidents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertsReport {
    /// Alerts firing now.
    pub open: Vec<OpenAlert>,
    /// Incidents that started within the window asked for, newest first.
    pub recent: Vec<IncidentRow>,
}

/// Everything `status` shows about one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetReport {
    /// Target name.
    pub target: String,
    /// Health of the last result (None before the first).
    pub health: Option<Health>,
    /// Since when the health has been what it is (first result of the current run).
    pub since: Option<DateTime<Utc>>,
    /// The last result, as `check` prints it.
    pub last_result: Option<Value>,
    /// Uptime over 24 h, 7 d and 30 d.
    pub uptime: Vec<Window>,
    /// Latency over the last 24 h.
    pub latency_24h: Option<Latency>,
    /// Alerts firing now.
    pub open_alerts: Vec<OpenAlert>,
    /// The most recent incident.
    pub last_incident: Option<IncidentRow>,
}

/// A target's report with the series behind its bars and chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// The report.
    pub report: TargetReport,
    /// The last 24 hours, oldest first.
    pub hourly: Vec<HourStats>,
    /// The last 90 UTC days, oldest first.
    pub daily: Vec<HourStats>,
    /// Uptime over those 90 days.
    pub window_90d: Window,
}

/// Days of history the page's long bar and the uptime API show.
pub const OVERVIEW_DAYS: u32 = 90;

/// A read-only view of the store.
#[derive(Clone)]
pub struct Reader {
    pub(super) db: Db,
    path: PathBuf,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("path", &self.path).finish()
    }
}

impl Reader {
    /// Opens `upwatch.db` in `state_dir` read-only.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        Self::open_file(&state_dir.join("upwatch.db"))
    }

    /// Opens a database file read-only. A missing file or an older schema is an error that
    /// says to run the daemon first (a reader never migrates).
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            return Err(StoreError::TooOld {
                path: path.to_path_buf(),
                found: version,
            });
        }
        Ok(Reader {
            db: Db::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The report of each of `targets`, in order.
    pub async fn targets(
        &self,
        targets: Vec<Arc<str>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TargetReport>, StoreError> {
        self.db
            .with(move |c| {
                let states = alert_states(c)?;
                targets
                    .iter()
                    .map(|t| {
                        let series = hourly_series(c, t, 30 * 24, now)?;
                        target_report(c, t, now, &states, &series)
                    })
                    .collect()
            })
            .await
    }

    /// The report of one target.
    pub async fn target(
        &self,
        target: &str,
        now: DateTime<Utc>,
    ) -> Result<TargetReport, StoreError> {
        let mut reports = self.targets(vec![Arc::from(target)], now).await?;
        Ok(reports.remove(0))
    }

    /// The report of one target with the series behind its bars and chart: the last 24
    /// hours and the last 90 UTC days, all read as one hourly series.
    pub async fn overview(&self, target: &str, now: DateTime<Utc>) -> Result<Overview, StoreError> {
        let target = target.to_string();
        self.db
            .with(move |c| {
                let states = alert_states(c)?;
                let first_day = first_day(OVERVIEW_DAYS, now);
                let series = hourly_series(c, &target, hours_since(first_day, now), now)?;
                let report = target_report(c, &target, now, &states, &series)?;
                let daily = by_day(&series, first_day, OVERVIEW_DAYS);
                Ok(Overview {
                    report,
                    hourly: series[series.len().saturating_sub(24)..].to_vec(),
                    window_90d: Window::over("90d", &daily),
                    daily,
                })
            })
            .await
    }

    /// Per-hour statistics of `target` for the `hours` hours ending with the current one
    /// (oldest first; hours without probes have count 0).
    pub async fn hourly(
        &self,
        target: &str,
        hours: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<HourStats>, StoreError> {
        let target = target.to_string();
        self.db
            .with(move |c| hourly_series(c, &target, hours, now))
            .await
    }

    /// Per-day uptime of `target` for the `days` UTC days ending with today, oldest first
    /// (percentiles are not kept per day).
    pub async fn daily(
        &self,
        target: &str,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<HourStats>, StoreError> {
        let target = target.to_string();
        self.db
            .with(move |c| {
                let first_day = first_day(days, now);
                let series = hourly_series(c, &target, hours_since(first_day, now), now)?;
                Ok(by_day(&series, first_day, days))
            })
            .await
    }

    /// Outbox rows by status.
    pub async fn outbox_counts(&self) -> Result<super::OutboxCounts, StoreError> {
        self.db.with(|c| super::outbox::outbox_counts(c)).await
    }

    /// Results of `target` since `since`, newest first, at most `limit`.
    pub async fn results(
        &self,
        target: &str,
        since: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Value>, StoreError> {
        let target = target.to_string();
        self.db
            .with(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT r.detail, b.json FROM result r
                     LEFT JOIN detail_base b ON b.id = r.base
                     WHERE r.target = ?1 AND r.checked_at >= ?2
                     ORDER BY r.checked_at DESC LIMIT ?3",
                )?;
                let since = since.map_or(i64::MIN, ms);
                let rows = stmt.query_map(params![target, since, limit], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })?;
                let mut out = Vec::new();
                for row in rows {
                    let (own, shared) = row?;
                    out.push(decode_detail(&own, shared.as_deref())?);
                }
                Ok(out)
            })
            .await
    }

    /// Firing alerts, and the incidents that started in the last `recent` (newest first,
    /// at most 200).
    pub async fn alerts(
        &self,
        now: DateTime<Utc>,
        recent: chrono::Duration,
    ) -> Result<AlertsReport, StoreError> {
        self.db
            .with(move |c| {
                let open = alert_states(c)?
                    .into_iter()
                    .filter(|a| a.2.phase == AlertPhase::Firing)
                    .map(|(target, sev, s)| open_alert(target, sev, s))
                    .collect();
                let mut stmt = c.prepare_cached(
                    "SELECT target, severity, started_at, ended_at, cause FROM incident
                     WHERE started_at >= ?1 OR ended_at IS NULL ORDER BY started_at DESC LIMIT 200",
                )?;
                let rows = stmt.query_map(params![ms(now - recent)], |r| incident_row(r, now))?;
                Ok(AlertsReport {
                    open,
                    recent: rows.collect::<Result<_, _>>()?,
                })
            })
            .await
    }
}

/// Start (unix seconds) of the first of the `days` UTC days ending with today.
fn first_day(days: u32, now: DateTime<Utc>) -> i64 {
    let today = now.timestamp().div_euclid(86_400) * 86_400;
    today - 86_400 * (i64::from(days) - 1)
}

/// Hours from `first_day` up to and including the current one.
fn hours_since(first_day: i64, now: DateTime<Utc>) -> u32 {
    u32::try_from((hour_of(now) - first_day) / 3600 + 1).unwrap_or(0)
}

/// Sums an hourly series into `days` UTC days starting at `first_day`.
fn by_day(series: &[HourStats], first_day: i64, days: u32) -> Vec<HourStats> {
    let mut out: Vec<HourStats> = (0..i64::from(days))
        .map(|d| HourStats::empty(first_day + d * 86_400))
        .collect();
    for h in series {
        let i = usize::try_from((h.hour - first_day).div_euclid(86_400)).ok();
        if let Some(day) = i.and_then(|i| out.get_mut(i)) {
            day.count += h.count;
            day.down += h.down;
            day.degraded += h.degraded;
            day.host += h.host;
        }
    }
    out
}

/// A stored result's detail from its row and the shared part the row's `base` names, if
/// any. Without one the row is whole (written before schema 5, or on a digest collision);
/// or, in a read racing the pruning of a result past retention, it still gives the
/// result's own facts.
fn decode_detail(own: &str, shared: Option<&str>) -> Result<Value, StoreError> {
    let decoded = match shared {
        Some(shared) => super::detail::join(shared, own),
        None => serde_json::from_str(own),
    };
    decoded.map_err(|source| StoreError::Decode {
        what: "result",
        source,
    })
}

/// Every alert state row: target, severity name, state.
pub(crate) fn alert_states(
    c: &Connection,
) -> Result<Vec<(String, String, AlertState)>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT target, severity, state FROM alert_state ORDER BY target, severity",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (t, sev, state) = row?;
        let state: AlertState =
            serde_json::from_str(&state).map_err(|source| StoreError::Decode {
                what: "alert state",
                source,
            })?;
        out.push((t, sev, state));
    }
    Ok(out)
}

fn open_alert(target: String, severity: String, s: AlertState) -> OpenAlert {
    OpenAlert {
        target,
        severity,
        started_at: s.started_at,
        fail_streak: s.fail_streak,
        conditions: s.conditions,
    }
}

fn incident_row(r: &rusqlite::Row<'_>, now: DateTime<Utc>) -> rusqlite::Result<IncidentRow> {
    let started_at = from_ms(r.get(2)?);
    let ended_at = r.get::<_, Option<i64>>(3)?.map(from_ms);
    Ok(IncidentRow {
        target: r.get(0)?,
        severity: r.get(1)?,
        started_at,
        ended_at,
        duration_s: (ended_at.unwrap_or(now) - started_at).num_seconds(),
        cause: r.get(4)?,
    })
}

/// The `hours` hours ending with the current one: aggregated hours from `hourly`, the rest
/// (not aggregated yet) computed from raw results.
fn hourly_series(
    c: &Connection,
    target: &str,
    hours: u32,
    now: DateTime<Utc>,
) -> Result<Vec<HourStats>, StoreError> {
    let last = hour_of(now);
    let first = last - 3600 * (i64::from(hours) - 1);
    let mut by_hour: BTreeMap<i64, HourStats> = (0..i64::from(hours))
        .map(|i| (first + 3600 * i, HourStats::empty(first + 3600 * i)))
        .collect();
    let w = watermark(c)?.unwrap_or(i64::MIN);
    let mut stmt = c.prepare_cached(
        "SELECT hour, count, down, degraded, min_ms, p50_ms, p95_ms, p99_ms, max_ms, host FROM hourly
         WHERE target = ?1 AND hour >= ?2 AND hour <= ?3 AND hour < ?4",
    )?;
    let rows = stmt.query_map(params![target, first, last, w], |r| {
        Ok(HourStats {
            hour: r.get(0)?,
            count: r.get(1)?,
            down: r.get(2)?,
            degraded: r.get(3)?,
            host: r.get(9)?,
            min_ms: r.get(4)?,
            p50_ms: r.get(5)?,
            p95_ms: r.get(6)?,
            p99_ms: r.get(7)?,
            max_ms: r.get(8)?,
        })
    })?;
    for row in rows {
        let h = row?;
        by_hour.insert(h.hour, h);
    }
    let raw_from = first.max(w);
    if raw_from <= last {
        let samples = raw_samples(c, Some(target), raw_from * 1000, (last + 3600) * 1000)?;
        let mut per_hour: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
        for (_, at, h, ms) in samples {
            per_hour
                .entry(at.div_euclid(3_600_000) * 3600)
                .or_default()
                .push((h, ms));
        }
        for (hour, samples) in per_hour {
            by_hour.insert(hour, HourStats::from_samples(hour, samples.into_iter()));
        }
    }
    Ok(by_hour.into_values().collect())
}

/// The report of `target`; `series` is its hourly series ending with the current hour
/// (the uptime windows are its last 24, 168 and 720 hours).
fn target_report(
    c: &Connection,
    target: &str,
    now: DateTime<Utc>,
    states: &[(String, String, AlertState)],
    series: &[HourStats],
) -> Result<TargetReport, StoreError> {
    let last: Option<(i64, String, Option<String>)> = c
        .query_row(
            "SELECT r.health, r.detail, b.json FROM result r
             LEFT JOIN detail_base b ON b.id = r.base
             WHERE r.target = ?1 ORDER BY r.checked_at DESC LIMIT 1",
            params![target],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (health, since, last_result) = match last {
        Some((level, detail, shared)) => {
            // The current run began right after the last result with another health.
            let mut other_last: Option<i64> = None;
            let health = health_of_level(level);
            for other in (0..=HOST_SIDE).filter(|l| health_of_level(*l) != health) {
                let m: Option<i64> = c.query_row(
                    "SELECT MAX(checked_at) FROM result WHERE target = ?1 AND health = ?2",
                    params![target, other],
                    |r| r.get(0),
                )?;
                other_last = other_last.max(m);
            }
            let since: Option<i64> = c.query_row(
                "SELECT MIN(checked_at) FROM result WHERE target = ?1 AND checked_at > ?2",
                params![target, other_last.unwrap_or(i64::MIN)],
                |r| r.get(0),
            )?;
            (
                health,
                since.map(from_ms),
                Some(decode_detail(&detail, shared.as_deref())?),
            )
        }
        None => (None, None, None),
    };
    let tail = |n: usize| &series[series.len().saturating_sub(n)..];
    let uptime = vec![
        Window::over("24h", tail(24)),
        Window::over("7d", tail(7 * 24)),
        Window::over("30d", tail(30 * 24)),
    ];
    let mut lat: Vec<f64> = {
        let mut stmt = c.prepare_cached(
            "SELECT total_ms FROM result WHERE target = ?1 AND checked_at >= ?2 AND health IN (1, 2)",
        )?;
        let rows = stmt.query_map(
            params![target, ms(now - chrono::Duration::hours(24))],
            |r| r.get::<_, f64>(0),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    lat.sort_by(f64::total_cmp);
    let latency_24h = match (
        percentile(&lat, 50.0),
        percentile(&lat, 95.0),
        percentile(&lat, 99.0),
    ) {
        (Some(p50), Some(p95), Some(p99)) => Some(Latency {
            samples: lat.len() as u64,
            p50_ms: p50,
            p95_ms: p95,
            p99_ms: p99,
        }),
        _ => None,
    };
    let open_alerts = states
        .iter()
        .filter(|(t, _, s)| t == target && s.phase == AlertPhase::Firing)
        .map(|(t, sev, s)| open_alert(t.clone(), sev.clone(), s.clone()))
        .collect();
    let last_incident = c
        .query_row(
            "SELECT target, severity, started_at, ended_at, cause FROM incident
             WHERE target = ?1 ORDER BY started_at DESC LIMIT 1",
            params![target],
            |r| incident_row(r, now),
        )
        .optional()?;
    Ok(TargetReport {
        target: target.to_string(),
        health,
        since,
        last_result,
        uptime,
        latency_24h,
        open_alerts,
        last_incident,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 95.0), Some(95.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
