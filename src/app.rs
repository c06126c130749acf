//! Builds the running daemon from a validated config and supervises it until shutdown.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::probe::tls::{TlsConfigs, TlsSetupError};
use crate::schedule::runner;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// TLS could not be set up for some target.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Results handled by the pipeline.
    pub results: u64,
    /// Whether every task finished within the grace period.
    pub clean: bool,
}

/// Runs the daemon until `stop` resolves, then shuts down in order: stop scheduling, let
/// in-flight probes finish, drain the results, all within `daemon.shutdown_grace`.
pub async fn run(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Stopped, AppError> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let (tls, tls_warnings) = TlsConfigs::build(config.targets.iter().map(|t| t.as_ref()))?;
    for w in &tls_warnings {
        tracing::warn!("{w}");
    }

    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    // Room for one result per target, so a slow consumer never stalls a burst of ticks.
    let (tx, rx) = mpsc::channel(config.targets.len().clamp(16, 65_536));
    let pipeline = tokio::spawn(crate::pipeline::run(rx));
    runner::spawn_targets(
        &config.targets,
        &tls,
        config.daemon.max_concurrency,
        tx,
        cancel.clone(),
        &tracker,
    );
    tracker.close();
    tracing::info!(
        targets = config.targets.len(),
        config = %config.path.display(),
        "upwatch started: probing {} target(s)",
        config.targets.len()
    );

    stop.await;
    tracing::info!(
        "shutting down: waiting up to {} for in-flight probes",
        humantime::format_duration(config.daemon.shutdown_grace)
    );
    cancel.cancel();
    let grace = config.daemon.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    let probes_done = tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_ok();
    // Every sender lives in a target task; once they are done the pipeline drains and ends.
    let remaining = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_millis(100));
    let (results, pipeline_done) = match tokio::time::timeout(remaining, pipeline).await {
        Ok(Ok(n)) => (n, true),
        _ => (0, false),
    };
    let clean = probes_done && pipeline_done;
    if clean {
        tracing::info!(results, "stopped cleanly");
    } else {
        tracing::warn!(
            "grace period of {} ran out; in-flight probes were abandoned",
            humantime::format_duration(grace)
        );
    }
    Ok(Stopped { results, clean })
}
