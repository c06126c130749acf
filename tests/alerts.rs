//! Alert delivery against real receivers on loopback: retries, backoff, Retry-After,
//! dead letters, signatures, channel independence, and the engine's reminder timing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use upwatch::alert::{Severity, TransitionKind};
use upwatch::clock::WallClock;
use upwatch::config::{self, Config, Env};
use upwatch::notify::outbox::{Dispatcher, Wakers};
use upwatch::notify::{Notification, Notifier};
use upwatch::probe::{Failure, FailureKind, Health, ProbeResult};
use upwatch::store::{OutboxCounts, OutboxRow, Store};

struct Clock(Arc<Mutex<DateTime<Utc>>>);

impl Clock {
    fn new() -> Self {
        Clock(Arc::new(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
        )))
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
    fn advance(&self, d: Duration) {
        let t = self.now() + chrono::Duration::from_std(d).unwrap();
        self.set(t);
    }
    fn wall(&self) -> WallClock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }
}

fn config(channels: &str) -> Config {
    let text = format!("[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n{channels}");
    config::parse(
        std::path::Path::new("/tmp/monitor.toml"),
        &text,
        &Env::from_pairs(&[]),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn notification(kind: TransitionKind) -> Notification {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 58, 0).unwrap();
    let mut n = Notification::new(
        kind,
        Severity::Critical,
        "api",
        "http://127.0.0.1:9/",
        vec![Failure::http_status(503, "200")],
        t0,
        "local",
    );
    n.last_result = serde_json::json!({"status": 503});
    n.evidence.status = Some(503);
    n.for_channel()
}

struct Setup {
    store: Store,
    dispatcher: Dispatcher,
    notifiers: Vec<Arc<Notifier>>,
    clock: Clock,
    _dir: tempfile::TempDir,
}

async fn setup(channels: &str, max_age: Duration) -> Setup {
    let cfg = config(channels);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let notifiers = Notifier::build_all(&cfg.channels, None).unwrap();
    let clock = Clock::new();
    let dispatcher = Dispatcher {
        store: store.clone(),
        max_age,
        clock: clock.wall(),
        wakers: Wakers::new(notifiers.iter().map(|n| n.name())),
        metrics: upwatch::metrics::Metrics::new("test"),
    };
    Setup {
        store,
        dispatcher,
        notifiers,
        clock,
        _dir: dir,
    }
}

async fn enqueue(s: &Setup, channel: &str, n: &Notification) {
    let row = OutboxRow {
        id: n.id.clone(),
        channel: channel.into(),
        payload: serde_json::to_string(n).unwrap(),
        created_at: s.clock.now(),
        next_attempt_at: s.clock.now(),
        attempts: 0,
    };
    s.store
        .commit_alerts(vec![], vec![], vec![row], s.clock.now())
        .await
        .unwrap();
}

fn webhook(url: &str, extra: &str) -> String {
    format!("[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\n{extra}\n")
}

#[tokio::test]
async fn failed_deliveries_back_off_and_then_deliver_once_with_a_stable_id() {
    let rx = Receiver::start(Behaviour::FailFirst { n: 2, status: 503 }).await;
    let s = setup(&webhook(&rx.url(), ""), Duration::from_secs(86_400)).await;
    let n = notification(TransitionKind::Firing);
    enqueue(&s, "hook", &n).await;

    let t0 = s.clock.now();
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 1);
    let first_retry = s.store.next_due("hook").await.unwrap().unwrap();
    let wait = (first_retry - t0).to_std().unwrap();
    assert!(
        wait >= Duration::from_millis(250) && wait <= Duration::from_secs(2),
        "first backoff {wait:?}"
    );

    // Not due yet: nothing is sent.
    s.clock.set(first_retry - chrono::Duration::milliseconds(1));
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 1);

    s.clock.set(first_retry);
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 2);
    let second_retry = s.store.next_due("hook").await.unwrap().unwrap();
    let wait = (second_retry - first_retry).to_std().unwrap();
    assert!(wait <= Duration::from_secs(4), "second backoff {wait:?}");

    s.clock.set(second_retry);
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    let got = rx.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(
        s.store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 0,
            delivered: 1,
            dead: 0
        }
    );
    for r in &got {
        assert_eq!(r.header("x-upwatch-id"), Some(n.id.as_str()));
        assert_eq!(r.json()["id"], n.id.as_str());
    }
    // Delivered rows are never sent again.
    s.clock.advance(Duration::from_secs(3600));
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 3);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let rx = Receiver::start(Behaviour::RateLimitOnce { secs: 30 }).await;
    let slack = format!(
        "[[channel]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"{}\"\n",
        rx.url()
    );
    let s = setup(&slack, Duration::from_secs(86_400)).await;
    enqueue(&s, "chat", &notification(TransitionKind::Firing)).await;
    let t0 = s.clock.now();
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 1);
    let next = s.store.next_due("chat").await.unwrap().unwrap();
    assert!(
        next - t0 >= chrono::Duration::seconds(30),
        "retry scheduled after {:?}",
        next - t0
    );
    s.clock.set(t0 + chrono::Duration::seconds(29));
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(
        rx.requests().len(),
        1,
        "no request before Retry-After elapsed"
    );
    s.clock.set(next);
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 2);
    assert_eq!(s.store.outbox_counts().await.unwrap().delivered, 1);
    // The Slack body is Block Kit.
    assert!(rx.requests()[1].json()["attachments"][0]["blocks"].is_array());
}

#[tokio::test]
async fn a_permanent_rejection_is_dead_at_once() {
    let rx = Receiver::start(Behaviour::Reject).await;
    let s = setup(&webhook(&rx.url(), ""), Duration::from_secs(86_400)).await;
    enqueue(&s, "hook", &notification(TransitionKind::Firing)).await;
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(
        s.store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 0,
            delivered: 0,
            dead: 1
        }
    );
}

#[tokio::test]
async fn too_old_notifications_are_marked_dead() {
    let rx = Receiver::start(Behaviour::FailFirst {
        n: 1000,
        status: 500,
    })
    .await;
    let s = setup(&webhook(&rx.url(), ""), Duration::from_secs(60)).await;
    enqueue(&s, "hook", &notification(TransitionKind::Firing)).await;
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 1);
    s.clock.advance(Duration::from_secs(61));
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    assert_eq!(rx.requests().len(), 1, "a dead row is not sent again");
    assert_eq!(
        s.store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 0,
            delivered: 0,
            dead: 1
        }
    );
}

#[tokio::test]
async fn webhook_signature_verifies_with_the_shared_secret() {
    let rx = Receiver::start(Behaviour::Ok).await;
    let s = setup(
        &webhook(
            &rx.url(),
            "secret = \"s3cret\"\nheaders = { \"X-Team\" = \"api\" }",
        ),
        Duration::from_secs(60),
    )
    .await;
    enqueue(&s, "hook", &notification(TransitionKind::Firing)).await;
    s.dispatcher.deliver_due(&s.notifiers[0]).await.unwrap();
    let r = &rx.requests()[0];
    let ts = r.header("x-upwatch-timestamp").unwrap();
    assert_eq!(ts, s.clock.now().timestamp().to_string());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        r.header("x-upwatch-signature"),
        Some(format!("sha256={expected}").as_str())
    );
    assert_eq!(r.header("x-team"), Some("api"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["status"], "firing");
    assert_eq!(body["conditions"][0]["kind"], "http_status");
}

#[tokio::test]
async fn a_hung_slack_does_not_delay_the_webhook() {
    let hung = Receiver::start(Behaviour::Hang).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let channels = format!(
        "[[channel]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"{}\"\ntimeout = \"60s\"\ngroup = false\n\n{}",
        hung.url(),
        webhook(&hook.url(), "")
    );
    let s = setup(&channels, Duration::from_secs(86_400)).await;
    // Real time here: the channel tasks run as in the daemon.
    let d = Dispatcher {
        clock: upwatch::clock::system_clock(),
        ..s.dispatcher.clone()
    };
    let now = Utc::now();
    for (channel, n) in [
        ("chat", notification(TransitionKind::Firing)),
        ("hook", notification(TransitionKind::Firing)),
    ] {
        let row = OutboxRow {
            id: n.id.clone(),
            channel: channel.into(),
            payload: serde_json::to_string(&n).unwrap(),
            created_at: now,
            next_attempt_at: now,
            attempts: 0,
        };
        s.store
            .commit_alerts(vec![], vec![], vec![row], now)
            .await
            .unwrap();
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    d.spawn(&s.notifiers, cancel.clone(), &tracker);
    // Slack has the request and is sitting on it; the webhook is delivered meanwhile.
    assert_eq!(hung.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    assert_eq!(hook.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    let mut delivered = 0;
    for _ in 0..100 {
        delivered = s.store.outbox_counts().await.unwrap().delivered;
        if delivered == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivered, 1);
    assert_eq!(
        s.store.outbox_counts().await.unwrap().pending,
        1,
        "the Slack message is still in flight"
    );
    cancel.cancel();
}

fn result(failing: bool, at: DateTime<Utc>) -> ProbeResult {
    let failures = if failing {
        vec![Failure::new(
            FailureKind::HttpStatus,
            "HTTP 500, expected 200",
        )]
    } else {
        vec![]
    };
    ProbeResult {
        health: if failing { Health::Down } else { Health::Up },
        status: Some(if failing { 500 } else { 200 }),
        total: Duration::from_millis(5),
        failures,
        ..ProbeResult::started(Arc::from("api"), Arc::from("http://127.0.0.1:9/"), at)
    }
}

/// Wall time that follows tokio's (paused) clock from 2026-11-23 10:00 UTC.
fn paused_wall() -> WallClock {
    let start = tokio::time::Instant::now();
    let base = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    Arc::new(move || {
        base + chrono::Duration::from_std(tokio::time::Instant::now() - start).unwrap()
    })
}

#[tokio::test(start_paused = true)]
async fn pipeline_queues_firing_reminders_and_resolved_once_per_channel() {
    let cfg = config(
        "[alerting]\nfailure_threshold = 2\nsuccess_threshold = 2\nrepeat_interval = \"10m\"\nchannels = [\"a\", \"b\"]\n\n\
         [[channel]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/a\"\n\n\
         [[channel]]\nname = \"b\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/b\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let wall = paused_wall();
    let (engine, _) =
        upwatch::alert::engine::Engine::resume(vec![], &cfg.alert_names(), "local", vec![]);
    let alerts = upwatch::pipeline::Alerts {
        engine,
        store: store.clone(),
        wakers: Wakers::new(["a", "b"]),
    };
    let mut p = upwatch::pipeline::Pipeline::new(&cfg.targets, Some(alerts), wall.clone());
    // One probe a minute on tokio's paused clock: 25 minutes failing, then 3 good.
    for minute in 0..28 {
        let failing = minute < 25;
        p.handle(&result(failing, wall())).await;
        tokio::time::advance(Duration::from_secs(60)).await;
    }
    let queued = |channel: &'static str| {
        let store = store.clone();
        async move {
            store
                .due(
                    channel,
                    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
                    100,
                )
                .await
                .unwrap()
        }
    };
    for channel in ["a", "b"] {
        let rows = queued(channel).await;
        let kinds: Vec<(TransitionKind, i64)> = rows
            .iter()
            .map(|r| {
                let n: Notification = serde_json::from_str(&r.payload).unwrap();
                (
                    n.kind,
                    (r.created_at - Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap())
                        .num_minutes(),
                )
            })
            .collect();
        // Fires on the 2nd failing probe (minute 1), reminds every 10 minutes after that,
        // resolves on the 2nd good probe (minute 26).
        assert_eq!(
            kinds,
            vec![
                (TransitionKind::Firing, 1),
                (TransitionKind::Reminder, 11),
                (TransitionKind::Reminder, 21),
                (TransitionKind::Resolved, 26)
            ],
            "channel {channel}"
        );
    }
    // A restart resumes the state: nothing fires again for an alert already firing.
    let store2 = Store::open(dir.path()).unwrap();
    assert!(
        store2.alert_states().await.unwrap().is_empty(),
        "resolved alerts leave no state"
    );
}

#[tokio::test]
async fn a_restart_does_not_resend_a_firing_alert() {
    let cfg = config("[alerting]\nfailure_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"a\"]\n\n[[channel]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/a\"\n");
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::new();
    for _restart in 0..3 {
        let store = Store::open(dir.path()).unwrap();
        let (engine, _) = upwatch::alert::engine::Engine::resume(
            store.alert_states().await.unwrap(),
            &cfg.alert_names(),
            "local",
            vec![],
        );
        let alerts = upwatch::pipeline::Alerts {
            engine,
            store: store.clone(),
            wakers: Wakers::new(["a"]),
        };
        let mut p = upwatch::pipeline::Pipeline::new(&cfg.targets, Some(alerts), clock.wall());
        for _ in 0..3 {
            p.handle(&result(true, clock.now())).await;
            clock.advance(Duration::from_secs(60));
        }
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.due("a", clock.now(), 100).await.unwrap().len(),
        1,
        "exactly one firing notification across restarts"
    );
    // What a channel that keeps alerts alive (Alertmanager) takes over after a restart:
    // the firing alert, rebuilt from the stored state, for each of the target's channels.
    let (engine, _) = upwatch::alert::engine::Engine::resume(
        store.alert_states().await.unwrap(),
        &cfg.alert_names(),
        "paris",
        vec![],
    );
    let standing = engine.standing(|name| cfg.alert_subject(name));
    assert_eq!(standing.len(), 1, "{standing:?}");
    let (channel, n) = &standing[0];
    assert_eq!(&**channel, "a");
    assert_eq!(n.target, cfg.targets[0].name.to_string());
    assert_eq!(n.kind, TransitionKind::Reminder);
    assert_eq!(n.location, "paris");
    assert_eq!(
        n.started_at,
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    );
    assert!(!n.conditions.is_empty());
    assert!(
        engine.standing(|_| None).is_empty(),
        "names no longer configured are skipped"
    );
}

#[tokio::test]
async fn maintenance_holds_firing_until_the_window_ends() {
    // A window every day at 10:00 UTC for 30 minutes; the clock starts at 10:00.
    let cfg = config(
        "[alerting]\nfailure_threshold = 2\nchannels = [\"a\"]\n\n[[channel]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/a\"\n\n\
         [[maintenance]]\nschedule = \"0 0 10 * * *\"\nduration = \"30m\"\ntimezone = \"UTC\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Clock::new();
    let (engine, _) = upwatch::alert::engine::Engine::resume(
        vec![],
        &cfg.alert_names(),
        "local",
        cfg.maintenance.clone(),
    );
    let alerts = upwatch::pipeline::Alerts {
        engine,
        store: store.clone(),
        wakers: Wakers::new(["a"]),
    };
    let mut p = upwatch::pipeline::Pipeline::new(&cfg.targets, Some(alerts), clock.wall());
    for _ in 0..35 {
        p.handle(&result(true, clock.now())).await;
        clock.advance(Duration::from_secs(60));
    }
    let rows = store.due("a", clock.now(), 100).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].created_at - Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()).num_minutes(),
        30,
        "fires at the first probe after the window"
    );
}

#[tokio::test]
async fn alerts_of_a_removed_target_are_dropped() {
    let cfg = config("");
    let firing = upwatch::alert::AlertState {
        phase: upwatch::alert::AlertPhase::Firing,
        fail_streak: 4,
        ..Default::default()
    };
    let states = vec![
        ((Arc::from("api"), Severity::Critical), firing.clone()),
        ((Arc::from("gone"), Severity::Critical), firing.clone()),
    ];
    let (engine, dropped) =
        upwatch::alert::engine::Engine::resume(states, &cfg.alert_names(), "local", vec![]);
    assert_eq!(
        dropped,
        vec![((Arc::from("gone"), Severity::Critical), None)]
    );
    assert_eq!(engine.state("api", Severity::Critical), firing);
    assert_eq!(engine.state("gone", Severity::Critical), Default::default());
}

#[test]
fn the_hosts_own_trouble_holds_target_alerts_and_is_one_alert() {
    use upwatch::correlate::{HostCause, Side};
    let cfg = config(
        "[alerting]\nfailure_threshold = 2\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"hook\"]\n\n\
         [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n",
    );
    let (engine, _) =
        upwatch::alert::engine::Engine::resume(vec![], &cfg.alert_names(), "local", vec![]);
    let mut engine = engine.with_host_policy(cfg.alerting.policy.clone());
    let target = &cfg.targets[0];
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let at = |m: i64| t0 + chrono::Duration::minutes(m);
    let host_failure = |m: i64| {
        let mut r = result(true, at(m));
        r.side = Some(Side::Host {
            cause: HostCause::Network,
        });
        r
    };
    let mut sent: Vec<(String, TransitionKind)> = Vec::new();
    let step = |engine: &mut upwatch::alert::engine::Engine,
                sent: &mut Vec<(String, TransitionKind)>,
                r: ProbeResult,
                m: i64| {
        let obs = engine.observe(target, &r, at(m));
        sent.extend(
            obs.notifications
                .into_iter()
                .map(|(_, n)| (n.target, n.kind)),
        );
    };
    // Ten minutes of this host's network down: the target never fires, the host does once.
    for m in 0..10 {
        step(&mut engine, &mut sent, host_failure(m), m);
    }
    assert_eq!(sent, vec![("@host".to_string(), TransitionKind::Firing)]);
    assert_eq!(
        engine.state("api", Severity::Critical),
        Default::default(),
        "the target's alert was held, not stepped"
    );
    // The network is back and the target answers: the host resolves, the target is quiet.
    step(&mut engine, &mut sent, result(false, at(10)), 10);
    assert_eq!(sent[1..], [("@host".to_string(), TransitionKind::Resolved)]);
    // A real outage right after still alerts, on the target.
    step(&mut engine, &mut sent, result(true, at(11)), 11);
    step(&mut engine, &mut sent, result(true, at(12)), 12);
    assert_eq!(sent[2..], [("api".to_string(), TransitionKind::Firing)]);
    assert_eq!(sent.len(), 3);
}

#[test]
fn a_descriptor_shortage_that_hits_some_probes_keeps_the_host_alert_firing() {
    use upwatch::correlate::{HostCause, Side};
    let cfg = config(
        "[alerting]\nfailure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"hook\"]\n\n\
         [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n\n\
         [[target]]\nname = \"kept\"\nurl = \"http://127.0.0.1:9/k\"\n",
    );
    let (engine, _) =
        upwatch::alert::engine::Engine::resume(vec![], &cfg.alert_names(), "local", vec![]);
    let mut engine = engine.with_host_policy(cfg.alerting.policy.clone());
    let (api, kept) = (&cfg.targets[0], &cfg.targets[1]);
    let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    let starved = |s: i64| {
        let mut r = result(true, at(s));
        r.failures = vec![Failure::new(
            FailureKind::LocalResource,
            "connect: Too many open files (os error 24)",
        )];
        r.side = Some(Side::Host {
            cause: HostCause::Resources,
        });
        r
    };
    let mut sent = Vec::new();
    // "api" cannot open a socket, every second; "kept" answers on its kept connection.
    for s in 0..10 {
        for n in engine.observe(api, &starved(s), at(s)).notifications {
            sent.push((n.1.target, n.1.kind));
        }
        for n in engine
            .observe(kept, &result(false, at(s)), at(s))
            .notifications
        {
            sent.push((n.1.target, n.1.kind));
        }
    }
    assert_eq!(
        sent,
        vec![("@host".to_string(), TransitionKind::Firing)],
        "one firing, no flapping"
    );
    // The shortage ends: the starved target answers again, and the host resolves.
    for n in engine
        .observe(api, &result(false, at(10)), at(10))
        .notifications
    {
        sent.push((n.1.target, n.1.kind));
    }
    assert_eq!(sent[1..], [("@host".to_string(), TransitionKind::Resolved)]);
}
