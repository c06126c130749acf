//! The probe against real servers on loopback: typed failures, phases and TLS facts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use upwatch::config::{self, Env};
use upwatch::probe::{FailureKind, Health, HttpVersion, Phase, ProbeResult, TargetProber};

fn kinds(r: &ProbeResult) -> Vec<FailureKind> {
    r.failures.iter().map(|f| f.kind).collect()
}

fn assert_phases_sum(r: &ProbeResult) {
    assert_eq!(
        r.phases.sum(),
        r.total,
        "phases {:?} must add up to total {:?}",
        r.phases,
        r.total
    );
}

#[tokio::test]
async fn http_200_is_up_with_all_plain_phases() {
    let s = start(None).await;
    let r = probe(&format!("url = \"http://127.0.0.1:{}/ok\"", s.port()), None).await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    assert_eq!(r.status, Some(200));
    assert_eq!(r.http_version, Some(HttpVersion::Http11));
    assert!(
        r.phases.dns.is_some()
            && r.phases.connect.is_some()
            && r.phases.ttfb.is_some()
            && r.phases.transfer.is_some()
    );
    assert_eq!(r.phases.tls, None);
    assert_eq!(r.response.as_ref().unwrap().size, 11);
    assert_eq!(r.remote_addr, Some(s.addr));
    assert_phases_sum(&r);
}

#[tokio::test]
async fn latency_covers_the_injected_delay_within_5ms() {
    let s = start(None).await;
    let delay = Duration::from_millis(200);
    // Best of three: measurement overhead is what is left on an unloaded attempt; a CI
    // machine running other tests in parallel may steal a slice from any single one.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let r = probe(
            &format!("url = \"http://127.0.0.1:{}/delay/200\"", s.port()),
            None,
        )
        .await;
        assert_eq!(r.health, Health::Up, "{:?}", r.failures);
        assert!(
            r.total >= delay,
            "total {:?} is less than the injected delay",
            r.total
        );
        assert!(
            r.phases.ttfb.unwrap() >= delay,
            "the delay belongs to ttfb: {:?}",
            r.phases
        );
        assert_phases_sum(&r);
        best = best.min(r.total - delay);
    }
    assert!(
        best <= Duration::from_millis(5),
        "overhead {best:?} over the injected delay"
    );
}

#[tokio::test]
async fn slow_body_time_is_transfer_not_ttfb() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/slowbody/150\"", s.port()),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    assert!(
        r.phases.transfer.unwrap() >= Duration::from_millis(150),
        "{:?}",
        r.phases
    );
    assert!(
        r.phases.ttfb.unwrap() < Duration::from_millis(150),
        "{:?}",
        r.phases
    );
    assert_phases_sum(&r);
}

#[tokio::test]
async fn unexpected_status_is_down_with_excerpt_and_headers() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/status/500\"", s.port()),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Down);
    assert_eq!(r.status, Some(500));
    assert_eq!(kinds(&r), vec![FailureKind::HttpStatus]);
    assert_eq!(r.failures[0].detail, "HTTP 500, expected 200");
    let info = r.response.unwrap();
    assert!(info
        .body_excerpt
        .as_ref()
        .unwrap()
        .contains("upstream failed"));
    assert!(
        info.header("set-cookie").is_none(),
        "cookies are never kept"
    );
}

#[tokio::test]
async fn rate_limited_response_keeps_its_headers_and_is_not_retried() {
    let s = start(None).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/status/429\"\nretries = 3\nretry_delay = \"0s\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.status, Some(429));
    assert_eq!(r.attempts, 1, "a 429 is never retried inside a probe");
    let info = r.response.unwrap();
    assert_eq!(info.header("retry-after"), Some("7"));
    assert_eq!(info.header("x-ratelimit-remaining"), Some("0"));
}

#[tokio::test]
async fn retries_are_used_for_down_results() {
    let s = start(None).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/status/503\"\nretries = 2\nretry_delay = \"10ms\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.attempts, 3);
    assert_eq!(r.health, Health::Down);
}

#[tokio::test]
async fn accepted_statuses_and_body_checks() {
    let s = start(None).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/status/404\"\nexpect_status = [404]",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/ok\"\nexpect_body_contains = \"models\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::BodyMismatch]);
    assert_eq!(r.health, Health::Down);
}

#[tokio::test]
async fn slow_response_is_degraded_too_slow() {
    let s = start(None).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/delay/120\"\nmax_latency = \"50ms\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Degraded);
    assert_eq!(kinds(&r), vec![FailureKind::TooSlow]);
    // The server waits 120 ms; under a loaded parallel run the probe may see more, never less.
    let measured: f64 = r.failures[0]
        .detail
        .strip_prefix("latency ")
        .and_then(|d| d.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", r.failures[0].detail));
    assert!(
        (120.0..2_000.0).contains(&measured),
        "{}",
        r.failures[0].detail
    );
    assert!(
        r.failures[0].detail.ends_with("> 50.0 ms"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn no_answer_times_out_in_ttfb() {
    let s = start_silent().await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/\"\ntimeout = \"300ms\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Timeout]);
    assert_eq!(r.failures[0].phase, Some(Phase::Ttfb));
    assert!(r.total >= Duration::from_millis(300));
    assert_phases_sum(&r);
}

#[tokio::test]
async fn body_that_never_finishes_times_out_in_transfer() {
    let s = start(None).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/slowbody/5000\"\ntimeout = \"300ms\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Timeout]);
    assert_eq!(r.failures[0].phase, Some(Phase::Transfer));
    assert_eq!(r.status, Some(200));
}

#[tokio::test]
async fn connection_closed_mid_response_is_io_in_transfer() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/cut\"", s.port()),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Io], "{:?}", r.failures);
    assert_eq!(r.failures[0].phase, Some(Phase::Transfer));
    assert!(
        r.failures[0].detail.starts_with("body cut off after"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn refused_connection_is_connect_refused() {
    let port = closed_port().await;
    let r = probe(&format!("url = \"http://127.0.0.1:{port}/\""), None).await;
    assert_eq!(kinds(&r), vec![FailureKind::ConnectRefused]);
    assert_eq!(r.health, Health::Down);
    assert_phases_sum(&r);
}

#[tokio::test]
async fn unanswered_syn_is_connect_timeout() {
    let b = full_backlog();
    let r = probe(
        &format!("url = \"http://{}/\"\ntimeout = \"300ms\"", b.addr),
        None,
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::ConnectTimeout],
        "{:?}",
        r.failures
    );
    assert_eq!(r.failures[0].phase, Some(Phase::Connect));
}

#[tokio::test]
async fn unresolvable_host_is_dns() {
    // Hermetic: `check` runs in a private network namespace (root, as in CI), where the
    // resolver cannot be reached at all, so no query leaves this machine. `.invalid` is
    // reserved (RFC 2606) and is in no hosts file.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        "[[target]]\nname = \"nowhere\"\nurl = \"http://upwatch-test.invalid/\"\ntimeout = \"3s\"\n",
    )
    .unwrap();
    let out = tokio::process::Command::new("unshare")
        .arg("-n")
        .arg(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .args(["check", "--format", "json"])
        .output()
        .await
        .expect("unshare (util-linux) runs the probe in a private network namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "needs root for unshare -n: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(r["failures"][0]["kind"], "dns", "{r}");
    assert!(
        r["failures"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("upwatch-test.invalid"),
        "{r}"
    );
}

#[tokio::test]
async fn https_valid_certificate_reports_facts_and_alpn() {
    let ca = TestCa::new("upwatch test CA");
    let leaf = ca.leaf(&["localhost"], -1, 90);
    let s = start(Some(&leaf)).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        Some(&ca),
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    assert_eq!(r.http_version, Some(HttpVersion::H2));
    let tls = r.tls.as_ref().unwrap();
    assert_eq!(tls.subject, "CN=localhost");
    assert!(tls.issuer.contains("CN=upwatch test CA"), "{}", tls.issuer);
    assert_eq!(tls.sans, vec!["localhost".to_string()]);
    assert!((88..=90).contains(&tls.days_left), "{}", tls.days_left);
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert!(r.phases.tls.is_some());
    assert_phases_sum(&r);
}

#[tokio::test]
async fn https_expired_certificate() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["localhost"], -30, -2))).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        Some(&ca),
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::TlsExpired], "{:?}", r.failures);
    assert!(
        r.failures[0].detail.contains("expired 2 days ago"),
        "{}",
        r.failures[0].detail
    );
    // The presented certificate's facts survive the failed handshake.
    assert_eq!(r.tls.as_ref().unwrap().days_left, -2);
    assert_eq!(r.failures[0].phase, Some(Phase::Tls));
}

#[tokio::test]
async fn https_not_yet_valid_certificate() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["localhost"], 2, 90))).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        Some(&ca),
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TlsNotYetValid],
        "{:?}",
        r.failures
    );
}

#[tokio::test]
async fn https_wrong_hostname() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["other.example"], -1, 90))).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        Some(&ca),
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TlsHostnameMismatch],
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0].detail.contains("other.example"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn https_unknown_issuer() {
    let trusted = TestCa::new("trusted CA");
    let rogue = TestCa::new("rogue CA");
    let s = start(Some(&rogue.leaf(&["localhost"], -1, 90))).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        Some(&trusted),
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TlsUnknownIssuer],
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0].detail.contains("rogue CA"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn https_self_signed_leaf_is_unknown_issuer() {
    let selfsigned = TestCa::new("localhost");
    let leaf = Leaf {
        chain: vec![selfsigned.cert.der().clone()],
        key: selfsigned.key.serialize_der(),
    };
    let s = start(Some(&leaf)).await;
    let r = probe(
        &format!("url = \"https://localhost:{}/ok\"", s.port()),
        None,
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TlsUnknownIssuer],
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0]
            .detail
            .starts_with("self-signed certificate (CN=localhost, O=upwatch tests) is not trusted"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn https_expiring_soon_is_degraded() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["localhost"], -80, 5))).await;
    let r = probe(
        &format!(
            "url = \"https://localhost:{}/ok\"\ntls_min_days = 14",
            s.port()
        ),
        Some(&ca),
    )
    .await;
    assert_eq!(r.health, Health::Degraded);
    assert_eq!(kinds(&r), vec![FailureKind::TlsExpiring]);
    assert!(
        r.failures[0]
            .detail
            .starts_with("certificate expires in 4 days"),
        "{}",
        r.failures[0].detail
    );
}

#[tokio::test]
async fn plain_http_to_a_tls_port_is_a_non_http_answer_not_a_panic() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["localhost"], -1, 90))).await;
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/ok\"\ntimeout = \"500ms\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Down);
    // The TLS server answers the plain request with a TLS alert: bytes that are not HTTP,
    // read where the response head was expected, and shown escaped.
    assert_eq!(kinds(&r), vec![FailureKind::Protocol], "{:?}", r.failures);
    assert_eq!(r.failures[0].phase, Some(Phase::Ttfb));
    assert!(
        r.failures[0]
            .detail
            .starts_with("not an HTTP response: \"\\x15\\x03"),
        "{}",
        r.failures[0].detail
    );
    assert_eq!(
        r.error_class,
        Some(upwatch::probe::provider::ErrorClass::Protocol)
    );
}

#[tokio::test]
async fn insecure_mode_accepts_a_bad_certificate_but_keeps_its_facts() {
    let rogue = TestCa::new("rogue CA");
    let s = start(Some(&rogue.leaf(&["other.example"], -30, -1))).await;
    let r = probe(
        &format!(
            "url = \"https://localhost:{}/ok\"\ntls_insecure = true",
            s.port()
        ),
        None,
    )
    .await;
    // Verification is off, but an expired certificate is still below tls_min_days.
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TlsExpiring],
        "{:?}",
        r.failures
    );
    assert_eq!(r.status, Some(200));
}

#[tokio::test]
async fn reused_connection_skips_connection_phases() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:{}/ok\"\nreuse_connection = true\n",
        s.port()
    );
    let cfg = config::parse(&dir.path().join("m.toml"), &text, &Env::from_pairs(&[])).unwrap();
    let mut prober = TargetProber::new(cfg.targets[0].clone(), None);
    let first = prober.probe().await;
    let second = prober.probe().await;
    assert!(!first.reused_connection && first.phases.connect.is_some());
    assert!(
        second.reused_connection,
        "second probe should reuse the connection"
    );
    assert_eq!(second.phases.connect, None);
    assert_eq!(second.health, Health::Up);
    assert_phases_sum(&second);
}

#[tokio::test]
async fn secrets_reach_the_server_but_no_output() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:{}/status/401?key=${{TOKEN}}\"\nbearer_token = \"${{TOKEN}}\"\n",
        s.port()
    );
    let env = Env::from_pairs(&[("TOKEN", "sk-very-secret")]);
    let cfg = config::parse(&dir.path().join("m.toml"), &text, &env).unwrap();
    let target = cfg.targets[0].clone();
    assert!(!format!("{target:?}").contains("sk-very-secret"));
    let mut prober = TargetProber::new(Arc::clone(&target), None);
    let r = prober.probe().await;
    let json = r.to_check_json().to_string();
    assert!(!json.contains("sk-very-secret"), "{json}");
    assert!(json.contains("key=***"), "{json}");
    assert!(!format!("{r:?}").contains("sk-very-secret"));

    // The server saw exactly the bearer token: /echo-auth answers with the header it got,
    // and the probe is up only when that is the expanded token.
    let echo = |token: &str| {
        format!(
            "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:{}/echo-auth\"\nbearer_token = \"{token}\"\nexpect_body_contains = \"auth=Bearer sk-very-secret\"\n",
            s.port()
        )
    };
    for (token, health) in [("${TOKEN}", Health::Up), ("sk-other", Health::Down)] {
        let cfg = config::parse(&dir.path().join("m.toml"), &echo(token), &env).unwrap();
        let r = TargetProber::new(cfg.targets[0].clone(), None)
            .probe()
            .await;
        assert_eq!(r.health, health, "{token}: {:?}", r.failures);
    }
}

#[tokio::test]
async fn provider_refusals_are_decoded_classified_and_traced() {
    let server = start(None).await;
    let port = server.port();
    // (case, class, provider message, request id)
    let cases = [
        ("invalid-key", "auth", "Unauthorized", Some("req-401")),
        ("no-credits", "billing", "Insufficient credits", Some("req-402")),
        (
            "inactive",
            "billing",
            "Account inactive or usage limit reached",
            Some("corr-403"),
        ),
        ("no-model", "not_found", "Invalid model: mistral-huge", Some("req-404")),
        (
            "bad-request",
            "validation",
            "body.max_tokens: Input should be greater than 0",
            None,
        ),
        ("rate-limited", "rate_limited", "Requests rate limit exceeded", Some("req-429")),
        (
            "grpc",
            "upstream",
            "upstream connect error or disconnect/reset before headers. reset reason: protocol error (grpc status 14)",
            Some("8f00aa-CDG"),
        ),
        ("overloaded", "upstream", "Service unavailable", Some("req-503")),
    ];
    for (case, class, message, request_id) in cases {
        let r = probe(
            &format!("url = \"http://127.0.0.1:{port}/llm/{case}\""),
            None,
        )
        .await;
        let j = r.to_check_json();
        assert_eq!(j["error_class"], class, "{case}");
        assert!(j["remedy"].as_str().unwrap().len() > 20, "{case}");
        assert_eq!(j["provider_error"]["message"], message, "{case}");
        assert_eq!(j["request_id"].as_str(), request_id, "{case}");
    }
    let r = probe(
        &format!("url = \"http://127.0.0.1:{port}/llm/rate-limited\""),
        None,
    )
    .await;
    let j = r.to_check_json();
    assert_eq!(j["ratelimit"]["limit"], 60.0);
    assert_eq!(j["ratelimit"]["remaining"], 0.0);
    assert_eq!(j["ratelimit"]["retry_after_s"], 30.0);
    assert_eq!(j["ratelimit"]["limits"][0]["kind"], "requests");
    assert!(j["ratelimit"]["reset_at"].is_string());
    assert_eq!(j["provider_error"]["type"], "rate_limited");
    // Transport failures are classed too, without a provider error.
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/\"", closed_port().await),
        None,
    )
    .await;
    let j = r.to_check_json();
    assert_eq!(j["error_class"], "network");
    assert!(j["provider_error"].is_null());
    let r = probe(&format!("url = \"http://127.0.0.1:{port}/ok\""), None).await;
    assert!(r.to_check_json()["error_class"].is_null());
}

/// A one-shot raw TCP server: answers the first connection with `reply`, then keeps
/// writing `then` until the peer goes away. Returns its port and the bytes it wrote.
async fn raw_server(
    reply: &'static [u8],
    then: Option<&'static [u8]>,
) -> (u16, tokio::task::JoinHandle<u64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let mut written = 0u64;
        if tcp.write_all(reply).await.is_ok() {
            written += reply.len() as u64;
            if let Some(chunk) = then {
                while tcp.write_all(chunk).await.is_ok() {
                    written += chunk.len() as u64;
                    if written > 3 << 30 {
                        break;
                    }
                }
            } else {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        written
    });
    (port, task)
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_protocol_with_its_first_bytes() {
    let (port, _server) = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n", None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{port}/\"\ntimeout = \"1s\""),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Protocol], "{:?}", r.failures);
    assert_eq!(
        r.failures[0].detail,
        "not an HTTP response: \"SSH-2.0-OpenSSH_9.6\\r\\n\""
    );
    // The host answered: the vendor's side, not this host's network.
    assert_eq!(
        upwatch::correlate::reach(&r.failures),
        upwatch::correlate::Reach::Answered
    );
}

#[tokio::test]
async fn a_body_announced_at_2_gb_is_read_only_to_max_body_size() {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let (port, server) = raw_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2000000000\r\n\r\n",
        Some(&CHUNK),
    )
    .await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{port}/\"\ntimeout = \"20s\"\nmax_body_size = \"1MiB\""),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    let resp = r.response.as_ref().unwrap();
    assert!(resp.truncated);
    assert_eq!(r.to_check_json()["body_truncated"], true);
    // The probe stops within one read of the bound (hyper reads at most 400 KiB at once)...
    assert!(
        resp.size > 1 << 20 && resp.size <= (1 << 20) + 400 * 1024,
        "read {} bytes",
        resp.size
    );
    // ...and the server, once the probe hung up, wrote no more than the bound plus what
    // the two sockets' buffers held.
    let written = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server sees the probe hang up")
        .unwrap();
    assert!(written < 16 << 20, "the server wrote {written} bytes");
}

#[tokio::test]
async fn a_redirect_is_followed_with_the_hop_recorded_and_timed() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/to/ok\"", s.port()),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    assert_eq!(r.status, Some(200));
    assert_eq!(
        r.redirects,
        vec![upwatch::probe::Hop {
            status: 302,
            location: format!("http://127.0.0.1:{}/ok", s.port()),
        }]
    );
    assert!(r.phases.redirect.is_some() && r.phases.connect.is_some());
    assert_phases_sum(&r);
    let json = r.to_check_json();
    assert_eq!(json["redirects"][0]["status"], 302);
    assert!(json["phases"]["redirect_ms"].as_f64().unwrap() > 0.0);

    // Four hops are within the default of five; seven are not.
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/chain/3\"", s.port()),
        None,
    )
    .await;
    assert_eq!((r.health, r.redirects.len()), (Health::Up, 4));
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/chain/7\"", s.port()),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::TooManyRedirects]);
    assert!(
        r.failures[0]
            .detail
            .starts_with("more than max_redirects = 5 redirects"),
        "{}",
        r.failures[0].detail
    );
    assert_eq!(
        r.error_class,
        Some(upwatch::probe::provider::ErrorClass::Redirect)
    );

    // Not following keeps the old behaviour: the 302 is judged, and read as a redirect.
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/to/ok\"\nfollow_redirects = false",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::HttpStatus]);
    assert_eq!(r.status, Some(302));
    assert_eq!(
        r.error_class,
        Some(upwatch::probe::provider::ErrorClass::Redirect)
    );
}

#[tokio::test]
async fn a_redirect_loop_is_too_many_redirects() {
    let s = start(None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{}/self\"", s.port()),
        None,
    )
    .await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::TooManyRedirects],
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0].detail.starts_with("redirect loop: "),
        "{}",
        r.failures[0].detail
    );
    assert_eq!(r.status, Some(302));
}

#[tokio::test]
async fn the_key_is_not_sent_to_another_origin() {
    let s = start(None).await;
    // Same origin: the key goes along.
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/to/echo-auth\"\nbearer_token = \"sk-test-1\"\nexpect_body_contains = \"auth=Bearer sk-test-1\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.health, Health::Up, "{:?}", r.failures);
    // Another origin: it does not (the echo has no "Bearer" in it).
    let r = probe(
        &format!(
            "url = \"http://127.0.0.1:{}/away\"\nbearer_token = \"sk-test-1\"\nexpect_body_contains = \"auth=Bearer\"",
            s.port()
        ),
        None,
    )
    .await;
    assert_eq!(r.redirects.len(), 1, "{:?}", r.failures);
    assert_eq!(
        kinds(&r),
        vec![FailureKind::BodyMismatch],
        "{:?}",
        r.failures
    );
}

#[tokio::test]
async fn an_https_to_http_redirect_is_refused_unless_allowed() {
    let ca = TestCa::new("upwatch test CA");
    let s = start(Some(&ca.leaf(&["127.0.0.1"], -1, 90))).await;
    let url = format!("url = \"https://127.0.0.1:{}/downgrade\"", s.port());
    let r = probe(&url, Some(&ca)).await;
    assert_eq!(
        kinds(&r),
        vec![FailureKind::RedirectRefused],
        "{:?}",
        r.failures
    );
    assert!(
        r.failures[0].detail.contains("allow_insecure_redirects"),
        "{}",
        r.failures[0].detail
    );
    // Allowed: followed to the plain-http port, where the TLS server does not speak HTTP.
    let r = probe(
        &format!("{url}\nallow_insecure_redirects = true"),
        Some(&ca),
    )
    .await;
    assert_eq!(r.redirects.len(), 1);
    assert_eq!(kinds(&r), vec![FailureKind::Protocol], "{:?}", r.failures);
}

#[tokio::test]
async fn a_bad_status_line_or_an_endless_head_is_protocol() {
    let (port, _server) = raw_server(b"HTTP/1.1 20 OK\r\ncontent-length: 0\r\n\r\n", None).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{port}/\"\ntimeout = \"2s\""),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Protocol], "{:?}", r.failures);
    assert!(
        r.failures[0].detail.contains("\"HTTP/1.1 20 OK\\r\\n"),
        "{}",
        r.failures[0].detail
    );

    static HEADER: [u8; 64 * 1024] = [b'a'; 64 * 1024];
    let (port, server) = raw_server(b"HTTP/1.1 200 OK\r\nx-endless: ", Some(&HEADER)).await;
    let r = probe(
        &format!("url = \"http://127.0.0.1:{port}/\"\ntimeout = \"5s\""),
        None,
    )
    .await;
    assert_eq!(kinds(&r), vec![FailureKind::Protocol], "{:?}", r.failures);
    assert!(
        r.failures[0]
            .detail
            .starts_with("the response head is over the size limit; it starts \"HTTP/1.1 200 OK"),
        "{}",
        r.failures[0].detail
    );
    let written = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(written < 16 << 20, "the server wrote {written} bytes");
}
