//! SIGHUP reload of a running daemon: an invalid config is refused with its line and the
//! old one keeps probing; a valid one starts added targets, stops removed ones, and keeps
//! alert state (a firing alert is not announced again).

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::AsyncBufReadExt;

fn config(dir: &Path, hook: &str, targets: &[(&str, String)], extra: &str) {
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\nlog_format = \"json\"\nshutdown_grace = \"5s\"\n\n\
         [alerting]\nfailure_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"hook\"]\n\n\
         [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{hook}\"\n{extra}\n"
    );
    for (name, url) in targets {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\n"
        ));
    }
    std::fs::write(dir.join("monitor.toml"), text).unwrap();
}

/// Log lines of the daemon, collected as they come.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn since(&self, from: usize) -> Vec<String> {
        self.0.lock().unwrap()[from..].to_vec()
    }
    /// Waits up to `limit` for a line (after index `from`) containing every needle.
    async fn wait_for(&self, from: usize, needles: &[&str], limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            if let Some(l) = self
                .since(from)
                .into_iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return l;
            }
            assert!(
                Instant::now() < end,
                "no log line with {needles:?} in:\n{}",
                self.since(from).join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn probes_of(lines: &[String], target: &str) -> usize {
    let key = format!("\"target_name\":\"{target}\"");
    lines
        .iter()
        .filter(|l| l.contains(&key) && l.contains("\"message\":\"probe"))
        .count()
}

async fn hup(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .await
        .unwrap();
}

#[tokio::test]
async fn reload_refuses_a_bad_config_and_applies_a_good_one_keeping_alert_state() {
    let failing = FlipServer::start(500).await;
    let fine = start(None).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let ok_url = format!("http://127.0.0.1:{}/ok", fine.port());
    config(
        dir.path(),
        &hook.url(),
        &[("a", failing.url()), ("b", ok_url.clone())],
        "",
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env("UPWATCH_LOG", "info")
        .arg("--config")
        .arg(dir.path().join("monitor.toml"))
        .arg("run")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let logs = Logs::default();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = logs.clone();
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            sink.0.lock().unwrap().push(l);
        }
    });

    // a fires once.
    let fired = hook.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(fired[0].json()["target"], "a");
    logs.wait_for(
        0,
        &["\"target_name\":\"b\"", "probe up"],
        Duration::from_secs(5),
    )
    .await;

    // An invalid config: refused with file and line, the old targets keep probing.
    std::fs::write(
        dir.path().join("monitor.toml"),
        "[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\nintervall = \"1s\"\n",
    )
    .unwrap();
    let mark = logs.len();
    hup(&child).await;
    let refused = logs
        .wait_for(
            mark,
            &["the new configuration is invalid"],
            Duration::from_secs(5),
        )
        .await;
    assert!(
        refused.contains("monitor.toml:4:") && refused.contains("intervall"),
        "{refused}"
    );
    let mark = logs.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = logs.since(mark);
    assert!(probes_of(&after, "b") >= 2, "b still probed: {after:?}");

    // A valid one: b removed, c added, a unchanged and still failing.
    config(
        dir.path(),
        &hook.url(),
        &[("a", failing.url()), ("c", ok_url.clone())],
        "",
    );
    hup(&child).await;
    let mark_reload = logs.len();
    logs.wait_for(
        mark_reload,
        &["configuration reloaded"],
        Duration::from_secs(10),
    )
    .await;
    let mark = logs.len();
    logs.wait_for(
        mark,
        &["\"target_name\":\"c\"", "probe up"],
        Duration::from_secs(5),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = logs.since(mark);
    assert_eq!(probes_of(&after, "b"), 0, "b was removed: {after:?}");
    assert!(probes_of(&after, "a") >= 2, "a keeps probing: {after:?}");
    // a's alert survived the reload: still firing, not announced again.
    let sent: Vec<_> = hook.requests();
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter().map(|r| r.json()).collect::<Vec<_>>()
    );

    assert_eq!(stop_daemon(child).await, 0);
}
