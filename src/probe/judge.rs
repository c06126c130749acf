//! Judging what a probe observed against the target's conditions: pure functions of the
//! target and the exchange (status, the kept body, whether it arrived whole, the total
//! time), so every rule is tested as a table without a server. The transport in `http`
//! only measures and reads.

use std::time::Duration;

use super::llm;
use super::provider;
use super::result::{
    ChatInfo, Failure, FailureKind, ProbeResult, ResponseInfo, TlsFacts, BODY_EXCERPT_CHARS,
};
use crate::config::Target;

/// A finished HTTP exchange, as the transport saw it.
pub struct Exchange<'a> {
    /// The response status.
    pub status: u16,
    /// The body as kept (at most `max_body_size` bytes).
    pub body: &'a [u8],
    /// Whether the body arrived without error (not cut off, not timed out).
    pub complete: bool,
    /// Whether reading stopped at `max_body_size` (`body` is then only its start).
    pub truncated: bool,
    /// Total time of the attempt.
    pub total: Duration,
}

/// `tls_expiring` when the leaf certificate has fewer than `tls_min_days` days left.
pub fn certificate(t: &Target, facts: &TlsFacts) -> Option<Failure> {
    (t.tls_min_days > 0 && facts.days_left < i64::from(t.tls_min_days)).then(|| {
        Failure::new(
            FailureKind::TlsExpiring,
            format!(
                "certificate expires in {} days ({}), under tls_min_days = {}",
                facts.days_left,
                facts.not_after.format("%Y-%m-%d"),
                t.tls_min_days
            ),
        )
    })
}

/// Every failed condition of a response. An unexpected answer's body excerpt and the
/// provider's decoded error go into `info`; what the LLM checks read (the model catalog)
/// and a chat probe's stream go into `result`.
pub fn response(
    t: &Target,
    ex: &Exchange<'_>,
    info: &mut ResponseInfo,
    result: &mut ProbeResult,
    chat: Option<ChatInfo>,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    let status_ok = t.expect_status.contains(&ex.status);
    if !status_ok || !ex.complete {
        let text = String::from_utf8_lossy(ex.body);
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        if !excerpt.trim().is_empty() {
            info.body_excerpt = Some(t.redactor.redact(&excerpt));
        }
        info.provider_error = provider::decode_error(ex.body).map(|mut e| {
            // Some gateways echo the request (and so the key) in their error text.
            e.message = e.message.map(|m| t.redactor.redact(&m));
            e
        });
    }
    // A 429 is the provider answering "not now", not an outage, unless it is about
    // credits or quota (then it is billing, and down).
    let rate_limited =
        !status_ok && ex.status == 429 && !provider::mentions_billing(info.provider_error.as_ref());
    if rate_limited {
        let wait = info
            .ratelimit
            .retry_after_s
            .map(|s| format!(" (retry after {s} s)"))
            .unwrap_or_default();
        failures.push(Failure::new(
            FailureKind::RateLimited,
            format!("HTTP 429: the provider is rate-limiting this key{wait}"),
        ));
    } else if !status_ok {
        let expected = t
            .expect_status
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        failures.push(Failure::http_status(ex.status, &expected));
    }
    // What needs the whole body cannot be judged on its start: it fails as too large.
    let too_large = |what: &str| {
        Failure::new(
            FailureKind::BodyTooLarge,
            format!(
                "the body is longer than max_body_size ({} bytes) and {what} needs all of it; raise max_body_size",
                t.max_body_size
            ),
        )
    };
    if status_ok && ex.complete {
        if ex.truncated && t.llm.reads_catalog() {
            failures.push(too_large("the model catalog"));
        } else {
            failures.extend(llm::judge_response(t, ex.body, info.size, info, result));
        }
    }
    if let Some(mut chat) = chat {
        chat.stream.finish();
        if ex.truncated {
            failures.push(too_large("the chat stream"));
        } else if ex.complete {
            failures.extend(llm::judge_stream(t, &chat, info));
        }
        result.chat = Some(chat);
    }
    if let (Some(needle), true) = (&t.expect_body_contains, ex.complete) {
        if contains(ex.body, needle.as_bytes()) {
            // Found in what was read: a longer body cannot undo that.
        } else if ex.truncated {
            failures.push(too_large(&format!(
                "expect_body_contains ({needle:?}, not in the first {} bytes)",
                ex.body.len()
            )));
        } else {
            failures.push(Failure::new(
                FailureKind::BodyMismatch,
                format!("body does not contain {needle:?}"),
            ));
        }
    }
    if ex.complete && !t.assertions.is_empty() {
        let answer = super::assert::Answer {
            status: ex.status,
            headers: &info.headers,
            body: ex.body,
            truncated: ex.truncated,
            latency: ex.total,
        };
        failures.extend(super::assert::judge(&t.assertions, &answer, |s| {
            t.redactor.redact(s)
        }));
    }
    if let Some(limit) = t.max_latency {
        if ex.total > limit && ex.complete {
            failures.push(Failure::new(
                FailureKind::TooSlow,
                format!("latency {} > {}", secs(ex.total), secs(limit)),
            ));
        }
    }
    failures
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `4.213 s` / `850 ms`: the precision an engineer reads at a glance.
fn secs(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.3} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Env};
    use chrono::Utc;
    use std::path::Path;
    use std::sync::Arc;

    fn target(keys: &str) -> Arc<Target> {
        let text =
            format!("[[target]]\nname = \"t\"\nurl = \"https://api.example.com/v1\"\n{keys}");
        let c = config::parse(Path::new("m.toml"), &text, &Env::from_pairs(&[]))
            .unwrap_or_else(|e| panic!("{e}"));
        c.targets[0].clone()
    }

    /// (target keys, status, body, complete, total ms, retry-after) → failure kinds.
    #[test]
    fn every_rule_as_a_table() {
        let credits = br#"{"error":{"message":"You exceeded your current quota, check your plan and billing"}}"#;
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, u16, &[u8], bool, u64, &[FailureKind])] = &[
            ("", 200, b"ok", true, 10, &[]),
            ("", 503, b"down", true, 10, &[FailureKind::HttpStatus]),
            ("expect_status = [200, 204]", 204, b"", true, 10, &[]),
            ("", 429, b"slow down", true, 10, &[FailureKind::RateLimited]),
            ("", 429, credits, true, 10, &[FailureKind::HttpStatus]),
            ("", 200, b"ok", true, 3_500, &[FailureKind::TooSlow]),
            ("max_latency = \"0s\"", 200, b"ok", true, 3_500, &[]),
            // A cut body is the transport's failure: neither slow nor a mismatch on top.
            (
                "expect_body_contains = \"data\"",
                200,
                b"d",
                false,
                3_500,
                &[],
            ),
            (
                "expect_body_contains = \"data\"",
                200,
                b"{\"data\":[]}",
                true,
                10,
                &[],
            ),
            (
                "expect_body_contains = \"data\"",
                200,
                b"{}",
                true,
                10,
                &[FailureKind::BodyMismatch],
            ),
            // A wrong status and a missing text are both reported.
            (
                "expect_body_contains = \"data\"",
                500,
                b"{}",
                true,
                10,
                &[FailureKind::HttpStatus, FailureKind::BodyMismatch],
            ),
        ];
        for (keys, status, body, complete, ms, want) in cases {
            let t = target(keys);
            let mut result =
                ProbeResult::started(t.name.clone(), t.display_url.clone(), Utc::now());
            let mut info = ResponseInfo {
                size: body.len() as u64,
                ..ResponseInfo::default()
            };
            let ex = Exchange {
                status: *status,
                body,
                complete: *complete,
                truncated: false,
                total: Duration::from_millis(*ms),
            };
            let kinds: Vec<FailureKind> = response(&t, &ex, &mut info, &mut result, None)
                .iter()
                .map(|f| f.kind)
                .collect();
            assert_eq!(
                &kinds,
                want,
                "{keys:?} HTTP {status} {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_body_cut_at_max_body_size_fails_only_what_needs_all_of_it() {
        let cases: &[(&str, &[u8], &[FailureKind])] = &[
            ("", b"{\"data\":[", &[]),
            ("expect_body_contains = \"data\"", b"{\"data\":[", &[]),
            (
                "expect_body_contains = \"codestral\"",
                b"{\"data\":[",
                &[FailureKind::BodyTooLarge],
            ),
            (
                "expect_models = [\"codestral-latest\"]",
                b"{\"data\":[",
                &[FailureKind::BodyTooLarge],
            ),
        ];
        for (keys, body, want) in cases {
            let t = target(keys);
            let mut result =
                ProbeResult::started(t.name.clone(), t.display_url.clone(), Utc::now());
            let mut info = ResponseInfo::default();
            let ex = Exchange {
                status: 200,
                body,
                complete: true,
                truncated: true,
                total: Duration::from_millis(5),
            };
            let failures = response(&t, &ex, &mut info, &mut result, None);
            let kinds: Vec<FailureKind> = failures.iter().map(|f| f.kind).collect();
            assert_eq!(&kinds, want, "{keys:?}");
            if let Some(f) = failures.first() {
                assert!(f.detail.contains("raise max_body_size"), "{}", f.detail);
            }
        }
    }

    #[test]
    fn an_unexpected_answer_keeps_a_redacted_excerpt_and_the_providers_words() {
        let t = target("bearer_token = \"sk-secret-1\"");
        let mut result = ProbeResult::started(t.name.clone(), t.display_url.clone(), Utc::now());
        let mut info = ResponseInfo::default();
        let body = br#"{"error":{"message":"bad key sk-secret-1","type":"auth"}}"#;
        let ex = Exchange {
            status: 401,
            body,
            complete: true,
            truncated: false,
            total: Duration::from_millis(5),
        };
        let failures = response(&t, &ex, &mut info, &mut result, None);
        assert_eq!(failures[0].detail, "HTTP 401, expected 200");
        let excerpt = info.body_excerpt.unwrap();
        assert!(!excerpt.contains("sk-secret-1"), "{excerpt}");
        let message = info.provider_error.unwrap().message.unwrap();
        assert!(
            message.starts_with("bad key") && !message.contains("sk-secret-1"),
            "{message}"
        );
        // An expected answer keeps neither.
        let mut info = ResponseInfo::default();
        let ex = Exchange { status: 200, ..ex };
        let _ = response(&t, &ex, &mut info, &mut result, None);
        assert_eq!((info.body_excerpt, info.provider_error), (None, None));
    }

    #[test]
    fn certificates_warn_under_tls_min_days() {
        let now = Utc::now();
        let facts = |days: i64| TlsFacts {
            subject: "CN=a".into(),
            issuer: "CN=b".into(),
            sans: vec![],
            not_before: now,
            not_after: now + chrono::Duration::days(days),
            days_left: days,
            version: None,
        };
        let t = target("");
        assert_eq!(
            certificate(&t, &facts(13)).map(|f| f.kind),
            Some(FailureKind::TlsExpiring)
        );
        assert_eq!(certificate(&t, &facts(14)), None);
        assert_eq!(certificate(&target("tls_min_days = 0"), &facts(1)), None);
    }

    #[test]
    fn latency_text_reads_naturally() {
        assert_eq!(secs(Duration::from_millis(4213)), "4.213 s");
        assert_eq!(secs(Duration::from_micros(850_400)), "850.4 ms");
    }

    #[test]
    fn substring_search_on_bytes() {
        assert!(contains(b"{\"data\":[]}", b"data"));
        assert!(!contains(b"abc", b"abcd"));
        assert!(contains(b"abc", b""));
    }
}
