//! Generic JSON webhook: a stable, versioned body, optionally signed so receivers can verify
//! origin and reject replays: our own HMAC-SHA256 over `"<timestamp>.<body>"` (headers
//! `X-Upwatch-Signature: sha256=<hex>` and `X-Upwatch-Timestamp`), or the Standard
//! Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`), which receiver
//! libraries in many languages verify.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{deliver, Notification, SendError};
use crate::config::{ChannelConfig, ChannelKind};

/// Sends notifications to one webhook channel.
pub struct WebhookNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    pub(crate) http: reqwest::Client,
}

/// The webhook body (schema version 1, documented in the README).
pub fn payload(n: &Notification) -> Value {
    let mut v = json!({
        "version": 1,
        "id": n.id,
        "status": n.status(),
        "reminder": n.kind == crate::alert::TransitionKind::Reminder,
        "test": n.test,
        "severity": n.severity,
        "target": n.target,
        "url": n.url,
        "conditions": n.conditions.iter().map(|c| json!({"kind": c.kind, "detail": c.detail})).collect::<Vec<_>>(),
        "started_at": crate::fmt::rfc3339(&n.started_at),
        "resolved_at": n.resolved_at.as_ref().map(crate::fmt::rfc3339),
        "location": n.location,
        "last_result": n.last_result,
    });
    // Added in version 1 without a bump: present only when there is a vendor word.
    if let (Some(vendor), Some(map)) = (&n.vendor, v.as_object_mut()) {
        map.insert("vendor".into(), Value::from(vendor.as_str()));
    }
    // Likewise: the targets that depend on this one and fail with it.
    if let (false, Some(map)) = (n.also_failing.is_empty(), v.as_object_mut()) {
        map.insert("also_failing".into(), json!(n.also_failing));
    }
    // Likewise: the vendor incident's id, for its announcements.
    if let (Some(id), Some(map)) = (&n.incident, v.as_object_mut()) {
        map.insert("incident".into(), Value::from(id.as_str()));
    }
    v
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + bytes.len() * 2);
    hex.push_str("sha256=");
    for b in bytes {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// The Standard Webhooks `webhook-signature` value: `v1,<base64 HMAC-SHA256>` of
/// `"<id>.<timestamp>.<body>"` under each key, space-separated (one per key during a
/// rotation).
pub fn standard_signature(keys: &[&[u8]], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine as _;
    keys.iter()
        .map(|key| {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl WebhookNotifier {
    pub(crate) async fn send(&self, n: &Notification, now: DateTime<Utc>) -> Result<(), SendError> {
        let ChannelKind::Webhook(cfg) = &self.config.kind else {
            return Err(SendError::permanent("not a webhook channel"));
        };
        let body =
            serde_json::to_vec(&payload(n)).map_err(|e| SendError::permanent(e.to_string()))?;
        let mut req = self
            .http
            .post(cfg.url.expose())
            .headers(cfg.headers.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("X-Upwatch-Id", n.id.as_str())
            .timeout(self.config.timeout);
        if !cfg.standard_keys.is_empty() {
            // The id stays the same across retries (receivers deduplicate on it); the
            // timestamp is this attempt's.
            let ts = now.timestamp();
            let keys: Vec<&[u8]> = cfg.standard_keys.iter().map(|k| k.0.as_slice()).collect();
            req = req
                .header("webhook-id", n.id.as_str())
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    standard_signature(&keys, &n.id, ts, &body),
                );
        } else if let Some(secret) = &cfg.secret {
            let ts = now.timestamp();
            req = req.header("X-Upwatch-Timestamp", ts.to_string()).header(
                "X-Upwatch-Signature",
                signature(secret.expose().as_bytes(), ts, &body),
            );
        }
        // reqwest's errors can carry the URL, which may hold a token: show ours instead.
        deliver(req.body(body), now).await.map_err(|mut e| {
            e.message = format!("{}: {}", cfg.display_url, e.message);
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Severity, TransitionKind};
    use crate::probe::Failure;
    use chrono::TimeZone;

    #[test]
    fn payload_is_exactly_the_documented_schema() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 2, 0).unwrap();
        let mut n = Notification::new(
            TransitionKind::Resolved,
            Severity::Critical,
            "api",
            "https://api.example.com/v1",
            vec![Failure::http_status(503, "200")],
            t0,
            "paris",
        );
        n.id = "abc".into();
        n.resolved_at = Some(t0 + chrono::Duration::minutes(5));
        n.last_result = json!({"status": 200});
        n.evidence.status = Some(200);
        assert_eq!(
            serde_json::to_string(&payload(&n)).unwrap(),
            r#"{"version":1,"id":"abc","status":"resolved","reminder":false,"test":false,"severity":"critical","target":"api","url":"https://api.example.com/v1","conditions":[{"kind":"http_status","detail":"HTTP 503, expected 200"}],"started_at":"2026-11-23T10:02:00.000Z","resolved_at":"2026-11-23T10:07:00.000Z","location":"paris","last_result":{"status":200}}"#
        );
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature(b"s3cret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }
}
