//! How a result's detail (the `check` JSON plus kept headers) is stored compactly.
//!
//! Consecutive results of one target repeat most of their detail: URL, status, TLS facts,
//! the model catalog, the vendor's word, most headers. Only timings, request ids and a few
//! headers change from one probe to the next. So the detail is split in two:
//! - the *shared* part, everything that usually repeats, stored once in `detail_base` and
//!   referenced by every result that has the same one;
//! - the result's *own* part, stored in its row.
//!
//! The shared part keeps the own keys in place as `null`, so joining restores the original
//! key order by filling them in. The own part leaves out nulls: a key it lacks is `null`.
//! The split is only a storage layout: whatever lands in either part, join gives back
//! exactly the detail that was split (a key guessed wrongly as shared costs space, never
//! data).

use serde_json::{Map, Value};

/// Top-level keys that change from probe to probe. Failures are here because their
/// details quote measured values ("latency 3.412 s > 3.000 s").
const OWN_KEYS: &[&str] = &[
    "checked_at",
    "latency_ms",
    "phases",
    "failures",
    "size_bytes",
    "attempts",
    "reused_connection",
    "ttft_ms",
    "stream",
    "request_id",
    "request_ids",
    "ratelimit",
];

/// Response headers known to change on every response.
const OWN_HEADERS: &[&str] = &[
    "date",
    "age",
    "expires",
    "last-modified",
    "etag",
    "content-length",
    "retry-after",
    "cf-ray",
    "set-cookie",
    "server-timing",
    "x-cache",
    "x-served-by",
    "x-timer",
];

/// Substrings of header names whose values are per response (ids, limits, timings).
const OWN_HEADER_PARTS: &[&str] = &[
    "request-id",
    "requestid",
    "trace",
    "ratelimit",
    "rate-limit",
    "latency",
    "upstream-service-time",
    "correlation",
];

fn header_is_own(name: &str, request_id_names: &Map<String, Value>) -> bool {
    let name = name.to_ascii_lowercase();
    OWN_HEADERS.contains(&name.as_str())
        || OWN_HEADER_PARTS.iter().any(|p| name.contains(p))
        || request_id_names.contains_key(&name)
}

/// The two stored parts of one detail, serialised.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// What usually repeats between results of one target (stored once per distinct value).
    pub shared: String,
    /// What is this result's own.
    pub own: String,
}

/// Splits a detail object; anything else is kept whole as the own part of an empty shared
/// object (join gives it back unchanged).
pub fn split(detail: Value) -> Split {
    let Value::Object(mut shared) = detail else {
        return Split {
            shared: "{}".into(),
            own: detail.to_string(),
        };
    };
    let mut own = Map::new();
    for key in OWN_KEYS {
        if let Some(v) = shared.get_mut(*key) {
            let v = v.take();
            if !v.is_null() {
                own.insert((*key).to_string(), v);
            }
        }
    }
    let ids = match own.get("request_ids") {
        Some(Value::Object(ids)) => ids.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(headers)) = shared.get_mut("headers") {
        let mut own_headers = Map::new();
        for (name, v) in headers.iter_mut() {
            // Only strings are moved, so the null left behind marks a moved value.
            if v.is_string() && header_is_own(name, &ids) {
                own_headers.insert(name.clone(), v.take());
            }
        }
        if !own_headers.is_empty() {
            own.insert("headers".into(), own_headers.into());
        }
    }
    Split {
        shared: Value::Object(shared).to_string(),
        own: Value::Object(own).to_string(),
    }
}

/// The detail that was split into `shared` and `own`.
pub fn join(shared: &str, own: &str) -> Result<Value, serde_json::Error> {
    let shared: Value = serde_json::from_str(shared)?;
    let own: Value = serde_json::from_str(own)?;
    match (shared, own) {
        (Value::Object(mut base), Value::Object(own)) => {
            for (key, v) in own {
                match (base.get_mut(&key), v) {
                    (Some(Value::Object(headers)), Value::Object(own_headers))
                        if key == "headers" =>
                    {
                        headers.extend(own_headers);
                    }
                    (_, v) => {
                        base.insert(key, v);
                    }
                }
            }
            Ok(Value::Object(base))
        }
        // Not a split object (see `split`): the own part is the whole detail.
        (_, own) => Ok(own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roundtrip(v: Value) -> Split {
        let parts = split(v.clone());
        let back = join(&parts.shared, &parts.own).unwrap();
        assert_eq!(back, v);
        // Equal maps may differ in order; the stored form must not.
        assert_eq!(back.to_string(), v.to_string());
        parts
    }

    #[test]
    fn a_detail_comes_back_whole_and_in_order() {
        let v = json!({
            "target": "api", "url": "https://api.example.com/v1/models", "ok": true,
            "health": "up", "status": 200, "latency_ms": 84.2,
            "phases": {"dns_ms": 1.0, "connect_ms": 2.0, "tls_ms": null},
            "tls": {"subject": "CN=api.example.com", "days_left": 58},
            "failures": [], "checked_at": "2026-11-23T10:00:00.000Z",
            "size_bytes": 1234, "ttft_ms": null, "request_id": "abc",
            "request_ids": {"x-kong-request-id": "abc"},
            "models": ["m-large", "m-small"],
            "headers": {"content-type": "application/json", "date": "Mon, 23 Nov 2026",
                        "x-kong-request-id": "abc", "x-ratelimit-remaining-req-minute": "59",
                        "server": "cloudflare", "cf-ray": "8e1"},
        });
        let parts = roundtrip(v);
        let shared: Value = serde_json::from_str(&parts.shared).unwrap();
        let own: Value = serde_json::from_str(&parts.own).unwrap();
        // What repeats is in the shared part, what changes in the own part.
        assert_eq!(shared["models"], json!(["m-large", "m-small"]));
        assert_eq!(shared["headers"]["server"], "cloudflare");
        assert_eq!(shared["latency_ms"], Value::Null);
        assert_eq!(shared["headers"]["date"], Value::Null);
        assert_eq!(own["latency_ms"], 84.2);
        assert_eq!(own["headers"]["x-kong-request-id"], "abc");
        assert_eq!(own["headers"]["x-ratelimit-remaining-req-minute"], "59");
        assert!(own.get("ttft_ms").is_none(), "nulls are left out: {own}");
        assert!(own.get("models").is_none());
    }

    #[test]
    fn results_that_differ_only_in_timings_share_their_part() {
        let a = json!({"target": "api", "status": 200, "latency_ms": 80.0,
                       "checked_at": "2026-11-23T10:00:00.000Z",
                       "headers": {"date": "a", "server": "x"}});
        let b = json!({"target": "api", "status": 200, "latency_ms": 95.5,
                       "checked_at": "2026-11-23T10:01:00.000Z",
                       "headers": {"date": "b", "server": "x"}});
        assert_eq!(roundtrip(a).shared, roundtrip(b).shared);
    }

    #[test]
    fn odd_details_still_come_back() {
        roundtrip(json!([1, 2]));
        roundtrip(json!({}));
        roundtrip(json!({"headers": {"date": null, "x-request-id": 5}}));
        roundtrip(json!({"headers": "not an object", "phases": 3}));
        roundtrip(json!({"failures": null, "status": null}));
    }
}
