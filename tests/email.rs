//! Email through a real SMTP server (Python's aiosmtpd, installed by tests/run) with
//! STARTTLS and AUTH: subject, recipients, both parts; and the errors a user sees.

mod common;

use std::time::Duration;

use common::*;
use tokio::process::Command;
use upwatch::alert::{Severity, TransitionKind};
use upwatch::config::{self, Env};
use upwatch::notify::{Notification, Notifier};
use upwatch::probe::{Failure, FailureKind};

fn channel_config(smtp: &Smtp, password: &str) -> String {
    format!(
        "[[channel]]\nname = \"ops-email\"\ntype = \"email\"\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\nusername = \"upwatch\"\npassword = \"{password}\"\nfrom = \"upwatch <upwatch@example.com>\"\nto = [\"oncall@example.com\", \"Lead <lead@example.com>\"]\ntls_ca_file = \"test-ca.pem\"\ntimeout = \"10s\"\n",
        smtp.port
    )
}

fn notifier(smtp: &Smtp, password: &str) -> std::sync::Arc<Notifier> {
    let text = format!(
        "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n{}",
        channel_config(smtp, password)
    );
    let cfg = config::parse(
        &smtp.dir.path().join("monitor.toml"),
        &text,
        &Env::from_pairs(&[]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Notifier::build_all(&cfg.channels, None).unwrap().remove(0)
}

fn firing() -> Notification {
    let now = chrono::Utc::now();
    let mut n = Notification::new(
        TransitionKind::Firing,
        Severity::Critical,
        "mistral-models",
        "https://api.mistral.ai/v1/models",
        vec![
            Failure::http_status(503, "200"),
            Failure::new(FailureKind::TooSlow, "latency 4.200 s > 3.000 s"),
        ],
        now,
        "local",
    );
    n.id = "id-1".into();
    n
}

#[tokio::test]
async fn email_goes_through_starttls_and_auth_with_both_parts() {
    let mut smtp = smtp_server().await;
    let n = notifier(&smtp, "pw-123");
    n.send(&firing(), chrono::Utc::now())
        .await
        .unwrap_or_else(|e| panic!("send failed: {e}"));
    let line = tokio::time::timeout(Duration::from_secs(10), smtp.lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(got["tls"], true, "STARTTLS was used");
    assert_eq!(got["authenticated"], true, "AUTH succeeded");
    assert_eq!(got["mail_from"], "upwatch@example.com");
    assert_eq!(
        got["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "lead@example.com"])
    );
    let data = got["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: [FIRING] mistral-models: HTTP 503 (+1 more) (critical)"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(
        data.contains("http_status: HTTP 503, expected 200"),
        "{data}"
    );
    assert!(
        data.contains("too_slow: latency 4.200 s > 3.000 s"),
        "{data}"
    );
    assert!(data.contains("Alert id: id-1"), "{data}");
}

#[tokio::test]
async fn a_group_is_one_email_naming_every_alert() {
    let mut smtp = smtp_server().await;
    let n = notifier(&smtp, "pw-123");
    let mut batch: Vec<Notification> = (1..=5)
        .map(|i| {
            let mut f = firing();
            f.target = format!("model-{i}");
            f.id = format!("id-{i}");
            f.vendor = Some("status.mistral.ai reports a partial outage".into());
            f
        })
        .collect();
    let mut back = firing();
    back.kind = TransitionKind::Resolved;
    back.target = "embed".into();
    back.resolved_at = Some(back.started_at + chrono::Duration::minutes(12));
    batch.push(back);
    n.send_group(&batch, chrono::Utc::now())
        .await
        .unwrap_or_else(|e| panic!("send failed: {e}"));
    let line = tokio::time::timeout(Duration::from_secs(10), smtp.lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    let data = got["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: [FIRING] 5, [RESOLVED] 1: model-1, model-2, model-3 (+3 more)"),
        "{data}"
    );
    for i in 1..=5 {
        assert!(
            data.contains(&format!(
                "  - model-{i} (critical): HTTP 503, expected 200; latency"
            )),
            "{data}"
        );
    }
    assert!(
        data.contains("  - embed recovered after 12m (critical)"),
        "{data}"
    );
    assert_eq!(
        data.matches("Vendor:   status.mistral.ai reports a partial outage")
            .count(),
        1,
        "the shared vendor word is said once: {data}"
    );
    assert!(
        data.contains("Alert ids: id-1, id-2, id-3, id-4, id-5, id-1"),
        "{data}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_smtp_535() {
    let smtp = smtp_server().await;
    let n = notifier(&smtp, "wrong");
    let err = n.send(&firing(), chrono::Utc::now()).await.unwrap_err();
    assert!(!err.retryable, "{err:?}");
    assert!(err.message.starts_with("SMTP 535"), "{}", err.message);
}

#[tokio::test]
async fn test_alert_command_reports_each_channel() {
    let mut smtp = smtp_server().await;
    let bad = Receiver::start(Behaviour::Reject).await;
    let text = format!(
        "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n{}\n[[channel]]\nname = \"broken-hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
        channel_config(&smtp, "pw-123"),
        bad.url()
    );
    let cfg = smtp.dir.path().join("monitor.toml");
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("test-alert")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "ops-email: ok");
    assert!(
        lines[1].starts_with("broken-hook: http://127.0.0.1:") && lines[1].contains("HTTP 400"),
        "{}",
        lines[1]
    );
    let line = tokio::time::timeout(Duration::from_secs(10), smtp.lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(line.contains("[TEST] [FIRING] upwatch-test"), "{line}");
    assert_eq!(bad.requests()[0].json()["test"], true);

    let only = Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .args(["test-alert", "--channel", "ops-email"])
        .output()
        .await
        .unwrap();
    assert_eq!(only.status.code(), Some(0));
}
