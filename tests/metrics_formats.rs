//! `/metrics` speaks both formats, and both are clean to the real tools: the classic text
//! format (what curl and older scrapers get) passes `promtool check metrics` without a
//! single lint, and the OpenMetrics a Prometheus server asks for is scraped by one with no
//! error, counters and all.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// A Prometheus tool: from `$UPWATCH_PROM_TOOLS` (tests/run.sh sets it), or the folder
/// tests/prometheus_tools.sh fills.
fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("UPWATCH_PROM_TOOLS") {
        dirs.push(d.into());
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/prometheus-tools/usr/bin"));
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is needed: run `bash tests/prometheus_tools.sh` (tests/run.sh does)")
        })
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One HTTP/1.0 GET with an optional Accept header: (content type, body).
async fn get(url: &str, accept: Option<&str>) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    s.write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n{accept}\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (ctype, body.to_string())
}

#[tokio::test]
async fn text_passes_promtool_and_openmetrics_is_scraped_by_prometheus() {
    let target = start(None).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{state}\"\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[target]]\nname = \"ok\"\nurl = \"http://127.0.0.1:{tport}/ok\"\ninterval = \"1s\"\n\n\
             [[target]]\nname = \"broken\"\nurl = \"http://127.0.0.1:{tport}/status/503\"\ninterval = \"1s\"\n",
            tport = target.port(),
            state = dir.path().join("state").display()
        ),
    )
    .unwrap();
    let daemon = spawn_daemon(&cfg);
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let mut text = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            let (_, body) = get(&metrics, None).await;
            if body.contains("upwatch_probes_total{") && body.contains("target=\"broken\"") {
                text = body;
                break;
            }
        }
    }
    assert!(!text.is_empty(), "the daemon exposes probe counters");

    // The classic text format: what curl gets, clean to promtool's linter.
    let (ctype, _) = get(&metrics, None).await;
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert!(text.contains("# HELP upwatch_probes_total "), "{text}");
    assert!(!text.contains("# EOF"));
    let mut lint = tokio::process::Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = lint.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
    }
    let out = lint.wait_with_output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );

    // OpenMetrics when asked for.
    let (ctype, om) = get(
        &metrics,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(
        ctype,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");

    // A real Prometheus scrapes it (it asks for OpenMetrics first) without an error.
    let prom_port = free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: upwatch\n    static_configs: [{{ targets: [\"127.0.0.1:{port}\"] }}]\n"
        ),
    )
    .unwrap();
    let _prometheus = tokio::process::Command::new(tool("prometheus"))
        .arg(format!("--config.file={}", prom_cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let api = format!("http://127.0.0.1:{prom_port}/api/v1");
    let mut last = String::new();
    let mut scraped = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if tokio::net::TcpStream::connect(("127.0.0.1", prom_port))
            .await
            .is_err()
        {
            continue;
        }
        let (_, body) = get(&format!("{api}/targets"), None).await;
        last = body.clone();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        let t = &v["data"]["activeTargets"][0];
        if t["health"] == "up" {
            assert_eq!(t["lastError"], "", "{body}");
            let (_, q) = get(
                &format!("{api}/query?query=upwatch_probes_total%7Btarget%3D%22broken%22%7D"),
                None,
            )
            .await;
            let q: serde_json::Value = serde_json::from_str(&q).unwrap();
            if q["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                scraped = true;
                break;
            }
        }
    }
    assert!(
        scraped,
        "Prometheus scraped the OpenMetrics exposition: {last}"
    );
    assert_eq!(stop_daemon(daemon).await, 0);
}
