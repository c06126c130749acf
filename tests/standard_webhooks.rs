//! Webhooks signed the Standard Webhooks way, verified by the specification's own Python
//! library (`standardwebhooks`, which tests/run.sh installs), not by the code that signs:
//! through `test-alert`, and through `upwatch run` with a receiver that refuses the first
//! delivery (the retry keeps its `webhook-id` and signs again), under two keys at once as
//! during a rotation.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;

fn new_secret() -> String {
    let key: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Verifies `r` with the Python library under `secret`; also checks a changed body is
/// refused. Returns the library's verdict line.
fn verify(r: &Received, secret: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), &r.body).unwrap();
    let headers: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|h| {
                (
                    h.to_string(),
                    serde_json::Value::from(r.header(h).unwrap_or("")),
                )
            })
            .collect();
    std::fs::write(
        dir.path().join("headers.json"),
        serde_json::to_vec(&headers).unwrap(),
    )
    .unwrap();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
body = open(sys.argv[1] + "/body", "rb").read()
headers = json.load(open(sys.argv[1] + "/headers.json"))
Webhook(sys.argv[2]).verify(body, headers)
try:
    Webhook(sys.argv[2]).verify(body + b" ", headers)
    print("a changed body verified")
except WebhookVerificationError:
    print("verified")
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .arg(secret)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "standardwebhooks refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn channel(url: &str, old: &str, new: &str) -> String {
    format!(
        "[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{url}\"\nsignature = \"standard-webhooks\"\nsecrets = [\"{old}\", \"{new}\"]\n"
    )
}

#[tokio::test]
async fn test_alert_is_signed_under_both_keys() {
    let hook = Receiver::start(Behaviour::Ok).await;
    let (old, new) = (new_secret(), new_secret());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n{}",
            channel(&hook.url(), &old, &new)
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("test-alert")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = hook.wait_for(1, Duration::from_secs(5)).await;
    let r = &got[0];
    assert_eq!(r.header("webhook-id"), r.json()["id"].as_str());
    assert_eq!(
        r.header("webhook-signature").unwrap().split(' ').count(),
        2,
        "one signature per key"
    );
    assert!(r.header("x-upwatch-signature").is_none());
    for secret in [&old, &new] {
        assert_eq!(verify(r, secret), "verified");
    }
    // A key the channel does not hold does not verify it.
    let stranger = new_secret();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), &r.body).unwrap();
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys; from standardwebhooks.webhooks import Webhook; Webhook(sys.argv[1]).verify(open(sys.argv[2],'rb').read(), {'webhook-id': sys.argv[3], 'webhook-timestamp': sys.argv[4], 'webhook-signature': sys.argv[5]})")
        .args([
            stranger.as_str(),
            dir.path().join("body").to_str().unwrap(),
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap(),
            r.header("webhook-signature").unwrap(),
        ])
        .output()
        .unwrap()
        .status;
    assert!(!status.success(), "another key must not verify it");
}

#[tokio::test]
async fn a_retried_delivery_keeps_its_id_and_is_signed_again() {
    let target = FlipServer::start(500).await;
    let hook = Receiver::start(Behaviour::FailFirst { n: 1, status: 503 }).await;
    let (old, new) = (new_secret(), new_secret());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[alerting]\nfailure_threshold = 1\nchannels = [\"hook\"]\n\n[[target]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"500ms\"\ntimeout = \"500ms\"\n\n{}",
            target.url(),
            channel(&hook.url(), &old, &new)
        ),
    )
    .unwrap();
    let daemon = spawn_daemon(&cfg);
    let got = hook.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert!(got.len() >= 2, "refused once, then delivered");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].json()["status"], "firing");
    for r in &got[..2] {
        assert_eq!(verify(r, &new), "verified");
    }
}
