//! The benchmark's local target server: plain HTTP and HTTPS (TLS 1.3, a fresh CA whose
//! PEM it writes out) on loopback, TCP_NODELAY, a multi-threaded runtime, so the server is
//! never what a benchmark measures.
//!
//! Routes: `/ok` (200, small JSON), `/delay/MS` (200 after MS ms), `/fail` (503),
//! `/sched/NAME` (200, and the arrival time is recorded), `/arrivals/NAME` (the recorded
//! arrival times, unix nanoseconds, one per line), `/hook` (POST receiver: records
//! arrival time and body, 200), `/hooks` (what `/hook` received: `<ns> <body>` lines).
//!
//! Usage: `bench-target CA_PEM_OUT` prints `http=PORT https=PORT` and serves until killed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

#[derive(Default)]
struct Log {
    arrivals: Mutex<HashMap<String, Vec<u128>>>,
    hooks: Mutex<Vec<(u128, String)>>,
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn route(log: Arc<Log>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = now_ns();
    let path = req.uri().path().to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match parts.as_slice() {
        ["ok"] => text(StatusCode::OK, "{\"data\":[]}"),
        ["delay", ms] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            text(StatusCode::OK, "{\"data\":[]}")
        }
        ["fail"] => text(StatusCode::SERVICE_UNAVAILABLE, "{\"message\":\"down\"}"),
        ["sched", name] => {
            if let Ok(mut a) = log.arrivals.lock() {
                a.entry(name.to_string()).or_default().push(at);
            }
            text(StatusCode::OK, "{\"data\":[]}")
        }
        ["arrivals", name] => {
            let lines = log
                .arrivals
                .lock()
                .map(|a| {
                    a.get(*name)
                        .map(|v| v.iter().map(|t| format!("{t}\n")).collect::<String>())
                        .unwrap_or_default()
                })
                .unwrap_or_default();
            text(StatusCode::OK, lines)
        }
        ["hook"] => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let read = now_ns();
            if let Ok(mut h) = log.hooks.lock() {
                h.push((read, String::from_utf8_lossy(&body).replace('\n', " ")));
            }
            text(StatusCode::OK, "ok")
        }
        ["hooks"] => {
            let lines = log
                .hooks
                .lock()
                .map(|h| {
                    h.iter()
                        .map(|(t, b)| format!("{t} {b}\n"))
                        .collect::<String>()
                })
                .unwrap_or_default();
            text(StatusCode::OK, lines)
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    })
}

async fn serve(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, log: Arc<Log>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let log = log.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| route(log.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(a) => {
                    if let Ok(s) = a.accept(tcp).await {
                        let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                }
            }
        });
    }
}

fn acceptor(ca_out: &str) -> tokio_rustls::TlsAcceptor {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL (curl) takes a leaf whose issuer equals its subject for a
    // self-signed certificate.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "upwatch bench CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    std::fs::write(ca_out, ca.pem()).expect("write the CA PEM");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let leaf = params.signed_by(&key, &ca, &ca_key).expect("leaf");
    let chain = vec![leaf.der().clone(), ca.der().clone()];
    let key = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let cfg = rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

#[tokio::main]
async fn main() {
    upwatch::tls::install_default_provider();
    let ca_out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench-ca.pem".into());
    let log = Arc::new(Log::default());
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let https = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!(
        "http={} https={}",
        http.local_addr().expect("addr").port(),
        https.local_addr().expect("addr").port()
    );
    let acc = acceptor(&ca_out);
    tokio::spawn(serve(http, None, log.clone()));
    serve(https, Some(acc), log).await;
}
