//! The result writer: the one task that records probe results. Rows are batched into one
//! transaction per flush (at most [`FLUSH_EVERY`] after the first row waits, or every
//! [`BATCH_ROWS`] rows), so thousands of targets cost one fsync a second, and a kill -9
//! loses at most the batch in memory. The same task runs hourly aggregation and pruning
//! between flushes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::detail::Split;
use super::{ms, Store, StoreError};
use crate::clock::WallClock;
use crate::config::StoreSettings;
use crate::metrics::Metrics;
use crate::probe::{Health, ProbeResult};

/// Longest a result waits in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// A batch this large is written at once.
pub const BATCH_ROWS: usize = 1000;
/// How often closed hours are aggregated and old rows pruned.
pub const MAINTAIN_EVERY: Duration = Duration::from_secs(60);
/// Rows kept in memory while the store cannot be written; past this the oldest are dropped
/// (and logged) rather than growing without bound.
const MAX_BACKLOG: usize = 200_000;

/// One probe result as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Target name.
    pub target: Arc<str>,
    /// When the probe started.
    pub checked_at: DateTime<Utc>,
    /// Verdict.
    pub health: Health,
    /// A failure on this host's side (its network or resources): stored apart, so uptime
    /// does not count it against the target.
    pub host_side: bool,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Total latency in milliseconds.
    pub total_ms: f64,
    /// Failure kinds, space-separated (empty when up).
    pub failures: String,
    /// The result as `check` prints it (phases, TLS facts, failures with detail), plus the
    /// response headers that were kept, split for storage (see [`super::detail`]).
    pub detail: Split,
}

impl ResultRow {
    /// The stored form of `r`.
    pub fn from_result(r: &ProbeResult) -> Self {
        let mut detail = r.to_check_json();
        if let (Some(resp), Some(obj)) = (&r.response, detail.as_object_mut()) {
            let headers: serde_json::Map<String, serde_json::Value> = resp
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect();
            obj.insert("headers".into(), headers.into());
        }
        ResultRow {
            target: r.target.clone(),
            checked_at: r.checked_at,
            health: r.health,
            host_side: r.health == Health::Down
                && matches!(r.side, Some(crate::correlate::Side::Host { .. })),
            status: r.status,
            total_ms: crate::fmt::ms(r.total),
            failures: r
                .failures
                .iter()
                .map(|f| f.kind.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            detail: super::detail::split(detail),
        }
    }
}

/// Whether the store is taking writes, for `/readyz`.
#[derive(Clone, Default)]
pub struct StoreHealth(Arc<HealthInner>);

#[derive(Default)]
struct HealthInner {
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl StoreHealth {
    /// `Err(reason)` when the last write failed.
    pub fn check(&self) -> Result<(), String> {
        if self.0.failing.load(Ordering::Relaxed) {
            let e = self
                .0
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Err(e.unwrap_or_else(|| "store write failed".into()))
        } else {
            Ok(())
        }
    }

    fn record(&self, outcome: &Result<usize, StoreError>) {
        match outcome {
            Ok(_) => self.0.failing.store(false, Ordering::Relaxed),
            Err(e) => {
                *self.0.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                self.0.failing.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Where the pipeline sends results to be recorded.
#[derive(Clone)]
pub struct ResultSink(mpsc::Sender<ResultRow>);

impl ResultSink {
    /// Queues `r` for the next flush (waits only if the writer is far behind).
    pub async fn record(&self, r: &ProbeResult) {
        if self.0.send(ResultRow::from_result(r)).await.is_err() {
            tracing::error!(target_name = %r.target, "result writer has stopped; result not recorded");
        }
    }
}

/// The writer task's settings.
pub struct Writer {
    /// Where rows go.
    pub store: Store,
    /// Retention.
    pub settings: StoreSettings,
    /// Wall clock (aggregation and pruning decide by it).
    pub clock: WallClock,
    /// Shared with `/readyz`.
    pub health: StoreHealth,
    /// Flush timings.
    pub metrics: Metrics,
}

impl Writer {
    /// Starts the writer; it ends (after a last flush) when every [`ResultSink`] is gone.
    pub fn spawn(self) -> (ResultSink, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(10_000);
        (ResultSink(tx), tokio::spawn(self.run(rx)))
    }

    async fn run(self, mut rx: mpsc::Receiver<ResultRow>) {
        let mut buf: Vec<ResultRow> = Vec::new();
        let mut flush_at: Option<Instant> = None;
        // The first pass waits a little so start-up is not slowed by a long catch-up.
        let mut maintain =
            tokio::time::interval_at(Instant::now() + Duration::from_secs(5), MAINTAIN_EVERY);
        maintain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                row = rx.recv() => match row {
                    Some(row) => {
                        buf.push(row);
                        if buf.len() >= BATCH_ROWS {
                            self.flush(&mut buf).await;
                        }
                        if buf.is_empty() {
                            flush_at = None;
                        } else if flush_at.is_none() {
                            flush_at = Some(Instant::now() + FLUSH_EVERY);
                        }
                    }
                    None => break,
                },
                _ = sleep_until(flush_at), if flush_at.is_some() => {
                    self.flush(&mut buf).await;
                    flush_at = (!buf.is_empty()).then(|| Instant::now() + FLUSH_EVERY);
                }
                _ = maintain.tick() => self.maintain().await,
            }
        }
        if !buf.is_empty() {
            self.flush(&mut buf).await;
            if !buf.is_empty() {
                tracing::error!(
                    rows = buf.len(),
                    "shutting down with results that could not be recorded"
                );
            }
        }
    }

    async fn flush(&self, buf: &mut Vec<ResultRow>) {
        let rows = std::mem::take(buf);
        let started = Instant::now();
        let outcome = self.store.insert_results(rows.clone()).await;
        self.health.record(&outcome);
        match outcome {
            Ok(n) => self.metrics.store_flush(started.elapsed(), n),
            Err(e) => {
                *buf = rows;
                if buf.len() > MAX_BACKLOG {
                    let excess = buf.len() - MAX_BACKLOG;
                    buf.drain(..excess);
                    tracing::error!(
                        dropped = excess,
                        "cannot record results ({e}); dropped the oldest {excess} to bound memory"
                    );
                } else {
                    tracing::error!(
                        waiting = buf.len(),
                        "cannot record results ({e}); keeping them to retry"
                    );
                }
            }
        }
    }

    async fn maintain(&self) {
        let now = (self.clock)();
        match self.store.aggregate_closed_hours(now, &self.settings).await {
            Ok(0) => {}
            Ok(hours) => tracing::debug!(hours, "aggregated closed hours"),
            Err(e) => tracing::error!("hourly aggregation failed: {e}"),
        }
        match self.store.prune(now, &self.settings).await {
            Ok(p) if p.total() > 0 => tracing::info!(
                results = p.results,
                hourly = p.hourly,
                incidents = p.incidents,
                notifications = p.outbox,
                "pruned history past retention"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("pruning failed: {e}"),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Store {
    /// Writes `rows` in one transaction; returns how many.
    pub async fn insert_results(&self, rows: Vec<ResultRow>) -> Result<usize, StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            {
                // One row per distinct shared part; a result reuses it and moves its
                // last use forward (pruning goes by that).
                let mut base = tx.prepare_cached(
                    "INSERT INTO detail_base (digest, json, last_used) VALUES (?1, ?2, ?3)
                     ON CONFLICT (digest) DO UPDATE SET last_used = max(last_used, excluded.last_used)
                     WHERE json = excluded.json
                     RETURNING id",
                )?;
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO result (target, checked_at, health, status, total_ms, failures, detail, base)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in &rows {
                    let at = ms(r.checked_at);
                    let id: Option<i64> = base
                        .query_row(params![digest(&r.detail.shared), r.detail.shared, at], |row| {
                            row.get(0)
                        })
                        .optional()?;
                    // No id only when two shared parts share a digest: keep this one whole.
                    let whole;
                    let detail = match id {
                        Some(_) => &r.detail.own,
                        None => {
                            whole = super::detail::join(&r.detail.shared, &r.detail.own)
                                .map_err(|source| StoreError::Decode {
                                    what: "result",
                                    source,
                                })?
                                .to_string();
                            &whole
                        }
                    };
                    stmt.execute(params![
                        &*r.target,
                        at,
                        if r.host_side {
                            super::read::HOST_SIDE
                        } else {
                            i64::from(r.health.level())
                        },
                        r.status,
                        r.total_ms,
                        r.failures,
                        detail,
                        id
                    ])?;
                }
            }
            tx.commit()?;
            Ok(rows.len())
        })
        .await
    }
}

/// The shared part's key in `detail_base`: the first 8 bytes of its SHA-256.
fn digest(shared: &str) -> i64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(shared.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two different shared parts with one digest cannot happen by chance (64 bits of
    /// SHA-256); if they ever do, the second result is stored whole, not joined wrongly.
    #[tokio::test]
    async fn a_digest_collision_keeps_the_result_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let detail = serde_json::json!({"target": "api", "status": 200, "latency_ms": 5.0,
                                        "checked_at": "2026-11-23T10:00:00.000Z"});
        let split = super::super::detail::split(detail.clone());
        let taken = digest(&split.shared);
        store
            .with(move |c| {
                c.execute(
                    "INSERT INTO detail_base (digest, json, last_used) VALUES (?1, '{\"other\":1}', 0)",
                    params![taken],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let row = ResultRow {
            target: Arc::from("api"),
            checked_at: super::super::from_ms(1_000),
            health: Health::Up,
            host_side: false,
            status: Some(200),
            total_ms: 5.0,
            failures: String::new(),
            detail: split,
        };
        store.insert_results(vec![row]).await.unwrap();
        let (base, stored): (Option<i64>, String) = store
            .with(|c| {
                Ok(c.query_row("SELECT base, detail FROM result", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?)
            })
            .await
            .unwrap();
        assert_eq!(base, None);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored).unwrap(),
            detail
        );
        let read = super::super::Reader::open(dir.path()).unwrap();
        assert_eq!(read.results("api", None, 10).await.unwrap(), vec![detail]);
    }

    #[test]
    fn readiness_follows_the_last_write() {
        let h = StoreHealth::default();
        assert!(h.check().is_ok());
        h.record(&Err(StoreError::Join("disk full".into())));
        let e = h.check().unwrap_err();
        assert!(e.contains("disk full"), "{e}");
        h.record(&Ok(3));
        assert!(h.check().is_ok());
    }
}
