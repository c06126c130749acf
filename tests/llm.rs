//! LLM-API awareness against real local servers: a 429 is a warning, rate-limit headroom,
//! extra request-id headers, the model catalog (model_missing, change events and notices),
//! and the streaming chat probe's time to first token.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::*;
use upwatch::alert::engine::Engine;
use upwatch::alert::TransitionKind;
use upwatch::config::{self, Env};
use upwatch::notify::outbox::Wakers;
use upwatch::notify::Notification;
use upwatch::pipeline::{Alerts, Pipeline};
use upwatch::probe::provider::ErrorClass;
use upwatch::probe::tls::TlsConfigs;
use upwatch::probe::{FailureKind, Health, ProbeResult, TargetProber};
use upwatch::store::{Reader, Store};

fn kinds(r: &ProbeResult) -> Vec<FailureKind> {
    r.failures.iter().map(|f| f.kind).collect()
}

#[tokio::test]
async fn a_429_is_a_warning_unless_it_is_about_credits() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/llm/rate-limited\"", s.port()),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::RateLimited]);
    assert_eq!(r.health, Health::Degraded, "a 429 is not down");
    assert_eq!(r.error_class, Some(ErrorClass::RateLimited));
    assert_eq!(
        r.failures[0].detail,
        "HTTP 429: the provider is rate-limiting this key (retry after 30 s)"
    );
    let json = r.to_check_json();
    assert_eq!(json["ratelimit"]["retry_after_s"], 30.0);
    assert_eq!(json["request_id"], "req-429");

    // The same status about an exhausted quota is billing, and down.
    let site = VendorSite::start(vec![Page::json(
        "/v1/models",
        r#"{"message":"You exceeded your current quota, please check your plan and billing details","type":"insufficient_quota"}"#,
    )
    .with_status(429)])
    .await;
    let r = probe(&format!("url = \"{}/v1/models\"", site.url()), None).await;
    assert_eq!(kinds(&r), vec![FailureKind::HttpStatus]);
    assert_eq!(r.health, Health::Down);
    assert_eq!(r.error_class, Some(ErrorClass::Billing));
}

#[tokio::test]
async fn headroom_under_the_warn_fraction_degrades_and_extra_request_ids_are_read() {
    let site = VendorSite::start(vec![Page::json("/v1/models", r#"{"data":[]}"#)
        .with_header("x-ratelimit-limit-tokens", "500000")
        .with_header("x-ratelimit-remaining-tokens", "20000")
        .with_header("x-ratelimit-limit-requests", "60")
        .with_header("x-ratelimit-remaining-requests", "50")
        .with_header("x-kong-request-id", "kong-77")
        .with_header("x-request-id", "req-1")])
    .await;
    let url = format!("url = \"{}/v1/models\"", site.url());
    let r = probe(
        &format!("{url}\nrequest_id_headers = [\"X-Kong-Request-Id\"]"),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::RatelimitLow]);
    assert_eq!(r.health, Health::Degraded);
    assert!(
        r.failures[0]
            .detail
            .starts_with("rate limit (tokens): 20000 of 500000 left (4.0 %)"),
        "{}",
        r.failures[0].detail
    );
    let ids = &r.response.as_ref().unwrap().request_ids;
    assert_eq!(
        ids,
        &vec![
            ("x-request-id".to_string(), "req-1".to_string()),
            ("x-kong-request-id".to_string(), "kong-77".to_string())
        ]
    );
    // 0 turns the warning off; a stricter fraction keeps it quiet at 4 %.
    for setting in ["0", "0.03"] {
        let r = probe(&format!("{url}\nratelimit_warn_fraction = {setting}"), None).await;
        assert_eq!(r.health, Health::Up, "fraction {setting}: {:?}", r.failures);
    }
}

const CATALOG_A: &str = r#"{"object":"list","data":[{"id":"mistral-small-latest","object":"model"},{"id":"codestral-latest","object":"model"},{"id":"mistral-large-latest","object":"model"}]}"#;
const CATALOG_B: &str = r#"{"object":"list","data":[{"id":"mistral-small-latest","object":"model"},{"id":"mistral-large-latest","object":"model"},{"id":"magistral-medium-latest","object":"model"}]}"#;

#[tokio::test]
async fn catalog_changes_are_recorded_notified_and_a_vanished_model_fails() {
    let site = VendorSite::start(vec![Page::json("/v1/models", CATALOG_A)]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[alerting]\nchannels = [\"ops\"]\n\n[[channel]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\n\
         [[target]]\nname = \"models\"\nurl = \"{}/v1/models\"\nip_version = \"v4\"\n\
         expect_models = [\"mistral-small-latest\", \"codestral-latest\"]\nnotify_catalog_changes = true\n",
        site.url()
    );
    let cfg = config::parse(
        &dir.path().join("monitor.toml"),
        &text,
        &Env::from_pairs(&[]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let target = cfg.targets[0].clone();
    let (tls, _) = TlsConfigs::build([target.as_ref()]).unwrap();
    let mut prober = TargetProber::new(target.clone(), tls.get(&target.tls));

    let store = Store::open(dir.path()).unwrap();
    let make_pipeline = |store: &Store, catalogs| {
        let (engine, _) = Engine::resume(vec![], &cfg.alert_names(), "paris", vec![]);
        Pipeline::new(
            &cfg.targets,
            Some(Alerts {
                engine,
                store: store.clone(),
                wakers: Wakers::new(["ops"]),
            }),
            Arc::new(Utc::now),
        )
        .with_catalogs(catalogs)
    };
    let mut pipeline = make_pipeline(&store, store.catalogs().await.unwrap());

    let first = prober.probe().await;
    assert_eq!(first.health, Health::Up, "{:?}", first.failures);
    assert_eq!(
        first.models.as_deref(),
        Some(
            &[
                "codestral-latest".to_string(),
                "mistral-large-latest".to_string(),
                "mistral-small-latest".to_string()
            ][..]
        )
    );
    pipeline.handle(&first).await;

    // codestral leaves, magistral arrives.
    site.set(vec![Page::json("/v1/models", CATALOG_B)]);
    let second = prober.probe().await;
    assert_eq!(kinds(&second), vec![FailureKind::ModelMissing]);
    assert_eq!(second.health, Health::Down, "the app will break: critical");
    assert_eq!(
        second.failures[0].detail,
        "not in the model catalog: codestral-latest (3 models listed)"
    );
    assert_eq!(second.error_class, Some(ErrorClass::NotFound));
    pipeline.handle(&second).await;

    let reader = Reader::open(dir.path()).unwrap();
    let events = reader
        .catalog_events(Some("models".into()), 10)
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        1,
        "the first sight is not an event: {events:?}"
    );
    assert_eq!(events[0].added, vec!["magistral-medium-latest"]);
    assert_eq!(events[0].removed, vec!["codestral-latest"]);
    let (models, _) = reader.catalog("models".into()).await.unwrap().unwrap();
    assert_eq!(models.len(), 3);

    let queued = store
        .due("ops", Utc::now() + chrono::Duration::days(1), 10)
        .await
        .unwrap();
    let notices: Vec<Notification> = queued
        .iter()
        .map(|r| serde_json::from_str(&r.payload).unwrap())
        .filter(|n: &Notification| n.kind == TransitionKind::Notice)
        .collect();
    assert_eq!(notices.len(), 1, "{queued:?}");
    assert_eq!(
        notices[0].conditions[0].detail,
        "model catalog added: magistral-medium-latest; removed: codestral-latest (3 models listed)"
    );
    assert_eq!(notices[0].subject(), "[NOTICE] models: model catalog added: magistral-medium-latest; removed: codestral-latest (3 models listed)");

    // After a restart the stored catalog is the baseline: the same catalog is no event.
    drop(pipeline);
    let mut pipeline = make_pipeline(&store, store.catalogs().await.unwrap());
    pipeline.handle(&prober.probe().await).await;
    let events = reader.catalog_events(None, 10).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
}

/// A chat target on the local SSE server, probed once.
async fn chat(path: &str, extra: &str) -> ProbeResult {
    let s = sse_server().await;
    probe(
        &format!(
            "kind = \"chat\"\nmodel = \"mistral-small-latest\"\nurl = \"http://127.0.0.1:{}{path}\"\nbearer_token = \"sk-test\"\n{extra}",
            s.port()
        ),
        None,
    )
    .await
}

#[tokio::test]
async fn time_to_first_token_is_measured_within_5ms() {
    let delay = Duration::from_millis(300);
    // Best of three, as for latency: a busy CI machine may steal a slice from one run.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let r = chat("/delay/300", "").await;
        assert_eq!(r.health, Health::Up, "{:?}", r.failures);
        let c = r.chat.as_ref().unwrap();
        assert!(c.stream.done && c.stream.content);
        assert_eq!(c.stream.events, 3);
        let ttft = c.ttft.unwrap();
        assert!(ttft >= delay, "{ttft:?}");
        best = best.min(ttft - delay);
        // The head came at once: TTFT is not time to first byte.
        assert!(r.phases.ttfb.unwrap() < Duration::from_millis(100));
        let json = r.to_check_json();
        assert!(json["ttft_ms"].as_f64().unwrap() >= 300.0);
        assert_eq!(json["stream"]["done"], true);
        assert_eq!(json["request_ids"]["mistral-correlation-id"], "corr-chat-1");
    }
    assert!(
        best < Duration::from_millis(5),
        "TTFT overshoots by {best:?}"
    );

    let slow = chat("/delay/300", "max_ttft = \"100ms\"").await;
    assert_eq!(kinds(&slow), vec![FailureKind::TooSlow]);
    assert!(
        slow.failures[0].detail.starts_with("time to first token 3"),
        "{}",
        slow.failures[0].detail
    );
}

#[tokio::test]
async fn broken_streams_fail() {
    let cut = chat("/cut", "").await;
    assert_eq!(cut.health, Health::Down);
    assert_eq!(kinds(&cut), vec![FailureKind::Io], "{:?}", cut.failures);
    assert!(cut.chat.as_ref().unwrap().ttft.is_some());

    let nodone = chat("/nodone", "").await;
    assert_eq!(kinds(&nodone), vec![FailureKind::StreamIncomplete]);
    assert_eq!(
        nodone.failures[0].detail,
        "the stream ended after 2 events without [DONE] or a finish_reason"
    );
    assert_eq!(nodone.error_class, Some(ErrorClass::Upstream));

    let json = chat("/json", "").await;
    assert_eq!(kinds(&json), vec![FailureKind::StreamIncomplete]);
    assert!(json.failures[0]
        .detail
        .contains("no server-sent events in the response (content-type: application/json)"));

    let error = chat("/error-event", "").await;
    assert_eq!(kinds(&error), vec![FailureKind::StreamIncomplete]);
    assert!(error.failures[0]
        .detail
        .contains("Service tier capacity exceeded"));
}

#[test]
fn chat_targets_are_configured_with_their_own_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitor.toml");
    let cfg = config::parse(
        &path,
        "[[target]]\nname = \"chat\"\nkind = \"chat\"\nmodel = \"mistral-small-latest\"\nurl = \"https://api.mistral.ai/v1/chat/completions\"\n",
        &Env::from_pairs(&[]),
    )
    .unwrap();
    let t = &cfg.targets[0];
    assert_eq!(t.method, http::Method::POST);
    assert_eq!(t.schedule.describe(), "every 5m");
    let body: serde_json::Value = serde_json::from_slice(t.body.as_ref().unwrap()).unwrap();
    assert_eq!(body["max_tokens"], 1);
    assert_eq!(body["stream"], true);
    assert_eq!(t.headers["content-type"], "application/json");

    for (text, want) in [
        ("kind = \"chat\"\n", "kind = \"chat\" needs a model"),
        (
            "model = \"x\"\n",
            "model: only a kind = \"chat\" target sends a model",
        ),
        (
            "max_ttft = \"1s\"\n",
            "max_ttft: only applies to a kind = \"chat\" target",
        ),
        (
            "ratelimit_warn_fraction = 1.5\n",
            "ratelimit_warn_fraction: 1.5 must be at least 0 and under 1",
        ),
        (
            "rate_limit_group = \"Bad Name\"\n",
            "rate_limit_group: \"Bad Name\" must be 1-64 characters",
        ),
        (
            "kind = \"grpc\"\n",
            "kind: \"grpc\" is not one of http | chat",
        ),
    ] {
        let full = format!("[[target]]\nname = \"t\"\nurl = \"https://example.com/\"\n{text}");
        let err = config::parse(&path, &full, &Env::from_pairs(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{text:?}: {err}");
        assert!(err.contains("monitor.toml:4:"), "names the line: {err}");
    }
    let err = config::parse(
        &path,
        "[[target]]\nname = \"t\"\nurl = \"https://example.com/\"\n\n[rate_limit_group.k]\nmax_rps = 0\n",
        &Env::from_pairs(&[]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("monitor.toml:6:") && err.contains("max_rps: 0 must be above 0"),
        "{err}"
    );
}

#[test]
fn the_provider_fixtures_decode() {
    let read = |f: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/provider/{f}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    use upwatch::probe::{llm, provider, ratelimit};
    let e = provider::decode_error(&read("openai-429-quota.json")).unwrap();
    assert_eq!(e.kind.as_deref(), Some("insufficient_quota"));
    assert!(provider::mentions_billing(Some(&e)));
    let e = provider::decode_error(&read("mistral-401.json")).unwrap();
    assert_eq!(
        (e.message.as_deref(), e.code.as_deref()),
        (Some("Unauthorized"), Some("1000"))
    );
    let e = provider::decode_error(&read("fastapi-422.json")).unwrap();
    assert!(e
        .message
        .unwrap()
        .contains("Input should be greater than 0"));
    let e = provider::decode_error(&read("flat-403.json")).unwrap();
    assert!(provider::mentions_billing(Some(&e)));

    let text = String::from_utf8(read("headers.txt")).unwrap();
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let now = "2026-10-21T07:27:00Z".parse().unwrap();
    let limits = ratelimit::parse(&headers, now);
    assert_eq!(limits.retry_after_s, Some(60.0));
    let tight = limits.tightest().unwrap();
    assert_eq!(
        (tight.kind.as_str(), tight.remaining),
        ("requests", Some(0.0))
    );

    let mut s = llm::ChatStream::default();
    assert!(s.feed(&read("stream.sse")));
    assert!(s.done);
    assert_eq!(
        llm::parse_catalog(&read("catalog.json")).unwrap(),
        vec!["codestral-latest", "mistral-small-latest"]
    );
}
