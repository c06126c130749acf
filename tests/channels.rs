//! Telegram, ntfy, Teams, Google Chat and Opsgenie through the real binary, against
//! receivers that answer as the services do (Telegram `{"ok":true,...}`, ntfy its message
//! JSON, Teams 202, Google Chat the message, Opsgenie 202): an outage is one
//! firing and one resolved message (a 429 and its retry go through the same delivery path
//! as PagerDuty's and Discord's, tested there), the
//! credentials go where the service expects them and into no log line, and `test-alert`
//! reaches each.

mod common;

use std::time::Duration;

use common::*;

const BOT_TOKEN: &str = "123456789:AAHsecretBotTokenValue_abcdefghijk";
const NTFY_TOKEN: &str = "tk_secretntfytokenvalue0123456789";

async fn run_outage(channel: &str, hook: &Mimic) -> String {
    let target = FlipServer::start(500).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[alerting]\nfailure_threshold = 1\nsuccess_threshold = 1\nrepeat_interval = \"0s\"\nchannels = [\"chat\"]\n\n{channel}\n\
             [[target]]\nname = \"api\"\nurl = \"{}\"\ninterval = \"300ms\"\ntimeout = \"300ms\"\n",
            target.url()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let daemon = spawn_daemon_logging(&cfg, &log);
    hook.wait_accepted(1, Duration::from_secs(15)).await;
    target.set(200);
    hook.wait_accepted(2, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stop_daemon(daemon).await, 0);
    assert_eq!(hook.accepted().len(), 2, "{:#?}", hook.accepted());
    std::fs::read_to_string(&log).unwrap()
}

async fn test_alert(channel: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!("[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\n{channel}"),
    )
    .unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("test-alert")
        .output()
        .await
        .unwrap()
}

fn telegram(url: &str) -> String {
    format!(
        "[[channel]]\nname = \"chat\"\ntype = \"telegram\"\nurl = \"{url}\"\nbot_token = \"{BOT_TOKEN}\"\nchat_id = -1001234567890\ngroup = false\n"
    )
}

fn ntfy(url: &str) -> String {
    format!(
        "[[channel]]\nname = \"chat\"\ntype = \"ntfy\"\nurl = \"{url}\"\ntopic = \"upwatch-ops\"\ntoken = \"{NTFY_TOKEN}\"\ngroup = false\n"
    )
}

#[tokio::test]
async fn telegram_gets_a_firing_and_a_resolved_message() {
    let hook = Mimic::start("", 200, r#"{"ok":true,"result":{"message_id":1}}"#, false).await;
    let logged = run_outage(&telegram(&hook.url), &hook).await;
    let got = hook.accepted();
    assert_eq!(got[0]["chat_id"], -1001234567890i64);
    assert_eq!(got[0]["parse_mode"], "HTML");
    assert!(got[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("<b>[FIRING] api: HTTP 500"));
    assert!(got[1]["text"]
        .as_str()
        .unwrap()
        .starts_with("<b>[RESOLVED] api after"));
    let paths = hook.requests.lock().unwrap().clone();
    assert!(paths
        .iter()
        .all(|(p, _)| *p == format!("/bot{BOT_TOKEN}/sendMessage")));
    assert!(
        !logged.contains(BOT_TOKEN),
        "the bot token reached a log line"
    );
}

#[tokio::test]
async fn ntfy_gets_a_firing_and_a_resolved_message() {
    let hook = Mimic::start(
        "/",
        200,
        r#"{"id":"sPs71M8A2T","time":1795428120,"event":"message","topic":"upwatch-ops"}"#,
        false,
    )
    .await;
    let logged = run_outage(&ntfy(&hook.url), &hook).await;
    let got = hook.accepted();
    assert_eq!(got[0]["topic"], "upwatch-ops");
    assert_eq!(got[0]["priority"], 5);
    assert!(got[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] api: HTTP 500"));
    assert_eq!(got[1]["priority"], 3);
    assert_eq!(got[1]["tags"][0], "white_check_mark");
    let auth = hook.requests.lock().unwrap().clone();
    assert!(auth
        .iter()
        .all(|(_, a)| a.as_deref() == Some(format!("Bearer {NTFY_TOKEN}").as_str())));
    assert!(!logged.contains(NTFY_TOKEN), "the token reached a log line");
}

#[tokio::test]
async fn test_alert_reaches_telegram_and_ntfy() {
    let tg = Mimic::start("", 200, r#"{"ok":true,"result":{"message_id":1}}"#, false).await;
    let out = test_alert(&telegram(&tg.url)).await;
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}");
    assert!(!said.contains(BOT_TOKEN), "{said}");
    assert!(tg.accepted()[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("<b>[TEST]"));

    let nt = Mimic::start("/", 200, r#"{"id":"x","event":"message"}"#, false).await;
    let out = test_alert(&ntfy(&nt.url)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(nt.accepted()[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("[TEST]"));
}

const GENIE_KEY: &str = "eb243592-faa2-4ba2-a551q-1afdf565c889";

#[tokio::test]
async fn teams_gets_an_adaptive_card_per_change() {
    let hook = Mimic::start("/workflows/1/triggers/manual/paths/invoke", 202, "", false).await;
    let channel = format!(
        "[[channel]]\nname = \"chat\"\ntype = \"teams\"\nurl = \"{}\"\ngroup = false\n",
        hook.url
    );
    run_outage(&channel, &hook).await;
    let got = hook.accepted();
    let card = |i: usize| got[i]["attachments"][0].clone();
    assert_eq!(
        card(0)["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card(0)["content"]["type"], "AdaptiveCard");
    assert_eq!(card(0)["content"]["body"][0]["color"], "Attention");
    assert!(card(0)["content"]["body"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("[FIRING] api: HTTP 500"));
    assert_eq!(card(1)["content"]["body"][0]["color"], "Good");
    let out = test_alert(&channel).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn google_chat_threads_the_recovery_under_its_firing() {
    let hook = Mimic::start(
        "/v1/spaces/AAAA/messages",
        200,
        r#"{"name":"spaces/AAAA/messages/1","thread":{"name":"spaces/AAAA/threads/1"}}"#,
        false,
    )
    .await;
    let channel = format!(
        "[[channel]]\nname = \"chat\"\ntype = \"google_chat\"\nurl = \"{}?key=k&token=t\"\ngroup = false\n",
        hook.url
    );
    run_outage(&channel, &hook).await;
    let got = hook.accepted();
    assert!(got[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("*[FIRING] api: HTTP 500"));
    assert!(got[1]["text"]
        .as_str()
        .unwrap()
        .starts_with("*[RESOLVED] api after"));
    assert_eq!(got[0]["thread"], got[1]["thread"], "one thread per episode");
    let out = test_alert(&channel).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("token=t"));
}

#[tokio::test]
async fn opsgenie_creates_then_closes_by_alias() {
    let hook = Mimic::start(
        "",
        202,
        r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#,
        false,
    )
    .await;
    let channel = format!(
        "[[channel]]\nname = \"chat\"\ntype = \"opsgenie\"\nurl = \"{}\"\napi_key = \"{GENIE_KEY}\"\n",
        hook.url
    );
    let logged = run_outage(&channel, &hook).await;
    let got = hook.accepted();
    assert_eq!(got[0]["priority"], "P1");
    assert_eq!(got[0]["entity"], "api");
    let alias = got[0]["alias"].as_str().unwrap().to_string();
    assert_eq!(got[1]["source"], "upwatch");
    let requests = hook.requests.lock().unwrap().clone();
    assert_eq!(requests[0].0, "/v2/alerts");
    let encoded: String = url::form_urlencoded::byte_serialize(alias.as_bytes()).collect();
    assert_eq!(requests[1].0, format!("/v2/alerts/{encoded}/close"));
    assert!(requests
        .iter()
        .all(|(_, a)| a.as_deref() == Some(format!("GenieKey {GENIE_KEY}").as_str())));
    assert!(
        !logged.contains(GENIE_KEY),
        "the API key reached a log line"
    );
    let out = test_alert(&channel).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(hook.accepted()[2]["priority"], "P5");
}
