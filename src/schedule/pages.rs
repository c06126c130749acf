//! One task per status page: poll at once, then every `interval`; hand each reading to the
//! pipeline. A poll still running at shutdown is dropped (a reading is not worth holding
//! the daemon up for; the next start reads the page again).

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::WallClock;
use crate::config::StatusPage;
use crate::statuspage::{poll, Poller, Reading};

/// Starts one task per page on `tracker`. A page whose HTTP client cannot be built is
/// logged and skipped (its TLS files were checked at load, so this is unexpected).
pub fn spawn_pages(
    pages: &[Arc<StatusPage>],
    readings: mpsc::Sender<Reading>,
    clock: WallClock,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    for page in pages {
        let http = match poll::client(page) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(page = %page.name, "cannot build the HTTP client: {e}; the page is not polled");
                continue;
            }
        };
        let poller = Poller::new(page.clone(), http);
        tracker.spawn(run_page(
            poller,
            readings.clone(),
            clock.clone(),
            cancel.clone(),
        ));
    }
}

async fn run_page(
    mut poller: Poller,
    readings: mpsc::Sender<Reading>,
    clock: WallClock,
    cancel: CancellationToken,
) {
    let mut ticks = tokio::time::interval(poller.page().interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let reading = tokio::select! {
            _ = cancel.cancelled() => return,
            r = poller.poll(clock()) => r,
        };
        if readings.send(reading).await.is_err() {
            return;
        }
    }
}
