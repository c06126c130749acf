//! One lightweight task per target: wait for the next tick, respect the target's gate (a
//! 429 hold, its group's spacing), take a concurrency permit, probe, hand the result to the
//! pipeline. No thread per target, no TLS config per probe.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::etiquette::{self, Gate};
use super::heartbeat::SLACK;
use super::wallstep::Steps;
use super::{Heartbeat, ScheduleSpec, Ticker};
use crate::config::{Config, Target};
use crate::probe::tls::TlsConfigs;
use crate::probe::{ProbeResult, TargetProber};

/// Starts one task per target of `config` on `tracker`. Tasks stop taking new ticks when
/// `cancel` fires; a probe already running finishes and its result is still delivered.
pub fn spawn_targets(
    config: &Config,
    tls: &TlsConfigs,
    results: mpsc::Sender<ProbeResult>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
    heartbeat: &Heartbeat,
    steps: &Steps,
) {
    let permits = Arc::new(Semaphore::new(config.daemon.max_concurrency));
    let gates = etiquette::gates(&config.targets, &config.rate_limit_groups);
    let start = Instant::now();
    let offsets = super::even_offsets(config.targets.iter().filter_map(|t| match t.schedule {
        super::ScheduleSpec::Interval(period) => Some((&*t.name, period)),
        super::ScheduleSpec::Cron(_) => None,
    }));
    for target in &config.targets {
        let prober = TargetProber::new(target.clone(), tls.get(&target.tls));
        // Cron targets have no offset, and a cron ticker ignores it.
        let offset = offsets.get(&*target.name).copied().unwrap_or_default();
        let ticker = Ticker::at_offset(&target.schedule, offset, start);
        // Known to the heartbeat before its task first runs, so `/healthz` never counts
        // fewer targets than the config has.
        let first = offset + target.schedule.nominal_period(chrono::Utc::now());
        heartbeat.expect_by(&target.name, start + first + budget(target));
        let gate = gates
            .get(&target.name)
            .cloned()
            .unwrap_or_else(|| Gate::single(target.name.clone()));
        tracker.spawn(run_target(
            prober,
            ticker,
            gate,
            permits.clone(),
            results.clone(),
            Signals {
                cancel: cancel.clone(),
                heartbeat: heartbeat.clone(),
                steps: steps.clone(),
            },
        ));
    }
}

/// The longest one probe may take: every attempt timing out, plus the waits between,
/// plus [`SLACK`].
fn budget(t: &Target) -> Duration {
    t.timeout * (t.retries + 1) + t.retry_delay * t.retries + SLACK
}

/// What a target task listens to and reports to, beside its results.
#[derive(Clone)]
pub struct Signals {
    /// Stops taking new ticks.
    pub cancel: CancellationToken,
    /// Where the task promises its next probe.
    pub heartbeat: Heartbeat,
    /// Wall clock steps (cron targets plan again on each).
    pub steps: Steps,
}

/// Runs one target until `cancel` fires or the results consumer is gone.
pub async fn run_target(
    mut prober: TargetProber,
    mut ticker: Ticker,
    gate: Gate,
    permits: Arc<Semaphore>,
    results: mpsc::Sender<ProbeResult>,
    signals: Signals,
) {
    let Signals {
        cancel,
        heartbeat,
        mut steps,
    } = signals;
    let name = prober.target().name.clone();
    let budget = budget(prober.target());
    // Backoff after a 429 counts in these.
    let period = prober.target().schedule.nominal_period(chrono::Utc::now());
    loop {
        let now = Instant::now();
        // While the gate is held (a 429), plan from the end of the hold: the ticks before
        // it are skipped quietly (the hold itself was logged once).
        let held = gate.held_until(now);
        let from = held.unwrap_or(now);
        let wall = chrono::Utc::now()
            + chrono::Duration::from_std(from - now).unwrap_or(chrono::Duration::zero());
        let Some(tick) = ticker.next(from, wall) else {
            tracing::warn!(target_name = %name, "schedule has no future run time; target stops");
            heartbeat.forget(&name);
            return;
        };
        heartbeat.expect_by(&name, tick.at + budget);
        if let Some(step) = tick.wall_step {
            tracing::info!(
                target_name = %name,
                skipped = tick.skipped,
                "wall clock jumped {}; skipped {} scheduled run(s)",
                super::wallstep::describe(step),
                tick.skipped
            );
        } else if tick.skipped > 0 && held.is_none() {
            tracing::warn!(
                target_name = %name,
                skipped = tick.skipped,
                "previous probe overran its slot; skipped {} scheduled run(s)",
                tick.skipped
            );
        } else if tick.skipped > 0 {
            tracing::debug!(target_name = %name, skipped = tick.skipped, gate = %gate.name, "held after a 429; skipped {} scheduled run(s)", tick.skipped);
        }
        let cron = matches!(prober.target().schedule, ScheduleSpec::Cron(_));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep_until(tick.at) => {}
            // The wall clock stepped while this cron target slept: plan again from it.
            Ok(()) = steps.changed(), if cron => continue,
        }
        // Another target of the group may have met a 429 while this one slept.
        if gate.held_until(Instant::now()).is_some() {
            continue;
        }
        let slot = gate.reserve(Instant::now());
        if slot > Instant::now() {
            heartbeat.expect_by(&name, slot + budget);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(slot) => {}
            }
            if gate.held_until(Instant::now()).is_some() {
                continue;
            }
        }
        // Boxed: a probe's state machine is about 13.6 KB and the result it sends 0.8 KB;
        // inlined, every idle target task would be that big (over 700 MB at 50,000
        // targets). Boxed, only probes in flight hold them; an idle task is about 1 KB.
        let go_on = Box::pin(probe_and_send(
            &mut prober,
            &gate,
            &permits,
            &results,
            &cancel,
            period,
            tick.at,
        ))
        .await;
        if !go_on {
            return;
        }
    }
}

/// One probe: waits for a concurrency slot, probes, lets the gate see the result (a 429
/// holds it), sends the result on. False when the daemon is stopping or the results
/// consumer is gone.
async fn probe_and_send(
    prober: &mut TargetProber,
    gate: &Gate,
    permits: &Semaphore,
    results: &mpsc::Sender<ProbeResult>,
    cancel: &CancellationToken,
    period: Duration,
    tick_at: Instant,
) -> bool {
    let permit = tokio::select! {
        _ = cancel.cancelled() => return false,
        p = permits.acquire() => match p {
            Ok(p) => p,
            Err(_) => return false,
        },
    };
    // Not raced against `cancel`: an in-flight probe finishes so its result is kept.
    let result = prober.probe().await;
    drop(permit);
    // Backoff counts from the tick, so the hold ends on a tick of the schedule.
    if let Some(hold) = gate.observe(&result, period, tick_at, Instant::now()) {
        tracing::warn!(
            target_name = %prober.target().name,
            gate = %gate.name,
            wait_s = hold.wait.as_secs_f64(),
            "HTTP 429: no probe{} before {:.0} s from now ({})",
            if gate.shared { format!(" of rate_limit_group {:?}", &*gate.name) } else { String::new() },
            hold.wait.as_secs_f64(),
            hold.reason
        );
    }
    results.send(result).await.is_ok()
}
