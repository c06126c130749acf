//! `[[status_page]]`: vendor status pages to poll, and the `status_page` link of a target.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::alerting::{policy_keys, PolicyKeys};
use super::raw::RawStatusPage;
use super::Validator;
use crate::alert::AlertPolicy;
use crate::statuspage::Format;

/// A validated `[[status_page]]`.
#[derive(Debug, Clone)]
pub struct StatusPage {
    /// Unique name (shares the namespace of targets: alerts are keyed by it).
    pub name: Arc<str>,
    /// The page (or, for a non-root path, the endpoint itself).
    pub url: Url,
    /// Host name used in sentences ("status.mistral.ai reports ...").
    pub host: String,
    /// Poll period.
    pub interval: Duration,
    /// Limit for one poll (every request of it).
    pub timeout: Duration,
    /// Which endpoints are tried.
    pub format: Format,
    /// Only these components count (case-insensitive); empty: all.
    pub components: Vec<String>,
    /// Flag the page stale when its own time stops advancing this long with incidents open.
    pub stale_after: Duration,
    /// Largest body read.
    pub max_body_size: usize,
    /// Extra CA file for the page's TLS.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Alert policy (routing and thresholds) for the page's own alerts.
    pub alert: AlertPolicy,
    /// Line of the table in monitor.toml.
    pub line: usize,
}

impl Validator<'_> {
    pub(super) fn status_page(
        &mut self,
        r: &RawStatusPage,
        span: Range<usize>,
        ctx: &str,
        base: &AlertPolicy,
        known_channels: &[Arc<str>],
    ) -> Option<StatusPage> {
        let name = self.name(ctx, &r.name, span.clone(), "\"vendor-status\"");
        let url = match &r.url {
            Some(u) => self
                .string(ctx, "url", u, None)
                .and_then(|text| match Url::parse(&text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        Some(url)
                    }
                    Ok(url) => {
                        self.d.push(
                            u.span(),
                            ctx,
                            format!(
                                "url: scheme {:?} is not supported; use https://",
                                url.scheme()
                            ),
                        );
                        None
                    }
                    Err(e) => {
                        self.d.push(
                            u.span(),
                            ctx,
                            format!("url: {text:?} is not a valid URL ({e})"),
                        );
                        None
                    }
                }),
            None => {
                self.d.push(
                    span.clone(),
                    ctx,
                    "missing key \"url\", e.g. url = \"https://status.example.com\"",
                );
                None
            }
        };
        let interval = self.duration(ctx, "interval", &r.interval, false);
        let timeout = self.duration(ctx, "timeout", &r.timeout, false);
        let stale_after = self.duration(ctx, "stale_after", &r.stale_after, false);
        let format = self.choice(ctx, "format", &r.format, &Format::NAMES);
        let max_body_size = self.size(ctx, "max_body_size", &r.max_body_size);
        let tls_ca_file = self.ca_file(ctx, &r.tls_ca_file);
        let mut components = Vec::new();
        for c in r.components.iter().flat_map(|c| c.get_ref()) {
            if let Some(text) = self.string(ctx, "components", c, None) {
                components.push(text);
            }
        }
        let keys = policy_keys!(r);
        let alert = self.policy(ctx, keys, base, known_channels);
        let (interval, timeout) = (interval?.unwrap_or(Duration::from_secs(60)), timeout?);
        let timeout = timeout.unwrap_or(Duration::from_secs(15).min(interval));
        if let Some(t) = r.timeout.as_ref().filter(|_| timeout > interval) {
            self.d.push(
                t.span(),
                ctx,
                "timeout: must not be longer than interval (one poll would overlap the next)",
            );
            return None;
        }
        let url = url?;
        let (line, _) = self.d.line_col(span.start);
        Some(StatusPage {
            name: Arc::from(name?.as_str()),
            host: url.host_str().unwrap_or_default().to_string(),
            url,
            interval,
            timeout,
            format: format?.unwrap_or(Format::Auto),
            components,
            stale_after: stale_after?.unwrap_or(Duration::from_secs(6 * 3600)),
            max_body_size: max_body_size?.unwrap_or(2 * 1024 * 1024),
            tls_ca_file: tls_ca_file?,
            alert,
            line,
        })
    }
}
