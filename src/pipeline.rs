//! The results task: the single consumer of probe results. Each result is logged, counted
//! in the metrics, queued for the result writer and fed to the alert engine; alert state
//! changes, incidents and the notifications they cause are committed to the store in one
//! transaction before the channels are woken. Every result takes this one path.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::alert::engine::Engine;
use crate::config::Target;
use crate::metrics::Metrics;
use crate::notify::outbox::{Wakers, WallClock};
use crate::probe::{Health, ProbeResult};
use crate::store::{IncidentEvent, OutboxRow, ResultSink, StateChange, Store};

/// Alerting as the pipeline drives it.
pub struct Alerts {
    /// The state machines.
    pub engine: Engine,
    /// Where state and the outbox live.
    pub store: Store,
    /// Wakes channel tasks after a commit.
    pub wakers: Wakers,
}

/// The results consumer.
pub struct Pipeline {
    targets: HashMap<Arc<str>, Arc<Target>>,
    alerts: Option<Alerts>,
    results: Option<ResultSink>,
    metrics: Option<Metrics>,
    clock: WallClock,
    /// Changes whose commit failed, retried before the next ones so none is lost.
    unsaved: Unsaved,
}

#[derive(Default)]
struct Unsaved {
    changes: Vec<StateChange>,
    incidents: Vec<IncidentEvent>,
    rows: Vec<OutboxRow>,
}

impl Unsaved {
    fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.incidents.is_empty() && self.rows.is_empty()
    }
}

impl Pipeline {
    /// A pipeline for `targets`, alerting when `alerts` is given.
    pub fn new(targets: &[Arc<Target>], alerts: Option<Alerts>, clock: WallClock) -> Self {
        Pipeline {
            targets: targets
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            alerts,
            results: None,
            metrics: None,
            clock,
            unsaved: Unsaved::default(),
        }
    }

    /// Also records every result through `sink`.
    pub fn recording(mut self, sink: ResultSink) -> Self {
        self.results = Some(sink);
        self
    }

    /// Also counts every result (and alert state) in `metrics`.
    pub fn measuring(mut self, metrics: Metrics) -> Self {
        for t in self.targets.keys() {
            metrics.register_target(t);
        }
        self.metrics = Some(metrics);
        self
    }

    /// Consumes results until every sender is gone; returns how many it handled.
    pub async fn run(mut self, mut results: mpsc::Receiver<ProbeResult>) -> u64 {
        let mut handled = 0;
        while let Some(r) = results.recv().await {
            self.handle(&r).await;
            handled += 1;
        }
        if !self.unsaved.is_empty() {
            self.commit().await;
        }
        handled
    }

    /// Logs, counts and records one result, and steps its alerts.
    pub async fn handle(&mut self, r: &ProbeResult) {
        log_result(r);
        if let Some(m) = &self.metrics {
            m.observe(r);
        }
        if let Some(sink) = &self.results {
            sink.record(r).await;
        }
        let (Some(alerts), Some(target)) = (&mut self.alerts, self.targets.get(&r.target)) else {
            return;
        };
        let now = (self.clock)();
        let obs = alerts.engine.observe(target, r, now);
        if let Some(m) = &self.metrics {
            for (sev, firing) in &obs.firing {
                m.alert_firing(&target.name, *sev, *firing);
            }
        }
        if obs.changes.is_empty() && obs.notifications.is_empty() && obs.incidents.is_empty() {
            return;
        }
        self.unsaved.changes.extend(obs.changes);
        self.unsaved.incidents.extend(obs.incidents);
        for (channel, n) in obs.notifications {
            match serde_json::to_string(&n) {
                Ok(payload) => self.unsaved.rows.push(OutboxRow {
                    id: n.id.clone(),
                    channel: channel.to_string(),
                    payload,
                    created_at: now,
                    next_attempt_at: now,
                    attempts: 0,
                }),
                Err(e) => {
                    tracing::error!(target_name = %n.target, "cannot encode a notification: {e}")
                }
            }
        }
        self.commit().await;
    }

    async fn commit(&mut self) {
        let Some(alerts) = &self.alerts else { return };
        let Unsaved {
            changes,
            incidents,
            rows,
        } = std::mem::take(&mut self.unsaved);
        let channels: Vec<String> = rows.iter().map(|r| r.channel.clone()).collect();
        match alerts
            .store
            .commit_alerts(
                changes.clone(),
                incidents.clone(),
                rows.clone(),
                (self.clock)(),
            )
            .await
        {
            Ok(()) => {
                for c in channels {
                    alerts.wakers.wake(&c);
                }
            }
            Err(e) => {
                tracing::error!("cannot record alert state ({e}); keeping {} change(s) and {} notification(s) in memory to retry with the next result", changes.len(), rows.len());
                self.unsaved = Unsaved {
                    changes,
                    incidents,
                    rows,
                };
            }
        }
    }
}

/// One structured line per probe: target, health, status, total ms, failures.
pub fn log_result(r: &ProbeResult) {
    let latency_ms = crate::probe::result::ms(r.total);
    let status = r.status.map(i64::from).unwrap_or(-1);
    match r.health {
        Health::Up => {
            tracing::info!(target_name = %r.target, health = r.health.as_str(), status, latency_ms, "probe up")
        }
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
