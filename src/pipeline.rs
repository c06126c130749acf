//! The results task: the single consumer of probe results. Each result is logged, counted
//! in the metrics, queued for the result writer and fed to the alert engine; alert state
//! changes, incidents and the notifications they cause are committed to the store in one
//! transaction before the channels are woken. Every result takes this one path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::alert::engine::{Engine, Observation};
use crate::alert::Notification;
use crate::alert::{Severity, TransitionKind};
use crate::clock::WallClock;
use crate::config::{StatusPage, Target};
use crate::correlate::{host_of, reach, HostTally};
use crate::metrics::Metrics;
use crate::notify::outbox::Wakers;
use crate::probe::{Failure, FailureKind};
use crate::probe::{Health, ProbeResult};
use crate::statuspage::{Reading, VendorWord};
use crate::store::{AlertCommit, CatalogChange, OutboxRow, ResultSink, Store};

/// A stable page is recorded at least this often (and on every change).
const PAGE_RECORD_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(1);

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
    pages: HashMap<Arc<str>, Arc<StatusPage>>,
    /// The word of each page's latest reading, for failing targets that link it.
    vendor: HashMap<Arc<str>, VendorWord>,
    /// What was last recorded for each page (JSON without times) and when.
    recorded: HashMap<Arc<str>, (serde_json::Value, chrono::DateTime<chrono::Utc>)>,
    /// The last model catalog of each target that reads one (loaded from the store).
    catalogs: HashMap<Arc<str>, Vec<String>>,
    /// Each host's standing from its targets' latest probes (which side a failure is on
    /// depends on the other hosts).
    tally: HostTally,
    alerts: Option<Alerts>,
    results: Option<ResultSink>,
    metrics: Option<Metrics>,
    clock: WallClock,
    /// Changes whose commit failed, retried before the next ones so none is lost.
    unsaved: AlertCommit,
    /// Since when the store refuses alert state (None: it takes it).
    unsaved_since: Option<chrono::DateTime<chrono::Utc>>,
    /// When that was last logged (once a minute, not once a result).
    unsaved_logged: Option<chrono::DateTime<chrono::Utc>>,
}

impl Pipeline {
    /// A pipeline for `targets`, alerting when `alerts` is given.
    pub fn new(targets: &[Arc<Target>], alerts: Option<Alerts>, clock: WallClock) -> Self {
        Pipeline {
            targets: targets
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            pages: HashMap::new(),
            vendor: HashMap::new(),
            recorded: HashMap::new(),
            tally: HostTally::default(),
            catalogs: HashMap::new(),
            alerts,
            results: None,
            metrics: None,
            clock,
            unsaved: AlertCommit::default(),
            unsaved_since: None,
            unsaved_logged: None,
        }
    }

    /// Also handles readings of these status pages (see [`Pipeline::run_with_pages`]).
    pub fn watching(mut self, pages: &[Arc<StatusPage>]) -> Self {
        self.pages = pages.iter().map(|p| (p.name.clone(), p.clone())).collect();
        self
    }

    /// Compares model catalogs against these (the store's, from before a restart).
    pub fn with_catalogs(mut self, catalogs: HashMap<String, Vec<String>>) -> Self {
        self.catalogs = catalogs
            .into_iter()
            .map(|(k, v)| (Arc::from(k.as_str()), v))
            .collect();
        self
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
    pub async fn run(self, results: mpsc::Receiver<ProbeResult>) -> u64 {
        let (_none, pages) = mpsc::channel(1);
        self.run_with_pages(results, pages).await
    }

    /// Consumes probe results and status page readings until the result senders are gone
    /// (pollers stop with them); returns how many probe results it handled.
    pub async fn run_with_pages(
        mut self,
        mut results: mpsc::Receiver<ProbeResult>,
        mut pages: mpsc::Receiver<Reading>,
    ) -> u64 {
        let mut handled = 0;
        let mut pages_open = true;
        loop {
            tokio::select! {
                r = results.recv() => match r {
                    Some(r) => {
                        self.handle(&r).await;
                        handled += 1;
                    }
                    None => break,
                },
                reading = pages.recv(), if pages_open => match reading {
                    Some(reading) => self.handle_reading(reading).await,
                    None => pages_open = false,
                },
            }
        }
        // Readings already sent are still handled.
        while let Ok(reading) = pages.try_recv() {
            self.handle_reading(reading).await;
        }
        if !self.unsaved.is_empty() {
            self.commit().await;
        }
        handled
    }

    /// Logs, counts and records one status page reading, keeps it for the vendor word of
    /// linked targets, and steps the page's alerts.
    pub async fn handle_reading(&mut self, reading: Reading) {
        log_reading(&reading);
        if let Some(m) = &self.metrics {
            m.observe_page(&reading);
        }
        let page = reading.page.clone();
        if let Some(alerts) = &self.alerts {
            // Recorded on change (ignoring times) and at least hourly.
            let json = reading.to_check_json();
            let mut key = json.clone();
            if let Some(map) = key.as_object_mut() {
                for k in ["checked_at", "duration_ms", "stale"] {
                    map.remove(k);
                }
            }
            let due = match self.recorded.get(&page) {
                Some((last, at)) => *last != key || reading.checked_at - *at >= PAGE_RECORD_EVERY,
                None => true,
            };
            if due {
                let reason = reading.outcome.as_ref().err().map(|u| u.reason.as_str());
                match alerts
                    .store
                    .insert_page_reading(
                        &page,
                        reading.checked_at,
                        reading.overall.as_str(),
                        reason,
                        &json,
                    )
                    .await
                {
                    Ok(()) => {
                        self.recorded
                            .insert(page.clone(), (key, reading.checked_at));
                    }
                    Err(e) => {
                        tracing::error!(page = %page, "cannot record the status page reading: {e}")
                    }
                }
            }
        }
        let now = (self.clock)();
        if let (Some(alerts), Some(cfg)) = (&mut self.alerts, self.pages.get(&page)) {
            let obs = alerts.engine.observe_page(cfg, &reading, now);
            self.queue(&page, obs, now).await;
        }
        self.vendor.insert(page, reading.vendor_word());
    }

    /// Logs, counts and records one result, and steps its alerts. A result that is not up
    /// carries the word of the target's status page, when it links one.
    pub async fn handle(&mut self, r: &ProbeResult) {
        let host: Cow<'_, str> = match self.targets.get(&r.target) {
            Some(t) => Cow::Borrowed(t.url.host_str().unwrap_or(&t.name)),
            None => Cow::Owned(host_of(&r.url)),
        };
        self.tally.record(&r.target, &host, reach(&r.failures));
        let explained;
        let r = if r.health != Health::Up {
            let word = self
                .targets
                .get(&r.target)
                .and_then(|t| t.status_page.as_ref())
                .and_then(|p| self.vendor.get(p));
            let others = self.tally.others(&host);
            let mut copy = r.clone();
            copy.vendor = word.cloned();
            copy.side = r
                .error_class
                .map(|c| crate::correlate::side(&r.failures, c, word, others));
            explained = copy;
            &explained
        } else {
            r
        };
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
        let name = target.name.clone();
        let target = target.clone();
        self.catalog(&target, r, now);
        self.queue(&name, obs, now).await;
    }

    /// Notes a changed model catalog (recorded with the next commit) and, when the target
    /// asks for it, queues a notice to its channels.
    fn catalog(&mut self, target: &Target, r: &ProbeResult, now: chrono::DateTime<chrono::Utc>) {
        let Some(models) = &r.models else { return };
        let before = self.catalogs.get(&target.name).map(Vec::as_slice);
        let Some(change) =
            CatalogChange::between(target.name.clone(), before, models, r.checked_at)
        else {
            return;
        };
        self.catalogs.insert(target.name.clone(), models.clone());
        if change.is_event() {
            tracing::info!(target_name = %target.name, "model catalog changed: {}", change.describe());
        }
        if change.is_event() && target.llm.notify_catalog_changes {
            let location = self.alerts.as_ref().map(|a| a.engine.location());
            let n = Notification::new(
                TransitionKind::Notice,
                Severity::Warning,
                target.name.as_ref(),
                target.display_url.as_ref(),
                vec![Failure::new(
                    FailureKind::CatalogChanged,
                    format!(
                        "model catalog {} ({} models listed)",
                        change.describe(),
                        models.len()
                    ),
                )],
                r.checked_at,
                location.unwrap_or_default(),
            );
            for channel in &target.alert.channels {
                self.outbox(channel, &n.for_channel(), now);
            }
        }
        self.unsaved.catalogs.push(change);
    }

    /// Counts firing alerts, then commits what an observation changed (if anything).
    async fn queue(
        &mut self,
        name: &Arc<str>,
        obs: Observation,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        if let Some(m) = &self.metrics {
            for (sev, firing) in &obs.firing {
                m.alert_firing(name, *sev, *firing);
            }
        }
        // Something may wait from before (a catalog change, a failed commit) even when
        // this observation changed nothing.
        if obs.changes.is_empty()
            && obs.notifications.is_empty()
            && obs.incidents.is_empty()
            && obs.page_incidents.is_empty()
            && self.unsaved.is_empty()
        {
            return;
        }
        self.unsaved.changes.extend(obs.changes);
        self.unsaved.incidents.extend(obs.incidents);
        self.unsaved.page_incidents.extend(obs.page_incidents);
        for (channel, n) in obs.notifications {
            self.outbox(&channel, &n, now);
        }
        self.commit().await;
    }

    /// Adds one notification for `channel` to the next commit.
    fn outbox(&mut self, channel: &str, n: &Notification, now: chrono::DateTime<chrono::Utc>) {
        match serde_json::to_string(n) {
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

    async fn commit(&mut self) {
        let Some(alerts) = &self.alerts else { return };
        let commit = Arc::new(std::mem::take(&mut self.unsaved));
        let now = (self.clock)();
        match alerts.store.commit(commit.clone(), now).await {
            Ok(()) => {
                alerts.wakers.recorded(&commit.rows);
                for row in &commit.rows {
                    alerts.wakers.wake(&row.channel);
                }
                if let Some(since) = self.unsaved_since.take() {
                    tracing::info!(
                        changes = commit.changes.len(),
                        notifications = commit.rows.len(),
                        "alert state recorded again (the store had refused it since {since})"
                    );
                }
                if let Some(m) = &self.metrics {
                    m.set_alerts_unsaved(0);
                }
            }
            Err(e) => {
                // Decided transitions are not held back by the disk: their notifications
                // go out from memory now, and everything is written when the store
                // takes it again (nothing lost, nothing sent twice).
                alerts.wakers.hold_in_memory(&commit.rows);
                let pending = commit.changes.len() + commit.rows.len();
                if let Some(m) = &self.metrics {
                    m.set_alerts_unsaved(pending);
                }
                let since = *self.unsaved_since.get_or_insert(now);
                let due = self
                    .unsaved_logged
                    .is_none_or(|at| now - at >= chrono::TimeDelta::minutes(1));
                if due {
                    self.unsaved_logged = Some(now);
                    tracing::error!(since = %since, "cannot record alert state ({e}); keeping {} change(s) and {} notification(s) in memory (notifications are delivered from there) and retrying with each result; this line repeats once a minute while it lasts", commit.changes.len(), commit.rows.len());
                }
                // The store task has dropped its handle by now, so this does not copy.
                self.unsaved = Arc::try_unwrap(commit).unwrap_or_else(|shared| (*shared).clone());
            }
        }
    }
}

/// One structured line per probe: target, health, status, total ms, failures.
pub fn log_result(r: &ProbeResult) {
    let latency_ms = crate::fmt::ms(r.total);
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
            error_class = r.error_class.map_or("", |c| c.as_str()),
            likely = %r.side.as_ref().map(|s| s.text()).unwrap_or_default(),
            request_id = r.response.as_ref().and_then(|x| x.request_ids.first()).map_or("", |(_, v)| v.as_str()),
            "probe {}",
            r.health.as_str()
        ),
    }
}

/// One structured line per status page reading.
pub fn log_reading(r: &Reading) {
    match &r.outcome {
        Ok(_) if r.ok() => {
            tracing::info!(page = %r.page, overall = r.overall.as_str(), incidents = r.incidents().len(), "status page read")
        }
        Ok(_) => {
            tracing::warn!(page = %r.page, overall = r.overall.as_str(), incidents = r.incidents().len(), "{}", r.vendor_word().text)
        }
        Err(u) => {
            tracing::warn!(page = %r.page, reason = u.reason.as_str(), detail = %u.detail, "status page unreadable")
        }
    }
}
