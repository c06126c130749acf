//! Noticing the wall clock step. Cron targets sleep on monotonic time until their next
//! wall-clock slot; when the wall clock is set (by NTP, by hand, or on a VM resume), that
//! sleep ends at the wrong wall time. One task compares the two clocks every second and
//! wakes the cron targets, which plan again from the new wall time.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::WallClock;

/// How often the two clocks are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Counts wall clock steps; each cron target holds a receiver and plans again when it
/// changes.
pub type Steps = watch::Receiver<u64>;

/// Starts the watcher on `tracker`; it ends with `cancel`.
pub fn spawn(clock: WallClock, cancel: CancellationToken, tracker: &TaskTracker) -> Steps {
    let (tx, rx) = watch::channel(0u64);
    tracker.spawn(async move {
        let mut mono = Instant::now();
        let mut wall = clock();
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let (mono_now, wall_now) = (Instant::now(), clock());
            if let Some(step) = super::wall_stepped(mono_now - mono, wall_now - wall) {
                tracing::warn!(
                    step_ms = step.num_milliseconds(),
                    "wall clock jumped {}: cron schedules follow it (interval schedules run on monotonic time and are unaffected)",
                    describe(step)
                );
                tx.send_modify(|n| *n += 1);
            }
            (mono, wall) = (mono_now, wall_now);
        }
    });
    rx
}

/// `forward by 1h`, `back by 2m`: a step as people say it, to the nearest second.
pub fn describe(step: chrono::Duration) -> String {
    let dir = if step < chrono::Duration::zero() {
        "back"
    } else {
        "forward"
    };
    let secs = (step.num_milliseconds().unsigned_abs() + 500) / 1000;
    format!(
        "{dir} by {}",
        crate::fmt::human_duration(Duration::from_secs(secs))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    #[test]
    fn steps_read_to_the_nearest_second() {
        let ms = chrono::Duration::milliseconds;
        assert_eq!(describe(ms(3_599_600)), "forward by 1h");
        assert_eq!(describe(ms(-3_600_300)), "back by 1h");
        assert_eq!(describe(ms(-90_000)), "back by 1m");
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_either_way_wakes_the_cron_targets_and_drift_does_not() {
        let start = Instant::now();
        let base = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let offset = Arc::new(AtomicI64::new(0));
        let clock: WallClock = {
            let offset = offset.clone();
            Arc::new(move || -> DateTime<Utc> {
                base + chrono::Duration::from_std(Instant::now() - start).unwrap()
                    + chrono::Duration::milliseconds(offset.load(Ordering::Relaxed))
            })
        };
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let mut steps = spawn(clock, cancel.clone(), &tracker);
        tokio::time::sleep(Duration::from_secs(5)).await;
        // A slow slew (NTP's 0.05 %: 0.5 ms per second) is no step.
        for _ in 0..10 {
            offset.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(!steps.has_changed().unwrap());
        offset.fetch_add(3_600_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(steps.has_changed().unwrap());
        steps.borrow_and_update();
        offset.fetch_sub(3_600_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(*steps.borrow_and_update(), 2);
        cancel.cancel();
        tracker.close();
        tracker.wait().await;
    }
}
