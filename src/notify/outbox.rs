//! The outbox dispatcher: delivers queued notifications at least once, one task per channel
//! so a slow or dead channel never delays another. Failures retry with exponential backoff
//! and full jitter (never sooner than the receiver's `Retry-After`) until `max_age`, then the
//! row is marked dead and logged at error level. Rows survive restarts in the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use chrono::{DateTime, Utc};

use super::{Notification, Notifier};
use crate::clock::WallClock;
use crate::config::Grouping;
use crate::metrics::{Delivery, Metrics};
use crate::store::OutboxRow;
use crate::store::Store;

/// First retry waits up to this long; each further one doubles it up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(2);
/// Longest wait between two attempts (before `Retry-After`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Most notifications in one grouped message (chat messages have size limits); more go
/// out as further messages in the same pass.
pub const MAX_GROUP: usize = 50;
/// How often a channel looks at the store even when nobody woke it.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Full-jitter backoff after `attempts` failed attempts: uniform in [0, min(max, base·2^(n-1))],
/// with a floor of 250 ms so a dead receiver is never hammered.
pub fn backoff(attempts: u32, random: f64) -> Duration {
    let exp = BASE_BACKOFF.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)));
    let cap = exp.min(MAX_BACKOFF);
    cap.mul_f64(random.clamp(0.0, 1.0))
        .max(Duration::from_millis(250))
}

/// Wakes a channel's task when new rows are queued for it.
#[derive(Clone, Default)]
pub struct Wakers(Arc<HashMap<String, Arc<Notify>>>);

impl Wakers {
    /// One waker per channel name.
    pub fn new<'a>(channels: impl IntoIterator<Item = &'a str>) -> Self {
        Wakers(Arc::new(
            channels
                .into_iter()
                .map(|c| (c.to_string(), Arc::new(Notify::new())))
                .collect(),
        ))
    }

    /// Wakes `channel` (a wake with nobody waiting is kept for the next wait).
    pub fn wake(&self, channel: &str) {
        if let Some(n) = self.0.get(channel) {
            n.notify_one();
        }
    }

    fn get(&self, channel: &str) -> Arc<Notify> {
        self.0.get(channel).cloned().unwrap_or_default()
    }
}

/// Delivery settings.
#[derive(Clone)]
pub struct Dispatcher {
    /// The outbox.
    pub store: Store,
    /// Give up on a row this long after it was queued.
    pub max_age: Duration,
    /// Wall clock.
    pub clock: WallClock,
    /// Wakers shared with the producer.
    pub wakers: Wakers,
    /// Counts delivery outcomes.
    pub metrics: Metrics,
}

impl Dispatcher {
    /// Starts one delivery task per notifier on `tracker`; each ends when `cancel` fires
    /// (after finishing the delivery in hand).
    pub fn spawn(
        &self,
        notifiers: &[Arc<Notifier>],
        cancel: CancellationToken,
        tracker: &TaskTracker,
    ) {
        for n in notifiers {
            let d = self.clone();
            let n = n.clone();
            let cancel = cancel.clone();
            tracker.spawn(async move { d.run_channel(n, cancel).await });
        }
    }

    async fn run_channel(self, notifier: Arc<Notifier>, cancel: CancellationToken) {
        let name = notifier.name().to_string();
        let wake = self.wakers.get(&name);
        // When this channel last sent a grouped message (group_interval counts from it).
        let mut last_group = None;
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let held_until = match self.pass(&notifier, Some(&mut last_group)).await {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(channel = %name, "outbox: {e}");
                    None
                }
            };
            let next = match held_until {
                // Held rows are due already: sleep until their group is.
                Some(at) => Ok(Some(at)),
                None => self.store.next_due(&name).await,
            };
            let wait = match next {
                Ok(Some(at)) => (at - (self.clock)())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(IDLE_POLL),
                Ok(None) => IDLE_POLL,
                Err(e) => {
                    tracing::error!(channel = %name, "outbox: {e}");
                    IDLE_POLL
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Delivers every row of this channel that is due now (grouped, on a channel that
    /// groups, however recently it sent: the last pass at shutdown). Returns after one pass.
    pub async fn deliver_due(&self, notifier: &Notifier) -> Result<(), crate::store::StoreError> {
        self.pass(notifier, None).await.map(|_| ())
    }

    /// One pass over the rows due now. On a grouping channel, given when it last sent,
    /// the rows wait until their group is due (`group_wait` after the first of them was
    /// queued, `group_interval` after the last message): then returns when that is.
    async fn pass(
        &self,
        notifier: &Notifier,
        last_group: Option<&mut Option<DateTime<Utc>>>,
    ) -> Result<Option<DateTime<Utc>>, crate::store::StoreError> {
        let name = notifier.name();
        let batch_limit = if notifier.grouping().is_some() {
            1000
        } else {
            64
        };
        let rows = self.store.due(name, (self.clock)(), batch_limit).await?;
        let mut live: Vec<(OutboxRow, Notification)> = Vec::with_capacity(rows.len());
        for row in rows {
            let now = (self.clock)();
            let n: Notification = match serde_json::from_str(&row.payload) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(channel = name, id = %row.id, "outbox row is not a notification ({e}); marked dead");
                    self.metrics.notification(name, Delivery::Dead);
                    self.store
                        .dead(&row.id, &format!("undecodable payload: {e}"))
                        .await?;
                    continue;
                }
            };
            let age = (now - row.created_at).to_std().unwrap_or_default();
            if age > self.max_age {
                tracing::error!(channel = name, id = %row.id, target_name = %n.target, attempts = row.attempts, "notification not delivered within {}; marked dead", crate::fmt::human_duration(self.max_age));
                self.metrics.notification(name, Delivery::Dead);
                self.store
                    .dead(&row.id, "delivery_max_age exceeded")
                    .await?;
                continue;
            }
            live.push((row, n));
        }
        let Some(group) = notifier.grouping() else {
            for (row, n) in &live {
                self.send_one(notifier, row, n).await?;
            }
            return Ok(None);
        };
        let now = (self.clock)();
        if let (Some(last), Some(first)) =
            (last_group, live.iter().map(|(r, _)| r.created_at).min())
        {
            let release = due_at(first, *last, group);
            if now < release {
                return Ok(Some(release));
            }
            *last = Some(now);
        }
        for chunk in live.chunks(MAX_GROUP) {
            match chunk {
                [(row, n)] => self.send_one(notifier, row, n).await?,
                _ => self.send_group(notifier, chunk).await?,
            }
        }
        Ok(None)
    }

    async fn send_one(
        &self,
        notifier: &Notifier,
        row: &OutboxRow,
        n: &Notification,
    ) -> Result<(), crate::store::StoreError> {
        let name = notifier.name();
        let now = (self.clock)();
        match notifier.send(n, now).await {
            Ok(()) => {
                tracing::info!(channel = name, id = %row.id, target_name = %n.target, status = n.status(), attempts = row.attempts + 1, "notification delivered");
                self.metrics.notification(name, Delivery::Delivered);
                self.store.delivered(&row.id, (self.clock)()).await?;
            }
            Err(e) if !e.retryable => {
                tracing::error!(channel = name, id = %row.id, target_name = %n.target, error = %e, "notification rejected for good; marked dead");
                self.metrics.notification(name, Delivery::Dead);
                self.store.dead(&row.id, &e.message).await?;
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                let next = self.retry_time(attempts, &e);
                tracing::warn!(channel = name, id = %row.id, target_name = %n.target, attempts, error = %e, retry_at = %next, "notification delivery failed; will retry");
                self.metrics.notification(name, Delivery::Retry);
                self.store.retry_at(&row.id, next, &e.message).await?;
            }
        }
        Ok(())
    }

    /// Several rows as one message; delivered, retried or given up together.
    async fn send_group(
        &self,
        notifier: &Notifier,
        chunk: &[(OutboxRow, Notification)],
    ) -> Result<(), crate::store::StoreError> {
        let name = notifier.name();
        let batch: Vec<Notification> = chunk.iter().map(|(_, n)| n.clone()).collect();
        let ids: Vec<String> = chunk.iter().map(|(r, _)| r.id.clone()).collect();
        let targets = batch
            .iter()
            .map(|n| n.target.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let count = ids.len() as u64;
        match notifier.send_group(&batch, (self.clock)()).await {
            Ok(()) => {
                tracing::info!(channel = name, notifications = count, targets = %targets, "grouped notification delivered");
                for _ in 0..count {
                    self.metrics.notification(name, Delivery::Delivered);
                }
                self.store.delivered_all(ids, (self.clock)()).await?;
            }
            Err(e) if !e.retryable => {
                tracing::error!(channel = name, notifications = count, targets = %targets, error = %e, "grouped notification rejected for good; marked dead");
                for id in &ids {
                    self.metrics.notification(name, Delivery::Dead);
                    self.store.dead(id, &e.message).await?;
                }
            }
            Err(e) => {
                let attempts = chunk.iter().map(|(r, _)| r.attempts).max().unwrap_or(0) + 1;
                let next = self.retry_time(attempts, &e);
                tracing::warn!(channel = name, notifications = count, targets = %targets, attempts, error = %e, retry_at = %next, "grouped notification delivery failed; will retry");
                for _ in 0..count {
                    self.metrics.notification(name, Delivery::Retry);
                }
                self.store.retry_all_at(ids, next, &e.message).await?;
            }
        }
        Ok(())
    }

    /// When to try again after `attempts` failed ones: full-jitter backoff, never sooner
    /// than the receiver's `Retry-After`.
    fn retry_time(&self, attempts: u32, e: &super::SendError) -> DateTime<Utc> {
        let mut wait = backoff(attempts, fastrand::f64());
        if let Some(ra) = e.retry_after {
            wait = wait.max(ra);
        }
        (self.clock)() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }
}

/// When a group whose first notification was queued at `first` may go out, after the
/// channel's last grouped message at `last`.
pub fn due_at(first: DateTime<Utc>, last: Option<DateTime<Utc>>, g: Grouping) -> DateTime<Utc> {
    let after = |t: DateTime<Utc>, d: Duration| {
        t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    };
    let wait = after(first, g.wait);
    match last {
        Some(last) => wait.max(after(last, g.interval)),
        None => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_waits_for_company_then_for_the_interval() {
        use chrono::TimeZone;
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let g = Grouping {
            wait: Duration::from_secs(10),
            interval: Duration::from_secs(60),
        };
        // (first queued, last message) -> due
        let cases = [
            (at(0), None, at(10)),
            (at(0), Some(at(-120)), at(10)),
            (at(0), Some(at(-30)), at(30)),
            (at(100), Some(at(95)), at(155)),
        ];
        for (first, last, due) in cases {
            assert_eq!(due_at(first, last, g), due, "{first} after {last:?}");
        }
        let none = Grouping {
            wait: Duration::ZERO,
            interval: Duration::ZERO,
        };
        assert_eq!(due_at(at(5), Some(at(4)), none), at(5));
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_a_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(2, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(5, 1.0), Duration::from_secs(32));
        assert_eq!(backoff(30, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(3, 0.0), Duration::from_millis(250));
    }
}
