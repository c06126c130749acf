//! The whole recording path through the real binary: `upwatch run` probes local targets on
//! top of 90 days of earlier history; then `/metrics`, the JSON API, the page (rendered in
//! headless Chromium at desktop and phone widths) and `upwatch status` must all tell the
//! same story, and the store must hold exactly the results the daemon logged.
//!
//! Screenshots go to a temporary folder, or to `$UPWATCH_SCREENSHOT_DIR` when set.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use upwatch::alert::Severity;
use upwatch::probe::Health;
use upwatch::store::{IncidentEvent, ResultRow, Store};

const TARGETS: [&str; 3] = ["chat-api", "embeddings", "search"];

/// 90 days of history up to two days ago, one result every 30 minutes: a daily latency
/// wave, a 3-hour outage of chat-api 12 days ago (with its incident), scattered failures
/// of embeddings, and a slow day for search 40 days ago.
async fn seed(state: &Path, now: DateTime<Utc>) {
    let store = Store::open(state).unwrap();
    let mut rows = Vec::new();
    let start = now - chrono::Duration::days(90);
    let outage = now - chrono::Duration::days(12);
    let slow_day = now - chrono::Duration::days(40);
    for i in 0..(88 * 48) {
        let t = start + chrono::Duration::minutes(30 * i);
        let wave = ((i % 48) as f64 / 48.0 * std::f64::consts::TAU).sin();
        for (k, name) in TARGETS.iter().enumerate() {
            let mut health = Health::Up;
            let mut ms = 90.0 + 40.0 * k as f64 + 35.0 * wave;
            if *name == "chat-api" && t >= outage && t < outage + chrono::Duration::hours(3) {
                health = Health::Down;
            }
            if *name == "embeddings" && i % 211 == 0 {
                health = Health::Down;
            }
            if *name == "search" && t >= slow_day && t < slow_day + chrono::Duration::days(1) {
                health = Health::Degraded;
                ms = 3400.0;
            }
            rows.push(ResultRow {
                target: Arc::from(*name),
                checked_at: t,
                health,
                host_side: false,
                status: Some(if health == Health::Down { 503 } else { 200 }),
                total_ms: ms,
                failures: match health {
                    Health::Up => String::new(),
                    Health::Degraded => "too_slow".into(),
                    Health::Down => "http_status".into(),
                },
                detail: upwatch::store::detail::split(
                    serde_json::json!({"target": name, "checked_at": t.to_rfc3339()}),
                ),
            });
        }
    }
    store.insert_results(rows).await.unwrap();
    let chat: Arc<str> = Arc::from("chat-api");
    store
        .commit_alerts(
            vec![],
            vec![
                IncidentEvent::Opened {
                    target: chat.clone(),
                    severity: Severity::Critical,
                    started_at: outage,
                    cause: "http_status: HTTP 503".into(),
                },
                IncidentEvent::Closed {
                    target: chat,
                    severity: Severity::Critical,
                    ended_at: outage + chrono::Duration::hours(3),
                },
            ],
            vec![],
            now,
        )
        .await
        .unwrap();
}

/// The daemon's stdout, line by line, shared with the test.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<Value>>>);

impl Logs {
    fn probes(&self, target: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| {
                l["target_name"] == target
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("probe "))
            })
            .count()
    }

    fn listen(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find_map(|l| l["listen"].as_str().map(String::from))
    }
}

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = std::process::Command::new("which").arg(name).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!("headless Chromium is needed for the page test: `apt-get install chromium` (tests/run.sh does this)");
}

async fn browser(args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(90),
        Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finishes within 90 s")
    .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

async fn upwatch_status(cfg: &Path, format: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "status",
            "--format",
            format,
        ])
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn a_daemon_run_leaves_a_store_that_status_metrics_api_and_page_read_alike() {
    let server = start(None).await;
    let port = server.port();
    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("state"), Utc::now()).await;
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[daemon]
state_dir = "state"
listen = "127.0.0.1:0"
location = "eu-west"
log_format = "json"

[defaults]
interval = "250ms"
timeout = "250ms"

[alerting]
failure_threshold = 2

[[target]]
name = "chat-api"
url = "http://127.0.0.1:{port}/ok"

[[target]]
name = "embeddings"
url = "http://127.0.0.1:{port}/status/503"

[[target]]
name = "search"
url = "http://127.0.0.1:{port}/delay/120"
max_latency = "100ms"
"#
        ),
    )
    .unwrap();

    let mut daemon = Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .env("UPWATCH_LOG", "info")
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let logs = Logs::default();
    let reader = {
        let logs = logs.clone();
        let stdout = daemon.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    logs.0.lock().unwrap().push(v);
                }
            }
        })
    };
    let mut base = None;
    for _ in 0..200 {
        if let Some(addr) = logs.listen() {
            base = Some(format!("http://{addr}"));
        }
        if base.is_some() && TARGETS.iter().all(|t| logs.probes(t) >= 5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = base.expect("the daemon logged its listen address");
    // Let the writer's one-second batch land.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    upwatch::tls::install_default_provider();
    let http = reqwest::Client::new();
    let api: Value = http
        .get(format!("{base}/api/v1/targets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let health_metric: HashMap<String, f64> =
        prometheus_parse::Scrape::parse(metrics.lines().map(|l| Ok(l.to_string())))
            .unwrap()
            .samples
            .into_iter()
            .filter(|s| s.metric == "upwatch_probe_health")
            .map(|s| {
                let v = match s.value {
                    prometheus_parse::Value::Gauge(v) => v,
                    other => panic!("{other:?}"),
                };
                (s.labels.get("target").unwrap().to_string(), v)
            })
            .collect();

    // The page, as a browser renders it, at desktop and phone widths.
    let shots = match std::env::var_os("UPWATCH_SCREENSHOT_DIR") {
        Some(d) => PathBuf::from(d),
        None => dir.path().to_path_buf(),
    };
    std::fs::create_dir_all(&shots).unwrap();
    for (width, height) in [(1280u32, 2200u32), (390, 3400)] {
        let png = shots.join(format!("status-page-{width}.png"));
        let _ = std::fs::remove_file(&png);
        browser(&[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png.display()),
            format!("{base}/"),
        ])
        .await;
        assert_eq!(png_size(&png), (width, height));
        assert!(
            std::fs::metadata(&png).unwrap().len() > 20_000,
            "a blank page?"
        );
    }
    let dom = browser(&["--dump-dom".to_string(), format!("{base}/")]).await;
    assert!(
        dom.contains("1 of 3 target(s) down"),
        "summary in the rendered DOM"
    );
    for t in TARGETS {
        let start = dom
            .find(&format!("id=\"target-{t}\""))
            .unwrap_or_else(|| panic!("no section for {t}"));
        let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
        for part in ["bar bar-90d", "bar bar-24h", "class=\"latency\""] {
            assert!(section.contains(part), "{t} lacks {part}");
        }
        assert_eq!(
            section.matches("<rect").count(),
            114,
            "{t}: 90 + 24 segments"
        );
        let charted = section.contains("<polyline");
        // embeddings is down throughout the last 24 h: no latency, and the page says why.
        assert_eq!(charted, t != "embeddings", "{t}: chart");
        assert_eq!(
            section.contains("class=\"nodata\""),
            t == "embeddings",
            "{t}: note"
        );
    }
    assert!(
        dom.contains("Last incident (critical)"),
        "chat-api's seeded incident"
    );
    assert!(dom.contains("s-down"), "the seeded outage shows on a bar");

    // Stop, then read the store the daemon left behind.
    let pid = daemon.id().unwrap().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    reader.await.unwrap();

    let (code, out) = upwatch_status(&cfg, "json").await;
    assert_eq!(code, 1, "embeddings is down, so status exits 1");
    let reports: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3);
    for t in TARGETS {
        let report = reports.iter().find(|r| r["target"] == t).unwrap();
        let from_api = api["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == t)
            .unwrap();
        // Every result the daemon logged is in the store, and nothing else in the last
        // 24 h (the seeded history stops two days ago).
        assert_eq!(
            report["uptime"][0]["probes"].as_u64().unwrap() as usize,
            logs.probes(t),
            "{t}: stored vs logged"
        );
        assert_eq!(report["health"], from_api["health"], "{t}: status vs API");
        let level = match report["health"].as_str().unwrap() {
            "down" => 0.0,
            "degraded" => 1.0,
            _ => 2.0,
        };
        assert_eq!(health_metric[t], level, "{t}: status vs metrics");
        assert!(
            report["uptime"][2]["probes"].as_u64().unwrap() > 1_000,
            "{t}: 30 days include the seeded history"
        );
    }
    let by = |t: &str| reports.iter().find(|r| r["target"] == t).unwrap().clone();
    assert_eq!(by("chat-api")["health"], "up");
    assert_eq!(by("embeddings")["health"], "down");
    assert_eq!(by("search")["health"], "degraded");
    assert_eq!(by("embeddings")["open_alerts"][0]["severity"], "critical");
    assert_eq!(by("chat-api")["last_incident"]["duration_s"], 3 * 3600);

    let (code, table) = upwatch_status(&cfg, "table").await;
    assert_eq!(code, 1);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TARGET"), "{table}");
    assert!(
        lines.iter().any(|l| l.starts_with("embeddings")
            && l.contains("DOWN")
            && l.contains("critical firing")),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("chat-api") && l.contains("lasted 3h")),
        "{table}"
    );
}

/// Fifty targets: the page opens with one compact row per target, failing ones first, each
/// linking to its card; rendered at desktop and phone widths (screenshots in
/// `$UPWATCH_SCREENSHOT_DIR` when set).
#[tokio::test]
async fn fifty_targets_open_with_a_compact_overview_failing_first() {
    let server = start(None).await;
    let port = server.port();
    let dir = tempfile::tempdir().unwrap();
    let listen = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"{listen}\"\nlocation = \"eu-west\"\n\n[defaults]\ninterval = \"500ms\"\ntimeout = \"500ms\"\n\n[alerting]\nfailure_threshold = 1\n"
    );
    // Every tenth target fails, every seventh is slow (degraded); the rest are fine.
    let failing: Vec<String> = (0..50)
        .filter(|i| i % 10 == 4)
        .map(|i| format!("api-{i:02}"))
        .collect();
    for i in 0..50 {
        let path = if i % 10 == 4 {
            "status/503".to_string()
        } else if i % 7 == 6 {
            "delay/120".to_string()
        } else {
            "ok".to_string()
        };
        text.push_str(&format!(
            "\n[[target]]\nname = \"api-{i:02}\"\nurl = \"http://127.0.0.1:{port}/{path}\"\nmax_latency = \"100ms\"\n"
        ));
    }
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(&cfg, text).unwrap();
    let daemon = spawn_daemon(&cfg);
    let base = format!("http://{listen}");
    // Two rounds of results, written.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let shots = match std::env::var_os("UPWATCH_SCREENSHOT_DIR") {
        Some(d) => PathBuf::from(d),
        None => dir.path().to_path_buf(),
    };
    std::fs::create_dir_all(&shots).unwrap();
    for (width, height) in [(1280u32, 1400u32), (390, 1600)] {
        let png = shots.join(format!("overview-50-{width}.png"));
        let _ = std::fs::remove_file(&png);
        browser(&[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", png.display()),
            format!("{base}/"),
        ])
        .await;
        assert_eq!(png_size(&png), (width, height));
    }
    let dom = browser(&["--dump-dom".to_string(), format!("{base}/")]).await;
    assert_eq!(stop_daemon(daemon).await, 0);

    let overview_at = dom.find("class=\"overview\"").expect("an overview");
    let first_card = dom.find("class=\"target health-").expect("cards");
    assert!(overview_at < first_card, "the overview comes first");
    let overview = &dom[overview_at..overview_at + dom[overview_at..].find("</section>").unwrap()];
    let rows: Vec<&str> = overview.split("<a class=\"ov-row").skip(1).collect();
    assert_eq!(rows.len(), 50, "one row per target");
    // The five failing targets lead, each with its firing alert; then the rest.
    for (row, name) in rows.iter().zip(&failing) {
        assert!(row.contains(&format!("href=\"#target-{name}\"")), "{row}");
        assert!(row.contains("badge down"), "{row}");
        assert!(
            row.contains("<span class=\"ov-alert\">critical</span>"),
            "{row}"
        );
    }
    assert!(
        rows[5].contains("badge degraded"),
        "then the degraded: {}",
        rows[5]
    );
    assert!(
        rows[5].contains("<span class=\"ov-alert sev-warning\">warning</span>"),
        "{}",
        rows[5]
    );
    assert!(rows.last().unwrap().contains("badge up"));
    for row in &rows {
        assert_eq!(row.matches("<rect").count(), 90, "a 90-day bar per row");
        let name = row
            .split("href=\"#")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            dom.contains(&format!("id=\"{name}\"")),
            "{name} links to its card"
        );
    }
}
