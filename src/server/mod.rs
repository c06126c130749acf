//! The HTTP server on `daemon.listen`: `/metrics`, `/healthz`, `/readyz`, the JSON API
//! ([`api`]) and the status page ([`page`]). It only reads: the store through its own
//! read-only connection, the metrics registry, and the scheduler's heartbeat.

pub mod api;
pub mod conns;
pub mod page;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::WallClock;
use crate::config::Target;
use crate::metrics::Metrics;
use crate::schedule::Heartbeat;
use crate::secret::Secret;
use crate::store::{Reader, StoreHealth};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (set [daemon] listen to a free address, e.g. \"127.0.0.1:9778\")")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What the handlers read.
pub struct ServerState {
    /// The history.
    pub reader: Reader,
    /// The registry `/metrics` encodes.
    pub metrics: Metrics,
    /// Configured targets, in config order.
    pub targets: Vec<Arc<Target>>,
    /// Configured status pages, in config order.
    pub status_pages: Vec<Arc<crate::config::StatusPage>>,
    /// Scheduler liveness.
    pub heartbeat: Heartbeat,
    /// Whether the result writer is succeeding.
    pub store_health: StoreHealth,
    /// Bearer token for the API and page.
    pub api_token: Option<Secret>,
    /// Whether `/metrics` needs the token too.
    pub protect_metrics: bool,
    /// `daemon.location`.
    pub location: String,
    /// Wall clock.
    pub clock: WallClock,
}

impl ServerState {
    /// The configured target called `name`.
    pub fn target(&self, name: &str) -> Option<&Arc<Target>> {
        self.targets.iter().find(|t| &*t.name == name)
    }
}

/// Binds `addr` (done before the daemon reports itself started, so a taken port is a
/// start-up error, not a log line later).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// The routes.
pub fn router(state: Arc<ServerState>) -> Router {
    let protected = Router::new()
        .route("/", get(page::index))
        .route("/api/v1/targets", get(api::targets))
        .route("/api/v1/targets/{name}/results", get(api::results))
        .route("/api/v1/targets/{name}/uptime", get(api::uptime))
        .route("/api/v1/targets/{name}/catalog", get(api::catalog))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/status_pages", get(api::status_pages))
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    let metrics = Router::new().route("/metrics", get(metrics));
    let metrics = if state.protect_metrics {
        metrics.layer(middleware::from_fn_with_state(state.clone(), require_token))
    } else {
        metrics
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(metrics)
        .merge(protected)
        .fallback(not_found)
        .with_state(state)
}

/// Serves until `cancel` fires, holding connections within `limits`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    limits: conns::Limits,
    cancel: CancellationToken,
) {
    let metrics = state.metrics.clone();
    conns::accept_loop(listener, router(state), limits, Some(metrics), cancel).await;
}

async fn require_token(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.api_token else {
        return next.run(request).await;
    };
    if bearer_matches(request.headers(), token) {
        next.run(request).await
    } else {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            "authorization required: send the api_token as `Authorization: Bearer <token>`\n",
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"upwatch\""),
        );
        r
    }
}

/// Compares in time independent of where the first difference is.
fn bearer_matches(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.expose().as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

async fn metrics(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    // The backlog lives in the store; read it at scrape time.
    match state.reader.outbox_counts().await {
        Ok(c) => state.metrics.set_outbox_pending(c.pending),
        Err(e) => tracing::warn!("metrics: cannot read the outbox backlog: {e}"),
    }
    state.metrics.set_runtime_tasks(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    );
    // OpenMetrics when asked for (Prometheus does), the classic text format otherwise.
    let format = crate::metrics::format::Format::negotiate(
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
    );
    (
        [(header::CONTENT_TYPE, format.content_type())],
        state.metrics.encode_as(format),
    )
        .into_response()
}

async fn healthz(State(state): State<Arc<ServerState>>) -> Response {
    let late = state.heartbeat.overdue(tokio::time::Instant::now());
    if late.is_empty() {
        (
            StatusCode::OK,
            format!(
                "ok: scheduler running, {} target(s) on time\n",
                state.heartbeat.len()
            ),
        )
            .into_response()
    } else {
        let names: Vec<String> = late
            .iter()
            .map(|(t, by)| {
                format!(
                    "{t} ({} overdue)",
                    humantime::format_duration(round_secs(*by))
                )
            })
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: probes overdue: {}\n", names.join(", ")),
        )
            .into_response()
    }
}

fn round_secs(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs())
}

async fn readyz(State(state): State<Arc<ServerState>>) -> Response {
    match state.store_health.check() {
        Ok(()) => (StatusCode::OK, "ready: config loaded, store writable\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the store cannot be written: {e}\n"),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "not found; try /, /metrics, /healthz, /readyz or /api/v1/targets\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = Secret::new("s3cret");
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, &token));
        for (value, ok) in [
            ("Bearer s3cret", true),
            ("Bearer s3cre", false),
            ("Bearer s3cret1", false),
            ("Basic s3cret", false),
            ("Bearer ", false),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_matches(&h, &token), ok, "{value}");
        }
    }
}
