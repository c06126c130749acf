//! One cause, one message: a vendor outage across 30 targets, through the real binary
//! (`upwatch run`) against a real Slack-style receiver and a real webhook receiver. People
//! get a few grouped messages naming every target; machines get one payload per alert.

mod common;

use std::time::Duration;

use common::*;

const TARGETS: usize = 30;

/// Text of every block of a Slack message, joined.
fn slack_text(r: &Received) -> String {
    let v = r.json();
    let mut out = v["text"].as_str().unwrap_or_default().to_string();
    for b in v["attachments"][0]["blocks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push('\n');
        out.push_str(b["text"]["text"].as_str().unwrap_or_default());
    }
    out
}

#[tokio::test]
async fn thirty_targets_failing_together_are_a_few_slack_messages_and_sixty_webhooks() {
    let vendor = FlipServer::start(200).await;
    let chat = Receiver::start(Behaviour::Ok).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = daemon_config(
        "failure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\ngroup_wait = \"2s\"\ngroup_interval = \"4s\"",
        &[("chat", "slack", chat.url()), ("hook", "webhook", hook.url())],
    );
    for i in 1..=TARGETS {
        text.push_str(&format!(
            "\n[[target]]\nname = \"model-{i}\"\nurl = \"{}?model={i}\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\n",
            vendor.url()
        ));
    }
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(&cfg, text).unwrap();
    let daemon = spawn_daemon(&cfg);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(chat.requests().is_empty() && hook.requests().is_empty());

    // The vendor goes down for every model at once.
    vendor.set(503);
    let fired = hook.wait_for(TARGETS, Duration::from_secs(20)).await;
    assert_eq!(fired.len(), TARGETS, "one webhook per alert");
    // Wait out group_wait: the grouped message follows the first failure by 2 s.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let firing_msgs = chat.requests();
    assert!(
        (1..=3).contains(&firing_msgs.len()),
        "{} Slack messages for one outage",
        firing_msgs.len()
    );
    let said: String = firing_msgs.iter().map(slack_text).collect();
    for i in 1..=TARGETS {
        assert!(
            said.contains(&format!("model-{i} (critical): HTTP 503, expected 200")),
            "model-{i} is named with its cause: {said}"
        );
    }
    assert!(
        firing_msgs[0].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING] "),
        "{}",
        firing_msgs[0].json()
    );

    // It comes back.
    vendor.set(200);
    let all = hook.wait_for(2 * TARGETS, Duration::from_secs(20)).await;
    assert_eq!(all.len(), 2 * TARGETS, "one resolved webhook per alert");
    let resolved_hooks = all
        .iter()
        .filter(|r| r.json()["status"] == "resolved")
        .count();
    assert_eq!(resolved_hooks, TARGETS);
    // The recovery message waits for group_interval (4 s) after the firing one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut recovered = String::new();
    let mut resolved_msgs = 0;
    while tokio::time::Instant::now() < deadline {
        let later = &chat.requests()[firing_msgs.len()..];
        resolved_msgs = later.len();
        recovered = later.iter().map(slack_text).collect();
        if (1..=TARGETS).all(|i| recovered.contains(&format!("model-{i} recovered after"))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 1..=TARGETS {
        assert!(
            recovered.contains(&format!("model-{i} recovered after")),
            "model-{i} recovery is named: {recovered}"
        );
    }
    assert!(
        (1..=3).contains(&resolved_msgs),
        "{resolved_msgs} Slack messages for the recovery"
    );
    assert_eq!(stop_daemon(daemon).await, 0);
    // Nothing more was queued: every row was delivered exactly once.
    assert_eq!(hook.requests().len(), 2 * TARGETS);
}
