//! The tables people read: `check`, `status` and the status pages, aligned in columns
//! with free text last. Pure functions of results and reports.

use crate::fmt::ms;
use crate::probe::{Health, ProbeResult};
use crate::statuspage::Reading;

/// The `status` table.
pub fn status_table(
    reports: &[crate::store::TargetReport],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let ago = |t: chrono::DateTime<chrono::Utc>| {
        crate::fmt::human_duration((now - t).to_std().unwrap_or_default())
    };
    let pct = |p: Option<f64>| {
        p.map_or("-".to_string(), |p| {
            format!("{:.2}%", (p * 100.0).floor() / 100.0)
        })
    };
    let mut rows = vec![[
        "TARGET",
        "HEALTH",
        "SINCE",
        "UP_24H",
        "UP_7D",
        "UP_30D",
        "P50/P95/P99_24H_MS",
        "ALERTS",
        "LAST_INCIDENT",
    ]
    .map(String::from)];
    for r in reports {
        let latency = r.latency_24h.as_ref().map_or("-".to_string(), |l| {
            format!("{:.0}/{:.0}/{:.0}", l.p50_ms, l.p95_ms, l.p99_ms)
        });
        let alerts = if r.open_alerts.is_empty() {
            "-".to_string()
        } else {
            r.open_alerts
                .iter()
                .map(|a| format!("{} firing", a.severity))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let incident = r.last_incident.as_ref().map_or("-".to_string(), |i| {
            let span = match i.ended_at {
                Some(_) => format!(
                    "lasted {}",
                    crate::fmt::human_duration(std::time::Duration::from_secs(
                        u64::try_from(i.duration_s).unwrap_or(0)
                    ))
                ),
                None => "ongoing".to_string(),
            };
            format!(
                "{} ({}, {span}): {}",
                when(i.started_at),
                i.severity,
                i.cause
            )
        });
        rows.push([
            r.target.clone(),
            match r.health {
                Some(Health::Up) => "up",
                Some(Health::Degraded) => "DEGRADED",
                Some(Health::Down) => "DOWN",
                None => "no data",
            }
            .to_string(),
            r.since
                .map_or("-".to_string(), |t| format!("{} ago", ago(t))),
            pct(r.uptime.first().and_then(|w| w.uptime_percent)),
            pct(r.uptime.get(1).and_then(|w| w.uptime_percent)),
            pct(r.uptime.get(2).and_then(|w| w.uptime_percent)),
            latency,
            alerts,
            incident,
        ]);
    }
    align(&rows)
}

/// The status pages as a table, then each open incident and each unreadable page's detail.
pub fn pages_table(readings: &[Reading]) -> String {
    let mut rows = vec![[
        "PAGE".to_string(),
        "OVERALL".to_string(),
        "PLATFORM".to_string(),
        "COMPONENTS_NOT_OPERATIONAL".to_string(),
        "INCIDENTS".to_string(),
        "NOTE".to_string(),
    ]];
    for r in readings {
        let snap = r.outcome.as_ref().ok();
        rows.push([
            r.page.to_string(),
            if r.ok() {
                r.overall.as_str().to_string()
            } else {
                r.overall.as_str().to_ascii_uppercase()
            },
            snap.map_or("-".to_string(), |s| s.platform.as_str().to_string()),
            snap.map_or("-".to_string(), |s| {
                s.components
                    .iter()
                    .filter(|c| !c.is_group && c.status != crate::statuspage::Level::Operational)
                    .count()
                    .to_string()
            }),
            r.incidents().len().to_string(),
            match &r.outcome {
                Err(u) => format!("unknown ({})", u.reason.as_str()),
                Ok(_) if r.stale => "stale: the page has not been updated".to_string(),
                Ok(_) => "-".to_string(),
            },
        ]);
    }
    let mut out = align(&rows);
    for r in readings {
        match &r.outcome {
            Err(u) => out.push_str(&format!("\n{}: {}", r.page, u.detail)),
            Ok(_) => {
                for i in r.incidents() {
                    out.push_str(&format!(
                        "\n{}: {} ({}, {}){}",
                        r.page,
                        i.title,
                        i.status.as_str(),
                        i.impact.words(),
                        i.url.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
                    ));
                }
            }
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The human table of `check`, with what each failure means under it.
pub fn check_table(results: &[ProbeResult]) -> String {
    let opt =
        |d: Option<std::time::Duration>| d.map_or("-".to_string(), |d| format!("{:.1}", ms(d)));
    let mut rows = vec![[
        "TARGET".to_string(),
        "HEALTH".to_string(),
        "STATUS".to_string(),
        "TOTAL_MS".to_string(),
        "DNS/CONNECT/TLS/TTFB/TRANSFER_MS".to_string(),
        "HTTP".to_string(),
        "CERT_DAYS".to_string(),
        "FAILURES".to_string(),
    ]];
    for r in results {
        let p = &r.phases;
        rows.push([
            r.target.to_string(),
            match r.health {
                Health::Up => "up",
                Health::Degraded => "DEGRADED",
                Health::Down => "DOWN",
            }
            .to_string(),
            r.status.map_or("-".to_string(), |s| s.to_string()),
            format!("{:.1}", ms(r.total)),
            format!(
                // Hops before the final request come first, so the cell adds up to TOTAL.
                "{}{}/{}/{}/{}/{}",
                p.redirect
                    .map(|d| format!("redirects {} + ", opt(Some(d))))
                    .unwrap_or_default(),
                opt(p.dns),
                opt(p.connect),
                opt(p.tls),
                opt(p.ttfb),
                opt(p.transfer)
            ),
            r.http_version.map_or("-", |v| v.as_str()).to_string(),
            r.tls
                .as_ref()
                .map_or("-".to_string(), |t| t.days_left.to_string()),
            if r.failures.is_empty() {
                "-".to_string()
            } else {
                r.failure_summary()
            },
        ]);
    }
    let mut out = align(&rows);
    // Under the table: what the vendor says, what each failure class means, and what to
    // quote to support.
    for r in results {
        if let Some(c) = &r.chat {
            let ttft = c
                .ttft
                .map_or("none".to_string(), |d| format!("{:.1} ms", ms(d)));
            out.push_str(&format!(
                "\n{}: time to first token {ttft}; stream: {} events, {}",
                r.target,
                c.stream.events,
                if c.stream.done {
                    "[DONE]".to_string()
                } else {
                    format!(
                        "finish_reason {}",
                        c.stream.finish_reason.as_deref().unwrap_or("none")
                    )
                }
            ));
        }
        if let Some(m) = &r.models {
            out.push_str(&format!("\n{}: catalog lists {} models", r.target, m.len()));
        }
        if let Some(v) = &r.vendor {
            out.push_str(&format!("\n{}: vendor: {}", r.target, v.text));
        }
    }
    for r in results {
        let Some(class) = r.error_class else { continue };
        out.push_str(&format!(
            "\n{}: {} — {}",
            r.target,
            class.as_str(),
            class.remedy()
        ));
        if let Some(side) = &r.side {
            out.push_str(&format!("\n  most likely: {}", side.text()));
        }
        if let Some(resp) = &r.response {
            if let Some(e) = resp
                .provider_error
                .as_ref()
                .and_then(|e| e.message.as_ref())
            {
                out.push_str(&format!("\n  provider said: {e}"));
            }
            for (name, id) in &resp.request_ids {
                out.push_str(&format!("\n  {name}: {id}"));
            }
            if let Some(l) = resp.ratelimit.tightest() {
                let figure = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v}"));
                out.push_str(&format!(
                    "\n  rate limit ({}): {} of {} left",
                    l.kind,
                    figure(l.remaining),
                    figure(l.limit)
                ));
            }
            if let Some(s) = resp.ratelimit.retry_after_s {
                out.push_str(&format!("\n  retry after: {s} s"));
            }
        }
        out.push('\n');
    }
    out
}

/// Rows as aligned columns; the last column is not padded (it holds free text).
fn align<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == N - 1 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
