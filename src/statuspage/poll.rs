//! Fetching and detection. `auto` tries the machine-readable endpoints of every platform
//! (each accepted only when content type and shape match: single-page apps answer 200 with
//! HTML for any path), then feeds (advertised by the page, then the usual paths), then the
//! page's HTML. The endpoint that worked is remembered; after [`REDETECT_AFTER`] failed
//! polls in a row detection runs again, since vendors move.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::parse::{self, ParseError};
use super::reading::{Reading, Unreadable, UnreadableReason};
use super::{Format, Platform, Snapshot};
use crate::config::StatusPage;

/// Failed polls in a row of a remembered endpoint before detection runs again.
pub const REDETECT_AFTER: u32 = 3;

/// What an endpoint is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    StatuspageSummary,
    IncidentIoWidget,
    Rootly,
    InstatusSummary,
    BetterStack,
    Statusio,
    Upptime,
    Feed,
    Html,
}

#[derive(Debug, Clone, PartialEq)]
struct Endpoint {
    kind: Kind,
    url: Url,
}

/// Why one endpoint did not yield a snapshot.
#[derive(Debug)]
enum Miss {
    Blocked(String),
    /// No HTTP answer at all (DNS, connect, TLS, timeout): the host, not the path.
    NoAnswer(String),
    Unreachable(String),
    Unrecognised(String),
}

impl Miss {
    fn text(&self) -> &str {
        match self {
            Miss::Blocked(t) | Miss::NoAnswer(t) | Miss::Unreachable(t) | Miss::Unrecognised(t) => {
                t
            }
        }
    }
}

struct Fetched {
    status: u16,
    content_type: String,
    body: bytes::Bytes,
}

/// Builds the HTTP client status pages are read with: the shared rustls configuration,
/// up to 5 redirects (status pages move between hosts), no cookies.
pub fn client(page: &StatusPage) -> Result<reqwest::Client, String> {
    let tls = crate::tls::client_config(&crate::config::TlsOptions {
        ca_file: page.tls_ca_file.clone(),
        insecure: false,
    })
    .map_err(|e| e.to_string())?;
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .user_agent(concat!(
            "upwatch/",
            env!("CARGO_PKG_VERSION"),
            " (status page poller)"
        ))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| crate::error_chain(&e))
}

/// Polls one page, remembering what worked.
pub struct Poller {
    page: Arc<StatusPage>,
    http: reqwest::Client,
    remembered: Option<Endpoint>,
    failures: u32,
}

impl Poller {
    /// A poller for `page` using `http` (see [`client`]).
    pub fn new(page: Arc<StatusPage>, http: reqwest::Client) -> Self {
        Poller {
            page,
            http,
            remembered: None,
            failures: 0,
        }
    }

    /// The page polled.
    pub fn page(&self) -> &Arc<StatusPage> {
        &self.page
    }

    /// One poll, bounded by the page's timeout. `now` is the wall time it started.
    pub async fn poll(&mut self, now: DateTime<Utc>) -> Reading {
        let started = tokio::time::Instant::now();
        let timeout = self.page.timeout;
        let outcome = match tokio::time::timeout(timeout, self.read()).await {
            Ok(r) => r,
            Err(_) => Err((
                None,
                Unreadable {
                    reason: UnreadableReason::Unreachable,
                    detail: format!(
                        "no complete answer within {}",
                        crate::fmt::human_duration(timeout)
                    ),
                },
            )),
        };
        let (endpoint, mut snap) = match outcome {
            Ok(found) => found,
            Err((ep, why)) => {
                return Reading::unreadable(&self.page, now, started.elapsed(), ep, why);
            }
        };
        snap.retain_components(&self.page.components);
        Reading {
            page: self.page.name.clone(),
            url: self.page.url.to_string(),
            host: self.page.host.clone(),
            checked_at: now,
            duration: started.elapsed(),
            endpoint: Some(endpoint),
            overall: snap.overall(!self.page.components.is_empty()),
            stale: is_stale(&snap, now, self.page.stale_after),
            outcome: Ok(snap),
        }
    }

    async fn read(&mut self) -> Result<(String, Snapshot), (Option<String>, Unreadable)> {
        if let Some(ep) = self.remembered.clone() {
            match self.try_endpoint(&ep).await {
                Ok(s) => {
                    self.failures = 0;
                    return Ok((ep.url.to_string(), s));
                }
                Err(miss) => {
                    self.failures += 1;
                    if self.failures < REDETECT_AFTER {
                        return Err((Some(ep.url.to_string()), unreadable(&[(ep.url, miss)])));
                    }
                    tracing::info!(page = %self.page.name, endpoint = %ep.url, failures = self.failures, "status page endpoint keeps failing: detecting again");
                    self.remembered = None;
                }
            }
        }
        let mut misses: Vec<(Url, Miss)> = Vec::new();
        for ep in self.candidates() {
            match self.try_endpoint(&ep).await {
                Ok(s) => {
                    tracing::info!(page = %self.page.name, endpoint = %ep.url, platform = s.platform.as_str(), "status page format detected");
                    self.failures = 0;
                    self.remembered = Some(ep.clone());
                    return Ok((ep.url.to_string(), s));
                }
                Err(miss) => {
                    // A challenge on one path is a challenge on all, and a host that does
                    // not answer at all will not answer another path: stop asking.
                    let stop = matches!(miss, Miss::Blocked(_) | Miss::NoAnswer(_));
                    misses.push((ep.url, miss));
                    if stop {
                        break;
                    }
                }
            }
        }
        self.failures += 1;
        Err((None, unreadable(&misses)))
    }

    /// Endpoints to try, in order.
    fn candidates(&self) -> Vec<Endpoint> {
        let base = &self.page.url;
        let explicit = !matches!(base.path(), "" | "/");
        let at = |kind: Kind, path: &str| -> Option<Endpoint> {
            let url = if explicit {
                base.clone()
            } else {
                base.join(path).ok()?
            };
            Some(Endpoint { kind, url })
        };
        let machine = |p: Platform| -> Vec<Option<Endpoint>> {
            match p {
                Platform::Statuspage => vec![at(Kind::StatuspageSummary, "/api/v2/summary.json")],
                Platform::IncidentIo => vec![
                    at(Kind::StatuspageSummary, "/api/v2/summary.json"),
                    at(Kind::IncidentIoWidget, "/api/v1/summary"),
                ],
                Platform::Rootly => vec![at(Kind::Rootly, "/api/v1/status.json")],
                Platform::Instatus | Platform::Checkly => {
                    vec![at(Kind::InstatusSummary, "/summary.json")]
                }
                Platform::BetterStack => vec![at(Kind::BetterStack, "/index.json")],
                Platform::Statusio => vec![at(Kind::Statusio, "/")],
                Platform::Upptime => vec![at(Kind::Upptime, "/history/summary.json")],
                Platform::Feed => ["/history.atom", "/history.rss", "/feed.rss", "/feed.atom"]
                    .iter()
                    .map(|p| at(Kind::Feed, p))
                    .collect(),
            }
        };
        let list: Vec<Option<Endpoint>> = match self.page.format {
            Format::Only(p) => machine(p),
            Format::Html => vec![at(Kind::Html, "/")],
            Format::Auto if explicit => vec![at(Kind::Html, "/")],
            Format::Auto => {
                let mut v = Vec::new();
                for p in [
                    Platform::Statuspage,
                    Platform::Rootly,
                    Platform::Instatus,
                    Platform::BetterStack,
                ] {
                    v.extend(machine(p));
                }
                v.push(at(Kind::IncidentIoWidget, "/api/v1/summary"));
                v.push(at(Kind::Html, "/"));
                v.extend(machine(Platform::Feed));
                v
            }
        };
        let mut out: Vec<Endpoint> = Vec::new();
        for ep in list.into_iter().flatten() {
            if !out.contains(&ep) {
                out.push(ep);
            }
        }
        out
    }

    /// Fetches and parses one endpoint. For `Html` in `auto`, a page that advertises a feed
    /// is read through the feed when its own layout is unknown.
    async fn try_endpoint(&self, ep: &Endpoint) -> Result<Snapshot, Miss> {
        let accept = match ep.kind {
            Kind::Feed => "application/atom+xml, application/rss+xml, application/xml;q=0.9",
            Kind::Html => "text/html",
            _ => "application/json",
        };
        let f = self.fetch(&ep.url, accept).await?;
        let html_type = f.content_type.contains("text/html");
        let miss = |e: ParseError| Miss::Unrecognised(format!("{}: {e}", f.status));
        match ep.kind {
            Kind::Html => {
                if !html_type
                    && !parse::looks_like_html(&String::from_utf8_lossy(
                        &f.body[..f.body.len().min(64)],
                    ))
                {
                    return Err(Miss::Unrecognised(format!(
                        "{}: {} is not HTML",
                        f.status, f.content_type
                    )));
                }
                match parse::html::parse(&f.body) {
                    Ok(s) => Ok(s),
                    Err(e) => {
                        // A page that advertises a feed is read through it.
                        let text = String::from_utf8_lossy(&f.body);
                        for href in parse::html::feed_links(&text) {
                            let Ok(url) = ep.url.join(&href) else {
                                continue;
                            };
                            if let Ok(feed) = self.fetch(&url, "application/atom+xml").await {
                                if let Ok(s) = parse::feed::parse(&feed.body) {
                                    return Ok(s);
                                }
                            }
                        }
                        Err(miss(e))
                    }
                }
            }
            _ if html_type => Err(Miss::Unrecognised(format!(
                "{}: answered HTML, not {}",
                f.status,
                if ep.kind == Kind::Feed {
                    "a feed"
                } else {
                    "JSON"
                }
            ))),
            Kind::StatuspageSummary => parse::statuspage::parse(&f.body).map_err(miss),
            Kind::IncidentIoWidget => parse::incidentio::parse(&f.body).map_err(miss),
            Kind::InstatusSummary => parse::instatus::parse(&f.body).map_err(miss),
            Kind::BetterStack => parse::betterstack::parse(&f.body).map_err(miss),
            Kind::Statusio => parse::statusio::parse(&f.body).map_err(miss),
            Kind::Upptime => parse::upptime::parse(&f.body).map_err(miss),
            Kind::Feed => parse::feed::parse(&f.body).map_err(miss),
            Kind::Rootly => {
                let mut snap = parse::rootly::parse_status(&f.body).map_err(miss)?;
                if let Ok(url) = ep.url.join("/api/v1/incidents.json") {
                    match self.fetch(&url, "application/json").await {
                        Ok(inc) if !inc.content_type.contains("text/html") => {
                            if let Err(e) = parse::rootly::parse_incidents(&inc.body, &mut snap) {
                                tracing::debug!(page = %self.page.name, "rootly incidents unreadable: {e}");
                            }
                        }
                        _ => {}
                    }
                }
                Ok(snap)
            }
        }
    }

    /// One GET, body capped at `max_body_size`; a bot challenge or an HTTP error status is
    /// a miss.
    async fn fetch(&self, url: &Url, accept: &str) -> Result<Fetched, Miss> {
        let resp = self
            .http
            .get(url.clone())
            .header(http::header::ACCEPT, accept)
            .timeout(self.page.timeout)
            .send()
            .await
            .map_err(|e| Miss::NoAnswer(crate::error_chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let cf_mitigated = header("cf-mitigated");
        let max = self.page.max_body_size;
        let mut body = Vec::new();
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(Miss::Unrecognised(format!(
                            "{status}: body larger than max_body_size ({max} bytes)"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(Miss::Unreachable(format!(
                        "{status}: body: {}",
                        crate::error_chain(&e)
                    )))
                }
            }
        }
        if parse::html::is_challenge(status, cf_mitigated.as_deref(), &body) {
            return Err(Miss::Blocked(format!("{status}: bot challenge")));
        }
        if !(200..300).contains(&status) {
            return Err(if status == 404 || status == 405 || status == 410 {
                Miss::Unrecognised(format!("{status}: no such endpoint"))
            } else {
                Miss::Unreachable(format!("HTTP {status}"))
            });
        }
        Ok(Fetched {
            status,
            content_type,
            body: body.into(),
        })
    }
}

/// The summary of every miss: blocked wins (it explains the rest), then unrecognised
/// (something answered), then unreachable.
fn unreadable(misses: &[(Url, Miss)]) -> Unreadable {
    let reason = if misses.iter().any(|(_, m)| matches!(m, Miss::Blocked(_))) {
        UnreadableReason::Blocked
    } else if misses
        .iter()
        .any(|(_, m)| matches!(m, Miss::Unrecognised(_)))
    {
        UnreadableReason::Unrecognised
    } else {
        // NoAnswer and Unreachable.
        UnreadableReason::Unreachable
    };
    let detail = misses
        .iter()
        .map(|(u, m)| format!("{}: {}", u.path(), m.text()))
        .collect::<Vec<_>>()
        .join("; ");
    Unreadable { reason, detail }
}

/// Open incidents on a page whose own time has not moved for `after`.
fn is_stale(s: &Snapshot, now: DateTime<Utc>, after: Duration) -> bool {
    let Some(updated) = s.updated_at else {
        return false;
    };
    !s.incidents.is_empty() && (now - updated).to_std().is_ok_and(|age| age > after)
}

/// Polls every page once, concurrently, in config order.
pub async fn poll_all(pages: &[Arc<StatusPage>]) -> Vec<Reading> {
    let mut set = tokio::task::JoinSet::new();
    for (i, page) in pages.iter().enumerate() {
        let page = page.clone();
        set.spawn(async move {
            let reading = match client(&page) {
                Ok(http) => {
                    let mut poller = Poller::new(page, http);
                    poller.poll(chrono::Utc::now()).await
                }
                Err(e) => Reading::unreadable(
                    &page,
                    chrono::Utc::now(),
                    std::time::Duration::ZERO,
                    None,
                    Unreadable {
                        reason: UnreadableReason::Unreachable,
                        detail: format!("cannot build the HTTP client: {e}"),
                    },
                ),
            };
            (i, reading)
        });
    }
    let mut out = Vec::with_capacity(pages.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(x) => out.push(x),
            Err(e) => tracing::error!("status page task failed: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
