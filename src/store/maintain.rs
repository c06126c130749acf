//! Background upkeep of the history: hourly aggregates as hours close, and pruning past
//! retention in small batches (each its own transaction, so alert commits and flushes
//! interleave and no lock is held for long).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::read::HourStats;
use super::{ms, Store, StoreError};
use crate::config::StoreSettings;

/// An hour is aggregated this long after it ends, so probes that started in it (and are
/// still running or waiting in the writer's batch) are counted.
pub const AGGREGATION_LAG_SECS: i64 = 5 * 60;
/// Most hours aggregated in one pass (a long catch-up continues in the next passes;
/// reports read raw results for hours not aggregated yet).
const HOURS_PER_PASS: usize = 168;
/// Rows deleted per transaction when pruning.
const PRUNE_BATCH: usize = 5_000;

/// Rows removed by one pruning pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Raw results.
    pub results: u64,
    /// Hourly aggregates.
    pub hourly: u64,
    /// Ended incidents.
    pub incidents: u64,
    /// Delivered or dead notifications.
    pub outbox: u64,
    /// Status page readings.
    pub page_readings: u64,
}

impl Pruned {
    /// All rows removed.
    pub fn total(&self) -> u64 {
        self.results + self.hourly + self.incidents + self.outbox + self.page_readings
    }
}

/// Start of the UTC hour holding `t`, in unix seconds.
pub fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600) * 3600
}

/// Hours before this (unix seconds) are aggregated.
pub(crate) fn watermark(c: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "SELECT value FROM meta WHERE key = 'aggregated_until'",
        [],
        |r| r.get(0),
    )
    .optional()?)
}

/// Raw samples (target, checked_at ms, health, total ms) in `[from_ms, to_ms)`, grouped by
/// target; of one target when `target` is given. Two statements, so each uses its index
/// (an `OR` on the target would send the planner to the time index for every target).
pub(crate) fn raw_samples(
    c: &Connection,
    target: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64, i64, f64)>, StoreError> {
    let mut stmt = match target {
        Some(_) => c.prepare_cached(
            "SELECT target, checked_at, health, total_ms FROM result
             WHERE target = ?3 AND checked_at >= ?1 AND checked_at < ?2",
        )?,
        None => c.prepare_cached(
            "SELECT target, checked_at, health, total_ms FROM result
             WHERE checked_at >= ?1 AND checked_at < ?2 ORDER BY target",
        )?,
    };
    let map = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, f64>(3)?,
        ))
    };
    let rows = match target {
        Some(t) => stmt.query_map(params![from_ms, to_ms, t], map)?,
        None => stmt.query_map(params![from_ms, to_ms], map)?,
    };
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// Aggregates every closed hour not yet aggregated (bounded per call); returns how many
    /// hours it wrote.
    pub async fn aggregate_closed_hours(
        &self,
        now: DateTime<Utc>,
        settings: &StoreSettings,
    ) -> Result<usize, StoreError> {
        let until = hour_of(now - chrono::Duration::seconds(AGGREGATION_LAG_SECS));
        let oldest_kept = hour_of(
            now - chrono::Duration::from_std(settings.aggregate_retention)
                .unwrap_or(chrono::Duration::MAX),
        );
        let mut done = 0;
        while done < HOURS_PER_PASS {
            // Each hour is its own transaction; the lock is released in between.
            let wrote = self
                .with(move |c| aggregate_next_hour(c, until, oldest_kept))
                .await?;
            if !wrote {
                break;
            }
            done += 1;
        }
        Ok(done)
    }

    /// Deletes what is past retention, in batches.
    pub async fn prune(
        &self,
        now: DateTime<Utc>,
        settings: &StoreSettings,
    ) -> Result<Pruned, StoreError> {
        let raw_cutoff =
            ms(now
                - chrono::Duration::from_std(settings.retention).unwrap_or(chrono::Duration::MAX));
        let agg_cutoff = now
            - chrono::Duration::from_std(settings.aggregate_retention)
                .unwrap_or(chrono::Duration::MAX);
        // Raw rows go only once their hour is aggregated, whatever the retention says. The
        // watermark cannot move during pruning: aggregation runs in the same task.
        let aggregated = self.with(|c| watermark(c)).await?;
        let result_cutoff = raw_cutoff.min(aggregated.map_or(i64::MIN, |w| w.saturating_mul(1000)));
        let results = self
            .batched(move |c| {
                Ok(c.execute(
                    "DELETE FROM result WHERE id IN
                     (SELECT id FROM result WHERE checked_at < ?1 LIMIT ?2)",
                    params![result_cutoff, PRUNE_BATCH],
                )?)
            })
            .await?;
        // A shared detail part goes with the last result that used it.
        self.batched(move |c| {
            Ok(c.execute(
                "DELETE FROM detail_base WHERE id IN
                 (SELECT id FROM detail_base WHERE last_used < ?1 LIMIT ?2)",
                params![result_cutoff, PRUNE_BATCH],
            )?)
        })
        .await?;
        let hour_cutoff = hour_of(agg_cutoff);
        let hourly = self
            .batched(move |c| {
                Ok(c.execute(
                    "DELETE FROM hourly WHERE (target, hour) IN
                     (SELECT target, hour FROM hourly WHERE hour < ?1 LIMIT ?2)",
                    params![hour_cutoff, PRUNE_BATCH],
                )?)
            })
            .await?;
        let incident_cutoff = ms(agg_cutoff);
        let incidents = self
            .batched(move |c| {
                Ok(c.execute(
                    "DELETE FROM incident WHERE id IN (SELECT id FROM incident
                     WHERE ended_at IS NOT NULL AND ended_at < ?1 LIMIT ?2)",
                    params![incident_cutoff, PRUNE_BATCH],
                )?)
            })
            .await?;
        let outbox = self
            .batched(move |c| {
                Ok(c.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
                     WHERE status != ?3 AND created_at < ?1 LIMIT ?2)",
                    params![
                        raw_cutoff,
                        PRUNE_BATCH,
                        super::OutboxStatus::Pending.as_str()
                    ],
                )?)
            })
            .await?;
        let page_readings = self
            .batched(move |c| {
                Ok(c.execute(
                    "DELETE FROM page_reading WHERE id IN (SELECT id FROM page_reading
                     WHERE checked_at < ?1 LIMIT ?2)",
                    params![raw_cutoff, PRUNE_BATCH],
                )?)
            })
            .await?;
        Ok(Pruned {
            results,
            hourly,
            incidents,
            outbox,
            page_readings,
        })
    }

    /// Runs a deleting statement until it deletes less than a full batch.
    async fn batched<F>(&self, f: F) -> Result<u64, StoreError>
    where
        F: Fn(&mut Connection) -> Result<usize, StoreError> + Send + Sync + Clone + 'static,
    {
        let mut total = 0u64;
        loop {
            let n = self.with(f.clone()).await?;
            total += n as u64;
            if n < PRUNE_BATCH {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Aggregates the oldest closed hour not aggregated yet, advancing the watermark. Returns
/// false when there is nothing left to do.
fn aggregate_next_hour(
    c: &mut Connection,
    until: i64,
    oldest_kept: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let start = match watermark(&tx)? {
        Some(w) => w,
        None => {
            // First run: begin at the oldest result.
            let first: Option<i64> =
                tx.query_row("SELECT MIN(checked_at) FROM result", [], |r| r.get(0))?;
            match first {
                Some(first) => first.div_euclid(3_600_000) * 3600,
                None => until,
            }
        }
    };
    // Skip empty stretches (the daemon was off) in one step.
    let next: Option<i64> = tx.query_row(
        "SELECT MIN(checked_at) FROM result WHERE checked_at >= ?1",
        params![start.max(oldest_kept).saturating_mul(1000)],
        |r| r.get(0),
    )?;
    let hour = match next {
        Some(at) => at.div_euclid(3_600_000) * 3600,
        None => until,
    };
    if hour >= until {
        if start < until {
            set_watermark(&tx, until)?;
            tx.commit()?;
        }
        return Ok(false);
    }
    let samples = raw_samples(&tx, None, hour * 1000, (hour + 3600) * 1000)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO hourly (target, hour, count, down, degraded, min_ms, p50_ms, p95_ms, p99_ms, max_ms, host)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut i = 0;
        while i < samples.len() {
            let target = &samples[i].0;
            let j = i + samples[i..].iter().take_while(|s| &s.0 == target).count();
            let s = HourStats::from_samples(hour, samples[i..j].iter().map(|s| (s.2, s.3)));
            insert.execute(params![
                target, hour, s.count, s.down, s.degraded, s.min_ms, s.p50_ms, s.p95_ms, s.p99_ms,
                s.max_ms, s.host
            ])?;
            i = j;
        }
    }
    set_watermark(&tx, hour + 3600)?;
    tx.commit()?;
    Ok(true)
}

fn set_watermark(c: &Connection, hour: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ('aggregated_until', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![hour],
    )?;
    Ok(())
}
