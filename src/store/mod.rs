//! The embedded store: one SQLite file in `state_dir` (WAL), versioned migrations
//! (`migrate`), alert state and the notification outbox (`outbox`). Alert state changes and
//! the notifications they cause are written in one transaction, so a crash can neither lose
//! a notification nor send one for a change that was not recorded.
//!
//! rusqlite is synchronous: every call runs on tokio's blocking pool behind one mutex.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use crate::alert::{AlertState, Severity};

mod catalog;
pub mod detail;
mod maintain;
mod migrate;
mod outbox;
mod pages;
mod read;
mod writer;

pub use crate::alert::changes::{IncidentEvent, PageIncidentChange, StateChange};
pub use catalog::{CatalogChange, CatalogEvent};
pub use maintain::{hour_of, Pruned, AGGREGATION_LAG_SECS};
pub use migrate::SCHEMA_VERSION;
pub use outbox::{OutboxCounts, OutboxRow, OutboxStatus};
pub use pages::AlertCommit;
pub use read::{
    percentile, AlertsReport, HourStats, IncidentRow, Latency, OpenAlert, Overview, Reader,
    TargetReport, Window, OVERVIEW_DAYS,
};
pub use writer::{ResultRow, ResultSink, StoreHealth, Writer};

/// Errors from the store, with what to do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state folder could not be created.
    #[error("cannot create state directory {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database was written by a newer upwatch.
    #[error("{} has schema version {found}, newer than this upwatch knows ({known}); upgrade upwatch or point state_dir elsewhere (the file was not changed)", path.display())]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
    /// A reader found no database.
    #[error("no store at {}: start the daemon (`upwatch run`) first, or check state_dir", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// A reader found a database an older upwatch wrote (readers never migrate).
    #[error("{} has schema version {found}, older than this upwatch; start the daemon once (`upwatch run`) to upgrade it", path.display())]
    TooOld {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
    },
    /// SQLite failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be decoded.
    #[error("store: corrupt {what}: {source}")]
    Decode {
        /// Which value.
        what: &'static str,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The blocking task died (a panic inside SQLite code).
    #[error("store task failed: {0}")]
    Join(String),
}

/// One SQLite connection used from async code: every call runs on tokio's blocking pool.
#[derive(Clone)]
pub(crate) struct Db(Arc<Mutex<Connection>>);

impl Db {
    fn new(conn: Connection) -> Self {
        Db(Arc::new(Mutex::new(conn)))
    }

    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic mid-call; SQLite rolled the transaction back.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

/// Handle to the store (the daemon's one writer); cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

impl Store {
    /// Opens (creating if needed) `upwatch.db` in `state_dir` and migrates it.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        Self::open_file(&state_dir.join("upwatch.db"))
    }

    /// Opens a database file and migrates it.
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a crash loses at most the last transactions, never corrupts.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Sorts and temporary indexes in memory, not in /tmp: a container's root (and so
        // its /tmp) may be read-only, with only the state folder writable.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        migrate::migrate(&mut conn, path)?;
        Ok(Store {
            db: Db::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.db.with(f).await
    }

    /// Every persisted alert state (rows of unknown severity, written by a newer upwatch,
    /// are skipped).
    pub async fn alert_states(
        &self,
    ) -> Result<Vec<((Arc<str>, Severity), AlertState)>, StoreError> {
        self.with(|c| {
            Ok(read::alert_states(c)?
                .into_iter()
                .filter_map(|(target, sev, state)| {
                    Severity::from_name(&sev).map(|sev| ((Arc::from(target.as_str()), sev), state))
                })
                .collect())
        })
        .await
    }

    /// Writes alert state changes, incident starts and ends, and queues notifications, all
    /// in one transaction.
    pub async fn commit_alerts(
        &self,
        changes: Vec<StateChange>,
        incidents: Vec<IncidentEvent>,
        queued: Vec<OutboxRow>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.commit(
            Arc::new(AlertCommit {
                changes,
                incidents,
                rows: queued,
                page_incidents: Vec::new(),
                catalogs: Vec::new(),
            }),
            now,
        )
        .await
    }

    /// Writes everything in `commit` in one transaction (see [`Store::commit_alerts`]),
    /// including the vendor incidents announced or ended.
    /// Shared, not moved: a caller keeps a commit that failed (disk full) to retry it
    /// without copying it on every attempt.
    pub async fn commit(
        &self,
        commit: Arc<AlertCommit>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(move |c| {
            let AlertCommit {
                changes,
                incidents,
                rows: queued,
                page_incidents,
                catalogs,
            } = &*commit;
            let tx = c.transaction()?;
            Store::write_page_incidents(&tx, page_incidents)?;
            Store::write_catalogs(&tx, catalogs)?;
            for event in incidents {
                match event {
                    IncidentEvent::Opened { target, severity, started_at, cause } => {
                        tx.execute(
                            "INSERT INTO incident (target, severity, started_at, cause) VALUES (?1, ?2, ?3, ?4)",
                            params![&**target, severity.as_str(), ms(*started_at), cause],
                        )?;
                    }
                    IncidentEvent::Closed { target, severity, ended_at } => {
                        tx.execute(
                            "UPDATE incident SET ended_at = ?3 WHERE target = ?1 AND severity = ?2 AND ended_at IS NULL",
                            params![&**target, severity.as_str(), ms(*ended_at)],
                        )?;
                    }
                }
            }
            for ((target, sev), state) in changes {
                match state {
                    Some(s) => {
                        let json = serde_json::to_string(s).map_err(|source| StoreError::Decode { what: "alert state", source })?;
                        tx.execute(
                            "INSERT INTO alert_state (target, severity, state, updated_at) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT (target, severity) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                            params![&**target, sev.as_str(), json, ms(now)],
                        )?;
                    }
                    None => {
                        tx.execute("DELETE FROM alert_state WHERE target = ?1 AND severity = ?2", params![&**target, sev.as_str()])?;
                    }
                }
            }
            for row in queued {
                tx.execute(
                    "INSERT INTO outbox (id, channel, payload, created_at, next_attempt_at, attempts, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![row.id, row.channel, row.payload, ms(row.created_at), ms(row.next_attempt_at), row.attempts, OutboxStatus::Pending.as_str()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertPhase;

    fn row(id: &str, channel: &str, at: DateTime<Utc>) -> OutboxRow {
        OutboxRow {
            id: id.into(),
            channel: channel.into(),
            payload: "{}".into(),
            created_at: at,
            next_attempt_at: at,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn alert_state_and_outbox_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let state = AlertState {
            phase: AlertPhase::Firing,
            fail_streak: 3,
            started_at: Some(now),
            ..AlertState::default()
        };
        let key: (Arc<str>, Severity) = (Arc::from("api"), Severity::Critical);
        store
            .commit_alerts(
                vec![(key.clone(), Some(state.clone()))],
                vec![IncidentEvent::Opened {
                    target: key.0.clone(),
                    severity: Severity::Critical,
                    started_at: now,
                    cause: "http_status: HTTP 503".into(),
                }],
                vec![row("n1", "slack", now), row("n2", "mail", now)],
                now,
            )
            .await
            .unwrap();

        // Reopen: everything is still there.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.alert_states().await.unwrap(),
            vec![(key.clone(), state)]
        );
        let due = store.due("slack", now, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id, "n1");
        assert!(store
            .due("slack", now - chrono::Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty());

        store
            .retry_at("n1", now + chrono::Duration::seconds(30), "HTTP 500")
            .await
            .unwrap();
        assert!(store.due("slack", now, 10).await.unwrap().is_empty());
        assert_eq!(
            store.next_due("slack").await.unwrap(),
            Some(now + chrono::Duration::seconds(30))
        );
        let later = store
            .due("slack", now + chrono::Duration::seconds(30), 10)
            .await
            .unwrap();
        assert_eq!(later[0].attempts, 1);
        store.delivered("n1", now).await.unwrap();
        store.dead("n2", "too old").await.unwrap();
        assert_eq!(
            store.outbox_counts().await.unwrap(),
            OutboxCounts {
                pending: 0,
                delivered: 1,
                dead: 1
            }
        );

        store
            .commit_alerts(
                vec![(key.clone(), None)],
                vec![IncidentEvent::Closed {
                    target: key.0.clone(),
                    severity: Severity::Critical,
                    ended_at: now + chrono::Duration::minutes(12),
                }],
                vec![],
                now,
            )
            .await
            .unwrap();
        assert!(store.alert_states().await.unwrap().is_empty());
        let reader = Reader::open(dir.path()).unwrap();
        let report = reader
            .alerts(now + chrono::Duration::hours(1), chrono::Duration::days(1))
            .await
            .unwrap();
        assert!(report.open.is_empty());
        assert_eq!(
            report.recent,
            vec![IncidentRow {
                target: "api".into(),
                severity: "critical".into(),
                started_at: now,
                ended_at: Some(now + chrono::Duration::minutes(12)),
                duration_s: 720,
                cause: "http_status: HTTP 503".into(),
            }]
        );
    }

    #[tokio::test]
    async fn a_version_1_store_is_migrated_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upwatch.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(migrate::MIGRATIONS[0]).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO outbox (id, channel, payload, created_at, next_attempt_at)
                 VALUES ('old', 'hook', '{}', 1, 1);",
            )
            .unwrap();
        }
        // A reader never migrates: it says what to do.
        let err = Reader::open_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("schema version 1, older than this upwatch"),
            "{err}"
        );
        let store = Store::open_file(&path).unwrap();
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
        store
            .insert_results(vec![ResultRow {
                target: Arc::from("api"),
                checked_at: from_ms(5),
                health: crate::probe::Health::Up,
                host_side: false,
                status: Some(200),
                total_ms: 1.0,
                failures: String::new(),
                detail: detail::split(serde_json::json!({"status": 200})),
            }])
            .await
            .unwrap();
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        assert!(Reader::open_file(&path).is_ok());
    }

    #[test]
    fn an_empty_file_is_migrated_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upwatch.db");
        let err = Reader::open_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("no store at") && err.contains("upwatch run"),
            "{err}"
        );
        std::fs::write(&path, b"").unwrap();
        Store::open_file(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_without_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upwatch.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .unwrap();
        }
        let err = Store::open_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("schema version 99, newer than this upwatch knows (7)"),
            "{err}"
        );
        let c = Connection::open(&path).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 99);
        let tables: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }
}
