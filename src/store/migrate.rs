//! The schema: versioned migrations applied in order at open, each in its own transaction
//! with `user_version` bumped in it; a store newer than this binary is refused untouched.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Schema versions, in order; index + 1 is the version each one produces.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: alert state and the outbox.
    "CREATE TABLE alert_state (
        target TEXT NOT NULL,
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (target, severity)
     );
     CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending',
        last_error TEXT,
        delivered_at INTEGER
     );
     CREATE INDEX outbox_due ON outbox (status, channel, next_attempt_at);",
    // 2: probe history, hourly aggregates, incidents and bookkeeping.
    "CREATE TABLE result (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        checked_at INTEGER NOT NULL,
        health INTEGER NOT NULL,
        status INTEGER,
        total_ms REAL NOT NULL,
        failures TEXT NOT NULL,
        detail TEXT NOT NULL
     );
     CREATE INDEX result_by_target ON result (target, checked_at);
     CREATE INDEX result_by_health ON result (target, health, checked_at);
     CREATE INDEX result_by_time ON result (checked_at);
     CREATE TABLE hourly (
        target TEXT NOT NULL,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL,
        down INTEGER NOT NULL,
        degraded INTEGER NOT NULL,
        min_ms REAL,
        p50_ms REAL,
        p95_ms REAL,
        p99_ms REAL,
        max_ms REAL,
        PRIMARY KEY (target, hour)
     ) WITHOUT ROWID;
     CREATE INDEX hourly_by_hour ON hourly (hour);
     CREATE TABLE incident (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        severity TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        cause TEXT NOT NULL
     );
     CREATE INDEX incident_by_target ON incident (target, started_at);
     CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;",
    // 3: vendor status pages: readings (on change, and hourly) and the incidents alerted on.
    "CREATE TABLE page_reading (
        id INTEGER PRIMARY KEY,
        page TEXT NOT NULL,
        checked_at INTEGER NOT NULL,
        overall TEXT NOT NULL,
        reason TEXT,
        detail TEXT NOT NULL
     );
     CREATE INDEX page_reading_by_page ON page_reading (page, checked_at);
     CREATE TABLE page_incident (
        page TEXT NOT NULL,
        id TEXT NOT NULL,
        title TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        PRIMARY KEY (page, id)
     ) WITHOUT ROWID;",
    // 4: model catalogs: the last one listed per target, and the changes seen.
    "CREATE TABLE catalog (
        target TEXT PRIMARY KEY,
        models TEXT NOT NULL,
        updated_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE catalog_event (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        at INTEGER NOT NULL,
        added TEXT NOT NULL,
        removed TEXT NOT NULL
     );
     CREATE INDEX catalog_event_by_target ON catalog_event (target, at);",
    // 5: results store the part of their detail that repeats once (see store::detail).
    "CREATE TABLE detail_base (
        id INTEGER PRIMARY KEY,
        digest INTEGER NOT NULL UNIQUE,
        json TEXT NOT NULL,
        last_used INTEGER NOT NULL
     );
     ALTER TABLE result ADD COLUMN base INTEGER;",
    // 6: the per-target index covers what the reports read (health, latency), so 24 h of a
    // target's latencies come from ~10 contiguous index pages instead of one table page per
    // result (results of many targets interleave in the table). Rebuilt once, at upgrade.
    "DROP INDEX result_by_target;
     CREATE INDEX result_by_target ON result (target, checked_at, health, total_ms);",
    // 7: failures on this host's side (its network or resources) are stored with health 3
    // and counted apart in the hourly aggregates, so uptime does not hold them against the
    // target.
    "ALTER TABLE hourly ADD COLUMN host INTEGER NOT NULL DEFAULT 0;",
];

/// Newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
