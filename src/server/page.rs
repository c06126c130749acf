//! The status page at `/`: server-rendered HTML with inline CSS and SVG, no scripts and no
//! external assets, so it works air-gapped and behind strict proxies. It refreshes itself
//! every minute. Every piece of text that came from outside (URLs, failure details) is
//! escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::ServerState;
use crate::config::Target;
use crate::fmt::human_duration;
use crate::probe::Health;
use crate::store::{HourStats, Overview, Window};

/// `GET /`.
pub async fn index(State(state): State<Arc<ServerState>>) -> Response {
    let now = (state.clock)();
    let mut data = Vec::with_capacity(state.targets.len());
    for t in &state.targets {
        match state.reader.overview(&t.name, now).await {
            Ok(d) => data.push((t.clone(), d)),
            Err(e) => {
                tracing::warn!("status page: {e}");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    format!("the store cannot be read: {e}\n"),
                )
                    .into_response();
            }
        }
    }
    // A store that cannot list readings still shows the targets.
    let pages = super::api::page_readings(&state).await.unwrap_or_else(|e| {
        tracing::warn!("status page: vendor readings: {e}");
        Vec::new()
    });
    let mut html = render(&state.location, &data, now);
    if !pages.is_empty() {
        if let Some(at) = html.find("</main>") {
            html.insert_str(at, &vendor_section(&pages));
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{--up:#2f9e44;--degraded:#e8b500;--partial:#f08c00;--down:#e03131;--none:#d5dae1;--ink:#1d2330;--muted:#5c6675;--card:#fff;--bg:#f3f5f8;--line:#e3e7ed}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
header,main,footer{max-width:980px;margin:0 auto;padding:0 16px}
header{padding-top:24px}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:18px;margin:0;overflow-wrap:anywhere}
h3{font-size:13px;font-weight:600;color:var(--muted);margin:16px 0 6px;text-transform:uppercase;letter-spacing:.04em}
.summary{font-size:17px;font-weight:600;padding:12px 16px;border-radius:8px;color:#fff;margin:0 0 6px}
.summary.up{background:var(--up)}.summary.degraded{background:var(--degraded);color:#1d2330}.summary.down{background:var(--down)}.summary.none{background:var(--muted)}
.meta{color:var(--muted);margin:0 0 16px;font-size:13px}
.target{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px;margin:0 0 16px}
.head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.badge{font-size:13px;font-weight:700;padding:3px 10px;border-radius:999px;color:#fff;white-space:nowrap}
.badge.up{background:var(--up)}.badge.degraded{background:var(--degraded);color:#1d2330}.badge.down{background:var(--down)}.badge.none{background:var(--muted)}
.url{color:var(--muted);font-size:13px;margin:4px 0;overflow-wrap:anywhere}
.since{margin:4px 0;font-size:14px}
.conditions{margin:8px 0;padding:8px 12px 8px 28px;background:#fff4f4;border-left:3px solid var(--down);border-radius:4px;font-size:14px;overflow-wrap:anywhere}
.health-degraded .conditions{background:#fffaeb;border-color:var(--degraded)}
.alert{margin:8px 0;font-size:14px;font-weight:600;color:var(--down)}
.stats{display:grid;grid-template-columns:repeat(7,minmax(0,1fr));gap:8px;margin:12px 0 0}
.stats div{background:var(--bg);border-radius:6px;padding:6px 8px}
.stats dt{font-size:12px;color:var(--muted)}.stats dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
svg{display:block;width:100%}
.bar{height:34px}.latency{height:90px;background:linear-gradient(var(--line),var(--line)) 0 50%/100% 1px no-repeat}
.axis{display:flex;justify-content:space-between;font-size:12px;color:var(--muted);margin-top:2px}
.legend{font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin:0 4px 0 10px}.legend i:first-child{margin-left:0}
.nodata{font-size:13px;color:var(--muted);margin:4px 0 0}
.vendor{font-size:14px;margin:8px 0;overflow-wrap:anywhere}
.page-row{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:8px 0;border-top:1px solid var(--line)}
.page-row:first-of-type{border-top:0}
.badge.maintenance{background:#4c6ef5}.badge.unknown{background:var(--muted)}.badge.partial_outage{background:var(--partial)}.badge.major_outage{background:var(--down)}.badge.operational{background:var(--up)}
.incident{font-size:13px;color:var(--muted);margin:12px 0 0;overflow-wrap:anywhere}
footer{color:var(--muted);font-size:12px;padding-bottom:32px}
footer a{color:inherit}
.s-up{fill:var(--up)}.s-degraded{fill:var(--degraded)}.s-partial{fill:var(--partial)}.s-down{fill:var(--down)}.s-none{fill:var(--none)}
.overview{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 16px;padding:2px 0}
.ov-head,.ov-row{display:grid;grid-template-columns:minmax(0,2.2fr) 92px 74px 70px minmax(0,3fr) 64px;gap:10px;align-items:center;padding:5px 14px}
.ov-head{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.ov-row{color:inherit;text-decoration:none;border-top:1px solid var(--line);font-size:14px}
.ov-row:hover,.ov-row:focus{background:var(--bg)}
.ov-name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ov-num{font-variant-numeric:tabular-nums;text-align:right}
.ov-row .badge{justify-self:start;font-size:12px;padding:2px 8px}
svg.ov-bar{height:14px}
.ov-alert{font-size:12px;font-weight:700;color:var(--down)}.ov-alert.sev-warning{color:#9a6700}
@media (max-width:640px){.stats{grid-template-columns:repeat(4,minmax(0,1fr))}h1{font-size:20px}.target{padding:12px}
.ov-head{display:none}.ov-row{grid-template-columns:minmax(0,1fr) auto 64px;row-gap:4px;padding:7px 12px}.ov-p95{display:none}svg.ov-bar{grid-column:1/-1}.ov-alert:empty{display:none}.ov-alert{grid-column:1/-1}}
"#;

fn health_class(h: Option<Health>) -> &'static str {
    h.map_or("none", Health::as_str)
}

fn health_label(h: Option<Health>) -> &'static str {
    match h {
        Some(Health::Up) => "Up",
        Some(Health::Degraded) => "Degraded",
        Some(Health::Down) => "Down",
        None => "No data",
    }
}

/// Colour class of one bar segment.
fn segment_class(s: &HourStats) -> &'static str {
    match s.uptime_percent() {
        None => "none",
        Some(_) if s.down == 0 && s.degraded == 0 => "up",
        Some(_) if s.down == 0 => "degraded",
        Some(p) if p >= 99.0 => "partial",
        Some(_) => "down",
    }
}

fn pct(p: Option<f64>) -> String {
    match p {
        None => "–".into(),
        Some(p) if p >= 100.0 => "100%".into(),
        // Never round 99.996 up to a 100% that did not happen.
        Some(p) => format!("{:.2}%", (p * 100.0).floor() / 100.0),
    }
}

fn ms_text(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v < 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.0} ms")
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn segment_title(s: &HourStats, label: &str) -> String {
    match s.uptime_percent() {
        None => format!("{label}: no data"),
        Some(p) => {
            let mut t = format!("{label}: {} up, {} probes", pct(Some(p)), s.count);
            if s.down > 0 {
                let _ = write!(t, ", {} down", s.down);
            }
            if s.degraded > 0 {
                let _ = write!(t, ", {} degraded", s.degraded);
            }
            t
        }
    }
}

/// A row of segments, one per bucket, each with a native tooltip.
fn bar(class: &str, buckets: &[HourStats], label: impl Fn(&HourStats) -> String) -> String {
    let w = 10 * buckets.len();
    let mut svg = format!(
        r#"<svg class="bar {class}" viewBox="0 0 {w} 34" preserveAspectRatio="none" role="img" aria-label="{}">"#,
        esc(&format!("uptime, {} segments", buckets.len()))
    );
    for (i, b) in buckets.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<rect class="s-{}" x="{}" y="0" width="8" height="34" rx="1.5"><title>{}</title></rect>"#,
            segment_class(b),
            i * 10,
            esc(&segment_title(b, &label(b)))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A round upper bound for the chart's y axis.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * mag >= v {
            return step * mag;
        }
    }
    10.0 * mag
}

/// Polylines of one series; a bucket without data breaks the line.
fn polylines(values: &[Option<f64>], max: f64, class: &str, colour: &str, dash: &str) -> String {
    let mut out = String::new();
    let mut points: Vec<String> = Vec::new();
    let flush = |points: &mut Vec<String>, out: &mut String| {
        match points.len() {
            0 => {}
            // One point alone is drawn as a short dash across its hour, so a single hour
            // still shows (a circle would be stretched by the chart's free aspect ratio).
            1 => {
                let (x, y) = points[0].split_once(',').unwrap_or(("0", "0"));
                let x: f64 = x.parse().unwrap_or(0.0);
                let _ = write!(
                    out,
                    r#"<polyline class="{class}" points="{},{y} {},{y}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" vector-effect="non-scaling-stroke"/>"#,
                    x - 4.0,
                    x + 4.0
                );
            }
            _ => {
                let _ = write!(
                    out,
                    r#"<polyline class="{class}" points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}" vector-effect="non-scaling-stroke" stroke-linejoin="round"/>"#,
                    points.join(" ")
                );
            }
        }
        points.clear();
    };
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let x = i * 10 + 5;
                let y = 88.0 - (v / max).min(1.0) * 84.0;
                points.push(format!("{x},{y:.1}"));
            }
            None => flush(&mut points, &mut out),
        }
    }
    flush(&mut points, &mut out);
    out
}

fn latency_chart(hours: &[HourStats]) -> (String, f64) {
    let p50: Vec<Option<f64>> = hours.iter().map(|h| h.p50_ms).collect();
    let p95: Vec<Option<f64>> = hours.iter().map(|h| h.p95_ms).collect();
    let max = nice_ceiling(p95.iter().flatten().copied().fold(0.0, f64::max));
    let w = 10 * hours.len();
    let mut svg = format!(
        r#"<svg class="latency" viewBox="0 0 {w} 90" preserveAspectRatio="none" role="img" aria-label="latency p50 and p95 per hour">"#
    );
    svg.push_str(&polylines(&p95, max, "p95", "#7b8fd1", "4 3"));
    svg.push_str(&polylines(&p50, max, "p50", "#2446a8", ""));
    svg.push_str("</svg>");
    (svg, max)
}

fn stat(out: &mut String, label: &str, value: &str) {
    let _ = write!(
        out,
        "<div><dt>{}</dt><dd>{}</dd></div>",
        esc(label),
        esc(value)
    );
}

fn target_section(t: &Target, d: &Overview, now: DateTime<Utc>) -> String {
    let r = &d.report;
    let class = health_class(r.health);
    let mut s = format!(
        r#"<section class="target health-{class}" id="target-{name}"><div class="head"><h2>{name}</h2><span class="badge {class}">{label}</span></div><p class="url">{url} · {sched}</p>"#,
        name = esc(&t.name),
        label = health_label(r.health),
        url = esc(&t.display_url),
        sched = esc(&t.schedule.describe()),
    );
    if let Some(since) = r.since {
        let _ = write!(
            s,
            r#"<p class="since">{} since {} ({})</p>"#,
            health_label(r.health),
            when(since),
            human_duration((now - since).to_std().unwrap_or_default())
        );
    }
    let failures = r
        .last_result
        .as_ref()
        .and_then(|v| v.get("failures"))
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    if !failures.is_empty() {
        s.push_str(r#"<ul class="conditions">"#);
        for f in &failures {
            let kind = f.get("kind").and_then(|k| k.as_str()).unwrap_or("failure");
            let detail = f.get("detail").and_then(|k| k.as_str()).unwrap_or("");
            let _ = write!(s, "<li><b>{}</b>: {}</li>", esc(kind), esc(detail));
        }
        s.push_str("</ul>");
    }
    if let Some(text) = r
        .last_result
        .as_ref()
        .and_then(|v| v.pointer("/vendor/text"))
        .and_then(|t| t.as_str())
    {
        let _ = write!(s, r#"<p class="vendor">Vendor: {}</p>"#, esc(text));
    }
    for a in &r.open_alerts {
        let started = a.started_at.map(when).unwrap_or_default();
        let _ = write!(
            s,
            r#"<p class="alert">Alert firing ({}) since {}</p>"#,
            esc(&a.severity),
            esc(&started)
        );
    }
    s.push_str(r#"<dl class="stats">"#);
    let windows: Vec<&Window> = r.uptime.iter().chain([&d.window_90d]).collect();
    for w in windows {
        stat(
            &mut s,
            &format!("Uptime {}", w.window),
            &pct(w.uptime_percent),
        );
    }
    match &r.latency_24h {
        Some(l) => {
            stat(&mut s, "p50 24h", &ms_text(l.p50_ms));
            stat(&mut s, "p95 24h", &ms_text(l.p95_ms));
            stat(&mut s, "p99 24h", &ms_text(l.p99_ms));
        }
        None => {
            for label in ["p50 24h", "p95 24h", "p99 24h"] {
                stat(&mut s, label, "–");
            }
        }
    }
    s.push_str("</dl>");
    for (title, class, buckets, label, from, to) in [
        (
            "90 days",
            "bar-90d",
            &d.daily,
            "%Y-%m-%d",
            "90 days ago",
            "today",
        ),
        (
            "24 hours",
            "bar-24h",
            &d.hourly,
            "%H:00 UTC",
            "24 h ago",
            "now",
        ),
    ] {
        let _ = write!(s, "<h3>{title}</h3>");
        s.push_str(&bar(class, buckets, |b| {
            DateTime::from_timestamp(b.hour, 0)
                .map(|t| t.format(label).to_string())
                .unwrap_or_default()
        }));
        let _ = write!(
            s,
            r#"<div class="axis"><span>{from}</span><span>{to}</span></div>"#
        );
    }
    let (chart, max) = latency_chart(&d.hourly);
    s.push_str("<h3>Latency, 24 hours</h3>");
    let _ = write!(
        s,
        r#"<div class="axis"><span class="legend"><i style="background:#2446a8"></i>p50<i style="background:#7b8fd1"></i>p95, per hour</span><span>scale 0 – {}</span></div>"#,
        ms_text(max)
    );
    s.push_str(&chart);
    s.push_str(r#"<div class="axis"><span>24 h ago</span><span>now</span></div>"#);
    if d.hourly.iter().all(|h| h.p50_ms.is_none()) {
        let why = if d.hourly.iter().all(|h| h.count == 0) {
            "No probes in the last 24 hours."
        } else {
            "Every probe in the last 24 hours was down; latency is only charted for probes that got through."
        };
        let _ = write!(s, r#"<p class="nodata">{why}</p>"#);
    }
    if let Some(i) = &r.last_incident {
        let end = match i.ended_at {
            Some(e) => format!("ended {}", when(e)),
            None => "ongoing".into(),
        };
        let _ = write!(
            s,
            r#"<p class="incident">Last incident ({}): {}, {}, lasted {} — {}</p>"#,
            esc(&i.severity),
            when(i.started_at),
            end,
            human_duration(std::time::Duration::from_secs(
                u64::try_from(i.duration_s).unwrap_or(0)
            )),
            esc(&i.cause)
        );
    }
    s.push_str("</section>");
    s
}

/// Where a health sorts: failing first, then targets without results, then the healthy.
fn failing_first(h: Option<Health>) -> u8 {
    match h {
        Some(Health::Down) => 0,
        Some(Health::Degraded) => 1,
        None => 2,
        Some(Health::Up) => 3,
    }
}

/// One row per target, failing ones first: name (a link to its card), health, uptime and
/// p95 over 24 hours, the 90-day bar, firing alerts. What 50 targets need to be read at a
/// glance; the full cards follow.
fn overview(data: &[&(Arc<Target>, Overview)]) -> String {
    let mut s = String::from(
        r#"<section class="overview" aria-label="Overview"><div class="ov-head"><span>Target</span><span>Health</span><span class="ov-num">Up 24h</span><span class="ov-num ov-p95">p95 24h</span><span>90 days</span><span>Alerts</span></div>"#,
    );
    for (t, d) in data {
        let r = &d.report;
        let class = health_class(r.health);
        let day = r.uptime.iter().find(|w| w.window == "24h");
        let firing: Vec<&str> = r.open_alerts.iter().map(|a| a.severity.as_str()).collect();
        let mut bar = String::from(
            r#"<svg class="ov-bar" viewBox="0 0 900 14" preserveAspectRatio="none" role="img" aria-label="90 days">"#,
        );
        for (i, b) in d.daily.iter().enumerate() {
            let label = DateTime::from_timestamp(b.hour, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            let _ = write!(
                bar,
                r#"<rect class="s-{}" x="{}" y="0" width="8" height="14" rx="1"><title>{}</title></rect>"#,
                segment_class(b),
                i * 10,
                esc(&segment_title(b, &label))
            );
        }
        bar.push_str("</svg>");
        let _ = write!(
            s,
            r##"<a class="ov-row health-{class}" href="#target-{name}"><span class="ov-name" title="{name}">{name}</span><span class="badge {class}">{label}</span><span class="ov-num">{up}</span><span class="ov-num ov-p95">{p95}</span>{bar}<span class="ov-alert{sev}">{alerts}</span></a>"##,
            sev = if !firing.is_empty() && !firing.contains(&"critical") {
                " sev-warning"
            } else {
                ""
            },
            name = esc(&t.name),
            label = health_label(r.health),
            up = pct(day.and_then(|w| w.uptime_percent)),
            p95 = r
                .latency_24h
                .as_ref()
                .map_or("–".to_string(), |l| ms_text(l.p95_ms)),
            alerts = esc(&firing.join(", ")),
        );
    }
    s.push_str("</section>");
    s
}

/// "What the vendors say": each page's overall level, open incidents with links, and why a
/// page is unreadable.
fn vendor_section(pages: &[(String, Option<serde_json::Value>)]) -> String {
    let mut s = String::from(
        r#"<section class="target" id="vendors"><div class="head"><h2>What the vendors say</h2></div>"#,
    );
    for (name, reading) in pages {
        let get = |k: &str| {
            reading
                .as_ref()
                .and_then(|r| r.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let overall = if reading.is_some() {
            get("overall")
        } else {
            "unknown".into()
        };
        // The badge class is one of our own words, never the vendor's text.
        let class = match overall.as_str() {
            "operational" | "maintenance" | "degraded" | "partial_outage" | "major_outage" => {
                overall.as_str()
            }
            _ => "unknown",
        };
        let label = match (reading.is_some(), get("reason")) {
            (false, _) => "not read yet".to_string(),
            (true, r) if !r.is_empty() => format!("unknown ({r})"),
            _ => overall.replace('_', " "),
        };
        let _ = write!(
            s,
            r#"<div class="page-row"><div><b>{}</b> <span class="url">{}</span></div><span class="badge {class}">{}</span></div>"#,
            esc(name),
            esc(&get("url")),
            esc(&label)
        );
        let incidents = reading
            .as_ref()
            .and_then(|r| r.get("incidents"))
            .and_then(|i| i.as_array())
            .cloned()
            .unwrap_or_default();
        for i in incidents.iter().take(10) {
            let text = |k: &str| i.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let title = esc(&text("title"));
            let title = match i.get("url").and_then(|u| u.as_str()) {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                    format!(r#"<a href="{}" rel="noreferrer">{title}</a>"#, esc(u))
                }
                _ => title,
            };
            let _ = write!(
                s,
                r#"<p class="incident">{title} · {} · impact {}{}</p>"#,
                esc(&text("status")),
                esc(&text("impact").replace('_', " ")),
                match text("started_at") {
                    t if t.is_empty() => String::new(),
                    t => format!(" · since {}", esc(&t)),
                }
            );
        }
        let detail = get("detail");
        if !detail.is_empty() {
            let _ = write!(s, r#"<p class="nodata">{}</p>"#, esc(&detail));
        }
    }
    s.push_str("</section>");
    s
}

/// The whole page: the summary, the overview, then a card per target (failing first).
pub fn render(location: &str, data: &[(Arc<Target>, Overview)], now: DateTime<Utc>) -> String {
    let count = |h: Option<Health>| data.iter().filter(|(_, d)| d.report.health == h).count();
    let (down, degraded, none) = (
        count(Some(Health::Down)),
        count(Some(Health::Degraded)),
        count(None),
    );
    let n = data.len();
    let (class, summary) = if down > 0 {
        ("down", format!("{down} of {n} target(s) down"))
    } else if degraded > 0 {
        ("degraded", format!("{degraded} of {n} target(s) degraded"))
    } else if none == n {
        ("none", "No results yet".to_string())
    } else if none > 0 {
        (
            "up",
            format!(
                "{} of {n} target(s) up, {none} without results yet",
                n - none
            ),
        )
    } else {
        ("up", format!("All {n} target(s) up"))
    };
    let mut html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="refresh" content="60"><title>upwatch · {loc}</title><style>{CSS}</style></head><body><header><h1>upwatch · {loc}</h1><p class="summary {class}">{summary}</p><p class="meta">Updated {updated}; refreshes every minute.</p></header><main>"#,
        loc = esc(location),
        summary = esc(&summary),
        updated = when(now),
    );
    let mut sorted: Vec<&(Arc<Target>, Overview)> = data.iter().collect();
    sorted.sort_by_key(|(_, d)| failing_first(d.report.health));
    if !sorted.is_empty() {
        html.push_str(&overview(&sorted));
    }
    for (t, d) in sorted {
        html.push_str(&target_section(t, d, now));
    }
    let _ = write!(
        html,
        r#"</main><footer>upwatch {} · Uptime counts probes that were not down (degraded counts as up); bars are coloured by the worst that happened in each hour or day. · <a href="/api/v1/targets">JSON</a> · <a href="/metrics">metrics</a></footer></body></html>"#,
        env!("CARGO_PKG_VERSION")
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn rounds_axes_and_percentages_honestly() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
        assert_eq!(nice_ceiling(201.0), 250.0);
        assert_eq!(nice_ceiling(3100.0), 5000.0);
        assert_eq!(pct(Some(99.996)), "99.99%");
        assert_eq!(pct(Some(100.0)), "100%");
        assert_eq!(pct(None), "–");
    }

    #[test]
    fn segments_are_coloured_by_the_worst_outcome() {
        let mut h = HourStats::from_samples(0, std::iter::empty());
        assert_eq!(segment_class(&h), "none");
        h = HourStats::from_samples(0, [(Health::Up.level().into(), 1.0); 3].into_iter());
        assert_eq!(segment_class(&h), "up");
        h = HourStats::from_samples(
            0,
            [
                (Health::Up.level().into(), 1.0),
                (Health::Degraded.level().into(), 4.0),
            ]
            .into_iter(),
        );
        assert_eq!(segment_class(&h), "degraded");
        let mostly_up = std::iter::repeat_n((Health::Up.level().into(), 1.0), 199)
            .chain([(Health::Down.level().into(), 0.0)]);
        h = HourStats::from_samples(0, mostly_up);
        assert_eq!(segment_class(&h), "partial");
        h = HourStats::from_samples(
            0,
            [
                (Health::Up.level().into(), 1.0),
                (Health::Down.level().into(), 0.0),
            ]
            .into_iter(),
        );
        assert_eq!(segment_class(&h), "down");
    }
}
