//! Status page records: readings (stored when they change, and at least hourly, so a
//! stable page costs 24 rows a day) and the vendor incidents already alerted on (so a
//! restart does not announce them again).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde_json::Value;

use super::{ms, OutboxRow, Reader, Store, StoreError};
use crate::alert::changes::{IncidentEvent, PageIncidentChange, StateChange};

/// Everything one result or reading changes in alerting, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct AlertCommit {
    /// Alert state changes.
    pub changes: Vec<StateChange>,
    /// Incident starts and ends (upwatch's own alert episodes).
    pub incidents: Vec<IncidentEvent>,
    /// Notifications to queue.
    pub rows: Vec<OutboxRow>,
    /// Vendor incidents announced or ended.
    pub page_incidents: Vec<PageIncidentChange>,
    /// Model catalogs seen for the first time or changed.
    pub catalogs: Vec<super::CatalogChange>,
}

impl AlertCommit {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.incidents.is_empty()
            && self.rows.is_empty()
            && self.page_incidents.is_empty()
            && self.catalogs.is_empty()
    }

    /// Appends `other`.
    pub fn extend(&mut self, other: AlertCommit) {
        self.changes.extend(other.changes);
        self.incidents.extend(other.incidents);
        self.rows.extend(other.rows);
        self.page_incidents.extend(other.page_incidents);
        self.catalogs.extend(other.catalogs);
    }
}

impl Store {
    /// Vendor incidents already announced, as (page, id, title, first seen).
    pub async fn page_incidents(
        &self,
    ) -> Result<Vec<(String, String, String, DateTime<Utc>)>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT page, id, title, opened_at FROM page_incident ORDER BY opened_at",
            )?;
            let rows = st
                .query_map([], |r| {
                    let at: i64 = r.get(3)?;
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        DateTime::from_timestamp_millis(at).unwrap_or_default(),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Records one status page reading.
    pub async fn insert_page_reading(
        &self,
        page: &str,
        checked_at: DateTime<Utc>,
        overall: &str,
        reason: Option<&str>,
        detail: &Value,
    ) -> Result<(), StoreError> {
        let (page, overall, reason) = (
            page.to_string(),
            overall.to_string(),
            reason.map(str::to_string),
        );
        let detail = detail.to_string();
        self.with(move |c| {
            c.execute(
                "INSERT INTO page_reading (page, checked_at, overall, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![page, ms(checked_at), overall, reason, detail],
            )?;
            Ok(())
        })
        .await
    }

    /// Writes vendor incident changes inside an alert transaction.
    pub(super) fn write_page_incidents(
        tx: &rusqlite::Transaction<'_>,
        changes: &[PageIncidentChange],
    ) -> Result<(), StoreError> {
        for ch in changes {
            match ch {
                PageIncidentChange::Opened {
                    page,
                    id,
                    title,
                    opened_at,
                } => {
                    tx.execute(
                        "INSERT INTO page_incident (page, id, title, opened_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (page, id) DO UPDATE SET title = excluded.title",
                        params![&**page, id, title, ms(*opened_at)],
                    )?;
                }
                PageIncidentChange::Closed { page, id } => {
                    tx.execute(
                        "DELETE FROM page_incident WHERE page = ?1 AND id = ?2",
                        params![&**page, id],
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Reader {
    /// The newest reading of each page, as its `check` JSON, by page name.
    pub async fn latest_page_readings(&self) -> Result<Vec<(String, Value)>, StoreError> {
        self.db
            .with(|c| {
                let mut st = c.prepare(
                    "SELECT r.page, r.detail FROM page_reading r
                     JOIN (SELECT page, MAX(checked_at) AS at FROM page_reading GROUP BY page) m
                       ON m.page = r.page AND m.at = r.checked_at
                     ORDER BY r.page",
                )?;
                let rows = st
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut out: Vec<(String, Value)> = Vec::new();
                for (page, detail) in rows {
                    if out.iter().any(|(p, _)| *p == page) {
                        continue;
                    }
                    let v = serde_json::from_str(&detail).map_err(|source| StoreError::Decode {
                        what: "status page reading",
                        source,
                    })?;
                    out.push((page, v));
                }
                Ok(out)
            })
            .await
    }
}
