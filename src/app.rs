//! Builds the running daemon from a validated config and supervises it until shutdown.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::alert::engine::Engine;
use crate::clock::WallClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::notify::outbox::{Dispatcher, Wakers};
use crate::notify::{Notifier, NotifySetupError};
use crate::pipeline::{Alerts, Pipeline};
use crate::probe::tls::TlsConfigs;
use crate::schedule::{runner, Heartbeat};
use crate::server::{ServerError, ServerState};
use crate::store::{IncidentEvent, Reader, Store, StoreError, StoreHealth, Writer};
use crate::tls::TlsSetupError;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// TLS could not be set up for some target.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A notification channel could not be set up.
    #[error(transparent)]
    Notify(#[from] NotifySetupError),
    /// The HTTP server could not listen.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A task the daemon cannot work without ended while it ran.
    #[error("the {0} stopped unexpectedly (its error is logged above); upwatch stopped rather than run half-alive")]
    TaskDied(&'static str),
}

/// A critical task that ended before the stop signal.
enum Died {
    /// The results pipeline, with the results it had handled.
    Pipeline(u64),
    /// The result writer.
    Writer,
    /// The HTTP server.
    Server,
}

impl Died {
    fn name(&self) -> &'static str {
        match self {
            Died::Pipeline(_) => "results pipeline",
            Died::Writer => "result writer",
            Died::Server => "HTTP server",
        }
    }
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
/// in-flight probes finish, drain the results (committing their alerts and flushing the
/// store), give the outbox a last pass, all within `daemon.shutdown_grace`.
pub async fn run(
    config: Config,
    clock: WallClock,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Stopped, AppError> {
    run_with(config, clock, stop, |_| {}).await
}

/// Raises the open-file limit and sizes the HTTP server's connection cap to leave the
/// probes, store and outbox their reserve.
fn http_limits(config: &Config) -> crate::server::conns::Limits {
    let kept = config.targets.iter().filter(|t| t.reuse_connection).count();
    let reserve = crate::rlimit::reserve(
        config.daemon.max_concurrency,
        kept + config.status_pages.len(),
        config.channels.len(),
    );
    let max_connections = match crate::rlimit::raise_nofile() {
        Ok(n) => {
            let cap = crate::rlimit::connection_cap(config.daemon.max_connections, n.soft, reserve);
            match n.raised_from {
                Some(from) => tracing::info!(soft = n.soft, hard = n.hard, "open-file limit raised from {from} to {}; {reserve} kept for probes, the store and the outbox", n.soft),
                None => tracing::info!(soft = n.soft, hard = n.hard, "open-file limit {}; {reserve} kept for probes, the store and the outbox", n.soft),
            }
            if cap < config.daemon.max_connections {
                tracing::warn!(
                    "the HTTP server holds at most {cap} connection(s), not max_connections = {}: the open-file limit ({}) leaves no more beside the reserve; raise LimitNOFILE (systemd) or `ulimit -n`",
                    config.daemon.max_connections,
                    n.soft
                );
            }
            cap
        }
        Err(e) => {
            tracing::warn!("cannot read the open-file limit ({e}); the HTTP server holds at most max_connections = {}", config.daemon.max_connections);
            config.daemon.max_connections
        }
    };
    crate::server::conns::Limits {
        max_connections,
        header_timeout: config.daemon.header_timeout,
    }
}

/// [`run`], calling `on_listen` with the server's bound address once it listens (tests
/// bind port 0 and need to learn the port).
pub async fn run_with(
    config: Config,
    clock: WallClock,
    stop: impl std::future::Future<Output = ()>,
    on_listen: impl FnOnce(SocketAddr),
) -> Result<Stopped, AppError> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for var in &config.overrides {
        let key = crate::config::ENV_OVERRIDES
            .iter()
            .find(|(v, _)| v == var)
            .map_or("?", |(_, k)| *k);
        tracing::info!("daemon.{key} comes from the environment ({var}), not the file");
    }
    let limits = http_limits(&config);
    let (tls, tls_warnings) = TlsConfigs::build(config.targets.iter().map(|t| t.as_ref()))?;
    for w in &tls_warnings {
        tracing::warn!("{w}");
    }

    let store = Store::open(&config.daemon.state_dir)?;
    let (engine, dropped) = Engine::resume(
        store.alert_states().await?,
        &config.alert_names(),
        &config.daemon.location,
        config.maintenance.clone(),
    );
    let engine = engine
        .with_announced(store.page_incidents().await?)
        .with_host_policy(config.alerting.policy.clone())
        .with_dependencies(&config.targets);
    let catalogs = store.catalogs().await?;
    if !dropped.is_empty() {
        // Incidents of removed targets end now: nothing probes them any more.
        let closed = dropped
            .iter()
            .map(|((target, severity), _)| IncidentEvent::Closed {
                target: target.clone(),
                severity: *severity,
                ended_at: clock(),
            })
            .collect();
        store
            .commit_alerts(dropped, closed, Vec::new(), clock())
            .await?;
    }
    // Everything that can fail at start fails before any task is spawned.
    let notifiers = Notifier::build_all(&config.channels, config.daemon.page_url().as_deref())?;
    let listener = crate::server::bind(config.daemon.listen).await?;
    let listen_addr = listener.local_addr().unwrap_or(config.daemon.listen);
    let reader = Reader::open_file(store.path())?;
    let metrics = Metrics::new(&config.daemon.location);
    let store_health = StoreHealth::default();
    // One root token: every subsystem's token is its child, cancelled in order below.
    let root = CancellationToken::new();
    let (results_sink, mut writer) = Writer {
        store: store.clone(),
        settings: config.store,
        clock: clock.clone(),
        health: store_health.clone(),
        metrics: metrics.clone(),
    }
    .spawn();
    let heartbeat = Heartbeat::default();
    let server_state = Arc::new(ServerState {
        reader,
        metrics: metrics.clone(),
        targets: config.targets.clone(),
        status_pages: config.status_pages.clone(),
        heartbeat: heartbeat.clone(),
        store_health,
        api_token: config.daemon.api_token.clone(),
        protect_metrics: config.daemon.protect_metrics,
        location: config.daemon.location.clone(),
        clock: clock.clone(),
    });
    let wakers = Wakers::new(notifiers.iter().map(|n| n.name()));
    let dispatcher = Dispatcher {
        store: store.clone(),
        max_age: config.alerting.delivery_max_age,
        clock: clock.clone(),
        wakers: wakers.clone(),
        metrics: metrics.clone(),
    };
    let delivery_cancel = root.child_token();
    let delivery = TaskTracker::new();
    dispatcher.spawn(&notifiers, delivery_cancel.clone(), &delivery);
    // Alertmanager forgets an alert that is not posted again: keep firing ones alive,
    // starting with those that were firing before this start.
    let standing = engine.standing(|name| config.alert_subject(name));
    for n in &notifiers {
        if let Notifier::Alertmanager(am) = &**n {
            let mine: Vec<_> = standing
                .iter()
                .filter(|(channel, _)| **channel == *am.name())
                .map(|(_, n)| n.clone())
                .collect();
            am.resume(&mine);
            delivery.spawn(crate::notify::alertmanager::keep_alive(
                n.clone(),
                clock.clone(),
                delivery_cancel.clone(),
            ));
        }
    }
    delivery.close();

    let cancel = root.child_token();
    let tracker = TaskTracker::new();
    // Room for one result per target, so a slow consumer never stalls a burst of ticks.
    let (tx, rx) = mpsc::channel(config.targets.len().clamp(16, 65_536));
    let (page_tx, page_rx) = mpsc::channel(config.status_pages.len().clamp(4, 1024));
    let pipeline = Pipeline::new(
        &config.targets,
        Some(Alerts {
            engine,
            store: store.clone(),
            wakers,
        }),
        clock.clone(),
    )
    .watching(&config.status_pages)
    .with_catalogs(catalogs)
    .recording(results_sink)
    .measuring(metrics);
    let mut pipeline = tokio::spawn(pipeline.run_with_pages(rx, page_rx));
    crate::schedule::pages::spawn_pages(
        &config.status_pages,
        page_tx,
        clock.clone(),
        cancel.clone(),
        &tracker,
    );
    let steps = crate::schedule::wallstep::spawn(clock.clone(), cancel.clone(), &tracker);
    runner::spawn_targets(
        &config,
        &tls,
        tx,
        cancel.clone(),
        &tracker,
        &heartbeat,
        &steps,
    );
    tracker.close();
    // Served only once every target is known to the heartbeat, so the first `/healthz`
    // already counts them all.
    let server_cancel = root.child_token();
    let mut server = tokio::spawn(crate::server::serve(
        listener,
        server_state,
        limits,
        server_cancel.clone(),
    ));
    let sd = crate::sdnotify::SdNotify::from_env();
    let supervisor = tokio::spawn(supervise(
        sd,
        crate::sdnotify::watchdog_period(),
        heartbeat.clone(),
        store.clone(),
        format!(
            "probing {} target(s) and {} status page(s)",
            config.targets.len(),
            config.status_pages.len()
        ),
        cancel.clone(),
    ));
    // Start times are spread over each interval, so say when results will come.
    let first_within = config
        .targets
        .iter()
        .filter_map(|t| match &t.schedule {
            crate::schedule::ScheduleSpec::Interval(d) => Some(*d),
            crate::schedule::ScheduleSpec::Cron(_) => None,
        })
        .max()
        .map(|d| d.min(crate::schedule::FIRST_ROUND));
    let when = match first_within {
        Some(d) => format!(
            "first results within {} (the first round is spread over at most {}, then start times are spread across each interval)",
            humantime::format_duration(d),
            humantime::format_duration(crate::schedule::FIRST_ROUND)
        ),
        None => "first results at their cron times".to_string(),
    };
    tracing::info!(
        targets = config.targets.len(),
        status_pages = config.status_pages.len(),
        channels = notifiers.len(),
        config = %config.path.display(),
        store = %store.path().display(),
        listen = %listen_addr,
        "upwatch started: probing {} target(s); {when}; status page, API and metrics on http://{listen_addr}/",
        config.targets.len()
    );
    on_listen(listen_addr);

    // Until the stop signal, the pipeline, the writer and the server never end on their
    // own: one that does takes the daemon down (through the same ordered shutdown) instead
    // of leaving it probing with nobody recording or alerting.
    let died = tokio::select! {
        () = stop => None,
        r = &mut pipeline => Some(Died::Pipeline(r.unwrap_or(0))),
        _ = &mut writer => Some(Died::Writer),
        _ = &mut server => Some(Died::Server),
    };
    if let Some(d) = &died {
        tracing::error!(
            "the {} stopped unexpectedly: shutting the daemon down",
            d.name()
        );
    }
    let grace = config.daemon.shutdown_grace;
    tracing::info!(
        "shutting down: waiting up to {} for in-flight probes",
        humantime::format_duration(grace)
    );
    cancel.cancel();
    let _ = supervisor.await;
    let deadline = tokio::time::Instant::now() + grace;
    let probes_done = tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_ok();
    // Every sender lives in a target task; once they are done the pipeline drains and ends.
    let remaining = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_millis(100));
    let (results, pipeline_done) = match &died {
        Some(Died::Pipeline(n)) => (*n, false),
        _ => match tokio::time::timeout(remaining, pipeline).await {
            Ok(Ok(n)) => (n, true),
            _ => (0, false),
        },
    };
    // The pipeline held the last result sink; the writer flushes what it has and ends.
    let remaining = deadline
        .saturating_duration_since(tokio::time::Instant::now())
        .max(Duration::from_millis(100));
    let writer_done = match &died {
        Some(Died::Writer) => false,
        _ => tokio::time::timeout(remaining, writer).await.is_ok(),
    };
    // Last outbox pass: deliver what is due now, within what is left of the grace period.
    let last_pass = async {
        for n in &notifiers {
            if let Err(e) = dispatcher.deliver_due(n).await {
                tracing::error!(channel = n.name(), "outbox: {e}");
            }
        }
    };
    delivery_cancel.cancel();
    let outbox_done = tokio::time::timeout_at(
        deadline.max(tokio::time::Instant::now() + Duration::from_millis(100)),
        async {
            delivery.wait().await;
            last_pass.await;
        },
    )
    .await
    .is_ok();
    if let Ok(c) = store.outbox_counts().await {
        if c.pending > 0 {
            tracing::info!(
                pending = c.pending,
                "notifications still queued; they are delivered after the next start"
            );
        }
    }
    server_cancel.cancel();
    // The server only reads; give open requests a moment, never the whole grace.
    if !matches!(died, Some(Died::Server)) {
        let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    }
    root.cancel();
    if let Some(d) = died {
        return Err(AppError::TaskDied(d.name()));
    }
    let clean = probes_done && pipeline_done && writer_done && outbox_done;
    if clean {
        tracing::info!(results, "stopped cleanly");
    } else {
        tracing::warn!("grace period of {} ran out; unfinished work was abandoned (queued notifications stay in the outbox)", humantime::format_duration(grace));
    }
    Ok(Stopped { results, clean })
}

/// Tells systemd (when it listens) that the daemon is ready, what it is doing, and, while
/// every target keeps the deadline it promised the heartbeat, that it is alive. A wedged
/// scheduler, pipeline or runtime stops the `WATCHDOG=1` pings, and systemd restarts the
/// service. Ends when `cancel` fires (the caller says whether that is a stop or a reload).
async fn supervise(
    sd: Option<crate::sdnotify::SdNotify>,
    watchdog: Option<Duration>,
    heartbeat: Heartbeat,
    store: Store,
    doing: String,
    cancel: CancellationToken,
) {
    let Some(sd) = sd else {
        cancel.cancelled().await;
        return;
    };
    sd.send(&format!("READY=1\nSTATUS={doing}"));
    tracing::info!(
        watchdog_s = watchdog.map(|w| w.as_secs_f64()),
        "told systemd: ready"
    );
    // Ping at half the watchdog period, as systemd recommends; refresh STATUS as often.
    let every = watchdog.map_or(Duration::from_secs(15), |w| {
        (w / 2).max(Duration::from_millis(100))
    });
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_late = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let late = heartbeat.overdue(tokio::time::Instant::now());
        let firing = match store.alert_states().await {
            Ok(states) => states
                .iter()
                .filter(|(_, s)| s.phase == crate::alert::state::AlertPhase::Firing)
                .count()
                .to_string(),
            Err(_) => "?".to_string(),
        };
        if late.is_empty() {
            if watchdog.is_some() {
                sd.send("WATCHDOG=1");
            }
            sd.send(&format!("STATUS={doing}, {firing} alert(s) firing"));
            was_late = false;
        } else {
            let (name, by) = &late[0];
            let line = format!(
                "{} target(s) past their deadline ({name} by {}); watchdog pings withheld",
                late.len(),
                humantime::format_duration(Duration::from_secs(by.as_secs()))
            );
            if !was_late {
                tracing::error!("{line}");
            }
            was_late = true;
            sd.send(&format!("STATUS={line}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn drain(rx: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = rx.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn watchdog_pings_stop_while_a_target_is_past_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        rx.set_nonblocking(true).unwrap();
        let sd = crate::sdnotify::SdNotify::connect(path.to_str().unwrap()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let hb = Heartbeat::default();
        let name: Arc<str> = Arc::from("models");
        hb.expect_by(
            &name,
            tokio::time::Instant::now() + Duration::from_millis(850),
        );
        let cancel = CancellationToken::new();
        let task = tokio::spawn(supervise(
            Some(sd),
            Some(Duration::from_millis(400)),
            hb.clone(),
            store,
            "probing 1 target(s)".into(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(900)).await;
        let first = drain(&rx);
        assert_eq!(first[0], "READY=1\nSTATUS=probing 1 target(s)");
        let pings = first.iter().filter(|m| *m == "WATCHDOG=1").count();
        assert!(pings >= 3, "{first:?}");
        assert!(first.contains(&"STATUS=probing 1 target(s), 0 alert(s) firing".to_string()));

        // The target's deadline passes: no ping while it stays late.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let wedged = drain(&rx);
        assert!(!wedged.contains(&"WATCHDOG=1".to_string()), "{wedged:?}");
        assert!(
            wedged
                .iter()
                .any(|m| m.contains("past their deadline (models by")),
            "{wedged:?}"
        );

        // It catches up: pings resume.
        hb.expect_by(&name, tokio::time::Instant::now() + Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(drain(&rx).contains(&"WATCHDOG=1".to_string()));
        cancel.cancel();
        task.await.unwrap();
    }
}
