//! The results task: the single consumer of probe results. Today it logs one line per
//! probe; the store, metrics and alert engine plug in here so every result takes one path.

use tokio::sync::mpsc;

use crate::probe::{Health, ProbeResult};

/// Consumes results until every sender is gone, returning how many it handled.
pub async fn run(mut results: mpsc::Receiver<ProbeResult>) -> u64 {
    let mut handled = 0;
    while let Some(r) = results.recv().await {
        log_result(&r);
        handled += 1;
    }
    handled
}

/// One structured line per probe: target, health, status, total ms, failures.
pub fn log_result(r: &ProbeResult) {
    let latency_ms = crate::probe::result::ms(r.total);
    let status = r.status.map(i64::from).unwrap_or(-1);
    match r.health {
        Health::Up => tracing::info!(
            target_name = %r.target,
            health = r.health.as_str(),
            status,
            latency_ms,
            "probe up"
        ),
        Health::Degraded | Health::Down => tracing::warn!(
            target_name = %r.target,
            health = r.health.as_str(),
            status,
            latency_ms,
            failures = %r.failure_summary(),
            "probe {}",
            r.health.as_str()
        ),
    }
}
