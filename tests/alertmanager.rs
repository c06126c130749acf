//! The Alertmanager channel against a real Alertmanager (Debian's prometheus-alertmanager,
//! fetched by tests/prometheus_tools.sh) on loopback: post, keep alive, resolve, read back
//! through its own API. Also checks the shipped Prometheus rules and Alertmanager route
//! with promtool and amtool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use upwatch::alert::{Severity, TransitionKind};
use upwatch::config::{self, Env};
use upwatch::notify::{Notification, Notifier};
use upwatch::probe::Failure;

/// A Prometheus tool: from `$UPWATCH_PROM_TOOLS` (tests/run.sh sets it), the PATH, or the
/// folder tests/prometheus_tools.sh fills.
fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("UPWATCH_PROM_TOOLS") {
        dirs.push(d.into());
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/prometheus-tools/usr/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is needed: run `bash tests/prometheus_tools.sh` (tests/run.sh does)")
        })
}

struct Alertmanager {
    child: tokio::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn alertmanager() -> Alertmanager {
    // The test's own reqwest clients use the crate's one crypto provider.
    upwatch::tls::install_default_provider();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n",
    )
    .unwrap();
    // Port 0 is not accepted: take a free port and hand it over (a small race, retried).
    for _ in 0..5 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut child = tokio::process::Command::new(tool("prometheus-alertmanager"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("alertmanager starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if let Ok(r) = http.get(format!("{base}/-/ready")).send().await {
                if r.status().is_success() {
                    return Alertmanager {
                        child,
                        base,
                        _dir: dir,
                    };
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.start_kill();
    }
    panic!("alertmanager did not become ready");
}

impl Alertmanager {
    /// The alerts Alertmanager holds, as its v2 API lists them.
    async fn alerts(&self) -> Vec<Value> {
        reqwest::get(format!("{}/api/v2/alerts", self.base))
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    }
}

fn channel(base: &str) -> std::sync::Arc<config::ChannelConfig> {
    let text = format!(
        r#"
[[target]]
name = "api"
url = "http://127.0.0.1:1/"
channels = ["am"]

[[channel]]
name = "am"
type = "alertmanager"
url = "{base}"
resend_interval = "30s"
headers = {{ "X-Scope-OrgID" = "team-a" }}
"#
    );
    let cfg = config::parse(Path::new("/tmp/monitor.toml"), &text, &Env::from_pairs(&[])).unwrap();
    let ch = cfg.channels[0].clone();
    match &ch.kind {
        config::ChannelKind::Alertmanager(am) => {
            assert_eq!(am.display_url, format!("{base}/api/v2/alerts"));
            assert_eq!(am.resend_interval, Duration::from_secs(30));
        }
        other => panic!("{other:?}"),
    }
    ch
}

fn notification(kind: TransitionKind, now: DateTime<Utc>) -> Notification {
    let mut n = Notification::new(
        kind,
        Severity::Critical,
        "api",
        "https://api.example.com/v1/models",
        vec![Failure::http_status(503, "200")],
        now - chrono::Duration::minutes(2),
        "paris",
    );
    n.resolved_at = (kind == TransitionKind::Resolved).then_some(now);
    n.for_channel()
}

fn ends_at(a: &Value) -> DateTime<Utc> {
    a["endsAt"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn alerts_fire_stay_alive_and_resolve_in_a_real_alertmanager() {
    let am = alertmanager().await;
    let notifiers =
        Notifier::build_all(&[channel(&am.base)], Some("http://upwatch.test:9777/")).unwrap();
    let Notifier::Alertmanager(n) = &*notifiers[0] else {
        panic!("not an alertmanager notifier")
    };
    // Real time: Alertmanager compares endsAt with its own clock.
    let now = Utc::now();
    notifiers[0]
        .send(&notification(TransitionKind::Firing, now), now)
        .await
        .unwrap();
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "UpwatchTargetFailing");
    assert_eq!(a["labels"]["target"], "api");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["location"], "paris");
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(a["generatorURL"], "http://upwatch.test:9777/");
    assert_eq!(
        a["annotations"]["summary"],
        "[FIRING] api: HTTP 503 (critical)"
    );
    // Four resend intervals of 30 s ahead.
    let ahead = (ends_at(a) - now).num_seconds();
    assert!((119..=121).contains(&ahead), "endsAt {ahead} s ahead");
    assert_eq!(n.active_count(), 1);

    // Posted again a minute later: the same alert (same labels), its end pushed ahead.
    let later = now + chrono::Duration::seconds(60);
    assert_eq!(n.resend(later).await.unwrap(), 1);
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 1, "still one alert: {alerts:?}");
    assert_eq!(ends_at(&alerts[0]), {
        let t = later + chrono::Duration::seconds(120);
        // Alertmanager keeps millisecond precision as we send it.
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .parse::<DateTime<Utc>>()
            .unwrap()
    });
    assert_eq!(alerts[0]["fingerprint"], a["fingerprint"]);

    // Resolved: Alertmanager no longer lists it as active, and nothing is kept alive.
    let done = Utc::now();
    notifiers[0]
        .send(&notification(TransitionKind::Resolved, done), done)
        .await
        .unwrap();
    assert_eq!(n.active_count(), 0);
    assert_eq!(n.resend(done).await.unwrap(), 0);
    let still_active: Vec<Value> = am
        .alerts()
        .await
        .into_iter()
        .filter(|a| ends_at(a) > Utc::now())
        .collect();
    assert!(still_active.is_empty(), "{still_active:?}");
}

#[tokio::test]
async fn a_restart_keeps_firing_alerts_alive_and_a_rejected_post_is_permanent() {
    let am = alertmanager().await;
    let notifiers = Notifier::build_all(&[channel(&am.base)], None).unwrap();
    let Notifier::Alertmanager(n) = &*notifiers[0] else {
        panic!("not an alertmanager notifier")
    };
    // What the engine rebuilds from the stored alert state after a restart.
    let now = Utc::now();
    n.resume(&[notification(TransitionKind::Reminder, now)]);
    assert_eq!(n.resend(now).await.unwrap(), 1);
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["labels"]["target"], "api");
    assert!(alerts[0].get("generatorURL").is_none_or(|g| g == ""));

    // An alert Alertmanager refuses (a start in the far past after its end) is a 400:
    // retrying cannot help.
    let mut bad = notification(TransitionKind::Resolved, now);
    bad.target = "other".into();
    bad.resolved_at = Some(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap());
    let err = notifiers[0].send(&bad, now).await.unwrap_err();
    assert!(!err.retryable, "{err:?}");
    assert!(err.message.contains("HTTP 400"), "{}", err.message);
}

#[test]
fn shipped_rules_and_route_pass_prometheus_own_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(tool("promtool"))
        .args(["check", "rules"])
        .arg(root.join("deploy/prometheus/upwatch-rules.yml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS: 4 rules found"), "{text}");

    let out = std::process::Command::new(tool("promtool"))
        .args(["test", "rules"])
        .arg(root.join("deploy/prometheus/upwatch-rules.test.yml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");

    let out = std::process::Command::new(tool("amtool"))
        .args(["check-config"])
        .arg(root.join("deploy/prometheus/alertmanager.yml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
}

#[tokio::test]
async fn the_daemon_posts_its_alert_and_keeps_it_alive_across_a_restart() {
    let am = alertmanager().await;
    let down = common::closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\nlocation = \"tokyo\"\n\
             external_url = \"https://upwatch-tokyo.example/\"\n\n\
             [alerting]\nfailure_threshold = 1\nchannels = [\"fleet\"]\n\n\
             [[channel]]\nname = \"fleet\"\ntype = \"alertmanager\"\nurl = \"{}\"\nresend_interval = \"1s\"\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{down}/\"\ninterval = \"2s\"\ntimeout = \"1s\"\n",
            am.base
        ),
    )
    .unwrap();
    let ours = |alerts: Vec<Value>| {
        alerts
            .into_iter()
            .find(|a| a["labels"]["target"] == "down" && a["labels"]["location"] == "tokyo")
    };
    let daemon = common::spawn_daemon(&cfg);
    let mut seen = None;
    for _ in 0..100 {
        if let Some(a) = ours(am.alerts().await) {
            seen = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = seen.expect("the daemon's alert reaches Alertmanager within 10 s");
    assert_eq!(a["labels"]["alertname"], "UpwatchTargetFailing");
    assert_eq!(a["generatorURL"], "https://upwatch-tokyo.example/");
    assert_eq!(common::stop_daemon(daemon).await, 0);
    let ended_at = ends_at(&ours(am.alerts().await).unwrap());

    // Nothing fires again after the restart (the alert was already firing), yet the alert
    // is posted again at once, rebuilt from the stored state: its end moves ahead.
    let daemon = common::spawn_daemon(&cfg);
    let mut refreshed = false;
    for _ in 0..100 {
        if ours(am.alerts().await).is_some_and(|a| ends_at(&a) > ended_at) {
            refreshed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refreshed, "kept alive after the restart");
    assert_eq!(common::stop_daemon(daemon).await, 0);
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 1, "one alert, not one per start: {alerts:?}");
}
