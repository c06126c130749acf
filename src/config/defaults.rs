//! `[defaults]`: the per-target settings every `[[target]]` starts from, over the built-in
//! ones (interval 60 s, timeout 10 s, max_latency 3 s, expect_status 200, ...).

use std::time::Duration;

use toml::Spanned;

use super::raw::{RawDefaults, S};
use super::*;

/// Per-target settings after `[defaults]` and built-in defaults are applied.
pub(super) struct Defaults {
    pub(super) interval: Duration,
    /// Whether `[defaults]` set the interval (a chat target's own default yields to it).
    pub(super) interval_set: bool,
    pub(super) timeout: Duration,
    pub(super) max_latency: Option<Duration>,
    pub(super) retries: u32,
    pub(super) retry_delay: Duration,
    pub(super) tls_min_days: u32,
    pub(super) expect_status: Vec<u16>,
    pub(super) ip_version: IpVersion,
    pub(super) reuse_connection: bool,
    pub(super) headers: Vec<(String, Spanned<String>)>,
    pub(super) max_body_size: usize,
    pub(super) redirects: Redirects,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            interval: Duration::from_secs(60),
            interval_set: false,
            timeout: Duration::from_secs(10),
            max_latency: Some(Duration::from_secs(3)),
            retries: 0,
            retry_delay: Duration::from_secs(2),
            tls_min_days: 14,
            expect_status: vec![200],
            ip_version: IpVersion::Any,
            reuse_connection: false,
            headers: Vec::new(),
            max_body_size: 1 << 20,
            redirects: Redirects::default(),
        }
    }
}

impl Validator<'_> {
    pub(super) fn defaults(&mut self, r: &RawDefaults) -> Defaults {
        let ctx = "defaults";
        let base = Defaults::default();
        let interval = self.duration(ctx, "interval", &r.interval, false).flatten();
        let timeout = self.duration(ctx, "timeout", &r.timeout, false).flatten();
        let max_latency = self
            .duration(ctx, "max_latency", &r.max_latency, true)
            .flatten();
        let retries = self.int_in(ctx, "retries", &r.retries, 0..11).flatten();
        let retry_delay = self
            .duration(ctx, "retry_delay", &r.retry_delay, true)
            .flatten();
        let tls_min_days = self
            .int_in(ctx, "tls_min_days", &r.tls_min_days, 0..3651)
            .flatten();
        let expect_status = self.statuses(ctx, &r.expect_status).flatten();
        let ip_version = self.ip_version(ctx, &r.ip_version).flatten();
        let max_body_size = self.size(ctx, "max_body_size", &r.max_body_size).flatten();
        let redirects = self
            .redirects(
                ctx,
                &r.follow_redirects,
                &r.max_redirects,
                &r.allow_insecure_redirects,
                base.redirects,
            )
            .unwrap_or(base.redirects);
        Defaults {
            interval_set: interval.is_some(),
            interval: interval.unwrap_or(base.interval),
            timeout: timeout.unwrap_or(base.timeout),
            max_latency: match max_latency {
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
                None => base.max_latency,
            },
            retries: retries.map_or(base.retries, |n| n as u32),
            retry_delay: retry_delay.unwrap_or(base.retry_delay),
            tls_min_days: tls_min_days.map_or(base.tls_min_days, |n| n as u32),
            expect_status: expect_status.unwrap_or(base.expect_status),
            ip_version: ip_version.unwrap_or(base.ip_version),
            reuse_connection: r
                .reuse_connection
                .as_ref()
                .map_or(base.reuse_connection, |b| *b.get_ref()),
            headers: r
                .headers
                .as_ref()
                .map(|h| {
                    h.get_ref()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            max_body_size: max_body_size.unwrap_or(base.max_body_size),
            redirects,
        }
    }

    /// `follow_redirects`, `max_redirects` and `allow_insecure_redirects` over `base`.
    pub(super) fn redirects(
        &mut self,
        ctx: &str,
        follow: &S<bool>,
        max: &S<i64>,
        allow_insecure: &S<bool>,
        base: Redirects,
    ) -> Option<Redirects> {
        let max = self.int_in(ctx, "max_redirects", max, 0..21)?;
        Some(Redirects {
            follow: follow.as_ref().map_or(base.follow, |b| *b.get_ref()),
            max: max.map_or(base.max, |n| n as u32),
            allow_insecure: allow_insecure
                .as_ref()
                .map_or(base.allow_insecure, |b| *b.get_ref()),
        })
    }
}
