//! Every captured status-page payload in tests/fixtures/statuspages (see SOURCES.md there)
//! parsed to the values its SOURCES entry describes, read off the payload itself.

use upwatch::statuspage::model::rfc3339;
use upwatch::statuspage::parse::{
    checkly, feed, html, incidentio, instatus, statusio, statuspage, upptime, ParseError,
};
use upwatch::statuspage::{IncidentStatus, Level, Platform, Snapshot};

fn fixture(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/statuspages/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn count(s: &Snapshot, level: Level) -> usize {
    s.components
        .iter()
        .filter(|c| !c.is_group && c.status == level)
        .count()
}

fn time(s: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    s.as_ref().map(rfc3339).unwrap_or_default()
}

#[test]
fn twilio_minor_degraded_with_offsets_and_scheduled_maintenance() {
    let s = statuspage::parse(&fixture("atlassian/twilio-summary-minor-degraded.json")).unwrap();
    assert_eq!(s.platform, Platform::Statuspage);
    assert_eq!(s.indicator, Some(Level::Degraded));
    assert_eq!(s.components.len(), 73);
    // Two of the six degraded entries are group headers (PROGRAMMABLE MESSAGING, CARRIER
    // NETWORK); they are kept but not counted.
    assert_eq!(s.components.iter().filter(|c| c.is_group).count(), 8);
    assert_eq!(count(&s, Level::Degraded), 4);
    let sms = s
        .components
        .iter()
        .find(|c| c.name == "SMS Short Code, North America")
        .unwrap();
    assert_eq!(sms.group.as_deref(), Some("CARRIER NETWORK"));
    assert_eq!(s.incidents.len(), 2);
    let first = &s.incidents[0];
    assert_eq!(first.id, "4dtnnnnxnhn9");
    assert_eq!(first.title, "SMS Delivery Delays to Mozambique Movitel");
    assert_eq!(first.status, IncidentStatus::Investigating);
    assert_eq!(first.impact, Level::Degraded);
    // -07:00 offset read and converted.
    assert_eq!(time(&first.started_at), "2020-06-16T20:27:41Z");
    assert_eq!(first.url.as_deref(), Some("http://stspg.io/q363nfb5wg00"));
    assert_eq!(s.incidents[1].status, IncidentStatus::Monitoring);
    // Nine maintenances, all merely scheduled: none in progress.
    assert!(s.maintenances.is_empty());
    assert_eq!(time(&s.updated_at), "2020-06-16T21:00:29Z");
    assert_eq!(s.overall(false), Level::Degraded);
}

#[test]
fn cloudamqp_maintenance_in_progress() {
    let s = statuspage::parse(&fixture(
        "atlassian/cloudamqp-summary-maintenance-in-progress.json",
    ))
    .unwrap();
    assert_eq!(s.indicator, Some(Level::Maintenance));
    assert_eq!(s.components.len(), 23);
    assert_eq!(count(&s, Level::Maintenance), 1);
    assert_eq!(count(&s, Level::Operational), 22);
    assert!(s.incidents.is_empty());
    assert_eq!(s.maintenances.len(), 1);
    let m = &s.maintenances[0];
    assert_eq!(m.id, "qy6n39trpl7l");
    assert_eq!(time(&m.starts_at), "2020-07-16T21:00:00Z");
    assert_eq!(time(&m.ends_at), "2020-07-16T23:00:00Z");
    assert_eq!(s.overall(false), Level::Maintenance);
}

#[test]
fn docs_example_components_and_incident_disagree_with_the_indicator() {
    let s =
        statuspage::parse(&fixture("atlassian/docs-example-summary-major-outage.json")).unwrap();
    // "major" is Statuspage's "Partial System Outage" indicator...
    assert_eq!(s.indicator, Some(Level::PartialOutage));
    assert_eq!(count(&s, Level::PartialOutage), 1);
    assert_eq!(count(&s, Level::MajorOutage), 1);
    assert_eq!(s.incidents.len(), 1);
    let i = &s.incidents[0];
    assert_eq!(i.title, "Unplanned Database Outage");
    assert_eq!(i.status, IncidentStatus::Identified);
    assert_eq!(i.impact, Level::MajorOutage);
    assert!(i
        .last_update
        .as_deref()
        .unwrap()
        .starts_with("Our master database has ham sandwiches"));
    // One maintenance scheduled, one in progress.
    assert_eq!(s.maintenances.len(), 1);
    assert_eq!(s.maintenances[0].title, "Web Tier Recycle");
    // ...but a component is in major outage and the incident is critical: the worst wins.
    assert_eq!(s.overall(false), Level::MajorOutage);
}

#[test]
fn claude_minor_indicator_but_major_incident() {
    let s = statuspage::parse(&fixture(
        "atlassian/claude-summary-2026-10-07-minor-incident-monitoring.json",
    ))
    .unwrap();
    assert_eq!(s.platform, Platform::Statuspage);
    assert_eq!(s.indicator, Some(Level::Degraded));
    assert_eq!(s.components.len(), 6);
    assert_eq!(count(&s, Level::Degraded), 1);
    let i = &s.incidents[0];
    assert_eq!(i.id, "978mjkgw6mh7");
    assert_eq!(i.status, IncidentStatus::Monitoring);
    assert_eq!(i.impact, Level::PartialOutage);
    assert_eq!(time(&i.started_at), "2026-10-07T13:25:04Z");
    // The newest of four updates, whatever order the archiver left them in.
    assert!(i
        .last_update
        .as_deref()
        .unwrap()
        .starts_with("We've mitigated the errors"));
    assert_eq!(i.url.as_deref(), Some("https://stspg.io/sjkw7njwf0mt"));
    assert!(s.maintenances.is_empty());
    assert_eq!(time(&s.updated_at), "2026-10-07T23:44:53Z");
    assert_eq!(s.overall(false), Level::PartialOutage);
}

#[test]
fn openai_incidentio_compat_degraded_with_markdown_updates() {
    let s = statuspage::parse(&fixture(
        "incidentio/openai-compat-summary-2026-09-29-minor-investigating.json",
    ))
    .unwrap();
    assert_eq!(s.platform, Platform::IncidentIo, "ULID page id");
    assert_eq!(s.indicator, Some(Level::Degraded));
    assert_eq!(s.components.len(), 25);
    assert_eq!(count(&s, Level::Degraded), 22);
    assert_eq!(count(&s, Level::Operational), 3);
    assert_eq!(s.incidents.len(), 2);
    let i = &s.incidents[0];
    assert_eq!(
        i.title,
        "Elevated errors across ChatGPT, Codex, and the API including the Agents API"
    );
    assert_eq!(i.status, IncidentStatus::Investigating);
    assert_eq!(i.impact, Level::Degraded);
    assert_eq!(time(&i.started_at), "2026-09-29T17:52:52Z");
    let text = i.last_update.as_deref().unwrap();
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(text.starts_with(
        "We’re investigating elevated errors affecting ChatGPT, Codex, and the API including"
    ));
    assert_eq!(s.incidents[1].impact, Level::Operational, "impact none");
    assert!(s.maintenances.is_empty(), "no scheduled_maintenances key");
    assert_eq!(s.overall(false), Level::Degraded);
}

#[test]
fn openai_operational_without_incident_arrays() {
    let s = statuspage::parse(&fixture(
        "incidentio/openai-compat-summary-2026-07-09-operational.json",
    ))
    .unwrap();
    assert_eq!(s.platform, Platform::IncidentIo);
    assert_eq!(s.components.len(), 25);
    assert_eq!(count(&s, Level::Operational), 25);
    assert!(s.incidents.is_empty() && s.maintenances.is_empty());
    assert_eq!(s.overall(false), Level::Operational);
}

#[test]
fn instatus_docs_example_with_javascript_dates() {
    let s = instatus::parse(&fixture("instatus/instatus-docs-summary-hasissues.json")).unwrap();
    assert_eq!(s.platform, Platform::Instatus);
    assert_eq!(s.indicator, Some(Level::Degraded));
    assert_eq!(s.incidents.len(), 1);
    let i = &s.incidents[0];
    assert_eq!(i.title, "We're facing an issue with our API");
    assert_eq!(i.status, IncidentStatus::Investigating);
    assert_eq!(i.impact, Level::MajorOutage);
    assert_eq!(time(&i.started_at), "2022-06-11T18:55:50Z");
    // NOTSTARTEDYET is not in progress.
    assert!(s.maintenances.is_empty());
    assert_eq!(s.overall(false), Level::MajorOutage);
}

#[test]
fn checkly_summary_services_and_uptime() {
    let body = fixture("checkly/mistral-checkly-summary-2026-09-17-trimmed.json");
    let s = instatus::parse(&body).unwrap();
    assert_eq!(
        s.platform,
        Platform::Checkly,
        "HAS_ISSUES and severity say Checkly"
    );
    assert_eq!(checkly::parse_summary(&body).unwrap(), s);
    assert_eq!(s.indicator, Some(Level::Degraded));
    let i = &s.incidents[0];
    assert_eq!(i.id, "44cb5e11-4736-4e6b-9198-97121820e15e");
    assert_eq!(i.title, "Free Tier Temporarily Disabled");
    assert_eq!(i.status, IncidentStatus::Identified);
    assert_eq!(i.impact, Level::MajorOutage);
    assert_eq!(time(&i.started_at), "2026-09-04T04:04:04Z");
    assert!(s.maintenances.is_empty());
    assert_eq!(s.overall(false), Level::MajorOutage);

    let svc = checkly::parse_services(&fixture(
        "checkly/mistral-checkly-services-2026-09-17-trimmed.json",
    ))
    .unwrap();
    let names: Vec<_> = svc
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.group.as_deref().unwrap(), c.status))
        .collect();
    assert_eq!(
        names,
        [
            ("Chat Completions API", "API", Level::MajorOutage),
            ("Embeddings API", "API", Level::Operational),
            ("Vibe", "Services", Level::Operational),
        ]
    );

    let up = checkly::parse_uptime(&fixture(
        "checkly/mistral-checkly-uptime-2026-09-17-trimmed.json",
    ))
    .unwrap();
    // The IDENTIFIED event shows on two days but is one incident; the RESOLVED one is over.
    assert_eq!(up.incidents.len(), 1);
    assert_eq!(up.incidents[0].title, "Free Tier Temporarily Disabled");
    assert_eq!(up.incidents[0].status, IncidentStatus::Identified);
    let chat = up
        .components
        .iter()
        .find(|c| c.name == "Chat Completions API")
        .unwrap();
    assert_eq!(
        (chat.group.as_deref(), chat.status),
        (Some("API"), Level::MajorOutage)
    );
    let vibe = up.components.iter().find(|c| c.name == "Vibe").unwrap();
    assert_eq!(vibe.status, Level::Operational);
}

#[test]
fn github_feed_with_one_open_incident() {
    let s = feed::parse(&fixture(
        "feeds/github-history-2026-07-09-open-incident.atom",
    ))
    .unwrap();
    assert_eq!(s.platform, Platform::Feed);
    assert_eq!(time(&s.updated_at), "2026-07-09T07:04:08Z");
    assert_eq!(s.incidents.len(), 1, "{:#?}", s.incidents);
    let i = &s.incidents[0];
    assert_eq!(i.title, "Delays starting Actions runs");
    assert_eq!(i.id, "tag:www.githubstatus.com,2005:Incident/30837849");
    // Update, Update, Investigating: "Update" is not a status word.
    assert_eq!(i.status, IncidentStatus::Investigating);
    assert_eq!(time(&i.started_at), "2026-07-09T04:34:00Z");
    assert_eq!(time(&i.updated_at), "2026-07-09T06:01:43Z");
    assert_eq!(
        i.last_update.as_deref(),
        Some("We are continuing to work on a mitigation.")
    );
    assert_eq!(
        i.url.as_deref(),
        Some("https://www.githubstatus.com/incidents/cstx3v63mklm")
    );
    assert_eq!(s.overall(false), Level::Degraded);
}

#[test]
fn github_feed_all_resolved() {
    let s = feed::parse(&fixture(
        "feeds/github-history-2026-08-22-all-resolved.atom",
    ))
    .unwrap();
    assert!(s.incidents.is_empty(), "{:#?}", s.incidents);
    assert_eq!(s.overall(false), Level::Operational);
}

#[test]
fn statusio_partial_disruption() {
    let s = statusio::parse(&fixture("statusio/docker-statusio-partial-disruption.json")).unwrap();
    assert_eq!(s.platform, Platform::Statusio);
    assert_eq!(s.indicator, Some(Level::PartialOutage));
    assert_eq!(s.components.len(), 8);
    assert_eq!(count(&s, Level::PartialOutage), 1);
    assert_eq!(count(&s, Level::Operational), 7);
    let i = &s.incidents[0];
    assert_eq!(i.title, "Docker Hub automated builds issue");
    assert_eq!(i.status, IncidentStatus::Investigating);
    assert_eq!(i.impact, Level::PartialOutage);
    assert_eq!(time(&i.started_at), "2020-07-16T17:22:08Z");
    assert_eq!(s.overall(false), Level::PartialOutage);
}

#[test]
fn upptime_status_wins_over_uptime() {
    let s = upptime::parse(&fixture("upptime/bandlab-summary-down.json")).unwrap();
    assert_eq!(s.components.len(), 2);
    assert_eq!(
        count(&s, Level::MajorOutage),
        2,
        "down at \"100.00%\" is down"
    );
    assert_eq!(s.overall(false), Level::MajorOutage);
}

#[test]
fn component_filter_ignores_the_page_wide_word() {
    let mut s = statuspage::parse(&fixture(
        "atlassian/claude-summary-2026-10-07-minor-incident-monitoring.json",
    ))
    .unwrap();
    s.retain_components(&["claude api (api.anthropic.com)".to_string()]);
    assert_eq!(s.components.len(), 1);
    assert_eq!(s.overall(true), Level::Operational);
    s.retain_components(&["no such component".to_string()]);
    assert_eq!(s.overall(true), Level::Unknown);
}

#[test]
fn html_statuspage_layout_reads_banner_and_components_only() {
    // A Statuspage-style page whose legend names every status: only the marked elements
    // count.
    let page = r#"<!DOCTYPE html><html><head><title>Example Status</title>
<link rel="alternate" type="application/atom+xml" href="/history.atom"></head><body>
<div class="page-status status-minor"><span class="status font-large">Minor Service Outage</span></div>
<div class="unresolved-incident impact-major"><div class="incident-title">
<a class="whitespace-pre-wrap actual-title with-ellipsis" href="/incidents/abc">Elevated errors on Chat</a></div>
<div class="updates"><div class="update"><strong>Identified</strong> - We found it.</div></div></div>
<div class="component-container border-color is-group"><div class="component-inner-container status-green" data-component-status="operational" data-component-id="g1">
<span class="name"><span>API</span></span></div>
<div class="child-components-container"><div class="component-inner-container status-yellow" data-component-status="degraded_performance" data-component-id="c1">
<span class="name"> Chat &amp; Completions </span></div></div></div>
<div class="legend">Operational Degraded Performance Partial Outage Major Outage Maintenance</div>
</body></html>"#;
    let s = html::parse(page.as_bytes()).unwrap();
    assert_eq!(s.indicator, Some(Level::Degraded));
    let comps: Vec<_> = s
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.status, c.is_group))
        .collect();
    assert_eq!(
        comps,
        [
            ("API", Level::Operational, true),
            ("Chat & Completions", Level::Degraded, false)
        ]
    );
    assert_eq!(s.incidents[0].title, "Elevated errors on Chat");
    assert_eq!(s.incidents[0].status, IncidentStatus::Identified);
    assert_eq!(s.incidents[0].impact, Level::PartialOutage);
    assert_eq!(s.overall(false), Level::PartialOutage);
    assert_eq!(html::feed_links(page), ["/history.atom"]);

    // The same legend on a page of no known layout is not an outage: it is unrecognised.
    let unknown =
        "<html><body><h1>Status</h1><p>Major Outage Partial Outage Operational</p></body></html>";
    assert!(matches!(
        html::parse(unknown.as_bytes()),
        Err(ParseError::Shape { .. })
    ));
}

#[test]
fn html_incidentio_embedded_summary_and_checkly_circle() {
    let page = r#"<html><body><div id="__next"></div><script id="__NEXT_DATA__" type="application/json">
{"props":{"pageProps":{"summary":{"ongoing_incidents":[{"id":"01ABC","name":"API errors","status":"identified",
"current_worst_impact":"partial_outage","url":"https://status.example.com/incidents/01ABC",
"last_update_at":"2026-11-20T10:02:00Z","last_update_message":"We are fixing it.",
"affected_components":[{"id":"c1","name":"Chat Completions","group_name":"API"}]}],
"in_progress_maintenances":[]}}}}
</script></body></html>"#;
    let s = html::parse(page.as_bytes()).unwrap();
    assert_eq!(s.platform, Platform::IncidentIo);
    assert_eq!(s.components[0].name, "Chat Completions");
    assert_eq!(s.components[0].status, Level::PartialOutage);
    assert_eq!(s.incidents[0].status, IncidentStatus::Identified);
    assert_eq!(s.overall(false), Level::PartialOutage);

    let checkly = r#"<html><body><div class="flex"><span class="status-circle bg-green-500"></span>All systems operational</div></body></html>"#;
    let s = html::parse(checkly.as_bytes()).unwrap();
    assert_eq!(s.platform, Platform::Checkly);
    assert_eq!(s.overall(false), Level::Operational);
}

#[test]
fn incidentio_widget_api() {
    let body = br#"{"page_title":"Example","page_url":"https://status.example.com",
"ongoing_incidents":[{"id":"01X","name":"Slow responses","status":"monitoring",
"current_worst_impact":"degraded_performance","last_update_at":"2026-11-20T10:00:00Z",
"affected_components":[{"id":"a","name":"Embeddings","current_status":"degraded_performance"}]}],
"in_progress_maintenances":[{"id":"m","name":"DB upgrade","started_at":"2026-11-20T09:00:00Z"}],
"scheduled_maintenances":[]}"#;
    let s = incidentio::parse(body).unwrap();
    assert_eq!(s.incidents[0].status, IncidentStatus::Monitoring);
    assert_eq!(s.components[0].status, Level::Degraded);
    assert_eq!(s.maintenances[0].title, "DB upgrade");
    assert_eq!(s.overall(false), Level::Degraded);
}

#[test]
fn challenges_are_recognised() {
    let cf = br#"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script></body></html>"#;
    assert!(html::is_challenge(403, None, cf));
    assert!(html::is_challenge(200, Some("challenge"), b"{}"));
    assert!(!html::is_challenge(
        200,
        None,
        b"<html><body>All good</body></html>"
    ));
}
