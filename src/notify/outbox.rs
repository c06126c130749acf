//! The outbox dispatcher: delivers queued notifications at least once, one task per channel
//! so a slow or dead channel never delays another. Failures retry with exponential backoff
//! and full jitter (never sooner than the receiver's `Retry-After`) until `max_age`, then the
//! row is marked dead and logged at error level. Rows survive restarts in the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use chrono::{DateTime, Utc};

use super::{Notification, Notifier};
use crate::alert::TransitionKind;
use crate::clock::WallClock;
use crate::config::Grouping;
use crate::metrics::{Delivery, Metrics};
use crate::store::Store;
use crate::store::{OutboxRow, StoreError};

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

/// The hand-off from the pipeline to the channel tasks: wakes a channel when rows are
/// queued for it, and holds in memory the rows the store could not record (a full disk)
/// so they are delivered anyway, remembering which went out so that the row the store
/// takes later is marked delivered, not sent again.
#[derive(Clone, Default)]
pub struct Wakers {
    notify: Arc<HashMap<String, Arc<Notify>>>,
    spill: Arc<std::sync::Mutex<Spill>>,
}

/// Rows in memory while the store cannot record them.
#[derive(Default)]
struct Spill {
    /// Not yet delivered (or waiting for a retry).
    rows: Vec<OutboxRow>,
    /// The ids of `rows`, so a long outage of the disk does not make each commit quadratic.
    held: HashSet<String>,
    /// Delivered (or given up) from memory, by id, with when: the store's copy, once it
    /// has one, is recorded so instead of being sent.
    settled: HashMap<String, (DateTime<Utc>, Delivery)>,
}

impl Wakers {
    /// One waker per channel name.
    pub fn new<'a>(channels: impl IntoIterator<Item = &'a str>) -> Self {
        Wakers {
            notify: Arc::new(
                channels
                    .into_iter()
                    .map(|c| (c.to_string(), Arc::new(Notify::new())))
                    .collect(),
            ),
            spill: Arc::default(),
        }
    }

    /// Wakes `channel` (a wake with nobody waiting is kept for the next wait).
    pub fn wake(&self, channel: &str) {
        if let Some(n) = self.notify.get(channel) {
            n.notify_one();
        }
    }

    fn get(&self, channel: &str) -> Arc<Notify> {
        self.notify.get(channel).cloned().unwrap_or_default()
    }

    fn spill(&self) -> std::sync::MutexGuard<'_, Spill> {
        // A panic while holding this lock cannot leave it half-written: plain pushes.
        self.spill.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rows the store could not record: their channels deliver them from memory.
    pub fn hold_in_memory(&self, rows: &[OutboxRow]) {
        let mut spill = self.spill();
        for row in rows {
            if !spill.held.contains(&row.id) && !spill.settled.contains_key(&row.id) {
                spill.held.insert(row.id.clone());
                spill.rows.push(row.clone());
            }
        }
        drop(spill);
        for row in rows {
            self.wake(&row.channel);
        }
    }

    /// The store recorded these rows: the ones not delivered yet leave memory (the
    /// channel takes them from the store again).
    pub fn recorded(&self, rows: &[OutboxRow]) {
        let mut spill = self.spill();
        if spill.rows.is_empty() {
            return;
        }
        let recorded: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        spill.rows.retain(|r| !recorded.contains(r.id.as_str()));
        for id in recorded {
            spill.held.remove(id);
        }
    }

    fn due_in_memory(&self, channel: &str, now: DateTime<Utc>) -> Vec<OutboxRow> {
        self.spill()
            .rows
            .iter()
            .filter(|r| r.channel == channel && r.next_attempt_at <= now)
            .cloned()
            .collect()
    }

    fn take_settled(&self, id: &str) -> Option<(DateTime<Utc>, Delivery)> {
        self.spill().settled.remove(id)
    }

    /// Rows delivered or given up whose outcome the store could not record: remembered,
    /// so the store's pending copy is recorded later instead of being sent again.
    fn remember_settled(&self, ids: &[String], now: DateTime<Utc>, outcome: Delivery) {
        let mut spill = self.spill();
        for id in ids {
            spill.settled.insert(id.clone(), (now, outcome));
        }
    }

    /// After a delivery: rows held in memory are remembered as delivered (until the
    /// store has them) and leave the queue.
    fn settle_in_memory(
        &self,
        ids: &[String],
        outcome: Delivery,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) {
        let mut spill = self.spill();
        let held: HashSet<String> = ids
            .iter()
            .filter(|id| spill.held.contains(*id))
            .cloned()
            .collect();
        match outcome {
            Delivery::Delivered | Delivery::Dead => {
                spill.rows.retain(|r| !held.contains(&r.id));
                for id in held {
                    spill.held.remove(&id);
                    spill.settled.insert(id, (now, outcome));
                }
            }
            Delivery::Retry => {
                for r in spill.rows.iter_mut().filter(|r| held.contains(&r.id)) {
                    r.attempts += 1;
                    r.next_attempt_at = next.unwrap_or(now);
                }
            }
        }
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
        let now = (self.clock)();
        let mut rows = Vec::new();
        for row in self.store.due(name, now, batch_limit).await? {
            // Delivered from memory while the store could not record it: record it now.
            match self.wakers.take_settled(&row.id) {
                Some((at, outcome)) => {
                    let ids = vec![row.id.clone()];
                    let written = match outcome {
                        Delivery::Dead => {
                            self.store
                                .dead_all(ids, "given up while the store could not record it")
                                .await
                        }
                        _ => self.store.delivered_all(ids, at).await,
                    };
                    if written.is_err() {
                        // Still cannot write: remember it again, and never send it twice.
                        self.wakers.remember_settled(&[row.id], at, outcome);
                    }
                }
                None => rows.push(row),
            }
        }
        for row in self.wakers.due_in_memory(name, now) {
            if !rows.iter().any(|r| r.id == row.id) {
                rows.push(row);
            }
        }
        let mut live: Vec<(OutboxRow, Notification)> = Vec::with_capacity(rows.len());
        for row in rows {
            let now = (self.clock)();
            let age = (now - row.created_at).to_std().unwrap_or_default();
            let verdict = match serde_json::from_str::<Notification>(&row.payload) {
                Err(e) => {
                    tracing::error!(channel = name, id = %row.id, "outbox row is not a notification ({e}); marked dead");
                    Err(format!("undecodable payload: {e}"))
                }
                Ok(n) if age > self.max_age => {
                    tracing::error!(channel = name, id = %row.id, target_name = %n.target, attempts = row.attempts, "notification not delivered within {}; marked dead", crate::fmt::human_duration(self.max_age));
                    Err("delivery_max_age exceeded".to_string())
                }
                Ok(n) => Ok(n),
            };
            match verdict {
                Ok(n) => live.push((row, n)),
                Err(why) => {
                    self.settle(name, &[row.id], Delivery::Dead, now, None, &why)
                        .await
                }
            }
        }
        self.with_older_siblings(name, &mut live).await?;
        let units = if notifier.for_people() {
            fold_stale_pairs(live)
        } else {
            live.into_iter()
                .map(|(row, n)| Unit { rows: vec![row], n })
                .collect()
        };
        let Some(group) = notifier.grouping() else {
            for unit in &units {
                self.send_one(notifier, unit).await?;
            }
            return Ok(None);
        };
        let first = units
            .iter()
            .flat_map(|u| u.rows.iter().map(|r| r.created_at))
            .min();
        if let (Some(last), Some(first)) = (last_group, first) {
            let release = due_at(first, *last, group);
            if now < release {
                return Ok(Some(release));
            }
            *last = Some(now);
        }
        for chunk in units.chunks(MAX_GROUP) {
            match chunk {
                [unit] => self.send_one(notifier, unit).await?,
                _ => self.send_group(notifier, chunk).await?,
            }
        }
        Ok(None)
    }

    /// An alert's notifications go out in the order they were queued: when one is due
    /// while an older one of the same alert still waits for a retry (its firing message
    /// failed while the receiver was away), the older one goes now, first. Otherwise a
    /// receiver could see the recovery before the failure.
    async fn with_older_siblings(
        &self,
        channel: &str,
        live: &mut Vec<(OutboxRow, Notification)>,
    ) -> Result<(), StoreError> {
        if live.is_empty() {
            return Ok(());
        }
        let later = chrono::DateTime::<Utc>::MAX_UTC;
        let waiting = self.store.due(channel, later, 1000).await?;
        for row in waiting {
            if live.iter().any(|(r, _)| r.id == row.id) {
                continue;
            }
            let Ok(n) = serde_json::from_str::<Notification>(&row.payload) else {
                continue;
            };
            let sibling = live
                .iter()
                .any(|(r, x)| r.created_at > row.created_at && alert_key(x) == alert_key(&n));
            if sibling {
                live.push((row, n));
            }
        }
        live.sort_by_key(|(r, _)| r.created_at);
        Ok(())
    }

    async fn send_one(&self, notifier: &Notifier, unit: &Unit) -> Result<(), StoreError> {
        let name = notifier.name();
        let n = &unit.n;
        let id = &unit.rows[0].id;
        let ids = unit.ids();
        let now = (self.clock)();
        match notifier.send(n, now).await {
            Ok(()) => {
                tracing::info!(channel = name, id = %id, target_name = %n.target, status = n.status(), folded = n.folded, attempts = unit.rows[0].attempts + 1, "notification delivered");
                self.settle(name, &ids, Delivery::Delivered, (self.clock)(), None, "")
                    .await;
            }
            Err(e) if !e.retryable => {
                tracing::error!(channel = name, id = %id, target_name = %n.target, error = %e, "notification rejected for good; marked dead");
                self.settle(name, &ids, Delivery::Dead, now, None, &e.message)
                    .await;
            }
            Err(e) => {
                let attempts = unit.attempts() + 1;
                let next = self.retry_time(attempts, &e);
                tracing::warn!(channel = name, id = %id, target_name = %n.target, attempts, error = %e, retry_at = %next, "notification delivery failed; will retry");
                self.settle(name, &ids, Delivery::Retry, now, Some(next), &e.message)
                    .await;
            }
        }
        Ok(())
    }

    /// Several units as one message; delivered, retried or given up together.
    async fn send_group(&self, notifier: &Notifier, chunk: &[Unit]) -> Result<(), StoreError> {
        let name = notifier.name();
        let batch: Vec<Notification> = chunk.iter().map(|u| u.n.clone()).collect();
        let ids: Vec<String> = chunk.iter().flat_map(Unit::ids).collect();
        let targets = batch
            .iter()
            .map(|n| n.target.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let count = ids.len();
        let now = (self.clock)();
        match notifier.send_group(&batch, now).await {
            Ok(()) => {
                tracing::info!(channel = name, notifications = count, targets = %targets, "grouped notification delivered");
                self.settle(name, &ids, Delivery::Delivered, (self.clock)(), None, "")
                    .await;
            }
            Err(e) if !e.retryable => {
                tracing::error!(channel = name, notifications = count, targets = %targets, error = %e, "grouped notification rejected for good; marked dead");
                self.settle(name, &ids, Delivery::Dead, now, None, &e.message)
                    .await;
            }
            Err(e) => {
                let attempts = chunk.iter().map(Unit::attempts).max().unwrap_or(0) + 1;
                let next = self.retry_time(attempts, &e);
                tracing::warn!(channel = name, notifications = count, targets = %targets, attempts, error = %e, retry_at = %next, "grouped notification delivery failed; will retry");
                self.settle(name, &ids, Delivery::Retry, now, Some(next), &e.message)
                    .await;
            }
        }
        Ok(())
    }

    /// Records what became of rows: in the metrics, in memory (rows the store does not
    /// have yet) and in the store. A store that cannot write (a full disk) never undoes a
    /// delivery: delivered rows are remembered and recorded when it can.
    async fn settle(
        &self,
        channel: &str,
        ids: &[String],
        outcome: Delivery,
        now: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        error: &str,
    ) {
        for _ in ids {
            self.metrics.notification(channel, outcome);
        }
        self.wakers.settle_in_memory(ids, outcome, now, next);
        let written = match outcome {
            Delivery::Delivered => self.store.delivered_all(ids.to_vec(), now).await,
            Delivery::Retry => {
                self.store
                    .retry_all_at(ids.to_vec(), next.unwrap_or(now), error)
                    .await
            }
            Delivery::Dead => self.store.dead_all(ids.to_vec(), error).await,
        };
        if let Err(e) = written {
            if outcome != Delivery::Retry {
                self.wakers.remember_settled(ids, now, outcome);
            }
            tracing::warn!(
                channel,
                notifications = ids.len(),
                "outbox: cannot record the delivery outcome ({e}); kept in memory"
            );
        }
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

/// One message about to go out and the outbox rows it answers for (more than one when a
/// recovery stands in for its undelivered firing notification).
pub struct Unit {
    /// The rows, the one whose notification is sent first.
    pub rows: Vec<OutboxRow>,
    /// What is sent.
    pub n: Notification,
}

impl Unit {
    fn ids(&self) -> Vec<String> {
        self.rows.iter().map(|r| r.id.clone()).collect()
    }

    fn attempts(&self) -> u32 {
        self.rows.iter().map(|r| r.attempts).max().unwrap_or(0)
    }
}

/// Which alert episode a notification belongs to.
fn alert_key(
    n: &Notification,
) -> (
    String,
    crate::alert::Severity,
    DateTime<Utc>,
    Option<String>,
) {
    (
        n.target.clone(),
        n.severity,
        n.started_at,
        n.incident.clone(),
    )
}

/// For channels for people: a firing notification (or reminder) still undelivered when its
/// alert resolved is not sent on its own; the recovery goes out once, marked `folded`
/// ("was down from ... to ..."), and answers for both rows. Order is kept otherwise.
pub fn fold_stale_pairs(live: Vec<(OutboxRow, Notification)>) -> Vec<Unit> {
    let key = alert_key;
    let resolved: Vec<_> = live
        .iter()
        .filter(|(_, n)| n.kind == TransitionKind::Resolved)
        .map(|(_, n)| key(n))
        .collect();
    let mut stale: Vec<(_, OutboxRow)> = Vec::new();
    let mut units = Vec::with_capacity(live.len());
    for (row, n) in live {
        let firing = matches!(n.kind, TransitionKind::Firing | TransitionKind::Reminder);
        if firing && resolved.contains(&key(&n)) {
            stale.push((key(&n), row));
        } else {
            units.push(Unit { rows: vec![row], n });
        }
    }
    for unit in &mut units {
        if unit.n.kind != TransitionKind::Resolved {
            continue;
        }
        let k = key(&unit.n);
        let mut i = 0;
        while i < stale.len() {
            if stale[i].0 == k {
                unit.rows.push(stale.remove(i).1);
                unit.n.folded = true;
            } else {
                i += 1;
            }
        }
    }
    units
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

    fn row(id: &str) -> OutboxRow {
        use chrono::TimeZone;
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        OutboxRow {
            id: id.into(),
            channel: "chat".into(),
            payload: String::new(),
            created_at: t,
            next_attempt_at: t,
            attempts: 0,
        }
    }

    fn note(target: &str, kind: TransitionKind, minute: i64) -> Notification {
        use chrono::TimeZone;
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        Notification::new(
            kind,
            crate::alert::Severity::Critical,
            target,
            "http://x/",
            vec![],
            t + chrono::Duration::minutes(minute),
            "here",
        )
    }

    #[test]
    fn an_undelivered_firing_is_folded_into_its_recovery() {
        use TransitionKind::{Firing, Reminder, Resolved};
        let live = vec![
            (row("f-a"), note("a", Firing, 0)),
            (row("f-b"), note("b", Firing, 0)),
            (row("m-a"), note("a", Reminder, 0)),
            (row("r-a"), note("a", Resolved, 0)),
            // Another episode of b (it started later): not the same alert.
            (row("r-b"), note("b", Resolved, 5)),
        ];
        let units = fold_stale_pairs(live);
        let got: Vec<(Vec<String>, TransitionKind, bool)> = units
            .iter()
            .map(|u| (u.ids(), u.n.kind, u.n.folded))
            .collect();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (ids(&["f-b"]), Firing, false),
                (ids(&["r-a", "f-a", "m-a"]), Resolved, true),
                (ids(&["r-b"]), Resolved, false),
            ]
        );
    }

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
