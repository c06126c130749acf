//! The vendor's word in alerts, end to end: `upwatch run` polls two local status pages (one
//! with an open incident, one green), probes two failing targets linked to them, and a real
//! webhook receiver gets the page's own alerts and the incident announcement; the target of
//! the page that admits the incident is held (the page is its parent), the other target's
//! alert carries the vendor's word. A restart announces nothing again.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn failing_targets_carry_the_vendor_word_and_incidents_are_announced_once() {
    let incident_page = VendorSite::start(vec![Page::json(
        "/api/v2/summary.json",
        status_fixture("atlassian/claude-summary-2026-10-07-minor-incident-monitoring.json"),
    )])
    .await;
    let green_page = VendorSite::start(vec![Page::json(
        "/api/v2/summary.json",
        status_fixture("incidentio/openai-compat-summary-2026-07-09-operational.json"),
    )])
    .await;
    let down = FlipServer::start(503).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[daemon]
state_dir = "state"
listen = "127.0.0.1:0"
shutdown_grace = "5s"

[alerting]
failure_threshold = 3
repeat_interval = "0s"
channels = ["hook"]

[[channel]]
name = "hook"
type = "webhook"
url = "{hook}"

[[status_page]]
name = "claude-status"
url = "{incident}"
interval = "1s"
timeout = "1s"
failure_threshold = 1
# The capture is from October 2026: not stale for this test.
stale_after = "3650d"

[[status_page]]
name = "openai-status"
url = "{green}"
interval = "1s"
timeout = "1s"

[[target]]
name = "claude-api"
url = "{down}"
interval = "500ms"
timeout = "300ms"
status_page = "claude-status"

[[target]]
name = "openai-api"
url = "{down}"
interval = "300ms"
timeout = "300ms"
status_page = "openai-status"
"#,
            hook = hook.url(),
            incident = incident_page.url(),
            green = green_page.url(),
            down = down.url(),
        ),
    )
    .unwrap();
    let daemon = spawn_daemon(&cfg);
    // The page's own alert, the incident announcement, and the alert of the target whose
    // page is green. The other target's page admits an incident: its alert is held.
    let got = hook.wait_for(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = if got.len() >= 3 { hook.requests() } else { got };
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let find = |pred: &dyn Fn(&Value) -> bool| bodies.iter().find(|b| pred(b)).cloned();

    assert!(
        find(&|b| b["target"] == "claude-api").is_none(),
        "claude-api is held while its page admits the incident: {bodies:#?}"
    );

    let openai = find(&|b| b["target"] == "openai-api").expect("openai-api alert");
    assert_eq!(
        openai["vendor"],
        "127.0.0.1 reports operational: likely our key, network or an unannounced incident"
    );

    let page_alert = find(&|b| {
        b["target"] == "claude-status"
            && b["conditions"][0]["kind"] == "vendor_outage"
            && b["status"] == "firing"
            && b["last_result"]["page"] == "claude-status"
    })
    .expect("the page's own alert");
    assert_eq!(page_alert["severity"], "critical");
    let announced: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["target"] == "claude-status" && b["last_result"].is_null())
        .collect();
    assert_eq!(announced.len(), 1, "{bodies:#?}");
    assert_eq!(announced[0]["url"], "https://stspg.io/sjkw7njwf0mt");
    assert!(announced[0]["conditions"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("Elevated errors on platform.claude.com (impact partial outage, monitoring)"));
    // Nothing about the green page itself.
    assert!(find(&|b| b["target"] == "openai-status").is_none());
    stop_daemon(daemon).await;

    // A restart: the incident is still open, and is not announced again.
    let before = hook.requests().len();
    let daemon = spawn_daemon(&cfg);
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_daemon(daemon).await;
    let after: Vec<Value> = hook.requests()[before..]
        .iter()
        .map(Received::json)
        .collect();
    assert!(
        !after
            .iter()
            .any(|b| b["target"] == "claude-status" && b["last_result"].is_null()),
        "re-announced after restart: {after:#?}"
    );

    // The incident ends: its resolution is announced.
    incident_page.set(vec![Page::json(
        "/api/v2/summary.json",
        status_fixture("incidentio/openai-compat-summary-2026-07-09-operational.json"),
    )]);
    let before = hook.requests().len();
    let daemon = spawn_daemon(&cfg);
    // Other messages may come first (the failing target fires again on restart): wait
    // for the page's own.
    let page_resolved = |got: &[Received]| -> Vec<Value> {
        got[before..]
            .iter()
            .map(Received::json)
            .filter(|b| b["target"] == "claude-status" && b["status"] == "resolved")
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while page_resolved(&hook.requests()).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_daemon(daemon).await;
    let got = hook.requests();
    let resolved = page_resolved(&got);
    assert!(
        !resolved.is_empty(),
        "{:#?}",
        &got[before..].iter().map(Received::json).collect::<Vec<_>>()
    );
}
