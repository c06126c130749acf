//! One probe of each of several targets, concurrently and bounded: what `check` runs.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::tls::TlsConfigs;
use super::{ProbeResult, TargetProber};
use crate::config;

/// Probes each target once, concurrently (bounded), results in the given order.
pub async fn probe_all(
    targets: &[Arc<config::Target>],
    tls: &TlsConfigs,
    max_concurrency: usize,
) -> Vec<ProbeResult> {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_concurrency.max(1)));
    let mut set = JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let mut prober = TargetProber::new(t.clone(), tls.get(&t.tls));
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, prober.probe().await)
        });
    }
    let mut out: Vec<(usize, ProbeResult)> = Vec::with_capacity(targets.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(x) => out.push(x),
            Err(e) => tracing::error!("probe task failed: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
