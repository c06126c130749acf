//! One lightweight task per target: wait for the next tick, take a concurrency permit,
//! probe, hand the result to the pipeline. No thread per target, no TLS config per probe.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::heartbeat::SLACK;
use super::{Heartbeat, Ticker};
use crate::config::Target;
use crate::probe::tls::TlsConfigs;
use crate::probe::{ProbeResult, TargetProber};

/// Starts one task per target on `tracker`. Tasks stop taking new ticks when `cancel`
/// fires; a probe already running finishes and its result is still delivered.
pub fn spawn_targets(
    targets: &[Arc<Target>],
    tls: &TlsConfigs,
    max_concurrency: usize,
    results: mpsc::Sender<ProbeResult>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
    heartbeat: &Heartbeat,
) {
    let permits = Arc::new(Semaphore::new(max_concurrency));
    let start = Instant::now();
    for target in targets {
        let prober = TargetProber::new(target.clone(), tls.get(&target.tls));
        let ticker = Ticker::new(&target.schedule, &target.name, start);
        tracker.spawn(run_target(
            prober,
            ticker,
            permits.clone(),
            results.clone(),
            cancel.clone(),
            heartbeat.clone(),
        ));
    }
}

async fn run_target(
    mut prober: TargetProber,
    mut ticker: Ticker,
    permits: Arc<Semaphore>,
    results: mpsc::Sender<ProbeResult>,
    cancel: CancellationToken,
    heartbeat: Heartbeat,
) {
    let name = prober.target().name.clone();
    // The longest one probe may take: every attempt timing out, plus the waits between.
    let t = prober.target();
    let budget = t.timeout * (t.retries + 1) + t.retry_delay * t.retries + SLACK;
    loop {
        let Some(tick) = ticker.next(Instant::now(), chrono::Utc::now()) else {
            tracing::warn!(target_name = %name, "schedule has no future run time; target stops");
            heartbeat.forget(&name);
            return;
        };
        heartbeat.expect_by(&name, tick.at + budget);
        if tick.skipped > 0 {
            tracing::warn!(
                target_name = %name,
                skipped = tick.skipped,
                "previous probe overran its slot; skipped {} scheduled run(s)",
                tick.skipped
            );
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(tick.at) => {}
        }
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = permits.acquire() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        // Not raced against `cancel`: an in-flight probe finishes so its result is kept.
        let result = prober.probe().await;
        drop(permit);
        if results.send(result).await.is_err() {
            return;
        }
    }
}
