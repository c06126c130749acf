//! Formatting shared by every output (logs, alerts, the API, the page, the CLI): durations
//! for people, milliseconds and RFC 3339 times for machines. Pure functions, no domain types.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// `1h 3m`, `12m`, `45s`, `11d 21h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        return match (s / 86_400, (s % 86_400) / 3600) {
            (days, 0) => format!("{days}d"),
            (days, h) => format!("{days}d {h}h"),
        };
    }
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, _) => format!("{m}m"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// Milliseconds as a float with microsecond precision.
pub fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// RFC 3339 in UTC with a `Z`, to the millisecond.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(Duration::from_secs(3780)), "1h 3m");
        assert_eq!(human_duration(Duration::from_secs(45)), "45s");
        assert_eq!(
            human_duration(Duration::from_secs(86_400 * 11 + 3600 * 21 + 5)),
            "11d 21h"
        );
        assert_eq!(human_duration(Duration::from_secs(86_400 * 2)), "2d");
    }

    #[test]
    fn milliseconds_keep_microseconds() {
        assert_eq!(ms(Duration::from_micros(1_234_567)), 1234.567);
        assert_eq!(ms(Duration::from_nanos(999)), 0.0);
    }
}
