//! The monitor's own network drops: in a private network namespace (`unshare -n`, root as
//! in CI) three targets listen on distinct loopback addresses and the receivers on
//! 127.0.0.1; loopback goes down for 30 s, taking every target and every receiver with it.
//! Afterwards no target was blamed, the host itself raised at most one alert per channel,
//! and a real outage right after still alerts. The namespace, and so everything changed in
//! it, ends with the child process that runs the scenario.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Set in the child that runs inside the namespace.
const CHILD: &str = "UPWATCH_TEST_IN_NETNS";

#[test]
fn loopback_down_for_thirty_seconds_blames_the_host_once_and_no_target() {
    if std::env::var_os(CHILD).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario());
        return;
    }
    let out = Command::new("unshare")
        .arg("-n")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "loopback_down_for_thirty_seconds_blames_the_host_once_and_no_target",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .expect("unshare (util-linux) is installed");
    assert!(
        out.status.success(),
        "the scenario in a private network namespace (needs root) failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn loopback(state: &str) {
    let ok = Command::new("ip")
        .args(["link", "set", "lo", state])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link set lo {state}");
}

async fn scenario() {
    loopback("up");
    let targets = [
        FlipServer::start_at("127.0.0.2", 200).await,
        FlipServer::start_at("127.0.0.3", 200).await,
        FlipServer::start_at("127.0.0.4", 200).await,
    ];
    let hook = Receiver::start(Behaviour::Ok).await;
    let chat = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = daemon_config(
        "failure_threshold = 2\nsuccess_threshold = 2\nrepeat_interval = \"0s\"\ngroup_wait = \"1s\"\ngroup_interval = \"2s\"",
        &[("hook", "webhook", hook.url()), ("chat", "slack", chat.url())],
    );
    for (i, t) in targets.iter().enumerate() {
        text.push_str(&format!(
            "\n[[target]]\nname = \"vendor-{i}\"\nurl = \"{}\"\ninterval = \"1s\"\ntimeout = \"800ms\"\n",
            t.url()
        ));
    }
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(&cfg, text).unwrap();
    let daemon = spawn_daemon(&cfg);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(hook.requests().is_empty() && chat.requests().is_empty());

    // This host's network goes away: every target and every receiver with it.
    loopback("down");
    tokio::time::sleep(Duration::from_secs(30)).await;
    loopback("up");

    // The host's alert (and its recovery) arrive once the receivers are back; retries
    // started during the outage may wait up to a minute of backoff.
    let _ = hook.wait_for(2, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let hooked: Vec<serde_json::Value> = hook.requests().iter().map(Received::json).collect();
    let blamed: Vec<&serde_json::Value> =
        hooked.iter().filter(|n| n["target"] != "@host").collect();
    assert!(blamed.is_empty(), "no target is blamed: {blamed:?}");
    let host_firing = hooked
        .iter()
        .filter(|n| n["target"] == "@host" && n["status"] == "firing")
        .count();
    assert_eq!(host_firing, 1, "one host alert: {hooked:?}");
    assert!(
        hooked
            .iter()
            .any(|n| n["target"] == "@host" && n["status"] == "resolved"),
        "the host alert resolves: {hooked:?}"
    );
    let host = hooked
        .iter()
        .find(|n| n["status"] == "firing")
        .unwrap_or(&hooked[0]);
    assert_eq!(host["conditions"][0]["kind"], "host", "{host}");
    assert!(
        host["conditions"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("this host's network: no host answers"),
        "{host}"
    );
    let chats = chat.requests();
    assert!(
        (1..=2).contains(&chats.len()),
        "{} Slack messages for the host's outage",
        chats.len()
    );
    let subjects: Vec<String> = chats
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
        .collect();
    // Every message is about the host (its detail may name the probe that showed it).
    assert!(
        subjects
            .iter()
            .all(|t| t.starts_with("[FIRING] @host:") || t.starts_with("[RESOLVED] @host")),
        "{subjects:?}"
    );
    let before = hook.requests().len();

    // A real outage right after still alerts, on the target.
    targets[1].set(503);
    let after = hook.wait_for(before + 1, Duration::from_secs(20)).await;
    let real = after[before].json();
    assert_eq!(real["target"], "vendor-1", "{real}");
    assert_eq!(real["status"], "firing");
    assert_eq!(stop_daemon(daemon).await, 0);

    // The outage's probes were recorded, on this host's side: uptime does not hold them
    // against the targets.
    let reader = upwatch::store::Reader::open(&dir.path().join("state")).unwrap();
    for i in 0..3 {
        let name = format!("vendor-{i}");
        let report = reader.target(&name, chrono::Utc::now()).await.unwrap();
        let day = &report.uptime[0];
        assert!(
            day.host >= 20 && day.down <= 2 + u64::from(i == 1) * 5,
            "{name}: {day:?}"
        );
    }
}
