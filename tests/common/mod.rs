//! Real servers for tests: HTTP and HTTPS (h2 + http/1.1) on 127.0.0.1:0 with rcgen
//! certificates, plus raw sockets that hang or refuse. Nothing here leaves loopback.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A certificate authority for tests.
pub struct TestCa {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "upwatch tests");
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(365);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa { cert, key }
    }

    /// Writes the CA certificate as PEM into `dir` and returns the path.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let p = dir.join("test-ca.pem");
        std::fs::write(&p, self.cert.pem()).unwrap();
        p
    }

    /// A leaf for `names`, valid from `from_days` to `to_days` relative to now.
    pub fn leaf(&self, names: &[&str], from_days: i64, to_days: i64) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from_days);
        params.not_after = now + time::Duration::days(to_days);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf {
            chain: vec![cert.der().clone()],
            key: key.serialize_der(),
        }
    }
}

/// A server certificate chain and its key.
#[derive(Clone)]
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Vec<u8>,
}

fn server_tls(leaf: &Leaf) -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            leaf.chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(cfg))
}

/// A running test server; dropping it stops accepting.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// What `/models` answers: two models, in the shape of Mistral's `GET /v1/models`.
pub const MODELS: &str = r#"{"object":"list","data":[{"id":"codestral-latest","object":"model","max_context_length":256000,"capabilities":{"completion_chat":true}},{"id":"mistral-small-latest","object":"model","max_context_length":32000,"capabilities":{"completion_chat":true}}]}"#;

/// Starts the routing server (see [`route`]) over plain HTTP or, with a leaf, HTTPS.
pub async fn start(tls: Option<&Leaf>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls.map(server_tls);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(route);
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(a) => {
                        // A failed handshake (the client rejected our certificate) is expected.
                        if let Ok(tls) = a.accept(tcp).await {
                            let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    });
    Server { addr, task }
}

/// Routes:
/// - `/ok`: 200 `{"data":[]}`
/// - `/models`: 200, a model catalog in Mistral's shape ([`MODELS`]), `x-ratelimit-limit: 60`
/// - `/delay/MS`: waits MS milliseconds, then 200
/// - `/status/CODE`: that status, with a JSON error body and rate-limit headers on 429
/// - `/slowbody/MS`: head at once, the rest of the body after MS milliseconds
/// - `/cut`: head and part of the body, then the connection breaks
/// - `/echo-auth`: 200 echoing whether an Authorization header arrived
/// - `/to/PATH`: 302 to `/PATH`; `/self`: 302 to itself; `/chain/N`: N+1 hops of 301 to `/ok`
/// - `/away`: 307 to `/echo-auth` on another origin (`localhost` for `127.0.0.1`)
/// - `/downgrade`: 302 to `http://` the same host and port `/ok`
async fn route(req: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let resp = match parts.as_slice() {
        ["ok"] => Response::new(TestBody::full("{\"data\":[]}")),
        ["models"] => {
            let mut r = Response::new(TestBody::full(MODELS));
            r.headers_mut()
                .insert("x-ratelimit-limit", "60".parse().unwrap());
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        }
        ["delay", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            Response::new(TestBody::full("{\"data\":[]}"))
        }
        ["status", code] => {
            let code: u16 = code.parse().unwrap_or(500);
            let mut r = Response::new(TestBody::full(
                r#"{"message":"upstream failed","type":"internal_error"}"#,
            ));
            *r.status_mut() =
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if code == 429 {
                r.headers_mut().insert("retry-after", "7".parse().unwrap());
                r.headers_mut()
                    .insert("x-ratelimit-remaining", "0".parse().unwrap());
            }
            r.headers_mut()
                .insert("set-cookie", "session=secret".parse().unwrap());
            r
        }
        ["llm", case] => llm_failure(case),
        ["slowbody", ms] => Response::new(TestBody::delayed(Duration::from_millis(
            ms.parse().unwrap_or(0),
        ))),
        ["cut"] => Response::new(TestBody::cut()),
        ["to", rest @ ..] => redirect(302, &format!("/{}", rest.join("/"))),
        ["self"] => redirect(302, "/self"),
        ["chain", n] => match n.parse::<u32>().unwrap_or(0) {
            0 => redirect(301, "/ok"),
            n => redirect(301, &format!("/chain/{}", n - 1)),
        },
        ["away"] | ["downgrade"] => {
            // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
            let host = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                .unwrap_or_default();
            if parts[0] == "away" {
                let other = host.replace("127.0.0.1", "localhost");
                redirect(307, &format!("http://{other}/echo-auth"))
            } else {
                redirect(302, &format!("http://{host}/ok"))
            }
        }
        ["echo-auth"] => {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap_or("").to_string());
            Response::new(TestBody::full(format!("auth={}", auth.unwrap_or_default())))
        }
        _ => {
            let mut r = Response::new(TestBody::full("not found"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    Ok(resp)
}

fn redirect(status: u16, location: &str) -> Response<TestBody> {
    let mut r = Response::new(TestBody::full("moved"));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("location", location.parse().unwrap());
    r
}

/// A provider refusing a request, as its documentation shows: status, error body, request
/// id and rate-limit headers.
fn llm_failure(case: &str) -> Response<TestBody> {
    let (status, body, extra): (u16, &str, &[(&str, &str)]) = match case {
        "invalid-key" => (
            401,
            r#"{"object":"error","message":"Unauthorized","type":"invalid_request_error","param":null,"code":"1000"}"#,
            &[("x-request-id", "req-401")],
        ),
        "no-credits" => (
            402,
            r#"{"error":{"message":"Insufficient credits","type":"billing_error","code":"payment_required"}}"#,
            &[("x-request-id", "req-402")],
        ),
        "inactive" => (
            403,
            r#"{"error":"Account inactive or usage limit reached","code":"3505"}"#,
            &[("mistral-correlation-id", "corr-403")],
        ),
        "no-model" => (
            404,
            r#"{"object":"error","message":"Invalid model: mistral-huge","type":"invalid_model","code":"1500"}"#,
            &[("x-request-id", "req-404")],
        ),
        "bad-request" => (
            422,
            r#"{"detail":[{"loc":["body","max_tokens"],"msg":"Input should be greater than 0","type":"greater_than"}]}"#,
            &[],
        ),
        "rate-limited" => (
            429,
            r#"{"message":"Requests rate limit exceeded","type":"rate_limited"}"#,
            &[
                ("retry-after", "30"),
                ("x-ratelimit-limit-requests", "60"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "30s"),
                ("x-request-id", "req-429"),
            ],
        ),
        "grpc" => (
            502,
            "upstream connect error or disconnect/reset before headers. reset reason: protocol error (grpc status 14)",
            &[("cf-ray", "8f00aa-CDG")],
        ),
        _ => (
            503,
            r#"{"message":"Service unavailable","type":"internal_server_error"}"#,
            &[("x-request-id", "req-503")],
        ),
    };
    let mut r = Response::new(TestBody::full(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (k, v) in extra {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

/// A response body that can be whole, delayed after its first chunk, or broken.
pub struct TestBody {
    first: Option<Bytes>,
    rest: Option<Bytes>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    fail_after_first: bool,
}

impl TestBody {
    fn full(s: impl Into<Bytes>) -> Self {
        TestBody {
            first: Some(s.into()),
            rest: None,
            sleep: None,
            fail_after_first: false,
        }
    }
    fn delayed(d: Duration) -> Self {
        TestBody {
            first: Some(Bytes::from_static(b"{\"data\":[")),
            rest: Some(Bytes::from_static(b"]}")),
            sleep: Some(Box::pin(tokio::time::sleep(d))),
            fail_after_first: false,
        }
    }
    fn cut() -> Self {
        TestBody {
            first: Some(Bytes::from(vec![b'x'; 1000])),
            rest: None,
            // Let the head and first chunk reach the client before the cut.
            sleep: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
            fail_after_first: true,
        }
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(s) = self.sleep.as_mut() {
            if s.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        if self.fail_after_first {
            self.fail_after_first = false;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "test server cuts the body",
            ))));
        }
        Poll::Ready(self.rest.take().map(|b| Ok(Frame::data(b))))
    }
}

/// A listener that accepts connections and never answers.
pub async fn start_silent() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    Server { addr, task }
}

/// A port with nothing listening (bound, then released).
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// A listener whose accept queue is full, so a new connection's SYN is dropped and the
/// connect hangs (how a filtered port looks), without ever leaving loopback.
pub struct FullBacklog {
    pub addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _fillers: Vec<std::net::TcpStream>,
}

pub fn full_backlog() -> FullBacklog {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    // Fill the accept queue; later SYNs are dropped by the kernel.
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    FullBacklog {
        addr,
        _listener: listener,
        _fillers: fillers,
    }
}

/// Serves plain HTTP (h1 or h2) on `listener`, answering every request with `handler`.
fn serve<F, Fut>(listener: TcpListener, handler: F) -> Server
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Server { addr, task }
}

/// What a [`Receiver`] does with each request.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answer 200.
    Ok,
    /// Answer `status` to the first `n` requests, then 200.
    FailFirst { n: usize, status: u16 },
    /// Answer 429 with `Retry-After: secs` to the first request, then 200.
    RateLimitOnce { secs: u64 },
    /// Never answer.
    Hang,
    /// Answer 400 always (a permanent rejection).
    Reject,
}

/// A request as a receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A real HTTP receiver (for Slack and webhook channels) that records every request.
pub struct Receiver {
    pub server: Server,
    pub seen: Arc<std::sync::Mutex<Vec<Received>>>,
    pub notify: Arc<tokio::sync::Notify>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), behaviour)
    }

    pub fn start_on(listener: TcpListener, behaviour: Behaviour) -> Receiver {
        let seen: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let notify = Arc::new(tokio::sync::Notify::new());
        let (seen2, notify2) = (seen.clone(), notify.clone());
        let server = serve(listener, move |req: Request<Incoming>| {
            let (seen, notify, behaviour) = (seen2.clone(), notify2.clone(), behaviour.clone());
            async move {
                use http_body_util::BodyExt;
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let n = {
                    let mut s = seen.lock().unwrap();
                    s.push(Received {
                        headers: parts.headers,
                        body,
                    });
                    s.len()
                };
                notify.notify_waiters();
                let mut resp = Response::new(TestBody::full("ok"));
                match behaviour {
                    Behaviour::Ok => {}
                    Behaviour::FailFirst { n: k, status } if n <= k => {
                        *resp.status_mut() = StatusCode::from_u16(status).unwrap();
                    }
                    Behaviour::FailFirst { .. } => {}
                    Behaviour::RateLimitOnce { secs } if n == 1 => {
                        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                        resp.headers_mut()
                            .insert("retry-after", secs.to_string().parse().unwrap());
                    }
                    Behaviour::RateLimitOnce { .. } => {}
                    Behaviour::Hang => std::future::pending::<()>().await,
                    Behaviour::Reject => *resp.status_mut() = StatusCode::BAD_REQUEST,
                }
                resp
            }
        });
        Receiver {
            server,
            seen,
            notify,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.server.port())
    }

    pub fn requests(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.notify.notified();
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.requests();
            }
        }
    }
}

/// A target server whose status can be switched while it runs (`/flip`).
pub struct FlipServer {
    pub server: Server,
    pub status: Arc<std::sync::atomic::AtomicU16>,
}

impl FlipServer {
    pub async fn start(initial: u16) -> FlipServer {
        Self::start_at("127.0.0.1", initial).await
    }

    /// On another loopback address (127.0.0.2, ...), port chosen by the system.
    pub async fn start_at(ip: &str, initial: u16) -> FlipServer {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let status = Arc::new(std::sync::atomic::AtomicU16::new(initial));
        let s2 = status.clone();
        let server = serve(listener, move |_req: Request<Incoming>| {
            let code = s2.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                let mut r = Response::new(TestBody::full("{\"data\":[]}"));
                *r.status_mut() = StatusCode::from_u16(code).unwrap();
                r
            }
        });
        FlipServer { server, status }
    }

    pub fn set(&self, code: u16) {
        self.status.store(code, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn url(&self) -> String {
        format!("http://{}/flip", self.server.addr)
    }
}

impl TestCa {
    /// A leaf for `names` as PEM strings (certificate, PKCS#8 key), for servers that read files.
    pub fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        params.distinguished_name = dn;
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(30);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A real SMTP server (aiosmtpd via tests/smtp_server.py): STARTTLS required, AUTH as
/// upwatch / pw-123, its CA in `dir/test-ca.pem`; one JSON line per received message.
pub struct Smtp {
    pub port: u16,
    pub lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    _child: tokio::process::Child,
    pub dir: tempfile::TempDir,
}

pub async fn smtp_server() -> Smtp {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("upwatch SMTP test CA");
    let (cert, key) = ca.leaf_pem(&["localhost"]);
    std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    ca.write_pem(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .arg(dir.path().join("cert.pem"))
        .arg(dir.path().join("key.pem"))
        .args(["upwatch", "pw-123"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 is needed for the SMTP tests (tests/run installs aiosmtpd)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("SMTP server ready within 30 s")
        .unwrap()
        .expect("SMTP server printed nothing: is aiosmtpd installed? (pip install aiosmtpd, or run tests/run)");
    let port = ready
        .strip_prefix("READY ")
        .expect("READY line")
        .parse()
        .unwrap();
    Smtp {
        port,
        lines,
        _child: child,
        dir,
    }
}

impl Smtp {
    /// The next received message as JSON (`mail_from`, `rcpt_tos`, `tls`, `authenticated`, `data`).
    pub async fn next_message(&mut self, limit: Duration) -> Option<serde_json::Value> {
        let line = tokio::time::timeout(limit, self.lines.next_line())
            .await
            .ok()?
            .ok()??;
        serde_json::from_str(&line).ok()
    }
}

/// One path a vendor site answers.
#[derive(Clone, Debug)]
pub struct Page {
    pub path: String,
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    pub headers: Vec<(&'static str, &'static str)>,
}

impl Page {
    pub fn json(path: &str, body: impl Into<Bytes>) -> Page {
        Page {
            path: path.to_string(),
            status: 200,
            content_type: "application/json; charset=utf-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }
    pub fn with_status(mut self, status: u16) -> Page {
        self.status = status;
        self
    }
    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Page {
        self.headers.push((name, value));
        self
    }
    pub fn with_type(mut self, content_type: &'static str) -> Page {
        self.content_type = content_type;
        self
    }
}

/// The shell a single-page app serves for every unknown path, with status 200.
pub const SPA_SHELL: &str = "<!DOCTYPE html><html><head><title>Status</title></head><body><div id=\"root\"></div><script src=\"/app.js\"></script></body></html>";

/// A vendor status site: the given paths, and the SPA shell (200, HTML) for every other
/// path, like the single-page apps status pages are. Paths can be swapped while it runs.
pub struct VendorSite {
    pub server: Server,
    pub pages: Arc<std::sync::Mutex<Vec<Page>>>,
    pub hits: Arc<std::sync::Mutex<Vec<String>>>,
    /// Each request's path and arrival on tokio's clock (paused in some tests).
    pub times: Arc<std::sync::Mutex<Vec<(String, tokio::time::Instant)>>>,
}

impl VendorSite {
    pub async fn start(pages: Vec<Page>) -> VendorSite {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pages = Arc::new(std::sync::Mutex::new(pages));
        let hits: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let times: Arc<std::sync::Mutex<Vec<(String, tokio::time::Instant)>>> = Arc::default();
        let (p2, h2, t2) = (pages.clone(), hits.clone(), times.clone());
        let server = serve(listener, move |req: Request<Incoming>| {
            let path = req.uri().path().to_string();
            h2.lock().unwrap().push(path.clone());
            t2.lock()
                .unwrap()
                .push((path.clone(), tokio::time::Instant::now()));
            let found = p2.lock().unwrap().iter().find(|p| p.path == path).cloned();
            async move {
                let page = found.unwrap_or(Page {
                    path,
                    status: 200,
                    content_type: "text/html; charset=utf-8",
                    body: Bytes::from_static(SPA_SHELL.as_bytes()),
                    headers: Vec::new(),
                });
                let mut r = Response::new(TestBody::full(page.body));
                *r.status_mut() = StatusCode::from_u16(page.status).unwrap();
                r.headers_mut()
                    .insert("content-type", page.content_type.parse().unwrap());
                for (k, v) in page.headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
        });
        VendorSite {
            server,
            pages,
            hits,
            times,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    pub fn set(&self, pages: Vec<Page>) {
        *self.pages.lock().unwrap() = pages;
    }
}

/// A fixture from tests/fixtures/statuspages.
pub fn status_fixture(path: &str) -> Bytes {
    let p = format!(
        "{}/tests/fixtures/statuspages/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
}

/// The start of a daemon's config: `[daemon]` (state beside the config, port 0), then
/// `[alerting]` with `alerting`'s keys and every channel as its default routing, then one
/// `[[channel]]` per (name, type, url). Targets follow.
pub fn daemon_config(alerting: &str, channels: &[(&str, &str, String)]) -> String {
    let names: Vec<String> = channels.iter().map(|(n, _, _)| format!("{n:?}")).collect();
    let mut text = format!(
        "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[alerting]\n{}\nchannels = [{}]\n",
        alerting.trim(),
        names.join(", ")
    );
    for (name, kind, url) in channels {
        text.push_str(&format!(
            "\n[[channel]]\nname = \"{name}\"\ntype = \"{kind}\"\nurl = \"{url}\"\n"
        ));
    }
    text
}

/// Starts `upwatch --config CONFIG run` as a child process (killed if the test drops it).
pub fn spawn_daemon(config: &Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("UPWATCH_LOG", "info")
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Like [`spawn_daemon`], logging at debug level to the file `log`, so a test can read
/// what the daemon said (and check that no secret is in it).
pub fn spawn_daemon_logging(config: &Path, log: &Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("UPWATCH_LOG", "debug")
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Sends SIGTERM and waits (up to 20 s) for the daemon to exit; returns its exit code.
pub async fn stop_daemon(mut child: tokio::process::Child) -> i32 {
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("daemon stops within its grace period")
        .unwrap();
    status.code().unwrap_or(-1)
}

/// A chat-completions endpoint that streams server-sent events the way Mistral's API does.
/// It checks the request (POST, JSON body with `model`, `stream: true`, `max_tokens: 1`)
/// and answers 422 otherwise. Paths choose the stream:
/// - `/delay/MS`: the role event at once, the content event MS ms later, then `[DONE]`
/// - `/cut`: role and content events, then the connection breaks
/// - `/nodone`: role and content events, then the body ends without a finish
/// - `/json`: a whole JSON completion, not a stream
/// - `/error-event`: an error event in the stream
pub async fn sse_server() -> Server {
    use http_body_util::BodyExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, |req: Request<Incoming>| async move {
        let path = req.uri().path().to_string();
        let post = req.method() == http::Method::POST;
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let ok = body
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| {
                v["model"].as_str() == Some("mistral-small-latest")
                    && v["stream"] == true
                    && v["max_tokens"] == 1
                    && v["messages"][0]["content"].is_string()
            });
        if !post || !ok {
            let mut r = Response::new(TestBody::full(
                r#"{"object":"error","message":"invalid request","type":"invalid_request_error"}"#,
            ));
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return r;
        }
        const ROLE: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
        const CONTENT: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"mistral-small-latest\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":10,\"total_tokens\":11,\"completion_tokens\":1}}\n\n";
        const OPEN: &str = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":null}]}\n\n";
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (content_type, body) = match parts.as_slice() {
            ["delay", ms] => (
                "text/event-stream",
                TestBody {
                    first: Some(Bytes::from(ROLE)),
                    rest: Some(Bytes::from(format!("{CONTENT}data: [DONE]\n\n"))),
                    sleep: Some(Box::pin(tokio::time::sleep(Duration::from_millis(
                        ms.parse().unwrap_or(0),
                    )))),
                    fail_after_first: false,
                },
            ),
            ["cut"] => (
                "text/event-stream",
                TestBody {
                    first: Some(Bytes::from(format!("{ROLE}{OPEN}"))),
                    rest: None,
                    sleep: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
                    fail_after_first: true,
                },
            ),
            ["nodone"] => (
                "text/event-stream",
                TestBody::full(format!("{ROLE}{OPEN}")),
            ),
            ["json"] => (
                "application/json",
                TestBody::full(r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"length"}]}"#),
            ),
            _ => (
                "text/event-stream",
                TestBody::full(format!(
                    "{ROLE}data: {{\"error\":{{\"message\":\"Service tier capacity exceeded for this model.\",\"type\":\"service_tier_capacity_exceeded\"}}}}\n\n"
                )),
            ),
        };
        let mut r = Response::new(body);
        r.headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        r.headers_mut()
            .insert("mistral-correlation-id", "corr-chat-1".parse().unwrap());
        r
    })
}

/// Probes the single target described by `body` (TOML keys of one [[target]]) once.
pub async fn probe(body: &str, ca: Option<&TestCa>) -> upwatch::probe::ProbeResult {
    let dir = tempfile::tempdir().unwrap();
    let ca_line = match ca {
        Some(ca) => format!(
            "tls_ca_file = {:?}\n",
            ca.write_pem(dir.path()).display().to_string()
        ),
        None => String::new(),
    };
    let text = format!("[[target]]\nname = \"t\"\nip_version = \"v4\"\n{ca_line}{body}\n");
    let path = dir.path().join("monitor.toml");
    let cfg = upwatch::config::parse(&path, &text, &upwatch::config::Env::from_pairs(&[]))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let target = cfg.targets[0].clone();
    let (tls, _) = upwatch::probe::tls::TlsConfigs::build([target.as_ref()]).unwrap();
    let mut prober = upwatch::probe::TargetProber::new(target.clone(), tls.get(&target.tls));
    prober.probe().await
}

/// State a test server shares with its test.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;

/// A receiver that answers as a vendor's API does: `ok_status` with `ok_body` (which may
/// quote the request's `dedup_key` as `{dedup_key}`), after answering the first request
/// with 429 and `Retry-After: 1` when `throttle_first`. Records every request's JSON body
/// with the status it got.
pub struct Mimic {
    pub url: String,
    pub seen: Arc<std::sync::Mutex<Vec<(u16, serde_json::Value)>>>,
    /// Each request's path and `Authorization` header, in order.
    pub requests: Shared<Vec<(String, Option<String>)>>,
    _server: Server,
}

impl Mimic {
    pub async fn start(
        path: &str,
        ok_status: u16,
        ok_body: &'static str,
        throttle_first: bool,
    ) -> Mimic {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let seen: Arc<std::sync::Mutex<Vec<(u16, serde_json::Value)>>> = Arc::default();
        let record = seen.clone();
        let requests: Shared<Vec<(String, Option<String>)>> = Arc::default();
        let log = requests.clone();
        let server = serve(listener, move |req: Request<Incoming>| {
            let record = record.clone();
            log.lock().unwrap().push((
                req.uri().path().to_string(),
                req.headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            ));
            async move {
                use http_body_util::BodyExt;
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let mut seen = record.lock().unwrap();
                let throttled = throttle_first && seen.is_empty();
                let status = if throttled { 429 } else { ok_status };
                seen.push((status, json.clone()));
                let text = if throttled {
                    r#"{"message":"You are being rate limited.","retry_after":1.0}"#.to_string()
                } else {
                    ok_body.replace("{dedup_key}", &json["dedup_key"].to_string())
                };
                let mut r = Response::new(TestBody::full(text));
                *r.status_mut() = StatusCode::from_u16(status).unwrap();
                if throttled {
                    r.headers_mut().insert("retry-after", "1".parse().unwrap());
                }
                r
            }
        });
        Mimic {
            url,
            seen,
            requests,
            _server: server,
        }
    }

    /// The bodies that were accepted (not throttled), in order.
    pub fn accepted(&self) -> Vec<serde_json::Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| *s != 429)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits up to `limit` for `n` accepted bodies.
    pub async fn wait_accepted(&self, n: usize, limit: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + limit;
        while self.accepted().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.accepted()
    }
}
