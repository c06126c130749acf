//! The HTTP server of a running daemon against local targets: metrics parsed by a real
//! Prometheus text parser, the JSON API against what was probed, token protection, health
//! endpoints and the page's structure.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use serde_json::Value;
use upwatch::config::{self, Env};

struct Http(reqwest::Client);

impl Http {
    fn new() -> Self {
        upwatch::tls::install_default_provider();
        Http(reqwest::Client::builder().build().unwrap())
    }

    async fn get(&self, url: &str, token: Option<&str>) -> (u16, String, String) {
        let mut req = self.0.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ctype, resp.text().await.unwrap())
    }

    async fn json(&self, url: &str, token: Option<&str>) -> Value {
        let (status, _, body) = self.get(url, token).await;
        assert_eq!(status, 200, "{url}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn samples(text: &str) -> Vec<prometheus_parse::Sample> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).unwrap().samples
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    use prometheus_parse::Value::*;
    match &s.value {
        Counter(v) | Gauge(v) | Untyped(v) => *v,
        other => panic!("{} is not a scalar: {other:?}", s.metric),
    }
}

fn find<'a>(
    all: &'a [prometheus_parse::Sample],
    metric: &str,
    labels: &[(&str, &str)],
) -> Option<&'a prometheus_parse::Sample> {
    all.iter().find(|s| {
        s.metric == metric
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|x| x == *v))
    })
}

fn scalar(all: &[prometheus_parse::Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(find(all, metric, labels).unwrap_or_else(|| panic!("no {metric} {labels:?}")))
}

#[tokio::test]
async fn metrics_api_and_page_read_what_the_daemon_probed() {
    let server = start(None).await;
    let port = server.port();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[daemon]
state_dir = "state"
listen = "127.0.0.1:0"
location = "lab-1"
api_token = "tok-123"

[defaults]
timeout = "200ms"

[alerting]
failure_threshold = 2

[[target]]
name = "up"
url = "http://127.0.0.1:{port}/ok"
interval = "200ms"

[[target]]
name = "down"
url = "http://127.0.0.1:{port}/status/500"
interval = "200ms"

[[target]]
name = "slow"
url = "http://127.0.0.1:{port}/delay/250"
interval = "400ms"
timeout = "400ms"
max_latency = "100ms"
"#
    );
    let path = dir.path().join("monitor.toml");
    std::fs::write(&path, &text).unwrap();
    let cfg = config::parse(&path, &text, &Env::from_pairs(&[])).unwrap();

    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(upwatch::app::run_with(
        cfg,
        upwatch::clock::system_clock(),
        async move {
            let _ = stop_rx.await;
        },
        move |a| {
            let _ = addr_tx.send(a);
        },
    ));
    let addr = tokio::time::timeout(Duration::from_secs(10), addr_rx)
        .await
        .unwrap()
        .unwrap();
    let base = format!("http://{addr}");
    let http = Http::new();
    let token = Some("tok-123");

    // Wait until the store holds at least four results of every target.
    let mut targets = Value::Null;
    for _ in 0..150 {
        targets = http.json(&format!("{base}/api/v1/targets"), token).await;
        let enough = targets["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["uptime"][0]["probes"].as_u64().unwrap_or(0) >= 4);
        if enough {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = targets["targets"].as_array().unwrap();
    let by_name = |n: &str| list.iter().find(|t| t["target"] == n).unwrap().clone();
    assert_eq!(targets["location"], "lab-1");
    let (up, down, slow) = (by_name("up"), by_name("down"), by_name("slow"));
    assert_eq!(up["health"], "up");
    assert_eq!(down["health"], "down");
    assert_eq!(slow["health"], "degraded");
    assert_eq!(up["url"], format!("http://127.0.0.1:{port}/ok"));
    assert_eq!(up["uptime"][0]["uptime_percent"], 100.0);
    assert_eq!(down["uptime"][0]["uptime_percent"], 0.0);
    assert_eq!(slow["uptime"][0]["uptime_percent"], 100.0);
    assert_eq!(slow["uptime"][0]["degraded_percent"], 100.0);
    assert_eq!(down["last_result"]["status"], 500);
    assert_eq!(down["last_result"]["failures"][0]["kind"], "http_status");
    assert!(slow["latency_24h"]["p50_ms"].as_f64().unwrap() >= 250.0);
    assert!(
        down["latency_24h"].is_null(),
        "down probes carry no latency"
    );
    assert!(down["since"].is_string());
    // Two failures in a row fired the down target's alert (no channels: logged only).
    assert_eq!(down["open_alerts"][0]["severity"], "critical");
    assert_eq!(down["last_incident"]["ended_at"], Value::Null);

    // The token guards the API and the page, not health or (by default) metrics.
    for path in ["/api/v1/targets", "/api/v1/alerts", "/"] {
        let (status, _, _) = http.get(&format!("{base}{path}"), None).await;
        assert_eq!(status, 401, "{path} without a token");
        let (status, _, _) = http.get(&format!("{base}{path}"), Some("wrong")).await;
        assert_eq!(status, 401, "{path} with a wrong token");
    }
    let (status, _, body) = http.get(&format!("{base}/healthz"), None).await;
    assert_eq!((status, body.starts_with("ok")), (200, true), "{body}");
    let (status, _, body) = http.get(&format!("{base}/readyz"), None).await;
    assert_eq!(status, 200, "{body}");

    // Metrics: parsed, then checked against what the API says.
    let (status, ctype, text) = http.get(&format!("{base}/metrics"), None).await;
    assert_eq!(status, 200);
    // Without an Accept header: the classic text format (metrics_formats.rs tests both).
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(!text.contains("# EOF"));
    let all = samples(&text);
    assert!(!all.is_empty());
    for s in &all {
        assert_eq!(
            s.labels.get("location"),
            Some("lab-1"),
            "{} lacks location",
            s.metric
        );
        for (k, v) in s.labels.iter() {
            assert!(
                !v.contains("http://") && !v.contains(' '),
                "{}: label {k}={v:?} is not low-cardinality",
                s.metric
            );
        }
    }
    assert_eq!(
        scalar(&all, "upwatch_probe_health", &[("target", "up")]),
        2.0
    );
    assert_eq!(
        scalar(&all, "upwatch_probe_health", &[("target", "slow")]),
        1.0
    );
    assert_eq!(
        scalar(&all, "upwatch_probe_health", &[("target", "down")]),
        0.0
    );
    assert_eq!(
        scalar(&all, "upwatch_probe_success", &[("target", "up")]),
        1.0
    );
    assert_eq!(
        scalar(&all, "upwatch_probe_success", &[("target", "slow")]),
        0.0
    );
    assert_eq!(
        scalar(
            &all,
            "upwatch_probe_http_status_code",
            &[("target", "down")]
        ),
        500.0
    );
    assert_eq!(
        scalar(
            &all,
            "upwatch_alerts_firing",
            &[("target", "down"), ("severity", "critical")]
        ),
        1.0
    );
    assert_eq!(
        scalar(
            &all,
            "upwatch_alerts_firing",
            &[("target", "up"), ("severity", "critical")]
        ),
        0.0
    );
    assert_eq!(
        scalar(
            &all,
            "upwatch_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(scalar(&all, "upwatch_outbox_pending", &[]), 0.0);
    // Counters run ahead of the store by at most the writer's batch.
    let stored = down["uptime"][0]["probes"].as_f64().unwrap();
    let counted = scalar(
        &all,
        "upwatch_probes_total",
        &[("target", "down"), ("health", "down")],
    );
    assert!(counted >= stored, "{counted} counted, {stored} stored");
    assert_eq!(
        scalar(
            &all,
            "upwatch_probes_total",
            &[("target", "up"), ("health", "down")]
        ),
        0.0
    );
    assert!(
        scalar(
            &all,
            "upwatch_probe_failures_total",
            &[("target", "slow"), ("kind", "too_slow")]
        ) >= 4.0
    );
    let total_hist = all
        .iter()
        .find(|s| {
            s.metric == "upwatch_probe_duration_seconds"
                && s.labels.get("phase") == Some("total")
                && s.labels.get("target") == Some("slow")
        })
        .expect("a total-duration histogram for slow");
    match &total_hist.value {
        prometheus_parse::Value::Histogram(buckets) => {
            // Every slow probe took at least 250 ms: none in the buckets below.
            let below = buckets.iter().find(|b| b.less_than == 0.1).unwrap();
            assert_eq!(below.count, 0.0);
            let inf = buckets.iter().find(|b| b.less_than.is_infinite()).unwrap();
            assert!(inf.count >= 4.0);
        }
        other => panic!("not a histogram: {other:?}"),
    }
    for phase in ["dns", "connect", "ttfb", "transfer"] {
        assert!(
            all.iter()
                .any(|s| s.metric == "upwatch_probe_duration_seconds"
                    && s.labels.get("phase") == Some(phase)),
            "phase {phase}"
        );
    }

    // Results: newest first, limited, filtered by time; bad input is a 400.
    let r = http
        .json(
            &format!("{base}/api/v1/targets/down/results?limit=2"),
            token,
        )
        .await;
    assert_eq!(r["count"], 2);
    let (a, b) = (
        r["results"][0]["checked_at"].as_str().unwrap(),
        r["results"][1]["checked_at"].as_str().unwrap(),
    );
    assert!(a > b, "{a} should be newer than {b}");
    assert_eq!(r["results"][0]["status"], 500);
    let r = http
        .json(
            &format!("{base}/api/v1/targets/down/results?since=2999-01-01T00:00:00Z"),
            token,
        )
        .await;
    assert_eq!(r["count"], 0);
    for (path, want) in [
        ("/api/v1/targets/down/results?since=yesterday", 400),
        ("/api/v1/targets/down/results?limit=0", 400),
        ("/api/v1/targets/nope/results", 404),
        ("/api/v1/targets/nope/uptime", 404),
        ("/api/v1/alerts?days=x", 400),
    ] {
        let (status, _, body) = http.get(&format!("{base}{path}"), token).await;
        assert_eq!(status, want, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].as_str().unwrap().len() > 10, "{body}");
    }

    let u = http
        .json(&format!("{base}/api/v1/targets/slow/uptime"), token)
        .await;
    assert_eq!(u["hourly"].as_array().unwrap().len(), 24);
    assert_eq!(u["daily"].as_array().unwrap().len(), 90);
    let windows: Vec<&str> = u["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["window"].as_str().unwrap())
        .collect();
    assert_eq!(windows, ["24h", "7d", "30d", "90d"]);
    let this_hour = &u["hourly"][23];
    assert!(this_hour["probes"].as_u64().unwrap() >= 4);
    assert_eq!(this_hour["degraded"], this_hour["probes"]);

    let alerts = http.json(&format!("{base}/api/v1/alerts"), token).await;
    // Down fires a critical alert; slow (degraded) a warning.
    let open: Vec<(&str, &str)> = alerts["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap(),
                a["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(open, [("down", "critical"), ("slow", "warning")]);
    let recent = alerts["recent"].as_array().unwrap();
    let incident = recent.iter().find(|i| i["target"] == "down").unwrap();
    assert!(incident["cause"].as_str().unwrap().contains("HTTP 500"));
    assert!(incident["ended_at"].is_null());

    // The page: one section per target, each with both bars and the chart.
    let (status, ctype, html) = http.get(&format!("{base}/"), token).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/html"));
    assert!(html.contains("1 of 3 target(s) down"), "summary line");
    for t in ["up", "down", "slow"] {
        let start = html.find(&format!("id=\"target-{t}\"")).unwrap();
        let section = &html[start..start + html[start..].find("</section>").unwrap()];
        for part in ["bar-90d", "bar-24h", "class=\"latency\""] {
            assert!(section.contains(part), "{t} lacks {part}");
        }
        assert_eq!(section.matches("<rect").count(), 90 + 24, "{t}: segments");
    }
    assert!(!html.contains("<script"), "no scripts");

    let (status, _, _) = http.get(&format!("{base}/nope"), None).await;
    assert_eq!(status, 404);

    stop_tx.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(20), daemon)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(stopped.clean);
}
