//! Rate-limit headers in every common spelling: `x-ratelimit-{limit,remaining,reset}`,
//! their `-requests` / `-tokens` (and other suffixed) variants, the IETF draft's
//! `ratelimit-*` and structured `ratelimit`, and `retry-after` (seconds or an HTTP date).
//! Reads outside input: never panics; odd values are skipped, not guessed at.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::http_date::{number, parse_date, retry_after_secs};

/// Most distinct limit kinds kept from one response (kinds come from header names, and
/// become metric label values, so they are bounded).
pub const MAX_KINDS: usize = 8;

/// One limit window the provider reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// `requests`, `tokens`, another suffix as sent (e.g. `tokens-minute`), or `default`
    /// for the unsuffixed headers.
    pub kind: String,
    /// The window's allowance.
    pub limit: Option<f64>,
    /// What is left of it.
    pub remaining: Option<f64>,
    /// When it refills.
    pub reset_at: Option<DateTime<Utc>>,
}

impl Limit {
    /// `remaining / limit`, when both are known and the limit is positive.
    pub fn fraction_left(&self) -> Option<f64> {
        match (self.limit, self.remaining) {
            (Some(l), Some(r)) if l > 0.0 => Some(r / l),
            _ => None,
        }
    }
}

/// Every limit in one response, plus `retry-after`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RateLimits {
    /// Limit windows, in first-seen order.
    pub limits: Vec<Limit>,
    /// Seconds the provider asked us to wait.
    pub retry_after_s: Option<f64>,
}

impl RateLimits {
    /// True when the response carried no rate-limit information.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.retry_after_s.is_none()
    }

    /// The window with the smallest share left (the one that will bite first).
    pub fn tightest(&self) -> Option<&Limit> {
        self.limits
            .iter()
            .filter(|l| l.fraction_left().is_some())
            .min_by(|a, b| {
                a.fraction_left()
                    .unwrap_or(1.0)
                    .total_cmp(&b.fraction_left().unwrap_or(1.0))
            })
            .or_else(|| self.limits.first())
    }

    fn entry(&mut self, kind: &str) -> Option<&mut Limit> {
        if let Some(i) = self.limits.iter().position(|l| l.kind == kind) {
            return self.limits.get_mut(i);
        }
        if self.limits.len() >= MAX_KINDS {
            return None;
        }
        self.limits.push(Limit {
            kind: kind.to_string(),
            limit: None,
            remaining: None,
            reset_at: None,
        });
        self.limits.last_mut()
    }
}

/// A reset value: unix seconds (or milliseconds), seconds from `now`, a duration such as
/// `1m30s` or `20ms`, or a date.
pub fn parse_reset(v: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if let Some(n) = number(v) {
        let at = if n > 1e12 {
            DateTime::from_timestamp_millis(n as i64)
        } else if n > 1e9 {
            DateTime::from_timestamp(n as i64, 0)
        } else {
            chrono::Duration::try_milliseconds((n * 1000.0) as i64).map(|d| now + d)
        };
        return at;
    }
    if let Ok(d) = humantime::parse_duration(v) {
        return chrono::Duration::from_std(d).ok().map(|d| now + d);
    }
    parse_date(v)
}

/// A kind taken from a header name: short, lower-case letters, digits and dashes.
fn kind_of(suffix: &str) -> Option<&str> {
    let ok = !suffix.is_empty()
        && suffix.len() <= 32
        && suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then_some(suffix)
}

/// Reads every rate-limit header in `headers` (names lower-case), as of `now`.
pub fn parse(headers: &[(String, String)], now: DateTime<Utc>) -> RateLimits {
    let mut out = RateLimits::default();
    for (name, value) in headers {
        if name == "retry-after" {
            out.retry_after_s = retry_after_secs(value, now);
            continue;
        }
        if name == "ratelimit" {
            // Structured draft form: `limit=100, remaining=50, reset=5`.
            for item in value.split([',', ';']) {
                if let Some((k, v)) = item.split_once('=') {
                    apply(&mut out, "default", k.trim(), v.trim(), now);
                }
            }
            continue;
        }
        let Some(rest) = name
            .strip_prefix("x-ratelimit-")
            .or_else(|| name.strip_prefix("ratelimit-"))
        else {
            continue;
        };
        for field in ["limit", "remaining", "reset"] {
            if let Some(after) = rest.strip_prefix(field) {
                let kind = match after.strip_prefix('-') {
                    None if after.is_empty() => Some("default"),
                    Some(k) => kind_of(k),
                    None => None,
                };
                if let Some(kind) = kind {
                    apply(&mut out, kind, field, value, now);
                }
            }
        }
    }
    out
}

fn apply(out: &mut RateLimits, kind: &str, field: &str, value: &str, now: DateTime<Utc>) {
    let parsed_number = number(value);
    let parsed_reset = (field == "reset")
        .then(|| parse_reset(value, now))
        .flatten();
    if parsed_number.is_none() && parsed_reset.is_none() {
        return;
    }
    let Some(l) = out.entry(kind) else { return };
    match field {
        "limit" => l.limit = parsed_number.or(l.limit),
        "remaining" => l.remaining = parsed_number.or(l.remaining),
        "reset" => l.reset_at = parsed_reset.or(l.reset_at),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn reads_every_spelling() {
        let r = parse(
            &h(&[
                ("x-ratelimit-limit-requests", "500"),
                ("x-ratelimit-remaining-requests", "499"),
                ("x-ratelimit-reset-requests", "120ms"),
                ("x-ratelimit-limit-tokens", "200000"),
                ("x-ratelimit-remaining-tokens", "1000"),
                ("x-ratelimit-reset-tokens", "6m0s"),
                ("retry-after", "7"),
            ]),
            now(),
        );
        assert_eq!(r.limits.len(), 2);
        assert_eq!(r.limits[0].kind, "requests");
        assert_eq!(r.limits[0].remaining, Some(499.0));
        assert_eq!(
            r.limits[0].reset_at,
            Some(now() + chrono::Duration::milliseconds(120))
        );
        assert_eq!(
            r.limits[1].reset_at,
            Some(now() + chrono::Duration::minutes(6))
        );
        assert_eq!(r.retry_after_s, Some(7.0));
        assert_eq!(r.tightest().unwrap().kind, "tokens");

        // Unsuffixed, with a unix-time reset; the IETF draft's delta seconds.
        let r = parse(
            &h(&[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1800000030"),
            ]),
            now(),
        );
        assert_eq!(r.limits[0].kind, "default");
        assert_eq!(
            r.limits[0].reset_at,
            DateTime::from_timestamp(1_800_000_030, 0)
        );
        assert_eq!(r.limits[0].fraction_left(), Some(0.0));
        let r = parse(
            &h(&[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "40"),
                ("ratelimit-reset", "30"),
            ]),
            now(),
        );
        assert_eq!(r.limits[0].fraction_left(), Some(0.4));
        assert_eq!(
            r.limits[0].reset_at,
            Some(now() + chrono::Duration::seconds(30))
        );
        let r = parse(
            &h(&[("ratelimit", "limit=10, remaining=3, reset=4")]),
            now(),
        );
        assert_eq!(
            (r.limits[0].limit, r.limits[0].remaining),
            (Some(10.0), Some(3.0))
        );

        // Mistral-style suffixes are kinds of their own.
        let r = parse(
            &h(&[
                ("x-ratelimit-limit-tokens-minute", "500000"),
                ("x-ratelimit-remaining-tokens-minute", "499000"),
            ]),
            now(),
        );
        assert_eq!(r.limits[0].kind, "tokens-minute");
    }

    #[test]
    fn retry_after_as_a_date_and_odd_values() {
        let at = (now() + chrono::Duration::seconds(90)).to_rfc2822();
        assert_eq!(retry_after_secs(&at, now()), Some(90.0));
        let past = (now() - chrono::Duration::seconds(90)).to_rfc2822();
        assert_eq!(retry_after_secs(&past, now()), Some(0.0));
        assert_eq!(retry_after_secs("soon", now()), None);
        assert_eq!(retry_after_secs("-5", now()), None);
        let r = parse(
            &h(&[
                ("x-ratelimit-remaining", "lots"),
                ("x-ratelimit-limit-Weird Kind", "5"),
                ("x-ratelimit-limitless", "5"),
            ]),
            now(),
        );
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn kinds_are_bounded() {
        let many: Vec<(String, String)> = (0..50)
            .map(|i| (format!("x-ratelimit-limit-k{i}"), "1".to_string()))
            .collect();
        assert_eq!(parse(&many, now()).limits.len(), MAX_KINDS);
    }
}
