//! A full disk does not silence alerts: the state directory on a small tmpfs is filled up,
//! a new outage still reaches the webhook within seconds (delivered from memory), and once
//! space returns the store holds the alert history and nothing is sent twice. Runs as root
//! (CI is): it mounts a tmpfs, and unmounts it whatever happens.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mounting a tmpfs needs root (CI runs as root)");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file until the file system says it is full; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Whatever is left in smaller pieces, so not even a page is free.
    for size in [4096, 512, 1] {
        while f.write_all(&vec![0u8; size]).is_ok() {}
    }
    let _ = f.sync_all();
    path
}

#[tokio::test]
async fn a_full_state_dir_delays_the_history_not_the_alert() {
    let target = FlipServer::start(200).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let _mounted = Tmpfs::mount(&state, "4m");
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[daemon]
state_dir = "{}"
listen = "127.0.0.1:0"

[alerting]
failure_threshold = 1
success_threshold = 1
repeat_interval = "0s"
channels = ["hook"]

[[channel]]
name = "hook"
type = "webhook"
url = "{}"

[[target]]
name = "api"
url = "{}"
interval = "300ms"
timeout = "250ms"
"#,
            state.display(),
            hook.url(),
            target.url()
        ),
    )
    .unwrap();
    let daemon = spawn_daemon(&cfg);
    // Running and recording before the disk fills.
    let store_file = state.join("upwatch.db");
    for _ in 0..100 {
        if store_file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let filler = fill(&state);

    // An outage while nothing can be written: the alert still goes out, at once.
    target.set(500);
    let fired = hook.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(fired.len(), 1, "the firing alert is delivered from memory");
    let firing = fired[0].json();
    assert_eq!(firing["status"], "firing");
    // Space returns; the target recovers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    target.set(200);
    let both = hook.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[1].json()["status"], "resolved");
    assert_eq!(both[1].json()["started_at"], firing["started_at"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(hook.requests().len(), 2, "nothing was sent twice");

    // The store caught up: both notifications are recorded as delivered, the incident
    // as opened and closed.
    let store = upwatch::store::Store::open(&state).unwrap();
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.delivered, counts.pending, counts.dead), (2, 0, 0));
    let reader = upwatch::store::Reader::open(&state).unwrap();
    let reports = reader
        .targets(vec![std::sync::Arc::from("api")], chrono::Utc::now())
        .await
        .unwrap();
    let incident = reports[0]
        .last_incident
        .as_ref()
        .expect("incident recorded");
    assert!(incident.ended_at.is_some(), "{incident:?}");
}
