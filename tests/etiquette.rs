//! Probe etiquette on tokio's paused clock against a real local server that counts
//! requests: Retry-After honoured, exponential backoff without it, a rate-limit group
//! spaced at its max_rps and backed off together.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upwatch::config::{self, Config, Env, RateLimitGroup};
use upwatch::probe::tls::TlsConfigs;
use upwatch::probe::{ProbeResult, TargetProber};
use upwatch::schedule::etiquette::gates;
use upwatch::schedule::runner::{run_target, Signals};
use upwatch::schedule::{Heartbeat, Ticker};

fn load(text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    config::parse(
        &dir.path().join("monitor.toml"),
        text,
        &Env::from_pairs(&[]),
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Runs every target of `cfg` with one shared tick offset (so a group's targets are due at
/// the same instant); results arrive on the returned channel.
fn run(cfg: &Config) -> (mpsc::Receiver<ProbeResult>, CancellationToken) {
    let (tx, rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let permits = Arc::new(Semaphore::new(16));
    let all = gates(&cfg.targets, &cfg.rate_limit_groups);
    let start = Instant::now();
    // No wall clock steps here: with the sender gone, the runner never waits on them.
    let steps = tokio::sync::watch::channel(0u64).1;
    for t in &cfg.targets {
        let (tls, _) = TlsConfigs::build([t.as_ref()]).unwrap();
        let prober = TargetProber::new(t.clone(), tls.get(&t.tls));
        let ticker = Ticker::at_offset(&t.schedule, Duration::ZERO, start);
        tokio::spawn(run_target(
            prober,
            ticker,
            all[&t.name].clone(),
            permits.clone(),
            tx.clone(),
            Signals {
                cancel: cancel.clone(),
                heartbeat: Heartbeat::default(),
                steps: steps.clone(),
            },
        ));
    }
    (rx, cancel)
}

fn target(name: &str, url: &str, interval: &str, extra: &str) -> String {
    format!(
        "[[target]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"{interval}\"\ntimeout = \"5s\"\nip_version = \"v4\"\n{extra}\n"
    )
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

fn close(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) < Duration::from_millis(5)
}

#[tokio::test(start_paused = true)]
async fn retry_after_holds_the_next_probe() {
    let site = VendorSite::start(vec![Page::json(
        "/v1/models",
        r#"{"message":"Requests rate limit exceeded"}"#,
    )
    .with_status(429)
    .with_header("retry-after", "150")])
    .await;
    let cfg = load(&target(
        "models",
        &format!("{}/v1/models", site.url()),
        "60s",
        "",
    ));
    let (mut rx, cancel) = run(&cfg);
    let first = rx.recv().await.unwrap();
    assert_eq!(first.status, Some(429));
    site.set(vec![Page::json("/v1/models", r#"{"data":[]}"#)]);
    let second = rx.recv().await.unwrap();
    assert_eq!(second.status, Some(200));
    cancel.cancel();
    let times: Vec<Instant> = site.times.lock().unwrap().iter().map(|t| t.1).collect();
    assert_eq!(times.len(), 2, "one request per probe, no retry of the 429");
    // The ticks at +60 s and +120 s fall inside the 150 s hold; the one at +180 s runs.
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_secs(150), "{gap:?}");
    assert!(close(gap, Duration::from_secs(180)), "{gap:?}");
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_capped_not_a_panic() {
    let site = VendorSite::start(vec![Page::json("/v1/models", "{}")
        .with_status(429)
        .with_header("retry-after", "1e300")])
    .await;
    let cfg = load(&target(
        "models",
        &format!("{}/v1/models", site.url()),
        "60s",
        "",
    ));
    let (mut rx, cancel) = run(&cfg);
    rx.recv().await.unwrap();
    site.set(vec![Page::json("/v1/models", r#"{"data":[]}"#)]);
    assert_eq!(rx.recv().await.unwrap().status, Some(200));
    cancel.cancel();
    let times: Vec<Instant> = site.times.lock().unwrap().iter().map(|t| t.1).collect();
    // Held for the 6 h cap, then the first tick of the 60 s grid at or after its end (the
    // hold starts when the 429 arrived, on or just after a tick of the grid).
    let gap = times[1] - times[0];
    assert!(gap >= Duration::from_secs(6 * 3600), "{gap:?}");
    let over = gap - Duration::from_secs(6 * 3600);
    assert!(
        close(over, Duration::ZERO) || close(over, Duration::from_secs(60)),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_retry_after_backoff_doubles_to_ten_intervals() {
    let site = VendorSite::start(vec![Page::json("/v1/models", "{}").with_status(429)]).await;
    let cfg = load(&target(
        "models",
        &format!("{}/v1/models", site.url()),
        "10s",
        "",
    ));
    let (mut rx, cancel) = run(&cfg);
    for _ in 0..6 {
        let r = rx.recv().await.unwrap();
        assert_eq!(r.status, Some(429));
    }
    // Back to 200: the backoff clears, the next probe is one interval later.
    site.set(vec![Page::json("/v1/models", r#"{"data":[]}"#)]);
    for _ in 0..2 {
        rx.recv().await.unwrap();
    }
    cancel.cancel();
    let times: Vec<Instant> = site.times.lock().unwrap().iter().map(|t| t.1).collect();
    let got = gaps(&times);
    let want: Vec<Duration> = [20, 40, 80, 100, 100, 100, 10]
        .into_iter()
        .map(Duration::from_secs)
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(close(*g, *w), "gaps {got:?}, want {want:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_group_is_spaced_at_max_rps_and_backs_off_together() {
    let site = VendorSite::start(vec![
        Page::json("/a", r#"{"data":[]}"#),
        Page::json("/b", r#"{"data":[]}"#),
        Page::json("/c", r#"{"data":[]}"#),
    ])
    .await;
    let group = "rate_limit_group = \"workspace\"";
    let text = format!(
        "{}{}{}[rate_limit_group.workspace]\nmax_rps = 1\n",
        target("a", &format!("{}/a", site.url()), "10s", group),
        target("b", &format!("{}/b", site.url()), "10s", group),
        target("c", &format!("{}/c", site.url()), "10s", group),
    );
    let cfg = load(&text);
    assert_eq!(
        cfg.rate_limit_groups.get("workspace"),
        Some(&RateLimitGroup { max_rps: 1.0 })
    );
    let (mut rx, cancel) = run(&cfg);
    // Three rounds, all due at the same instant each time.
    for _ in 0..9 {
        rx.recv().await.unwrap();
    }
    let round: Vec<(String, Instant)> = site.times.lock().unwrap().clone();
    let times: Vec<Instant> = round.iter().map(|t| t.1).collect();
    for g in gaps(&times) {
        assert!(g >= Duration::from_millis(999), "two requests {g:?} apart");
    }
    // Each round's three requests go out 1 s apart from the shared tick.
    for r in times.chunks(3) {
        assert!(close(r[1] - r[0], Duration::from_secs(1)), "{r:?}");
        assert!(close(r[2] - r[0], Duration::from_secs(2)), "{r:?}");
    }

    // Now /a answers 429 with Retry-After 25: nobody in the group asks before it elapses.
    site.set(vec![
        Page::json("/a", "{}")
            .with_status(429)
            .with_header("retry-after", "25"),
        Page::json("/b", r#"{"data":[]}"#),
        Page::json("/c", r#"{"data":[]}"#),
    ]);
    let before = site.times.lock().unwrap().len();
    loop {
        let r = rx.recv().await.unwrap();
        if r.status == Some(429) {
            break;
        }
    }
    // The key recovers: after the hold the whole group runs again.
    site.set(vec![
        Page::json("/a", r#"{"data":[]}"#),
        Page::json("/b", r#"{"data":[]}"#),
        Page::json("/c", r#"{"data":[]}"#),
    ]);
    for _ in 0..6 {
        rx.recv().await.unwrap();
    }
    cancel.cancel();
    let after: Vec<(String, Instant)> = site.times.lock().unwrap()[before..].to_vec();
    let hit_429 = after.iter().find(|(p, _)| p == "/a").unwrap().1;
    let held: Vec<&(String, Instant)> = after
        .iter()
        .filter(|(_, t)| *t > hit_429 && *t < hit_429 + Duration::from_secs(25))
        .collect();
    assert!(held.is_empty(), "requests during the hold: {held:?}");
    assert!(
        after
            .iter()
            .any(|(p, t)| p != "/a" && *t >= hit_429 + Duration::from_secs(25)),
        "the others resume after the hold: {after:?}"
    );
}

#[test]
fn targets_without_a_group_get_their_own_gate() {
    let cfg = load(&format!(
        "{}{}",
        target("x", "http://127.0.0.1:9/x", "10s", ""),
        target(
            "y",
            "http://127.0.0.1:9/y",
            "10s",
            "rate_limit_group = \"k\""
        )
    ));
    let g = gates(&cfg.targets, &BTreeMap::new());
    assert!(!g["x"].shared);
    assert!(
        g["y"].shared,
        "an undefined group still gates (default max_rps 1)"
    );
    assert_eq!(cfg.rate_limit_groups.get("k").map(|g| g.max_rps), Some(1.0));
}
