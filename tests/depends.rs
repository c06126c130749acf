//! Dependencies, end to end: a gateway and five models behind it fail together under
//! `upwatch run`; the webhook receives exactly one firing alert, the gateway's, naming the
//! five, and one resolved. A model that stays down after the gateway recovered alerts on
//! its own.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn a_failing_parent_is_one_alert_naming_its_children() {
    let gateway = FlipServer::start(200).await;
    let models = FlipServer::start(200).await;
    let stubborn = FlipServer::start(200).await;
    let hook = Receiver::start(Behaviour::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = daemon_config(
        "failure_threshold = 2\nsuccess_threshold = 1\nrepeat_interval = \"0s\"",
        &[("hook", "webhook", hook.url())],
    );
    text.push_str(&format!(
        "\n[[target]]\nname = \"gateway\"\nurl = \"{}\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\n",
        gateway.url()
    ));
    for i in 1..=5 {
        let url = if i == 5 { stubborn.url() } else { models.url() };
        text.push_str(&format!(
            "\n[[target]]\nname = \"model-{i}\"\nurl = \"{url}?m={i}\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\ndepends_on = [\"gateway\"]\n"
        ));
    }
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(&cfg, text).unwrap();
    let daemon = spawn_daemon(&cfg);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The gateway goes down, and every model behind it.
    for s in [&gateway, &models, &stubborn] {
        s.set(502);
    }
    hook.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let firing: Vec<Value> = hook.requests().iter().map(Received::json).collect();
    assert_eq!(firing.len(), 1, "exactly one firing message: {firing:#?}");
    assert_eq!(firing[0]["target"], "gateway");
    assert_eq!(
        firing[0]["also_failing"],
        serde_json::json!(["model-1", "model-2", "model-3", "model-4", "model-5"])
    );

    // The gateway and four models recover; model-5 stays down and now alerts on its own.
    gateway.set(200);
    models.set(200);
    hook.wait_for(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: Vec<Value> = hook.requests().iter().map(Received::json).collect();
    let seen: Vec<(String, String)> = after
        .iter()
        .map(|b| {
            (
                b["target"].as_str().unwrap().to_string(),
                b["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        seen.contains(&("gateway".into(), "resolved".into())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("model-5".into(), "firing".into())),
        "{seen:?}"
    );
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(stop_daemon(daemon).await, 0);
}
