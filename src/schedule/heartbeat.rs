//! Liveness of the scheduler: each target task says by when it will have finished its next
//! probe; a deadline that passes means a task is stuck (a hung probe, a starved concurrency
//! limit or a results pipeline that stopped taking results). `/healthz` and the
//! systemd watchdog read it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Slack on top of a probe's own time budget before a target counts as stuck.
pub const SLACK: Duration = Duration::from_secs(30);

/// Per-target deadlines; cheap to clone.
#[derive(Clone, Default)]
pub struct Heartbeat(Arc<Mutex<HashMap<Arc<str>, Instant>>>);

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Heartbeat")
    }
}

impl Heartbeat {
    /// `target` promises its next probe will be done by `deadline`.
    pub fn expect_by(&self, target: &Arc<str>, deadline: Instant) {
        self.lock().insert(target.clone(), deadline);
    }

    /// `target` stopped on purpose (no future run time, or shutdown).
    pub fn forget(&self, target: &str) {
        self.lock().remove(target);
    }

    /// Targets whose deadline has passed at `now`, with how long ago, most overdue first.
    pub fn overdue(&self, now: Instant) -> Vec<(Arc<str>, Duration)> {
        let mut late: Vec<(Arc<str>, Duration)> = self
            .lock()
            .iter()
            .filter(|(_, d)| **d < now)
            .map(|(t, d)| (t.clone(), now - *d))
            .collect();
        late.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        late
    }

    /// How many targets are being watched.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no target is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Instant>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_missed_deadline_is_reported_until_renewed() {
        let hb = Heartbeat::default();
        let api: Arc<str> = Arc::from("api");
        hb.expect_by(&api, Instant::now() + Duration::from_secs(10));
        assert!(hb.overdue(Instant::now()).is_empty());
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(
            hb.overdue(Instant::now()),
            vec![(api.clone(), Duration::from_secs(5))]
        );
        hb.expect_by(&api, Instant::now() + Duration::from_secs(60));
        assert!(hb.overdue(Instant::now()).is_empty());
        hb.forget("api");
        assert!(hb.is_empty());
    }
}
