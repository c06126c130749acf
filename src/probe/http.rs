//! The phase-timed HTTP/HTTPS probe, built on hyper and tokio-rustls so that DNS, connect,
//! TLS, time to first byte and transfer are measured separately and TLS failures keep their
//! typed reason (reqwest hides both).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{HeaderValue, HOST, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;
use tokio_util::task::AbortOnDropHandle;
use url::{Host, Url};

use super::judge;
use super::llm::ChatStream;
use super::result::{
    ChatInfo, Failure, FailureKind, Hop, HttpVersion, Phase, Phases, ProbeResult, ResponseInfo,
    TlsFacts,
};
use super::tls;
use crate::config::{IpVersion, ProbeKind, Target};

const USER_AGENT_VALUE: &str = concat!("upwatch/", env!("CARGO_PKG_VERSION"));
/// Most response headers a result keeps, and the longest value kept.
const MAX_HEADERS: usize = 64;
const MAX_HEADER_VALUE: usize = 512;

/// Probes one target. Holds the target's shared TLS config and, with `reuse_connection`,
/// its open connection between probes.
pub struct TargetProber {
    target: Arc<Target>,
    tls: Option<Arc<ClientConfig>>,
    conn: Option<Conn>,
}

/// An open HTTP connection: the request handle and the task driving the socket (aborted
/// when dropped, so a probe never leaves a connection behind).
struct Conn {
    sender: Sender,
    version: HttpVersion,
    remote: SocketAddr,
    tls: Option<TlsFacts>,
    /// The first bytes the server sent for the current request, to show when they are not
    /// HTTP.
    seen: Seen,
    _driver: AbortOnDropHandle<()>,
}

/// One request of an attempt: the target's own, or one a redirect asked for.
struct HopRequest {
    url: Url,
    method: http::Method,
    /// The configured headers (and so the key) go only to the target's own origin.
    own_origin: bool,
    /// The configured body goes along unless a redirect turned the request into a GET.
    with_body: bool,
}

impl HopRequest {
    fn first(t: &Target) -> Self {
        HopRequest {
            url: t.url.clone(),
            method: t.method.clone(),
            own_origin: true,
            with_body: true,
        }
    }

    /// The request a `status` redirect to `next` asks for. 303, and 301/302 after a POST,
    /// become a GET without the body, as browsers and HTTP clients do.
    fn follow(&self, status: u16, next: Url, origin: &Url) -> Self {
        let to_get =
            status == 303 || (matches!(status, 301 | 302) && self.method == http::Method::POST);
        let method = if to_get && self.method != http::Method::HEAD {
            http::Method::GET
        } else {
            self.method.clone()
        };
        HopRequest {
            own_origin: next.origin() == origin.origin(),
            with_body: self.with_body && !to_get,
            method,
            url: next,
        }
    }
}

/// How many bytes of a non-HTTP answer a failure shows.
const SEEN_BYTES: usize = 48;

/// The first bytes read from a connection since the last [`Seen::clear`]; shared between
/// the stream wrapper that records them and the probe that shows them.
#[derive(Clone, Default)]
struct Seen(Arc<std::sync::Mutex<Vec<u8>>>);

impl Seen {
    fn record(&self, bytes: &[u8]) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = SEEN_BYTES.saturating_sub(seen.len());
        seen.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The bytes, escaped (`\x00`, `\r\n`) and quoted.
    fn shown(&self) -> String {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        format!("\"{}\"", seen.escape_ascii())
    }
}

/// A stream that records the first bytes read through it into a [`Seen`].
struct Recording<S> {
    inner: S,
    seen: Seen,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Recording<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_ready() {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                self.seen.record(new);
            }
        }
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Sends `req` on `conn` and waits for the response head.
async fn send(
    conn: &mut Conn,
    req: Request<Full<Bytes>>,
    deadline: Instant,
    timeout: Duration,
) -> Result<hyper::Response<hyper::body::Incoming>, Failure> {
    conn.seen.clear();
    let sent = match &mut conn.sender {
        Sender::H1(s) => timeout_at(deadline, s.send_request(req)).await,
        Sender::H2(s) => timeout_at(deadline, s.send_request(req)).await,
    };
    match sent {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(exchange_failure(&e, &conn.seen)),
        Err(_) => Err(Failure::in_phase(
            FailureKind::Timeout,
            Phase::Ttfb,
            format!(
                "no response head within {}",
                humantime::format_duration(timeout)
            ),
        )),
    }
}

/// A failed exchange: `protocol` when what came back is not HTTP (showing its first
/// bytes), `io` when the connection failed.
fn exchange_failure(e: &hyper::Error, seen: &Seen) -> Failure {
    let detail = if e.is_parse_too_large() {
        format!(
            "the response head is over the size limit; it starts {}",
            seen.shown()
        )
    } else if e.is_parse_status() {
        format!("the status code is out of range: {}", seen.shown())
    } else if e.is_parse() {
        format!("not an HTTP response: {}", seen.shown())
    } else {
        return Failure::in_phase(
            FailureKind::Io,
            Phase::Ttfb,
            format!("no response: {}", crate::error_chain(e)),
        );
    };
    Failure::in_phase(FailureKind::Protocol, Phase::Ttfb, detail)
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// What went wrong while connecting, already judged.
struct ConnectFailure {
    failure: Failure,
    remote: Option<SocketAddr>,
    tls: Option<TlsFacts>,
}

/// Accumulates phase times from consecutive instants, so phases always add up to the total.
struct Laps {
    start: Instant,
    last: Instant,
    phases: Phases,
}

impl Laps {
    fn new(start: Instant) -> Self {
        Laps {
            start,
            last: start,
            phases: Phases::default(),
        }
    }

    fn lap(&mut self, phase: Phase) {
        let now = Instant::now();
        self.phases.set(phase, now - self.last);
        self.last = now;
    }

    fn total(&self) -> Duration {
        self.last - self.start
    }
}

impl TargetProber {
    /// A prober for `target`; `tls` must be the shared config for its trust settings when
    /// the URL is HTTPS.
    pub fn new(target: Arc<Target>, tls: Option<Arc<ClientConfig>>) -> Self {
        TargetProber {
            target,
            tls,
            conn: None,
        }
    }

    /// The target this prober serves.
    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// Runs one probe: up to `1 + retries` attempts (a 429 or a degraded result is never
    /// retried), and returns the last attempt's result.
    pub async fn probe(&mut self) -> ProbeResult {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut result = self.attempt().await;
            result.attempts = attempts;
            let retryable = result.health == super::Health::Down && result.status != Some(429);
            if !retryable || attempts > self.target.retries {
                return result;
            }
            tracing::debug!(target_name = %self.target.name, attempt = attempts, failures = %result.failure_summary(), "attempt failed, retrying");
            tokio::time::sleep(self.target.retry_delay).await;
        }
    }

    /// One attempt, bounded by the target's timeout: the request, and each redirect it
    /// follows, until a final answer.
    async fn attempt(&mut self) -> ProbeResult {
        let t = self.target.clone();
        let start = Instant::now();
        // A recorded fact, so the real wall clock (not one anchored earlier, which a suspend
        // would leave behind).
        let checked_at = Utc::now();
        let deadline = start + t.timeout;
        let mut laps = Laps::new(start);
        let mut failures = Vec::new();

        let mut result = ProbeResult::started(t.name.clone(), t.display_url.clone(), checked_at);
        let mut hop = HopRequest::first(&t);
        let mut visited = vec![t.url.clone()];
        let (conn, response, request_start) = loop {
            let first = result.redirects.is_empty();
            let mut conn = match self
                .open(
                    &hop.url,
                    first,
                    &mut laps,
                    deadline,
                    checked_at,
                    &mut result,
                )
                .await
            {
                Ok(c) => c,
                Err(f) => {
                    failures.push(f);
                    return finish(result, laps, failures);
                }
            };
            let req = match self.build_request(&hop, conn.version) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(Failure::new(FailureKind::Io, e));
                    return finish(result, laps, failures);
                }
            };
            // Time to first token counts from here: request written → first content event.
            let request_start = Instant::now();
            let sent = send(&mut conn, req, deadline, t.timeout).await;
            laps.lap(Phase::Ttfb);
            let response = match sent {
                Ok(r) => r,
                Err(f) => {
                    failures.push(f);
                    return finish(result, laps, failures);
                }
            };
            let status = response.status().as_u16();
            match self.next_hop(&hop, status, response.headers()) {
                None => break (conn, response, request_start),
                Some(Err(f)) => {
                    result.status = Some(status);
                    failures.push(f);
                    return finish(result, laps, failures);
                }
                Some(Ok(next)) => {
                    let shown = t.redactor.display_url(&next.url);
                    let looped = visited.contains(&next.url);
                    if looped || result.redirects.len() as u32 >= t.redirects.max {
                        result.status = Some(status);
                        let mut path: Vec<&str> = result
                            .redirects
                            .iter()
                            .map(|h| h.location.as_str())
                            .collect();
                        path.push(&shown);
                        let detail = if looped {
                            format!("redirect loop: {} → {}", t.display_url, path.join(" → "))
                        } else {
                            format!(
                                "more than max_redirects = {} redirects: {} → {}",
                                t.redirects.max,
                                t.display_url,
                                path.join(" → ")
                            )
                        };
                        failures.push(Failure::new(FailureKind::TooManyRedirects, detail));
                        return finish(result, laps, failures);
                    }
                    result.redirects.push(Hop {
                        status,
                        location: shown,
                    });
                    visited.push(next.url.clone());
                    // The body of a redirect is not read: this connection is done.
                    drop(response);
                    drop(conn);
                    laps.phases.redirected();
                    hop = next;
                }
            }
        };
        let status = response.status().as_u16();
        result.status = Some(status);
        if let Some(f) = result
            .tls
            .as_ref()
            .and_then(|facts| judge::certificate(&t, facts))
        {
            failures.push(f);
        }
        let headers = keep_headers(response.headers(), &t);
        let mut info = ResponseInfo {
            request_ids: super::provider::request_ids(&headers, &t.llm.request_id_headers),
            ratelimit: super::ratelimit::parse(&headers, chrono::Utc::now()),
            headers,
            ..ResponseInfo::default()
        };

        // Body: read up to max_body_size (transfer time is part of the measurement); a
        // longer body is cut there, so a target cannot make a probe read without end.
        // A chat probe's expected answer is an event stream, read as it arrives.
        let mut stream = (matches!(t.kind, ProbeKind::Chat { .. })
            && t.expect_status.contains(&status))
        .then(|| ChatInfo {
            ttft: None,
            stream: ChatStream::default(),
        });
        let mut body = response.into_body();
        let mut kept: Vec<u8> = Vec::new();
        let mut body_failed = false;
        loop {
            match timeout_at(deadline, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if let Some(chat) = &mut stream {
                            if chat.stream.feed(&data) {
                                chat.ttft = Some(request_start.elapsed());
                            }
                        }
                        info.size += data.len() as u64;
                        let room = t.max_body_size.saturating_sub(kept.len());
                        kept.extend_from_slice(&data[..data.len().min(room)]);
                        if info.size > t.max_body_size as u64 {
                            info.truncated = true;
                            break;
                        }
                    }
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    failures.push(Failure::in_phase(
                        FailureKind::Io,
                        Phase::Transfer,
                        format!(
                            "body cut off after {} bytes: {}",
                            info.size,
                            crate::error_chain(&e)
                        ),
                    ));
                    body_failed = true;
                    break;
                }
                Err(_) => {
                    failures.push(Failure::in_phase(
                        FailureKind::Timeout,
                        Phase::Transfer,
                        format!(
                            "body not complete within {} ({} bytes read)",
                            humantime::format_duration(t.timeout),
                            info.size
                        ),
                    ));
                    body_failed = true;
                    break;
                }
            }
        }
        laps.lap(Phase::Transfer);

        let exchange = judge::Exchange {
            status,
            body: &kept,
            complete: !body_failed,
            truncated: info.truncated,
            total: laps.total(),
        };
        failures.extend(judge::response(
            &t,
            &exchange,
            &mut info,
            &mut result,
            stream,
        ));
        result.response = Some(info);

        // Kept only when it is the target's own origin and was read to the end.
        let whole = !body_failed && !exchange.truncated;
        if t.reuse_connection && whole && result.redirects.is_empty() {
            conn.seen.clear();
            self.conn = Some(conn);
        }
        finish(result, laps, failures)
    }

    /// A connection for `url`: the kept one when `may_reuse` and it is still ready, else a
    /// new one. Where it went and its TLS facts go into `result`.
    async fn open(
        &mut self,
        url: &Url,
        may_reuse: bool,
        laps: &mut Laps,
        deadline: Instant,
        now: DateTime<Utc>,
        result: &mut ProbeResult,
    ) -> Result<Conn, Failure> {
        let kept = match self.conn.take() {
            Some(mut c) if may_reuse && self.target.reuse_connection => {
                let ready = match &mut c.sender {
                    Sender::H1(s) => s.ready().await.is_ok(),
                    Sender::H2(s) => s.ready().await.is_ok(),
                };
                ready.then_some(c)
            }
            _ => None,
        };
        let conn = match kept {
            Some(c) => {
                result.reused_connection = true;
                laps.last = Instant::now();
                laps.start = laps.last;
                c
            }
            None => match self.connect(url, laps, deadline, now).await {
                Ok(c) => c,
                Err(cf) => {
                    result.remote_addr = cf.remote;
                    result.tls = cf.tls;
                    return Err(cf.failure);
                }
            },
        };
        result.remote_addr = Some(conn.remote);
        result.http_version = Some(conn.version);
        result.tls = conn.tls.clone();
        Ok(conn)
    }

    /// Where a response sends the probe next: `None` to judge it as it is (not a
    /// redirect, no `Location`, or following is off), else the next request or why it
    /// is refused.
    fn next_hop(
        &self,
        hop: &HopRequest,
        status: u16,
        headers: &http::HeaderMap,
    ) -> Option<Result<HopRequest, Failure>> {
        let t = &self.target;
        if !t.redirects.follow || !matches!(status, 301 | 302 | 303 | 307 | 308) {
            return None;
        }
        let location = headers.get(http::header::LOCATION)?;
        let refuse = |detail: String| Some(Err(Failure::new(FailureKind::RedirectRefused, detail)));
        let Ok(text) = location.to_str() else {
            return refuse(format!("HTTP {status} with a Location that is not text"));
        };
        let text = t.redactor.redact(text);
        let Ok(next) = hop.url.join(location.to_str().unwrap_or_default()) else {
            return refuse(format!("HTTP {status} to {text:?}, which is not a URL"));
        };
        if !matches!(next.scheme(), "http" | "https") {
            return refuse(format!(
                "HTTP {status} to a {}: URL, not http(s)",
                next.scheme()
            ));
        }
        if hop.url.scheme() == "https" && next.scheme() == "http" && !t.redirects.allow_insecure {
            return refuse(format!(
                "HTTP {status} from https to {}: not followed, it would send the request in clear text (allow_insecure_redirects = true to follow)",
                t.redactor.display_url(&next)
            ));
        }
        Some(Ok(hop.follow(status, next, &t.url)))
    }

    /// DNS → TCP → TLS → HTTP handshake, each phase timed into `laps`.
    async fn connect(
        &self,
        url: &Url,
        laps: &mut Laps,
        deadline: Instant,
        now: DateTime<Utc>,
    ) -> Result<Conn, ConnectFailure> {
        let t = &self.target;
        let fail = |failure: Failure| ConnectFailure {
            failure,
            remote: None,
            tls: None,
        };
        let host = url
            .host()
            .ok_or_else(|| fail(Failure::new(FailureKind::Dns, "URL has no host")))?;
        let port = url.port_or_known_default().unwrap_or(80);

        // DNS.
        let addrs: Vec<SocketAddr> = match &host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
            Host::Domain(name) => {
                let looked = timeout_at(deadline, tokio::net::lookup_host((*name, port))).await;
                laps.lap(Phase::Dns);
                match looked {
                    Ok(Ok(it)) => it.collect(),
                    Ok(Err(e)) => {
                        return Err(fail(Failure::in_phase(
                            local_trouble(&e).unwrap_or(FailureKind::Dns),
                            Phase::Dns,
                            format!("cannot resolve {name}: {e}"),
                        )));
                    }
                    Err(_) => {
                        return Err(fail(Failure::in_phase(
                            FailureKind::Timeout,
                            Phase::Dns,
                            format!(
                                "no DNS answer for {name} within {}",
                                humantime::format_duration(t.timeout)
                            ),
                        )));
                    }
                }
            }
        };
        if matches!(host, Host::Ipv4(_) | Host::Ipv6(_)) {
            laps.lap(Phase::Dns);
        }
        let addrs: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match t.ip_version {
                IpVersion::Any => true,
                IpVersion::V4 => a.is_ipv4(),
                IpVersion::V6 => a.is_ipv6(),
            })
            .collect();
        if addrs.is_empty() {
            let family = match t.ip_version {
                IpVersion::V4 => "IPv4 ",
                IpVersion::V6 => "IPv6 ",
                IpVersion::Any => "",
            };
            return Err(fail(Failure::in_phase(
                FailureKind::Dns,
                Phase::Dns,
                format!("{host} has no {family}address"),
            )));
        }

        // TCP: each address in turn until one answers.
        let mut last_err = None;
        let mut stream = None;
        for addr in &addrs {
            match timeout_at(deadline, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    stream = Some((s, *addr));
                    break;
                }
                Ok(Err(e)) => last_err = Some((e, *addr)),
                Err(_) => {
                    laps.lap(Phase::Connect);
                    return Err(ConnectFailure {
                        failure: Failure::in_phase(
                            FailureKind::ConnectTimeout,
                            Phase::Connect,
                            format!(
                                "no TCP connection to {addr} within {}",
                                humantime::format_duration(t.timeout)
                            ),
                        ),
                        remote: Some(*addr),
                        tls: None,
                    });
                }
            }
        }
        laps.lap(Phase::Connect);
        let (tcp, remote) = match stream {
            Some(s) => s,
            None => {
                let (e, addr) = last_err.expect("at least one address was tried");
                let kind = connect_failure_kind(&e);
                return Err(ConnectFailure {
                    failure: Failure::in_phase(
                        kind,
                        Phase::Connect,
                        format!("connect to {addr}: {e}"),
                    ),
                    remote: Some(addr),
                    tls: None,
                });
            }
        };
        // Probes are small request/response exchanges: Nagle only adds latency.
        let _ = tcp.set_nodelay(true);

        // TLS.
        if url.scheme() == "https" {
            let config = self.tls.clone().ok_or_else(|| {
                fail(Failure::new(
                    FailureKind::TlsHandshake,
                    "no TLS configuration for this target",
                ))
            })?;
            let server_name = match &host {
                Host::Domain(d) => ServerName::try_from(d.to_string()),
                Host::Ipv4(ip) => Ok(ServerName::IpAddress(IpAddr::V4(*ip).into())),
                Host::Ipv6(ip) => Ok(ServerName::IpAddress(IpAddr::V6(*ip).into())),
            }
            .map_err(|e| {
                fail(Failure::new(
                    FailureKind::TlsHandshake,
                    format!("invalid TLS server name {host}: {e}"),
                ))
            })?;
            let connector = TlsConnector::from(config);
            let (outcome, presented) = crate::tls::capture_presented(timeout_at(
                deadline,
                connector.connect(server_name, tcp),
            ))
            .await;
            laps.lap(Phase::Tls);
            let presented_facts = presented.as_ref().and_then(|c| tls::cert_facts(c, now));
            let stream = match outcome {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    let (kind, detail) =
                        tls::classify_handshake_error(&e, presented_facts.as_ref(), now);
                    return Err(ConnectFailure {
                        failure: Failure::in_phase(kind, Phase::Tls, detail),
                        remote: Some(remote),
                        tls: presented_facts,
                    });
                }
                Err(_) => {
                    return Err(ConnectFailure {
                        failure: Failure::in_phase(
                            FailureKind::Timeout,
                            Phase::Tls,
                            format!(
                                "TLS handshake not complete within {}",
                                humantime::format_duration(t.timeout)
                            ),
                        ),
                        remote: Some(remote),
                        tls: presented_facts,
                    });
                }
            };
            let (_, session) = stream.get_ref();
            let h2 = session.alpn_protocol() == Some(b"h2");
            let mut facts = session
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| tls::cert_facts(c, now))
                .or(presented_facts);
            if let Some(f) = &mut facts {
                f.version = session
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .map(|s| s.replace('_', "."));
            }
            self.handshake(stream, h2, remote, facts, deadline).await
        } else {
            self.handshake(tcp, false, remote, None, deadline).await
        }
    }

    /// The HTTP/1.1 or HTTP/2 handshake over an established stream; the connection's driver
    /// task is owned by the returned [`Conn`].
    async fn handshake<S>(
        &self,
        stream: S,
        h2: bool,
        remote: SocketAddr,
        tls: Option<TlsFacts>,
        deadline: Instant,
    ) -> Result<Conn, ConnectFailure>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let seen = Seen::default();
        let io = TokioIo::new(Recording {
            inner: stream,
            seen: seen.clone(),
        });
        let err = |e: hyper::Error, tls: Option<TlsFacts>| ConnectFailure {
            failure: Failure::in_phase(
                FailureKind::Io,
                Phase::Ttfb,
                format!("HTTP handshake failed: {}", crate::error_chain(&e)),
            ),
            remote: Some(remote),
            tls,
        };
        let timeout = |tls| ConnectFailure {
            failure: Failure::in_phase(
                FailureKind::Timeout,
                Phase::Ttfb,
                "HTTP/2 handshake did not complete in time",
            ),
            remote: Some(remote),
            tls,
        };
        if h2 {
            let (sender, conn) =
                match timeout_at(deadline, http2::handshake(TokioExecutor::new(), io)).await {
                    Ok(Ok(x)) => x,
                    Ok(Err(e)) => return Err(err(e, tls)),
                    Err(_) => return Err(timeout(tls)),
                };
            let driver = AbortOnDropHandle::new(tokio::spawn(async move {
                let _ = conn.await;
            }));
            Ok(Conn {
                sender: Sender::H2(sender),
                version: HttpVersion::H2,
                remote,
                tls,
                seen,
                _driver: driver,
            })
        } else {
            let (sender, conn) = match timeout_at(deadline, http1::handshake(io)).await {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => return Err(err(e, tls)),
                Err(_) => return Err(timeout(tls)),
            };
            let driver = AbortOnDropHandle::new(tokio::spawn(async move {
                let _ = conn.await;
            }));
            Ok(Conn {
                sender: Sender::H1(sender),
                version: HttpVersion::Http11,
                remote,
                tls,
                seen,
                _driver: driver,
            })
        }
    }

    fn build_request(
        &self,
        hop: &HopRequest,
        version: HttpVersion,
    ) -> Result<Request<Full<Bytes>>, String> {
        let t = &self.target;
        let url = &hop.url;
        // HTTP/2 needs the absolute URI (:scheme, :authority); HTTP/1.1 the origin form + Host.
        let uri: Uri = match version {
            HttpVersion::H2 => url.as_str().parse(),
            HttpVersion::Http11 => {
                let mut pq = url.path().to_string();
                if let Some(q) = url.query() {
                    pq.push('?');
                    pq.push_str(q);
                }
                pq.parse()
            }
        }
        .map_err(|e| format!("cannot build request URI: {e}"))?;
        let mut builder = Request::builder().method(hop.method.clone()).uri(uri);
        let headers = builder.headers_mut().ok_or("invalid request")?;
        // Another origin gets no configured header: they carry the key.
        if hop.own_origin {
            headers.extend(t.headers.clone());
        }
        if !hop.with_body {
            headers.remove(http::header::CONTENT_TYPE);
            headers.remove(http::header::CONTENT_LENGTH);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        }
        if version == HttpVersion::Http11 && !headers.contains_key(HOST) {
            let host = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => String::new(),
            };
            let v =
                HeaderValue::from_str(&host).map_err(|e| format!("invalid host header: {e}"))?;
            headers.insert(HOST, v);
        }
        let body = match (&t.body, hop.with_body) {
            (Some(b), true) => b.clone(),
            _ => Bytes::new(),
        };
        builder
            .body(Full::new(body))
            .map_err(|e| format!("cannot build request: {e}"))
    }
}

fn finish(mut result: ProbeResult, laps: Laps, failures: Vec<Failure>) -> ProbeResult {
    result.total = laps.total();
    result.phases = laps.phases;
    result.health = ProbeResult::health_of(&failures);
    result.error_class = super::provider::classify(
        result.status,
        &failures,
        result
            .response
            .as_ref()
            .and_then(|r| r.provider_error.as_ref()),
    );
    result.failures = failures;
    result
}

/// The response headers later stages read; set-cookie is never kept, values are capped and
/// scrubbed of the target's secrets (some gateways echo request headers).
fn keep_headers(headers: &http::HeaderMap, t: &Target) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "set-cookie" | "cookie"))
        .take(MAX_HEADERS)
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            let text: String = text.chars().take(MAX_HEADER_VALUE).collect();
            (name.as_str().to_string(), t.redactor.redact(&text))
        })
        .collect()
}

/// An error that is this machine's own trouble, whatever the operation: out of
/// descriptors, memory or ports (`local_resource`), or no route (`no_route`).
pub(crate) fn local_trouble(e: &std::io::Error) -> Option<FailureKind> {
    // Linux errno values (the platform upwatch runs on).
    const ENOMEM: i32 = 12;
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const EADDRNOTAVAIL: i32 = 99;
    const ENETUNREACH: i32 = 101;
    const ENOBUFS: i32 = 105;
    const EHOSTUNREACH: i32 = 113;
    match e.raw_os_error()? {
        ENOMEM | ENFILE | EMFILE | EADDRNOTAVAIL | ENOBUFS => Some(FailureKind::LocalResource),
        ENETUNREACH | EHOSTUNREACH => Some(FailureKind::NoRoute),
        _ => None,
    }
}

/// What a failed `connect` says about whose trouble it is: the host answering no
/// (refused, reset), nobody answering in time, no route from here, or this machine out of
/// descriptors, memory or ports.
pub(crate) fn connect_failure_kind(e: &std::io::Error) -> FailureKind {
    if let Some(kind) = local_trouble(e) {
        return kind;
    }
    match (e.kind(), e.raw_os_error()) {
        (std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset, _) => {
            FailureKind::ConnectRefused
        }
        (std::io::ErrorKind::TimedOut, _) => FailureKind::ConnectTimeout,
        _ => FailureKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_say_whose_trouble_it_is() {
        let os = std::io::Error::from_raw_os_error;
        assert_eq!(connect_failure_kind(&os(24)), FailureKind::LocalResource);
        assert_eq!(connect_failure_kind(&os(23)), FailureKind::LocalResource);
        assert_eq!(connect_failure_kind(&os(101)), FailureKind::NoRoute);
        assert_eq!(connect_failure_kind(&os(113)), FailureKind::NoRoute);
        assert_eq!(connect_failure_kind(&os(111)), FailureKind::ConnectRefused);
        assert_eq!(connect_failure_kind(&os(110)), FailureKind::ConnectTimeout);
        assert_eq!(connect_failure_kind(&os(13)), FailureKind::Io);
    }
}
