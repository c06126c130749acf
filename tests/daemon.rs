//! `upwatch run` end to end: a local target flips 200 → 500 → 200 and real receivers get
//! firing then resolved; a daemon killed with SIGKILL loses no queued notification and
//! leaves a readable store with its flushed results.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("monitor.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn an_outage_yields_exactly_one_firing_and_one_resolved_per_channel() {
    let target = FlipServer::start(200).await;
    let hook = Receiver::start(Behaviour::FailFirst { n: 1, status: 502 }).await;
    let chat = Receiver::start(Behaviour::Ok).await;
    let mut smtp = smtp_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        smtp.dir.path().join("test-ca.pem"),
        dir.path().join("smtp-ca.pem"),
    )
    .unwrap();
    std::fs::write(dir.path().join("smtp_password"), "pw-123\n").unwrap();
    let cfg = write(
        dir.path(),
        &format!(
            r#"
[daemon]
state_dir = "state"
listen = "127.0.0.1:0"
shutdown_grace = "5s"

[alerting]
failure_threshold = 2
success_threshold = 2
repeat_interval = "0s"
channels = ["hook", "chat", "mail"]
# Grouping stays on, short: each change here comes alone, so people get the single form.
group_wait = "300ms"
group_interval = "1s"

[[channel]]
name = "mail"
type = "email"
host = "localhost"
port = {}
username = "upwatch"
password_file = "smtp_password"
tls_ca_file = "smtp-ca.pem"
from = "upwatch <upwatch@example.com>"
to = ["oncall@example.com"]

[[channel]]
name = "hook"
type = "webhook"
url = "{}"
secret = "s3cret"

[[channel]]
name = "chat"
type = "slack"
url = "{}"

[[target]]
name = "flappy"
url = "{}"
interval = "200ms"
timeout = "200ms"
"#,
            smtp.port,
            hook.url(),
            chat.url(),
            target.url()
        ),
    );
    let daemon = spawn_daemon(&cfg);
    // Healthy for a while: nothing is sent.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(hook.requests().is_empty() && chat.requests().is_empty());

    target.set(500);
    let fired = chat.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(fired.len(), 1, "slack got the firing message");
    // The webhook failed once (502) and is retried within its first backoff (≤ 2 s).
    let hooked = hook.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(hooked.len(), 2);
    assert_eq!(
        hooked[0].json()["id"],
        hooked[1].json()["id"],
        "a retry carries the same id"
    );
    let firing = hooked[1].json();
    assert_eq!(firing["status"], "firing");
    assert_eq!(firing["severity"], "critical");
    assert_eq!(firing["target"], "flappy");
    assert_eq!(firing["conditions"][0]["kind"], "http_status");
    assert_eq!(firing["conditions"][0]["detail"], "HTTP 500, expected 200");
    assert_eq!(firing["last_result"]["status"], 500);
    assert!(hooked[1]
        .header("x-upwatch-signature")
        .unwrap()
        .starts_with("sha256="));
    let mail = smtp
        .next_message(Duration::from_secs(20))
        .await
        .expect("firing email");
    assert!(
        mail["data"]
            .as_str()
            .unwrap()
            .contains("Subject: [FIRING] flappy: HTTP 500 (critical)"),
        "{mail}"
    );
    assert_eq!(mail["tls"], true);
    assert_eq!(mail["authenticated"], true);

    target.set(200);
    let resolved = chat.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(resolved.len(), 2);
    let hooked = hook.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(hooked.len(), 3);
    let res = hooked[2].json();
    assert_eq!(res["status"], "resolved");
    assert_eq!(res["started_at"], firing["started_at"]);
    assert!(res["resolved_at"].is_string());
    assert!(resolved[1].json()["text"]
        .as_str()
        .unwrap()
        .starts_with("[RESOLVED] flappy after"));
    let mail = smtp
        .next_message(Duration::from_secs(20))
        .await
        .expect("resolved email");
    assert!(
        mail["data"]
            .as_str()
            .unwrap()
            .contains("Subject: [RESOLVED] flappy after"),
        "{mail}"
    );

    // Healthy again for a while: nothing more.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(
        chat.requests().len(),
        2,
        "exactly firing + resolved on slack"
    );
    assert_eq!(
        hook.requests().len(),
        3,
        "firing (twice: one retry) + resolved on the webhook"
    );
    assert!(
        smtp.next_message(Duration::from_millis(300))
            .await
            .is_none(),
        "exactly two emails"
    );
}

#[tokio::test]
async fn a_killed_daemon_delivers_queued_notifications_after_restart_exactly_once() {
    let target = FlipServer::start(500).await;
    // Reserve a port for the receiver, but keep it closed for now: deliveries fail.
    let port = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        &format!(
            r#"
[daemon]
state_dir = "state"
listen = "127.0.0.1:0"

[alerting]
failure_threshold = 1
repeat_interval = "0s"
channels = ["hook"]

[[channel]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:{port}/hook"

[[target]]
name = "down"
url = "{}"
interval = "200ms"
timeout = "200ms"
"#,
            target.url()
        ),
    );
    let mut daemon = spawn_daemon(&cfg);
    // Wait until the firing notification is queued and has failed at least once.
    let db = dir.path().join("state/upwatch.db");
    let mut queued = false;
    for _ in 0..200 {
        if let Ok(c) = rusqlite::Connection::open(&db) {
            let n: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts >= 1",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(0);
            if n >= 1 {
                queued = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(queued, "the firing notification was queued and failed once");
    // Let at least one batch of results reach the store (the writer flushes every second).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    daemon.kill().await.unwrap(); // SIGKILL: no shutdown code runs.
    let _ = daemon.wait().await;
    {
        // The killed writer left a consistent file with its flushed results in it.
        let c = rusqlite::Connection::open(&db).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let results: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM result WHERE target = 'down' AND health = 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(results >= 1, "flushed results survive a kill -9");
    }

    let rx = Receiver::start_on(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
        Behaviour::Ok,
    );
    let daemon = spawn_daemon(&cfg);
    let got = rx.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["status"], "firing");
    // Keep running: the target is still down, the alert is still firing, nothing repeats.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(
        rx.requests().len(),
        1,
        "delivered exactly once across the crash"
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
