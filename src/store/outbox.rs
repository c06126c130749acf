//! The outbox table: notifications queued in the alert transaction, then taken by the
//! channel tasks until delivered or dead. Statuses are [`OutboxStatus`], never literals.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{from_ms, ms, Store, StoreError};

/// Where an outbox row stands (stored as its name in `outbox.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for delivery (or for its next attempt).
    Pending,
    /// The receiver took it.
    Delivered,
    /// Given up: too old, or rejected for good.
    Dead,
}

impl OutboxStatus {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    /// The status of a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            OutboxStatus::Pending,
            OutboxStatus::Delivered,
            OutboxStatus::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

const PENDING: &str = OutboxStatus::Pending.as_str();

/// One queued notification delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Stable id (receivers dedup on it).
    pub id: String,
    /// Channel name.
    pub channel: String,
    /// The notification as JSON.
    pub payload: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When to try next.
    pub next_attempt_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// Counts of outbox rows by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for delivery.
    pub pending: u64,
    /// Delivered.
    pub delivered: u64,
    /// Given up (too old or rejected for good).
    pub dead: u64,
}

impl Store {
    /// Pending rows of `channel` due at `now`, oldest first.
    pub async fn due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let channel = channel.to_string();
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, channel, payload, created_at, next_attempt_at, attempts FROM outbox
                 WHERE status = ?4 AND channel = ?1 AND next_attempt_at <= ?2
                 ORDER BY next_attempt_at, created_at LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![channel, ms(now), limit, PENDING], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    channel: r.get(1)?,
                    payload: r.get(2)?,
                    created_at: from_ms(r.get(3)?),
                    next_attempt_at: from_ms(r.get(4)?),
                    attempts: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// When the next pending row of `channel` is due.
    pub async fn next_due(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let channel = channel.to_string();
        self.with(move |c| {
            let v: Option<i64> = c
                .query_row(
                    "SELECT MIN(next_attempt_at) FROM outbox WHERE status = ?2 AND channel = ?1",
                    params![channel, PENDING],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            Ok(v.map(from_ms))
        })
        .await
    }

    /// Marks a row delivered.
    pub async fn delivered(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let id = id.to_string();
        self.with(move |c| {
            c.execute("UPDATE outbox SET status = ?3, delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1", params![id, ms(now), OutboxStatus::Delivered.as_str()])?;
            Ok(())
        })
        .await
    }

    /// Records a failed attempt and when to try again.
    pub async fn retry_at(
        &self,
        id: &str,
        next: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let (id, error) = (id.to_string(), error.to_string());
        self.with(move |c| {
            c.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1", params![id, ms(next), error])?;
            Ok(())
        })
        .await
    }

    /// Gives up on a row.
    pub async fn dead(&self, id: &str, error: &str) -> Result<(), StoreError> {
        let (id, error) = (id.to_string(), error.to_string());
        self.with(move |c| {
            c.execute(
                "UPDATE outbox SET status = ?3, last_error = ?2 WHERE id = ?1",
                params![id, error, OutboxStatus::Dead.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    /// Marks rows delivered together (one grouped message), in one transaction.
    pub async fn delivered_all(
        &self,
        ids: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let tx = c.transaction()?;
            for id in &ids {
                tx.execute("UPDATE outbox SET status = ?3, delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1", params![id, ms(now), OutboxStatus::Delivered.as_str()])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Records a failed attempt of rows sent together, and when to try them again.
    pub async fn retry_all_at(
        &self,
        ids: Vec<String>,
        next: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        self.with(move |c| {
            let tx = c.transaction()?;
            for id in &ids {
                tx.execute("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1", params![id, ms(next), error])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Gives up on rows together, in one transaction.
    pub async fn dead_all(&self, ids: Vec<String>, error: &str) -> Result<(), StoreError> {
        let error = error.to_string();
        self.with(move |c| {
            let tx = c.transaction()?;
            for id in &ids {
                tx.execute(
                    "UPDATE outbox SET status = ?3, last_error = ?2 WHERE id = ?1",
                    params![id, error, OutboxStatus::Dead.as_str()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Outbox rows by status.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.with(|c| outbox_counts(c)).await
    }
}

/// Outbox rows by status (shared by the writer and readers).
pub(crate) fn outbox_counts(c: &Connection) -> Result<OutboxCounts, StoreError> {
    let mut counts = OutboxCounts::default();
    let mut stmt = c.prepare_cached("SELECT status, COUNT(*) FROM outbox GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (status, n) = row?;
        let n = u64::try_from(n).unwrap_or(0);
        match OutboxStatus::from_name(&status) {
            Some(OutboxStatus::Pending) => counts.pending = n,
            Some(OutboxStatus::Delivered) => counts.delivered = n,
            Some(OutboxStatus::Dead) => counts.dead = n,
            None => {}
        }
    }
    Ok(counts)
}
