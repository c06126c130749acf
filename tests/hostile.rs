//! The daemon's own port under attack, through the real binary: half-sent requests are
//! closed by the header timeout while `/healthz` keeps answering, and a flood of idle
//! connections under a 1,024 open-file limit never starves the probes (no healthy target
//! is recorded down, no alert fires).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `upwatch run` logging to `log`, with its open-file limit (soft and hard) set to
/// `nofile` when given.
fn spawn_logged(config: &Path, nofile: Option<u64>, log: &Path) -> tokio::process::Child {
    let limit = nofile
        .map(|n| format!("ulimit -n {n} && "))
        .unwrap_or_default();
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{limit}exec \"$0\" --config \"$1\" run"))
        .arg(env!("CARGO_BIN_EXE_upwatch"))
        .arg(config)
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("UPWATCH_LOG", "info")
        .env("UPWATCH_LOG_FORMAT", "json")
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// One plain HTTP/1.0 GET; the status and body, or None when nothing answers in time.
async fn get(port: u16, path: &str, within: Duration) -> Option<(u16, String)> {
    let exchange = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: upwatch\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).await.ok()?;
        let status = text.get(9..12)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
        Some((status, body))
    };
    tokio::time::timeout(within, exchange).await.ok().flatten()
}

async fn wait_healthy(port: u16, log: &Path) {
    for _ in 0..100 {
        if let Some((200, _)) = get(port, "/healthz", Duration::from_secs(1)).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = std::fs::read_to_string(log).unwrap_or_default()
        + &std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    panic!("the daemon never answered /healthz:\n{logged}");
}

/// Opens `n` connections to `port`, 100 at a time, writing `first` on each.
async fn open_many(port: u16, n: usize, first: &'static [u8]) -> Vec<TcpStream> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let batch = (n - all.len()).min(100);
        let mut tasks = Vec::new();
        for _ in 0..batch {
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
                if !first.is_empty() {
                    s.write_all(first).await.ok()?;
                }
                Some(s)
            }));
        }
        for t in tasks {
            if let Some(s) = t.await.unwrap() {
                all.push(s);
            }
        }
    }
    all
}

/// Whether the server has closed `s` (end of stream or reset) within `within`.
async fn closed(mut s: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(within, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

const HALF_REQUEST: &[u8] = b"GET /api/v1/targets HTTP/1.1\r\nHost: upwatch\r\nX-Slow: ";

#[tokio::test]
async fn half_sent_requests_are_closed_and_healthz_answers_meanwhile() {
    upwatch::rlimit::raise_nofile().unwrap();
    let target = start(None).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nheader_timeout = \"3s\"\n\n[[target]]\nname = \"ok\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
            dir.path().join("state").display(),
            target.port()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let daemon = spawn_logged(&cfg, None, &log);
    wait_healthy(port, &log).await;

    let flood = open_many(port, 3000, HALF_REQUEST).await;
    let opened = tokio::time::Instant::now();
    assert_eq!(flood.len(), 3000);
    // The port keeps answering while 3,000 clients hold half a request each.
    for _ in 0..3 {
        let answer = get(port, "/healthz", Duration::from_secs(2)).await;
        assert!(
            matches!(&answer, Some((200, body)) if body.starts_with("ok: scheduler running, 1 target(s) on time")),
            "{answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Every one is closed: most to make room at the cap, the rest by the header timeout
    // (3 s after the last was sent), with a second's grace.
    let left = Duration::from_secs(3).saturating_sub(opened.elapsed());
    let checks: Vec<_> = flood
        .into_iter()
        .map(|s| tokio::spawn(closed(s, left + Duration::from_secs(1))))
        .collect();
    let mut open = 0;
    for c in checks {
        if !c.await.unwrap() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "connections still open after the header timeout");

    // A request head over the limit is refused with 431, not read on.
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: upwatch\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2 << 20)
    );
    let _ = s.write_all(big.as_bytes()).await;
    let mut head = [0u8; 12];
    let _ = s.read_exact(&mut head).await;
    assert_eq!(&head, b"HTTP/1.1 431");

    // The shed connections are counted.
    let (status, metrics) = get(port, "/metrics", Duration::from_secs(2)).await.unwrap();
    assert_eq!(status, 200);
    let evicted: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with("upwatch_http_connections_shed_total{")
                && l.contains("reason=\"evicted\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(evicted >= 2000.0, "evicted {evicted}\n{metrics}");
    assert_eq!(stop_daemon(daemon).await, 0);
}

#[tokio::test]
async fn idle_connections_under_a_1024_file_limit_never_starve_the_probes() {
    upwatch::rlimit::raise_nofile().unwrap();
    let target = start(None).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = dir.path().join("monitor.toml");
    // The header timeout is long on purpose: only the cap stands between the flood and
    // the descriptors the probes need.
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\nheader_timeout = \"5m\"\n\n[alerting]\nfailure_threshold = 1\nchannels = [\"hook\"]\n\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n[[target]]\nname = \"ok\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"500ms\"\ntimeout = \"500ms\"\n",
            state.display(),
            hook.url(),
            target.port()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let daemon = spawn_logged(&cfg, Some(1024), &log);
    wait_healthy(port, &log).await;

    let flood = open_many(port, 1100, b"").await;
    for _ in 0..10 {
        let answer = get(port, "/healthz", Duration::from_secs(2)).await;
        assert!(matches!(answer, Some((200, _))), "{answer:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(flood);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stop_daemon(daemon).await, 0);

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("open-file limit 1024;"),
        "the limit is logged at start:\n{logged}"
    );
    assert!(!logged.contains("Too many open files"), "{logged}");
    let reader = upwatch::store::Reader::open(&state).unwrap();
    let results = reader.results("ok", None, 10_000).await.unwrap();
    assert!(
        results.len() >= 5,
        "the target was probed: {}",
        results.len()
    );
    let down: Vec<_> = results.iter().filter(|r| r["health"] != "up").collect();
    assert!(down.is_empty(), "a healthy target recorded down: {down:?}");
    assert!(hook.requests().is_empty(), "no alert fires");
}

#[tokio::test]
async fn a_probe_that_cannot_open_a_socket_blames_this_host_and_no_target() {
    let target = start(None).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cfg = dir.path().join("monitor.toml");
    // Thirty targets that each keep their connection open, under a limit of 28 open
    // files: the first few take what is left, the rest cannot open a socket.
    let mut text = format!(
        "[daemon]\nstate_dir = \"{}\"\nlisten = \"127.0.0.1:{port}\"\n\n[alerting]\nfailure_threshold = 1\nchannels = [\"hook\"]\n\n[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n\n[defaults]\ninterval = \"500ms\"\ntimeout = \"500ms\"\nreuse_connection = true\n",
        state.display(),
        hook.url()
    );
    for i in 0..30 {
        text.push_str(&format!(
            "\n[[target]]\nname = \"t{i}\"\nurl = \"http://127.0.0.1:{}/ok\"\n",
            target.port()
        ));
    }
    std::fs::write(&cfg, text).unwrap();
    let log = dir.path().join("log");
    let daemon = spawn_logged(&cfg, Some(28), &log);
    wait_healthy(port, &log).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stop_daemon(daemon).await, 0);

    let reader = upwatch::store::Reader::open(&state).unwrap();
    let mut starved = 0;
    for i in 0..30 {
        for r in reader.results(&format!("t{i}"), None, 1000).await.unwrap() {
            if r["health"] == "up" {
                continue;
            }
            starved += 1;
            assert_eq!(r["side"]["side"], "host", "{r}");
            assert_eq!(r["failures"][0]["kind"], "local_resource", "{r}");
        }
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        starved > 0,
        "no probe was starved; the test proves nothing:\n{logged}"
    );
    let blamed: Vec<_> = hook
        .requests()
        .iter()
        .map(|r| r.json()["target"].clone())
        .filter(|t| t != "@host")
        .collect();
    assert!(blamed.is_empty(), "a target was alerted on: {blamed:?}");
    // The host's own alert does not flap while some probes still get through.
    let host_firing = hook
        .requests()
        .iter()
        .filter(|r| r.json()["target"] == "@host" && r.json()["status"] == "firing")
        .count();
    assert!(host_firing <= 1, "@host fired {host_firing} times");
}
