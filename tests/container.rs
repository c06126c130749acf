//! How upwatch behaves in a container and when stopped, without Docker: the daemon in a
//! bubblewrap sandbox with a read-only root, its own PID namespace (upwatch is PID 1) and
//! only the state folder writable, configured by `UPWATCH_*` variables; and SIGTERM while
//! a probe is in flight and a notification is undeliverable.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("monitor.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn bwrap() -> PathBuf {
    ["/usr/bin/bwrap", "/bin/bwrap"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("bubblewrap is needed for the container test: `apt-get install bubblewrap` (tests/run.sh does this)")
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The process bwrap started: with `--unshare-pid --as-pid-1` it is bwrap's only child.
fn sandboxed_child(bwrap_pid: u32) -> Option<u32> {
    let children =
        std::fs::read_to_string(format!("/proc/{bwrap_pid}/task/{bwrap_pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

async fn healthcheck(config: &Path, listen: &str) -> bool {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env("UPWATCH_LISTEN", listen)
        .arg("--config")
        .arg(config)
        .arg("healthcheck")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap()
        .success()
}

#[tokio::test]
async fn runs_as_pid_1_on_a_read_only_root_configured_by_the_environment() {
    let target = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("volume");
    std::fs::create_dir(&state).unwrap();
    // The file says one thing; the container's environment says another, and wins.
    let cfg = write(
        dir.path(),
        &format!(
            "[daemon]\nstate_dir = \"/nonexistent/state\"\nlisten = \"127.0.0.1:1\"\nlocation = \"file\"\n\n\
             [[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"2s\"\ntimeout = \"1s\"\n",
            target.port()
        ),
    );
    let port = closed_port().await;
    let listen = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(bwrap())
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .arg("--bind")
        .arg(&state)
        .arg(&state)
        .args(["--unshare-pid", "--as-pid-1", "--die-with-parent", "--"])
        .arg(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env_remove("STATE_DIRECTORY")
        .env("UPWATCH_STATE_DIR", &state)
        .env("UPWATCH_LISTEN", &listen)
        .env("UPWATCH_LOCATION", "eu-west-1")
        .env("UPWATCH_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    upwatch::tls::install_default_provider();
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..100 {
        if healthcheck(&cfg, &listen).await {
            let body = http
                .get(format!("http://{listen}/metrics"))
                .send()
                .await
                .and_then(|r| r.error_for_status());
            if let Ok(r) = body {
                let text = r.text().await.unwrap();
                if text.contains("upwatch_probe_success{") {
                    assert!(text.contains("location=\"eu-west-1\""), "{text}");
                    healthy = true;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "healthy, with a result, within 10 s");
    // PID 1 in its namespace gets only the signals it handles: upwatch handles SIGTERM.
    let bwrap_pid = child.id().unwrap();
    let pid = sandboxed_child(bwrap_pid).expect("bwrap has one child");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits on SIGTERM as PID 1")
        .unwrap();
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        use tokio::io::AsyncReadExt;
        s.read_to_string(&mut out).await.unwrap();
    }
    assert_eq!(exit.code(), Some(0), "{out}");
    // JSON lines on stdout; the overrides are said.
    assert!(
        out.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{out}"
    );
    assert!(
        out.contains("daemon.state_dir comes from the environment (UPWATCH_STATE_DIR)"),
        "{out}"
    );
    assert!(out.contains("stopped cleanly"), "{out}");
    // Everything written is in the volume.
    let db = state.join("upwatch.db");
    assert!(count(&db, "SELECT count(*) FROM result WHERE target = 'api'") >= 1);
}

#[tokio::test]
async fn sigterm_during_a_slow_probe_records_it_and_keeps_the_undelivered_notification() {
    // `slow` never answers: its probe is in flight when SIGTERM comes and ends at its 3 s
    // timeout, inside the 8 s grace. `down` fails at once and fires an alert whose webhook
    // never answers either: the notification must survive the stop.
    let slow = Receiver::start(Behaviour::Hang).await;
    let hook = Receiver::start(Behaviour::Hang).await;
    let down = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let config = |hook_port: u16| {
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"8s\"\n\n\
             [alerting]\nfailure_threshold = 1\nchannels = [\"hook\"]\n\n\
             [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{hook_port}/\"\ntimeout = \"30s\"\n\n\
             [[target]]\nname = \"slow\"\nurl = \"http://127.0.0.1:{}/\"\ninterval = \"4s\"\ntimeout = \"3s\"\nchannels = []\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{down}/\"\ninterval = \"4s\"\ntimeout = \"1s\"\n",
            slow.server.port()
        )
    };
    let cfg = write(dir.path(), &config(hook.server.port()));
    let db = dir.path().join("state/upwatch.db");
    let daemon = spawn_daemon(&cfg);
    // Wait for both: the slow probe's request has arrived, and the alert's delivery is
    // being attempted.
    let deadline = Instant::now() + Duration::from_secs(15);
    while slow.seen.lock().unwrap().is_empty() || hook.seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "probe and delivery under way");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = {
        let seen = hook.seen.lock().unwrap();
        seen[0].header("x-upwatch-id").unwrap().to_string()
    };
    let before = count(&db, "SELECT count(*) FROM result WHERE target = 'slow'");
    let stopping = Instant::now();
    assert_eq!(stop_daemon(daemon).await, 0, "exit 0 after SIGTERM");
    let took = stopping.elapsed();
    assert!(
        took < Duration::from_secs(8 + 4),
        "stopped within the grace period (and the server's 1 s): {took:?}"
    );
    // The in-flight probe finished (timed out) and its result was flushed to the store.
    let after = count(&db, "SELECT count(*) FROM result WHERE target = 'slow'");
    assert_eq!(
        after,
        before + 1,
        "the in-flight probe's result is recorded"
    );
    // The notification the receiver never answered is still queued.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let status: String = conn
        .query_row("SELECT status FROM outbox WHERE id = ?1", [&queued], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "pending");
    drop(conn);

    // The next start delivers it (the channel's receiver has moved; its name has not).
    let ok = Receiver::start(Behaviour::Ok).await;
    write(dir.path(), &config(ok.server.port()));
    let daemon = spawn_daemon(&cfg);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered = ok
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.header("x-upwatch-id") == Some(queued.as_str()));
        if delivered {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queued notification delivered after restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stop_daemon(daemon).await, 0);
}
