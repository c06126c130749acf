//! Status pages read over real HTTP: every platform's paths laid out on a local server that,
//! like a single-page app, answers 200 with HTML for every other path; `upwatch check` run
//! as a user runs it; a bot challenge; re-detection after a vendor moves.

mod common;

use common::*;
use serde_json::Value;
use std::sync::Arc;
use tokio::process::Command;
use upwatch::statuspage::{Level, Platform, Poller, UnreadableReason};

fn feed_rss() -> &'static str {
    r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Example</title>
<lastBuildDate>Mon, 23 Nov 2026 10:00:00 +0000</lastBuildDate>
<item><guid>inc-1</guid><title>API latency</title><link>https://status.example.com/i/1</link>
<pubDate>Mon, 23 Nov 2026 09:40:00 +0000</pubDate>
<description>&lt;p&gt;&lt;strong&gt;Monitoring&lt;/strong&gt; - A fix is live.&lt;/p&gt;</description></item>
<item><guid>inc-0</guid><title>Old outage</title><pubDate>Sun, 22 Nov 2026 09:00:00 +0000</pubDate>
<description>&lt;strong&gt;Resolved&lt;/strong&gt; - Done.</description></item>
</channel></rss>"#
}

const BETTERSTACK: &str = r#"{"data":{"id":"1","type":"status_page","attributes":{"company_name":"Example","aggregate_state":"degraded"}},
"included":[{"id":"s1","type":"status_page_section","attributes":{"name":"API"}},
{"id":"r1","type":"status_page_resource","attributes":{"public_name":"Chat","status":"degraded","status_page_section_id":"s1"}},
{"id":"r2","type":"status_page_resource","attributes":{"public_name":"Embeddings","status":"operational","status_page_section_id":"s1"}},
{"id":"rep1","type":"status_report","attributes":{"title":"Slow chat","report_type":"manual","aggregate_state":"degraded","starts_at":"2026-11-23T09:00:00Z"}}]}"#;

const ROOTLY_STATUS: &str = r#"{"status":"partial_outage","services":[{"name":"Chat Completions","status":"partial_outage"},{"name":"Embeddings","status":"operational"}]}"#;
const ROOTLY_INCIDENTS: &str = r#"{"data":[{"id":"r-1","type":"incidents","attributes":{"title":"Elevated error rates on Chat Completions","status":"started","severity":"major","started_at":"2026-11-23T10:02:00Z","url":"https://status.example.com/incidents/r-1"}},
{"id":"r-0","type":"incidents","attributes":{"title":"Earlier","status":"resolved","resolved_at":"2026-11-22T10:00:00Z"}}]}"#;

const WIDGET: &str = r#"{"page_title":"Example","ongoing_incidents":[{"id":"w1","name":"Degraded embeddings","status":"investigating","current_worst_impact":"degraded_performance","affected_components":[{"id":"c","name":"Embeddings"}]}],"in_progress_maintenances":[],"scheduled_maintenances":[]}"#;

/// Every layout, each on its own site, read by `upwatch check` in one run.
#[tokio::test]
async fn check_reads_every_layout_served_locally() {
    let sites = vec![
        ("atlassian", Vec::from([Page::json("/api/v2/summary.json", status_fixture("atlassian/claude-summary-2026-10-07-minor-incident-monitoring.json"))]), ""),
        ("incidentio-compat", vec![Page::json("/api/v2/summary.json", status_fixture("incidentio/openai-compat-summary-2026-09-29-minor-investigating.json"))], ""),
        ("instatus", vec![Page::json("/summary.json", status_fixture("instatus/instatus-docs-summary-hasissues.json"))], ""),
        ("checkly", vec![Page::json("/summary.json", status_fixture("checkly/mistral-checkly-summary-2026-09-17-trimmed.json"))], ""),
        ("rootly", vec![Page::json("/api/v1/status.json", ROOTLY_STATUS), Page::json("/api/v1/incidents.json", ROOTLY_INCIDENTS)], ""),
        ("betterstack", vec![Page::json("/index.json", BETTERSTACK)], ""),
        ("widget", vec![Page::json("/api/v1/summary", WIDGET)], ""),
        ("atom", vec![Page::json("/history.atom", status_fixture("feeds/github-history-2026-07-09-open-incident.atom")).with_type("application/atom+xml")], ""),
        ("rss-advertised", vec![
            Page::json("/", "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/incidents.rss\"></head><body><div id=\"root\"></div></body></html>").with_type("text/html"),
            Page::json("/incidents.rss", feed_rss()).with_type("application/rss+xml"),
        ], ""),
        ("statusio", vec![Page::json("/1.0/status/abc", status_fixture("statusio/docker-statusio-partial-disruption.json"))], "/1.0/status/abc|statusio"),
        ("upptime", vec![Page::json("/history/summary.json", status_fixture("upptime/bandlab-summary-down.json"))], "|upptime"),
        ("spa-only", vec![], ""),
        ("challenged", vec![], ""),
    ];
    let mut servers = Vec::new();
    let mut config = String::new();
    for (name, pages, spec) in sites {
        let site = VendorSite::start(pages).await;
        if name == "challenged" {
            // Every path answers Cloudflare's interstitial.
            let mut all = Vec::new();
            for p in [
                "/",
                "/api/v2/summary.json",
                "/api/v1/status.json",
                "/summary.json",
                "/index.json",
                "/api/v1/summary",
                "/history.atom",
                "/history.rss",
                "/feed.rss",
                "/feed.atom",
            ] {
                all.push(Page {
                    path: p.to_string(),
                    status: 403,
                    content_type: "text/html",
                    body: "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>".into(),
                    headers: vec![("cf-mitigated", "challenge")],
                });
            }
            site.set(all);
        }
        let (path, format) = spec.split_once('|').unwrap_or(("", "auto"));
        config.push_str(&format!(
            "[[status_page]]\nname = \"{name}\"\nurl = \"{}{path}\"\nformat = \"{format}\"\ntimeout = \"5s\"\n\n",
            site.url()
        ));
        servers.push(site);
    }
    let target = VendorSite::start(vec![Page::json("/ok", "{}")]).await;
    config.push_str(&format!(
        "[[target]]\nname = \"api\"\nurl = \"{}/ok\"\n",
        target.url()
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitor.toml");
    std::fs::write(&path, &config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&path)
        .args(["check", "--format", "json"])
        .env_remove("UPWATCH_CONFIG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let page = |name: &str| -> &Value {
        lines
            .iter()
            .find(|l| l["page"] == name)
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
    };
    let expect = |name: &str, platform: &str, overall: &str, incidents: usize| {
        let p = page(name);
        assert_eq!(p["platform"], platform, "{name}: {p}");
        assert_eq!(p["overall"], overall, "{name}: {p}");
        assert_eq!(
            p["incidents"].as_array().unwrap().len(),
            incidents,
            "{name}: {p}"
        );
        assert_eq!(
            p["ok"],
            overall == "operational" || overall == "maintenance",
            "{name}"
        );
    };
    expect("atlassian", "statuspage", "partial_outage", 1);
    expect("incidentio-compat", "incidentio", "degraded", 2);
    expect("instatus", "instatus", "major_outage", 1);
    expect("checkly", "checkly", "major_outage", 1);
    expect("rootly", "rootly", "partial_outage", 1);
    expect("betterstack", "betterstack", "degraded", 1);
    expect("widget", "incidentio", "degraded", 1);
    expect("atom", "feed", "degraded", 1);
    expect("rss-advertised", "feed", "degraded", 1);
    expect("statusio", "statusio", "partial_outage", 1);
    expect("upptime", "upptime", "major_outage", 0);

    let a = page("atlassian");
    assert!(a["endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/api/v2/summary.json"));
    let i = &a["incidents"][0];
    assert_eq!(i["title"], "Elevated errors on platform.claude.com");
    assert_eq!(i["status"], "monitoring");
    assert_eq!(i["impact"], "partial_outage");
    assert_eq!(i["started_at"], "2026-10-07T13:25:04Z");
    assert!(a["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "Claude Console (platform.claude.com)" && c["status"] == "degraded"));
    let r = page("rootly");
    assert_eq!(
        r["incidents"][0]["title"],
        "Elevated error rates on Chat Completions"
    );
    assert_eq!(r["incidents"][0]["status"], "investigating");

    // An app shell everywhere is not an outage, and says so.
    let spa = page("spa-only");
    assert_eq!(spa["overall"], "unknown");
    assert_eq!(spa["reason"], "unrecognised");
    assert!(
        spa["detail"].as_str().unwrap().contains("answered HTML"),
        "{spa}"
    );
    let ch = page("challenged");
    assert_eq!(ch["overall"], "unknown");
    assert_eq!(ch["reason"], "blocked");
    // One challenged request is enough to stop asking.
    let challenged_hits = servers
        .iter()
        .find(|s| s.url() == ch["url"].as_str().unwrap().trim_end_matches('/'))
        .map(|s| s.hits.lock().unwrap().len());
    assert_eq!(challenged_hits, Some(1));

    // Pages with problems make the run unhealthy.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn page_config(url: &str, format: &str) -> Arc<upwatch::config::StatusPage> {
    let text = format!(
        "[[status_page]]\nname = \"vendor\"\nurl = \"{url}\"\nformat = \"{format}\"\ntimeout = \"5s\"\n\n[[target]]\nname = \"api\"\nurl = \"{url}/x\"\n"
    );
    let cfg = upwatch::config::parse(
        std::path::Path::new("monitor.toml"),
        &text,
        &upwatch::config::Env::from_pairs(&[]),
    )
    .unwrap();
    cfg.status_pages[0].clone()
}

#[tokio::test]
async fn the_working_endpoint_is_remembered_and_detection_reruns_after_the_vendor_moves() {
    let site = VendorSite::start(vec![Page::json(
        "/summary.json",
        status_fixture("checkly/mistral-checkly-summary-2026-09-17-trimmed.json"),
    )])
    .await;
    let page = page_config(&site.url(), "auto");
    let http = upwatch::statuspage::poll::client(&page).unwrap();
    let mut poller = Poller::new(page, http);
    let now = chrono::Utc::now();
    let first = poller.poll(now).await;
    assert_eq!(first.outcome.as_ref().unwrap().platform, Platform::Checkly);
    let hits_after_detection = site.hits.lock().unwrap().len();
    let second = poller.poll(now).await;
    assert!(second.outcome.is_ok());
    // Only the remembered endpoint was asked the second time.
    assert_eq!(site.hits.lock().unwrap().len(), hits_after_detection + 1);

    // The vendor moves to Statuspage: the old path now serves the app shell.
    site.set(vec![Page::json(
        "/api/v2/summary.json",
        status_fixture("atlassian/twilio-summary-minor-degraded.json"),
    )]);
    for n in 1..upwatch::statuspage::poll::REDETECT_AFTER {
        let r = poller.poll(now).await;
        let u = r.outcome.as_ref().unwrap_err();
        assert_eq!(u.reason, UnreadableReason::Unrecognised, "poll {n}: {u:?}");
        assert_eq!(r.overall, Level::Unknown);
    }
    let moved = poller.poll(now).await;
    assert_eq!(
        moved.outcome.as_ref().map(|s| s.platform).ok(),
        Some(Platform::Statuspage),
        "{moved:?}"
    );
    assert_eq!(moved.overall, Level::Degraded);
}

#[tokio::test]
async fn a_page_whose_time_stops_with_incidents_open_is_stale() {
    let site = VendorSite::start(vec![Page::json(
        "/api/v2/summary.json",
        status_fixture("atlassian/claude-summary-2026-10-07-minor-incident-monitoring.json"),
    )])
    .await;
    let page = page_config(&site.url(), "statuspage");
    let mut poller = Poller::new(
        page.clone(),
        upwatch::statuspage::poll::client(&page).unwrap(),
    );
    let updated = chrono::DateTime::parse_from_rfc3339("2026-10-07T23:44:53Z")
        .unwrap()
        .to_utc();
    let fresh = poller.poll(updated + chrono::TimeDelta::hours(1)).await;
    assert!(!fresh.stale);
    let stale = poller.poll(updated + chrono::TimeDelta::hours(7)).await;
    assert!(stale.stale, "6 h default");
    assert_eq!(stale.to_check_json()["stale"], true);
}

#[tokio::test]
async fn oversized_and_broken_bodies_are_unreadable_not_fatal() {
    let huge = vec![b' '; 3 * 1024 * 1024];
    let site = VendorSite::start(vec![Page::json("/api/v2/summary.json", huge)]).await;
    let page = page_config(&site.url(), "statuspage");
    let mut poller = Poller::new(
        page.clone(),
        upwatch::statuspage::poll::client(&page).unwrap(),
    );
    let r = poller.poll(chrono::Utc::now()).await;
    let u = r.outcome.unwrap_err();
    assert!(u.detail.contains("larger than max_body_size"), "{u:?}");

    site.set(vec![Page::json(
        "/api/v2/summary.json",
        "{\"page\": {\"id\": \"x\"}, \"status\": {\"indicator\": \"minor\"",
    )]);
    let r = poller.poll(chrono::Utc::now()).await;
    let u = r.outcome.unwrap_err();
    assert_eq!(u.reason, UnreadableReason::Unrecognised);
    assert!(u.detail.contains("invalid JSON"), "{u:?}");
}
