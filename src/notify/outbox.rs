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

use super::{Notification, Notifier};
use crate::clock::WallClock;
use crate::metrics::{Delivery, Metrics};
use crate::store::Store;

/// First retry waits up to this long; each further one doubles it up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(2);
/// Longest wait between two attempts (before `Retry-After`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
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
        loop {
            if cancel.is_cancelled() {
                return;
            }
            if let Err(e) = self.deliver_due(&notifier).await {
                tracing::error!(channel = %name, "outbox: {e}");
            }
            let wait = match self.store.next_due(&name).await {
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

    /// Delivers every row of this channel that is due now. Returns after one pass.
    pub async fn deliver_due(&self, notifier: &Notifier) -> Result<(), crate::store::StoreError> {
        let name = notifier.name();
        let rows = self.store.due(name, (self.clock)(), 64).await?;
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
            match notifier.send(&n, now).await {
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
                    let mut wait = backoff(attempts, fastrand::f64());
                    if let Some(ra) = e.retry_after {
                        wait = wait.max(ra);
                    }
                    let next = (self.clock)()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    tracing::warn!(channel = name, id = %row.id, target_name = %n.target, attempts, error = %e, retry_in_ms = wait.as_millis() as u64, "notification delivery failed; will retry");
                    self.metrics.notification(name, Delivery::Retry);
                    self.store.retry_at(&row.id, next, &e.message).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
