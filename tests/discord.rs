//! The Discord channel through the real binary, against a receiver that answers as
//! Discord's webhooks do (204; a 429 with `Retry-After` first): an outage is one firing
//! and one resolved embed, two targets failing together are one grouped message, nobody
//! is pinged, and `test-alert` works.

mod common;

use std::time::Duration;

use common::*;

fn config(hook: &str, targets: &[(&str, String)], group: bool) -> String {
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[alerting]\nfailure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"chat\"]\n\n\
         [[channel]]\nname = \"chat\"\ntype = \"discord\"\nurl = \"{hook}\"\n{}",
        if group { "group = true\ngroup_wait = \"2s\"\n" } else { "group = false\n" }
    );
    for (name, url) in targets {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nurl = \"{url}\"\ninterval = \"300ms\"\ntimeout = \"300ms\"\n"
        ));
    }
    text
}

#[tokio::test]
async fn an_outage_is_one_firing_and_one_resolved_embed() {
    let target = FlipServer::start(500).await;
    let hook = Mimic::start("/api/webhooks/1/tok", 204, "", true).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(&cfg, config(&hook.url, &[("api", target.url())], false)).unwrap();
    let daemon = spawn_daemon(&cfg);
    let got = hook.wait_accepted(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "firing, after one 429");
    target.set(200);
    let got = hook.wait_accepted(2, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(hook.accepted().len(), 2, "{got:#?}");
    let (firing, resolved) = (&got[0], &got[1]);
    assert!(firing["content"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] api: HTTP 500"));
    assert_eq!(firing["embeds"][0]["color"], 0xe03131);
    assert_eq!(firing["allowed_mentions"]["parse"], serde_json::json!([]));
    assert!(resolved["content"]
        .as_str()
        .unwrap()
        .starts_with("[RESOLVED] api after"));
    assert_eq!(resolved["embeds"][0]["color"], 0x2f9e44);
}

#[tokio::test]
async fn two_targets_failing_together_are_one_grouped_message() {
    let a = FlipServer::start(503).await;
    let b = FlipServer::start(503).await;
    let hook = Mimic::start("/api/webhooks/1/tok", 204, "", false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        config(&hook.url, &[("api-a", a.url()), ("api-b", b.url())], true),
    )
    .unwrap();
    let daemon = spawn_daemon(&cfg);
    let got = hook.wait_accepted(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(hook.accepted().len(), 1, "one message: {got:#?}");
    let msg = &got[0];
    // Named in the order they fired.
    let content = msg["content"].as_str().unwrap();
    assert!(
        [
            "[FIRING] 2 alerts: api-a, api-b",
            "[FIRING] 2 alerts: api-b, api-a"
        ]
        .contains(&content),
        "{msg}"
    );
    let description = msg["embeds"][0]["description"].as_str().unwrap();
    assert!(description.contains("**Failing (2)**"), "{description}");
}

#[tokio::test]
async fn test_alert_reaches_discord() {
    let hook = Mimic::start("/api/webhooks/1/tok", 204, "", false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        config(&hook.url, &[("api", "http://127.0.0.1:9/".into())], false),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("test-alert")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        !said.contains("/api/webhooks/1/tok"),
        "the URL is a credential: {said}"
    );
    let got = hook.accepted();
    assert_eq!(got.len(), 1);
    assert!(got[0]["content"].as_str().unwrap().starts_with("[TEST]"));
}
