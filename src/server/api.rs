//! The JSON API (`/api/v1/...`), documented in the README. Field names are a contract:
//! add fields, never rename them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::ServerState;
use crate::fmt::rfc3339;
use crate::store::{HourStats, StoreError, TargetReport};

/// Most results one request returns.
pub const MAX_LIMIT: u32 = 10_000;
/// Results returned when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn store_error(e: StoreError) -> Response {
    tracing::warn!("API: {e}");
    error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// `limit=N` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]), or what is wrong with it.
fn limit_param(q: &HashMap<String, String>) -> Result<u32, String> {
    match q.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "limit: {s:?} must be a whole number from 1 to {MAX_LIMIT}"
            )),
        },
    }
}

fn unknown_target(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no target {name:?} in the config; GET /api/v1/targets lists them"),
    )
}

/// A report as the API shows it: the report's fields plus the target's URL and schedule.
pub fn target_json(state: &ServerState, report: &TargetReport) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    if let (Some(obj), Some(t)) = (v.as_object_mut(), state.target(&report.target)) {
        obj.insert("url".into(), Value::from(&*t.display_url));
        obj.insert("schedule".into(), Value::from(t.schedule.describe()));
    }
    v
}

/// `GET /api/v1/targets`: the current state of every configured target.
pub async fn targets(State(state): State<Arc<ServerState>>) -> Response {
    let now = (state.clock)();
    let names = state.targets.iter().map(|t| t.name.clone()).collect();
    match state.reader.targets(names, now).await {
        Ok(reports) => Json(json!({
            "location": state.location,
            "generated_at": rfc3339(&now),
            "targets": reports.iter().map(|r| target_json(&state, r)).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/v1/targets/{name}/results?since=RFC3339&limit=N`: recorded results, newest
/// first.
pub async fn results(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if state.target(&name).is_none() {
        return unknown_target(&name);
    }
    let since = match q.get("since") {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "since: {s:?} is not an RFC 3339 time ({e}), e.g. 2026-11-23T08:00:00Z"
                    ),
                )
            }
        },
    };
    let limit = match limit_param(&q) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match state.reader.results(&name, since, limit).await {
        Ok(results) => Json(json!({
            "target": name,
            "count": results.len(),
            "results": results,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

fn hour_json(h: &HourStats) -> Value {
    json!({
        "hour": DateTime::from_timestamp(h.hour, 0).map(|t| rfc3339(&t)),
        "probes": h.count,
        "down": h.down,
        "degraded": h.degraded,
        "host": h.host,
        "uptime_percent": h.uptime_percent(),
        "p50_ms": h.p50_ms,
        "p95_ms": h.p95_ms,
        "p99_ms": h.p99_ms,
    })
}

fn day_json(d: &HourStats) -> Value {
    json!({
        "date": DateTime::from_timestamp(d.hour, 0).map(|t| t.format("%Y-%m-%d").to_string()),
        "probes": d.count,
        "down": d.down,
        "degraded": d.degraded,
        "host": d.host,
        "uptime_percent": d.uptime_percent(),
    })
}

/// `GET /api/v1/targets/{name}/uptime`.
pub async fn uptime(State(state): State<Arc<ServerState>>, Path(name): Path<String>) -> Response {
    let Some(t) = state.target(&name) else {
        return unknown_target(&name);
    };
    let now = (state.clock)();
    match state.reader.overview(&t.name, now).await {
        Ok(d) => {
            let mut windows = d.report.uptime.clone();
            windows.push(d.window_90d);
            Json(json!({
                "target": name,
                "generated_at": rfc3339(&now),
                "windows": windows,
                "latency_24h": d.report.latency_24h,
                "hourly": d.hourly.iter().map(hour_json).collect::<Vec<_>>(),
                "daily": d.daily.iter().map(day_json).collect::<Vec<_>>(),
            }))
            .into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /api/v1/alerts?days=N`: alerts firing now and incidents of the last N days
/// (default 7).
pub async fn alerts(
    State(state): State<Arc<ServerState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let days = match q.get("days") {
        None => 7,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=400).contains(&n) => n,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("days: {s:?} must be a whole number from 1 to 400"),
                )
            }
        },
    };
    let now = (state.clock)();
    match state.reader.alerts(now, chrono::Duration::days(days)).await {
        Ok(a) => Json(json!({
            "generated_at": rfc3339(&now),
            "open": a.open,
            "recent": a.recent,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

/// `GET /api/v1/targets/{name}/catalog?limit=N`: the models the target's catalog listed
/// last, and the changes seen (models added or removed), newest first.
pub async fn catalog(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(t) = state.target(&name) else {
        return unknown_target(&name);
    };
    let limit = match limit_param(&q) {
        Ok(n) => n,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = (state.clock)();
    let current = state.reader.catalog(t.name.to_string()).await;
    let events = state
        .reader
        .catalog_events(Some(t.name.to_string()), limit)
        .await;
    match (current, events) {
        (Ok(current), Ok(events)) => Json(json!({
            "target": name,
            "generated_at": rfc3339(&now),
            "reads_catalog": t.llm.reads_catalog(),
            "expect_models": t.llm.expect_models,
            "models": current.as_ref().map(|(m, _)| m),
            "updated_at": current.as_ref().map(|(_, at)| rfc3339(at)),
            "events": events,
        }))
        .into_response(),
        (Err(e), _) | (_, Err(e)) => store_error(e),
    }
}

/// The newest recorded reading of each configured page, in config order (a page not read
/// yet is listed with `reading: null`).
pub async fn page_readings(
    state: &ServerState,
) -> Result<Vec<(String, Option<Value>)>, StoreError> {
    let mut latest = state.reader.latest_page_readings().await?;
    Ok(state
        .status_pages
        .iter()
        .map(|p| {
            let at = latest.iter().position(|(name, _)| **name == *p.name);
            (p.name.to_string(), at.map(|i| latest.swap_remove(i).1))
        })
        .collect())
}

/// `GET /api/v1/status_pages`: what each vendor page said when it last changed (or at the
/// hourly confirmation), as `check` prints it.
pub async fn status_pages(State(state): State<Arc<ServerState>>) -> Response {
    let now = (state.clock)();
    match page_readings(&state).await {
        Ok(list) => Json(json!({
            "generated_at": rfc3339(&now),
            "status_pages": list.into_iter().map(|(page, reading)| json!({
                "page": page,
                "reading": reading,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}
