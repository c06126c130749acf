//! Model catalogs: the last catalog each target listed (so a restart compares against it)
//! and the changes seen (models added or removed), written in the alert transaction so a
//! change and its notification are recorded together or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{ms, Reader, Store, StoreError};

/// A catalog as seen by one probe, and what changed since the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogChange {
    /// Target name.
    pub target: Arc<str>,
    /// The models listed now (sorted).
    pub models: Vec<String>,
    /// When the probe saw it.
    pub at: DateTime<Utc>,
    /// Models new since the last catalog (empty the first time).
    pub added: Vec<String>,
    /// Models gone since the last catalog.
    pub removed: Vec<String>,
}

impl CatalogChange {
    /// The change from `before` (`None`: first sight, no event) to `now`; `None` when
    /// nothing changed.
    pub fn between(
        target: Arc<str>,
        before: Option<&[String]>,
        now: &[String],
        at: DateTime<Utc>,
    ) -> Option<CatalogChange> {
        let (added, removed) = match before {
            None => (Vec::new(), Vec::new()),
            Some(b) => (
                now.iter().filter(|m| !b.contains(m)).cloned().collect(),
                b.iter().filter(|m| !now.contains(m)).cloned().collect(),
            ),
        };
        let first = before.is_none();
        (first || !added.is_empty() || !removed.is_empty()).then(|| CatalogChange {
            target,
            models: now.to_vec(),
            at,
            added,
            removed,
        })
    }

    /// Whether this is an event (something changed), not the first sight.
    pub fn is_event(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }

    /// `added: a, b; removed: c`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("added: {}", self.added.join(", ")));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed: {}", self.removed.join(", ")));
        }
        parts.join("; ")
    }
}

/// A recorded catalog change, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEvent {
    /// Target name.
    pub target: String,
    /// When it was seen.
    pub at: String,
    /// Models that appeared.
    pub added: Vec<String>,
    /// Models that left.
    pub removed: Vec<String>,
}

impl Store {
    /// The last catalog of every target that has one.
    pub async fn catalogs(&self) -> Result<HashMap<String, Vec<String>>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT target, models FROM catalog")?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = HashMap::new();
            for (target, models) in rows {
                let list = serde_json::from_str(&models).map_err(|source| StoreError::Decode {
                    what: "model catalog",
                    source,
                })?;
                out.insert(target, list);
            }
            Ok(out)
        })
        .await
    }

    /// Writes catalog changes inside an alert transaction.
    pub(super) fn write_catalogs(
        tx: &rusqlite::Transaction<'_>,
        changes: &[CatalogChange],
    ) -> Result<(), StoreError> {
        for ch in changes {
            let models = serde_json::to_string(&ch.models).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO catalog (target, models, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (target) DO UPDATE SET models = excluded.models, updated_at = excluded.updated_at",
                params![&*ch.target, models, ms(ch.at)],
            )?;
            if ch.is_event() {
                tx.execute(
                    "INSERT INTO catalog_event (target, at, added, removed) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        &*ch.target,
                        ms(ch.at),
                        serde_json::to_string(&ch.added).unwrap_or_else(|_| "[]".into()),
                        serde_json::to_string(&ch.removed).unwrap_or_else(|_| "[]".into()),
                    ],
                )?;
            }
        }
        Ok(())
    }
}

impl Reader {
    /// The last catalog `target` listed, and when.
    pub async fn catalog(
        &self,
        target: String,
    ) -> Result<Option<(Vec<String>, DateTime<Utc>)>, StoreError> {
        self.db
            .with(move |c| {
                let row = c
                    .query_row(
                        "SELECT models, updated_at FROM catalog WHERE target = ?1",
                        params![target],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional()?;
                let Some((models, at)) = row else {
                    return Ok(None);
                };
                let models =
                    serde_json::from_str(&models).map_err(|source| StoreError::Decode {
                        what: "model catalog",
                        source,
                    })?;
                Ok(Some((
                    models,
                    DateTime::from_timestamp_millis(at).unwrap_or_default(),
                )))
            })
            .await
    }

    /// Catalog changes of `target` (all targets when `None`), newest first, at most `limit`.
    pub async fn catalog_events(
        &self,
        target: Option<String>,
        limit: u32,
    ) -> Result<Vec<CatalogEvent>, StoreError> {
        self.db
            .with(move |c| {
                let mut st = c.prepare(
                    "SELECT target, at, added, removed FROM catalog_event
                     WHERE ?1 IS NULL OR target = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
                )?;
                let rows = st
                    .query_map(params![target, limit], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter()
                    .map(|(target, at, added, removed)| {
                        let list = |s: &str| {
                            serde_json::from_str::<Vec<String>>(s).map_err(|source| {
                                StoreError::Decode {
                                    what: "catalog event",
                                    source,
                                }
                            })
                        };
                        Ok(CatalogEvent {
                            target,
                            at: crate::fmt::rfc3339(
                                &DateTime::from_timestamp_millis(at).unwrap_or_default(),
                            ),
                            added: list(&added)?,
                            removed: list(&removed)?,
                        })
                    })
                    .collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn changes_between_catalogs() {
        let at = Utc::now();
        let first = CatalogChange::between("m".into(), None, &v(&["a", "b"]), at).unwrap();
        assert!(!first.is_event());
        assert!(
            CatalogChange::between("m".into(), Some(&v(&["a", "b"])), &v(&["a", "b"]), at)
                .is_none()
        );
        let ch =
            CatalogChange::between("m".into(), Some(&v(&["a", "b"])), &v(&["b", "c"]), at).unwrap();
        assert_eq!(
            (ch.added.clone(), ch.removed.clone()),
            (v(&["c"]), v(&["a"]))
        );
        assert_eq!(ch.describe(), "added: c; removed: a");
    }
}
