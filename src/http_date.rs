//! Dates and waits as HTTP headers carry them: `Retry-After` (delay-seconds or an HTTP date,
//! RFC 9110 §10.2.3) and the date forms rate-limit headers use. Shared by the probe (a
//! provider's 429) and the outbox (a receiver's 429/503); pure functions of the value and a
//! `now` passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A non-negative, finite decimal number of seconds (or other unit), as headers send them.
pub fn number(v: &str) -> Option<f64> {
    let n: f64 = v.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// An HTTP date (`Mon, 23 Nov 2026 10:00:30 GMT`) or an RFC 3339 time.
pub fn parse_date(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(v)
        .or_else(|_| DateTime::parse_from_rfc3339(v))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `Retry-After` in seconds from `now`: delay-seconds, or an HTTP date (never negative).
pub fn retry_after_secs(v: &str, now: DateTime<Utc>) -> Option<f64> {
    if let Some(n) = number(v) {
        return Some(n);
    }
    let at = parse_date(v.trim())?;
    Some(((at - now).num_milliseconds().max(0)) as f64 / 1000.0)
}

/// `Retry-After` as a wait; `None` when unreadable or too large for a `Duration` (`1e300`).
pub fn retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    retry_after_secs(v, now).and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("1e300", now), None, "too large, not a panic");
    }
}
