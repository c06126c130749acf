//! What an LLM provider said when it refused a request: the error body decoded from any of
//! the shapes providers use, the request ids a support ticket needs, and the error class
//! (with a one-line remedy) that tells "your key or account" apart from "the vendor".
//!
//! Everything here reads outside input: it never panics, reads at most [`MAX_BODY`] bytes
//! and keeps at most [`MAX_MESSAGE_CHARS`] characters of any text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Failure, FailureKind};

/// Most bytes of a body the decoder looks at.
pub const MAX_BODY: usize = 1 << 20;
/// Most characters kept of a message, type or code.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// The error a provider reported in its response body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProviderError {
    /// Error type, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Error code, e.g. `model_not_found` or `1000`.
    pub code: Option<String>,
    /// The human message.
    pub message: Option<String>,
}

fn cap(s: &str) -> String {
    s.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// A JSON scalar as text (codes are strings for some providers, numbers for others).
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(cap(s.trim())),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// FastAPI-style `detail`: a string, or a list of `{msg, loc, type}` objects.
fn detail_message(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(cap(s)),
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .take(5)
                .filter_map(|i| match i {
                    Value::Object(o) => {
                        let msg = o.get("msg").and_then(Value::as_str)?;
                        let loc = o
                            .get("loc")
                            .and_then(Value::as_array)
                            .map(|l| {
                                l.iter()
                                    .map(|p| match p {
                                        Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .filter(|l| !l.is_empty());
                        Some(match loc {
                            Some(l) => format!("{l}: {msg}"),
                            None => msg.to_string(),
                        })
                    }
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| cap(&parts.join("; ")))
        }
        Value::Object(o) => text(o.get("message")).or_else(|| text(o.get("msg"))),
        _ => None,
    }
}

/// Decodes a provider's error body. Understands `{message, type, code}` (Mistral),
/// `{error: {message, type, code}}` (OpenAI-style gateways), `{error: "...", code}`,
/// `{object: "error", message, type}`, `{detail: ...}` (FastAPI) and plain text. Returns
/// `None` for an empty body or JSON that carries no error fields.
pub fn decode_error(body: &[u8]) -> Option<ProviderError> {
    let body = &body[..body.len().min(MAX_BODY)];
    let text_body = String::from_utf8_lossy(body);
    let trimmed = text_body.trim();
    if trimmed.is_empty() {
        return None;
    }
    let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
        // Plain text (or HTML from a proxy): keep its first line as the message.
        let first = trimmed.lines().next().unwrap_or("").trim();
        return Some(ProviderError {
            message: Some(cap(first)),
            ..ProviderError::default()
        });
    };
    let obj = v.as_object()?;
    let mut e = ProviderError::default();
    match obj.get("error") {
        Some(Value::Object(inner)) => {
            e.kind = text(inner.get("type"));
            e.code = text(inner.get("code")).or_else(|| text(inner.get("status")));
            e.message = text(inner.get("message"));
        }
        Some(Value::String(s)) => e.message = Some(cap(s)),
        _ => {}
    }
    e.kind = e.kind.or_else(|| text(obj.get("type")));
    e.code = e.code.or_else(|| text(obj.get("code")));
    e.message = e
        .message
        .or_else(|| text(obj.get("message")))
        .or_else(|| obj.get("detail").and_then(detail_message))
        .or_else(|| text(obj.get("msg")));
    (e != ProviderError::default()).then_some(e)
}

/// Which side of a failure is most likely at fault, and so what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 401: the key was rejected.
    Auth,
    /// 402, or a 403/429 about credits, quota or an inactive account.
    Billing,
    /// 403: the key may not use this model or address.
    Permission,
    /// 404: model or path unknown.
    NotFound,
    /// 400/422 and other 4xx: the request itself was refused.
    Validation,
    /// 429: too many requests.
    RateLimited,
    /// 5xx: the provider or its gateway failed.
    Upstream,
    /// DNS, connect or connection errors.
    Network,
    /// The TLS handshake or certificate failed.
    Tls,
    /// No answer in time.
    Timeout,
    /// This machine's own resources ran out (file descriptors, memory, local ports).
    Local,
    /// The endpoint redirects: an unexpected 3xx, a loop, too many hops, or a refused one.
    Redirect,
    /// The answer was not HTTP.
    Protocol,
}

impl ErrorClass {
    /// The name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Auth => "auth",
            ErrorClass::Billing => "billing",
            ErrorClass::Permission => "permission",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Validation => "validation",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Upstream => "upstream",
            ErrorClass::Network => "network",
            ErrorClass::Tls => "tls",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Local => "local",
            ErrorClass::Redirect => "redirect",
            ErrorClass::Protocol => "protocol",
        }
    }

    /// One line saying what to do.
    pub fn remedy(self) -> &'static str {
        match self {
            ErrorClass::Auth => "the key was rejected; check the bearer token (e.g. MISTRAL_API_KEY): it may be missing, revoked or from another workspace",
            ErrorClass::Billing => "credits exhausted or subscription inactive; check the provider console's billing page",
            ErrorClass::Permission => "the key may not use this model or endpoint, or requests from this address are blocked; check the key's scope and IP allow-list",
            ErrorClass::NotFound => "the model or path does not exist (any more); check the URL and model name against the provider's catalogue",
            ErrorClass::Validation => "the provider refused the request as malformed; check the probe's body, headers and parameters",
            ErrorClass::RateLimited => "the provider is rate-limiting this key; every client of the key shares the limit, so wait for the reset or Retry-After and check who else uses the key",
            ErrorClass::Upstream => "the provider (or its gateway) failed; check the vendor's status page, it is not your key",
            ErrorClass::Network => "this host could not reach the provider (DNS or connection); check this host's network, DNS and proxy",
            ErrorClass::Tls => "the TLS handshake or certificate failed; check for an intercepting proxy or a certificate problem",
            ErrorClass::Timeout => "no answer in time; the provider may be overloaded, or this host's network is slow",
            ErrorClass::Redirect => "the endpoint redirects elsewhere; point url at the final address, or let upwatch follow it (follow_redirects, max_redirects); a loop or a redirect to plain http is the provider's setup",
            ErrorClass::Protocol => "the server did not answer in HTTP; check the URL's scheme and port (http to a TLS port, or another service on it), or a broken gateway on the provider's side",
            ErrorClass::Local => "this machine could not open the connection (out of file descriptors, memory or local ports); raise its limits (LimitNOFILE, ulimit -n) or find what holds them: not the provider's fault",
        }
    }
}

/// Words that mark a 403 or 429 as a billing problem rather than permission or rate.
const BILLING_WORDS: &[&str] = &[
    "usage limit",
    "account inactive",
    "inactive",
    "credit",
    "quota",
    "billing",
    "payment",
    "subscription",
    "insufficient_funds",
];

/// Whether a decoded error is about credits, quota or an inactive account.
pub fn mentions_billing(e: Option<&ProviderError>) -> bool {
    let Some(e) = e else { return false };
    [&e.message, &e.code, &e.kind]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .any(|s| BILLING_WORDS.iter().any(|w| s.contains(w)))
}

/// The class of a failed probe, from its failures, status and decoded error. `None` when
/// nothing failed, or only degrade-level conditions did (a 429, degrade-level, has one).
pub fn classify(
    status: Option<u16>,
    failures: &[Failure],
    provider: Option<&ProviderError>,
) -> Option<ErrorClass> {
    for f in failures {
        let class = match f.kind {
            FailureKind::Dns
            | FailureKind::ConnectRefused
            | FailureKind::ConnectTimeout
            | FailureKind::NoRoute => ErrorClass::Network,
            FailureKind::LocalResource => ErrorClass::Local,
            FailureKind::TlsExpired
            | FailureKind::TlsNotYetValid
            | FailureKind::TlsUnknownIssuer
            | FailureKind::TlsHostnameMismatch
            | FailureKind::TlsHandshake => ErrorClass::Tls,
            FailureKind::Timeout => ErrorClass::Timeout,
            FailureKind::Io if status.is_none() => ErrorClass::Network,
            FailureKind::RateLimited => ErrorClass::RateLimited,
            FailureKind::ModelMissing => ErrorClass::NotFound,
            FailureKind::StreamIncomplete => ErrorClass::Upstream,
            FailureKind::TooManyRedirects | FailureKind::RedirectRefused => ErrorClass::Redirect,
            FailureKind::Protocol => ErrorClass::Protocol,
            _ => continue,
        };
        return Some(class);
    }
    if !failures.iter().any(|f| f.kind == FailureKind::HttpStatus) {
        return None;
    }
    let status = status?;
    Some(match status {
        401 => ErrorClass::Auth,
        402 => ErrorClass::Billing,
        403 if mentions_billing(provider) => ErrorClass::Billing,
        403 => ErrorClass::Permission,
        404 => ErrorClass::NotFound,
        429 if mentions_billing(provider) => ErrorClass::Billing,
        429 => ErrorClass::RateLimited,
        500..=599 => ErrorClass::Upstream,
        400..=499 => ErrorClass::Validation,
        300..=399 => ErrorClass::Redirect,
        // 1xx-2xx that were not expected: the endpoint answered, but not as configured.
        _ => ErrorClass::Validation,
    })
}

/// Response headers that identify a request to the provider's support.
pub const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-tt-request-id",
    "mistral-correlation-id",
    "x-amzn-requestid",
    "cf-ray",
];

/// The request ids present in `headers` (lower-case names), in the order of
/// [`REQUEST_ID_HEADERS`] then `extra`.
pub fn request_ids(headers: &[(String, String)], extra: &[String]) -> Vec<(String, String)> {
    REQUEST_ID_HEADERS
        .iter()
        .map(|h| h.to_string())
        .chain(extra.iter().map(|h| h.to_ascii_lowercase()))
        .filter_map(|name| {
            headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (name, cap(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(kind: Option<&str>, code: Option<&str>, message: Option<&str>) -> ProviderError {
        ProviderError {
            kind: kind.map(String::from),
            code: code.map(String::from),
            message: message.map(String::from),
        }
    }

    #[test]
    fn decodes_every_shape_providers_use() {
        let cases: &[(&str, ProviderError)] = &[
            // Mistral: flat object.
            (
                r#"{"object":"error","message":"Unauthorized","type":"invalid_request_error","param":null,"code":"1000"}"#,
                pe(
                    Some("invalid_request_error"),
                    Some("1000"),
                    Some("Unauthorized"),
                ),
            ),
            // OpenAI-style gateways: nested.
            (
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
                pe(
                    Some("invalid_request_error"),
                    Some("invalid_api_key"),
                    Some("Incorrect API key provided"),
                ),
            ),
            // Error as a string with a sibling code.
            (
                r#"{"error":"Account inactive or usage limit reached","code":"3505"}"#,
                pe(
                    None,
                    Some("3505"),
                    Some("Account inactive or usage limit reached"),
                ),
            ),
            // Numeric code and status inside the error (Google-style).
            (
                r#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#,
                pe(None, Some("503"), Some("The model is overloaded.")),
            ),
            // FastAPI detail, string and list.
            (
                r#"{"detail":"Not Found"}"#,
                pe(None, None, Some("Not Found")),
            ),
            (
                r#"{"detail":[{"loc":["body","max_tokens"],"msg":"Input should be greater than 0","type":"greater_than"}]}"#,
                pe(
                    None,
                    None,
                    Some("body.max_tokens: Input should be greater than 0"),
                ),
            ),
            // Plain text from a proxy.
            (
                "upstream connect error or disconnect/reset before headers\n<html>",
                pe(
                    None,
                    None,
                    Some("upstream connect error or disconnect/reset before headers"),
                ),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(decode_error(body.as_bytes()).as_ref(), Some(want), "{body}");
        }
        assert_eq!(decode_error(b""), None);
        assert_eq!(decode_error(b"  \n"), None);
        assert_eq!(decode_error(br#"{"data":[]}"#), None);
        assert_eq!(decode_error(b"[1,2,3]"), None);
    }

    #[test]
    fn long_messages_are_capped() {
        let long = "x".repeat(5000);
        let body = format!(r#"{{"message":"{long}"}}"#);
        let e = decode_error(body.as_bytes()).unwrap();
        assert_eq!(e.message.unwrap().chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces: [&[u8]; 8] = [
            b"{\"error\":",
            b"{\"detail\":[",
            b"\"message\"",
            b"\xff\xfe",
            b"}",
            b"]",
            b"null",
            b"{\"code\":1e999}",
        ];
        for _ in 0..5000 {
            let mut body = Vec::new();
            for _ in 0..rng.usize(0..8) {
                if rng.bool() {
                    body.extend_from_slice(pieces[rng.usize(0..pieces.len())]);
                } else {
                    body.extend((0..rng.usize(0..16)).map(|_| rng.u8(..)));
                }
            }
            let _ = decode_error(&body);
        }
    }

    fn status_failure() -> Vec<Failure> {
        vec![Failure::new(FailureKind::HttpStatus, "HTTP x")]
    }

    #[test]
    fn classes_follow_status_and_message() {
        let f = status_failure();
        let billing = pe(None, None, Some("Account inactive or usage limit reached"));
        let quota = pe(
            Some("insufficient_quota"),
            None,
            Some("You exceeded your current quota"),
        );
        let denied = pe(
            None,
            Some("model_not_allowed"),
            Some("no access to this model"),
        );
        let cases = [
            (401, None, ErrorClass::Auth),
            (402, None, ErrorClass::Billing),
            (403, Some(&billing), ErrorClass::Billing),
            (403, Some(&denied), ErrorClass::Permission),
            (404, None, ErrorClass::NotFound),
            (400, None, ErrorClass::Validation),
            (422, None, ErrorClass::Validation),
            (429, None, ErrorClass::RateLimited),
            (429, Some(&quota), ErrorClass::Billing),
            (500, None, ErrorClass::Upstream),
            (502, None, ErrorClass::Upstream),
            (503, None, ErrorClass::Upstream),
            (504, None, ErrorClass::Upstream),
        ];
        for (status, provider, want) in cases {
            assert_eq!(classify(Some(status), &f, provider), Some(want), "{status}");
        }
        assert_eq!(classify(Some(200), &[], None), None);
        let slow = [Failure::new(FailureKind::TooSlow, "slow")];
        assert_eq!(classify(Some(200), &slow, None), None);
        for (kind, want) in [
            (FailureKind::Dns, ErrorClass::Network),
            (FailureKind::ConnectRefused, ErrorClass::Network),
            (FailureKind::TlsExpired, ErrorClass::Tls),
            (FailureKind::Timeout, ErrorClass::Timeout),
        ] {
            assert_eq!(classify(None, &[Failure::new(kind, "x")], None), Some(want));
        }
    }

    #[test]
    fn request_ids_in_a_stable_order() {
        let headers = vec![
            ("cf-ray".to_string(), "8f1-CDG".to_string()),
            ("x-request-id".to_string(), "req_123".to_string()),
            ("x-custom-trace".to_string(), "abc".to_string()),
        ];
        assert_eq!(
            request_ids(&headers, &["X-Custom-Trace".to_string()]),
            vec![
                ("x-request-id".to_string(), "req_123".to_string()),
                ("cf-ray".to_string(), "8f1-CDG".to_string()),
                ("x-custom-trace".to_string(), "abc".to_string()),
            ]
        );
    }
}
