//! The PagerDuty channel through the real binary, against a receiver that answers as the
//! Events API v2 does (202 with a JSON body; a 429 with `Retry-After` first): an outage is
//! one trigger and one resolve under the same dedup key, the throttled event is retried,
//! `test-alert` sends an info event, and the routing key is in no log line.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY: &str = "R0UTINGKEY0123456789abcdefABCDEF";

/// A receiver in PagerDuty's manner: the first event gets 429 with `Retry-After: 1`, the
/// rest 202 `{"status":"success",...}`.
async fn pagerduty() -> Mimic {
    Mimic::start(
        "/v2/enqueue",
        202,
        r#"{"status":"success","message":"Event processed","dedup_key":{dedup_key}}"#,
        true,
    )
    .await
}

#[tokio::test]
async fn an_outage_is_one_trigger_and_one_resolve_under_one_dedup_key() {
    let target = FlipServer::start(500).await;
    let pd = pagerduty().await;
    let url = pd.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\nlocation = \"paris\"\n\n[alerting]\nfailure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"pd\"]\n\n\
             [[channel]]\nname = \"pd\"\ntype = \"pagerduty\"\nrouting_key = \"{KEY}\"\nurl = \"{url}\"\n\n\
             [[target]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"300ms\"\ntimeout = \"300ms\"\n",
            target.url()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let daemon = spawn_daemon_logging(&cfg, &log);
    // The trigger: throttled once, then accepted.
    for _ in 0..100 {
        if !pd.accepted().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    target.set(200);
    for _ in 0..100 {
        if pd.accepted().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stop_daemon(daemon).await, 0);

    let all = pd.seen.lock().unwrap().clone();
    assert_eq!(all[0].0, 429, "the first event was throttled");
    assert_eq!(all[1].1, all[0].1, "and sent again unchanged");
    let ok: Vec<Value> = pd.accepted();
    assert_eq!(ok.len(), 2, "one trigger, one resolve: {ok:#?}");
    let (trigger, resolve) = (&ok[0], &ok[1]);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], KEY);
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(trigger["payload"]["source"], "paris");
    assert_eq!(trigger["payload"]["component"], "api");
    assert!(trigger["payload"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] api: HTTP 500"));
    assert_eq!(
        trigger["payload"]["custom_details"]["conditions"][0]["kind"],
        "http_status"
    );
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(KEY), "the routing key reached a log line");
}

#[tokio::test]
async fn test_alert_sends_an_info_event() {
    let pd = pagerduty().await;
    let url = pd.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n[[channel]]\nname = \"pd\"\ntype = \"pagerduty\"\nrouting_key = \"{KEY}\"\nurl = \"{url}\"\n"
        ),
    )
    .unwrap();
    // The first answer is a 429: test-alert reports it, and a second run goes through.
    for expect_ok in [false, true] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
            .arg("--config")
            .arg(&cfg)
            .arg("test-alert")
            .output()
            .await
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.success(), expect_ok, "{said}");
        assert!(!said.contains(KEY), "{said}");
        if !expect_ok {
            assert!(said.contains("HTTP 429"), "{said}");
        }
    }
    let ok: Vec<Value> = pd.accepted();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["event_action"], "trigger");
    assert_eq!(ok[0]["payload"]["severity"], "info");
    assert!(ok[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("[TEST]"));
}
