//! `[[target]]`: one target validated over `[defaults]` into a [`Target`].

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{HeaderMap, Method};
use toml::Spanned;
use url::Url;

use super::raw::RawTarget;
use super::*;
use crate::schedule::ScheduleSpec;
use crate::secret::Redactor;

impl Validator<'_> {
    pub(super) fn target(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
        def: &Defaults,
        warnings: &mut Vec<String>,
    ) -> Option<Target> {
        let mut redactor = Redactor::default();
        let name = self.name(ctx, &r.name, span.clone(), "\"my-api\"");
        let llm = self.llm(r, span.clone(), ctx);
        let chat_model = match &llm {
            Some((ProbeKind::Chat { model }, _)) => Some(model.clone()),
            _ => None,
        };

        let url = self.target_url(r, span.clone(), ctx, &mut redactor);
        let method = match &r.method {
            Some(m) => self.string(ctx, "method", m, None).and_then(|text| {
                Method::from_bytes(text.to_ascii_uppercase().as_bytes())
                    .map_err(|_| {
                        self.d.push(
                            m.span(),
                            ctx,
                            format!("method: {text:?} is not an HTTP method"),
                        )
                    })
                    .ok()
            }),
            None if chat_model.is_some() => Some(Method::POST),
            None => Some(Method::GET),
        };

        let (headers, headers_ok) =
            self.target_headers(r, span.clone(), ctx, def, &mut redactor, warnings);
        let mut headers = headers;
        let body = match (&r.body, &chat_model) {
            (_, Some(model)) => {
                let prompt = match &r.prompt {
                    Some(p) => self.string(ctx, "prompt", p, None),
                    None => Some(CHAT_PROMPT.to_string()),
                };
                prompt.map(|p| Some(chat_body(model, &p)))
            }
            (Some(b), None) => self
                .string(ctx, "body", b, Some(&mut redactor))
                .map(|s| (!s.is_empty()).then(|| bytes::Bytes::from(s))),
            (None, None) => Some(None),
        };
        if chat_model.is_some() {
            for (name, value) in [
                (http::header::CONTENT_TYPE, "application/json"),
                (http::header::ACCEPT, "text/event-stream"),
            ] {
                headers
                    .entry(name)
                    .or_insert(HeaderValue::from_static(value));
            }
        }

        let schedule = self.target_schedule(r, span.clone(), ctx, def, chat_model.is_some());
        // A timeout the target does not set itself (built in, or from [defaults]) is
        // clamped to its interval, as Prometheus clamps scrape_timeout; its own may not
        // exceed it (checked below).
        let timeout =
            self.duration(ctx, "timeout", &r.timeout, false)
                .map(|t| match (t, &schedule) {
                    (Some(t), _) => t,
                    (None, Some(ScheduleSpec::Interval(iv))) => def.timeout.min(*iv),
                    (None, _) => def.timeout,
                });
        let max_latency =
            self.duration(ctx, "max_latency", &r.max_latency, true)
                .map(|m| match m {
                    Some(d) if d.is_zero() => None,
                    Some(d) => Some(d),
                    None => def.max_latency,
                });
        let expect_status = self
            .statuses(ctx, &r.expect_status)
            .map(|s| s.unwrap_or_else(|| def.expect_status.clone()));
        let expect_body_contains = match &r.expect_body_contains {
            Some(s) => self
                .string(ctx, "expect_body_contains", s, None)
                .map(|t| (!t.is_empty()).then_some(t)),
            None => Some(None),
        };
        let tls_min_days = self
            .int_in(ctx, "tls_min_days", &r.tls_min_days, 0..3651)
            .map(|n| n.map_or(def.tls_min_days, |n| n as u32));
        let ca_file = self.ca_file(ctx, &r.tls_ca_file);
        let insecure = r.tls_insecure.as_ref().is_some_and(|b| *b.get_ref());
        let ip_version = self
            .ip_version(ctx, &r.ip_version)
            .map(|v| v.unwrap_or(def.ip_version));
        let retries = self
            .int_in(ctx, "retries", &r.retries, 0..11)
            .map(|n| n.map_or(def.retries, |n| n as u32));
        let retry_delay = self
            .duration(ctx, "retry_delay", &r.retry_delay, true)
            .map(|d| d.unwrap_or(def.retry_delay));
        let max_body_size = self
            .size(ctx, "max_body_size", &r.max_body_size)
            .map(|s| s.unwrap_or(def.max_body_size));
        let assertions = self.assertions(ctx, &r.assert);
        let redirects = self.redirects(
            ctx,
            &r.follow_redirects,
            &r.max_redirects,
            &r.allow_insecure_redirects,
            def.redirects,
        );

        if let (Some(ScheduleSpec::Interval(iv)), Some(t), Some(own)) =
            (&schedule, timeout, r.timeout.as_ref())
        {
            if t > *iv {
                let at = own.span();
                self.d.push(
                    at,
                    ctx,
                    format!(
                        "timeout ({}) is longer than the interval ({}): every probe could overrun its slot; lower timeout or raise interval",
                        humantime::format_duration(t),
                        humantime::format_duration(*iv)
                    ),
                );
                return None;
            }
        }

        let url = url?;
        let name: Arc<str> = Arc::from(name?.as_str());
        if insecure {
            warnings.push(format!("target {name:?}: tls_insecure = true: certificate verification is off, so TLS failures are not detected"));
        }
        if !headers_ok {
            return None;
        }
        let (kind, llm) = llm?;
        let display_url = Arc::from(redactor.display_url(&url).as_str());
        let (line, _) = self.d.line_col(span.start);
        Some(Target {
            name,
            url,
            display_url,
            method: method?,
            headers,
            body: body?,
            schedule: schedule?,
            timeout: timeout?,
            expect_status: expect_status?,
            max_latency: max_latency?,
            expect_body_contains: expect_body_contains?,
            tls_min_days: tls_min_days?,
            tls: TlsOptions {
                ca_file: ca_file?,
                insecure,
            },
            ip_version: ip_version?,
            reuse_connection: r
                .reuse_connection
                .as_ref()
                .map_or(def.reuse_connection, |b| *b.get_ref()),
            retries: retries?,
            retry_delay: retry_delay?,
            max_body_size: max_body_size?,
            redirects: redirects?,
            assertions: assertions?,
            redactor,
            alert: crate::alert::AlertPolicy::default(),
            status_page: None,
            depends_on: Vec::new(),
            kind,
            llm,
            line,
        })
    }

    /// `url`: http or https with a host; a value read from `${VAR}` is redacted in errors.
    fn target_url(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
        redactor: &mut Redactor,
    ) -> Option<Url> {
        match &r.url {
            Some(u) => self.string(ctx, "url", u, Some(&mut *redactor)).and_then(|text| {
                match Url::parse(&text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
                    Ok(url) => {
                        self.d.push(u.span(), ctx, format!("url: scheme {:?} is not supported; use http:// or https:// with a host", url.scheme()));
                        None
                    }
                    Err(e) => {
                        let shown = redactor.redact(&text);
                        self.d.push(u.span(), ctx, format!("url: {shown:?} is not a valid URL ({e})"));
                        None
                    }
                }
            }),
            None => {
                self.d.push(
                    span,
                    ctx,
                    "missing key \"url\", e.g. url = \"https://api.example.com/health\"",
                );
                None
            }
        }
    }

    /// The request headers: `[defaults]` headers, the target's (which win on the same
    /// name), and `Authorization: Bearer` from `bearer_token` or `bearer_token_file`. Every
    /// value is a secret. The flag is false when one of them is invalid (each is reported).
    fn target_headers(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
        def: &Defaults,
        redactor: &mut Redactor,
        warnings: &mut Vec<String>,
    ) -> (HeaderMap, bool) {
        // Headers: defaults first, then the target's (which win on the same name).
        let mut headers = HeaderMap::new();
        let mut headers_ok = true;
        let mut header_pairs: Vec<(String, Spanned<String>)> = def.headers.clone();
        if let Some(h) = &r.headers {
            header_pairs.extend(h.get_ref().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for (k, v) in &header_pairs {
            let Some(value) = self.string(ctx, &format!("headers.{k}"), v, Some(&mut *redactor))
            else {
                headers_ok = false;
                continue;
            };
            let name = match HeaderName::from_bytes(k.as_bytes()) {
                Ok(n) => n,
                Err(_) => {
                    self.d.push(
                        v.span(),
                        ctx,
                        format!("headers: {k:?} is not a valid header name"),
                    );
                    headers_ok = false;
                    continue;
                }
            };
            match HeaderValue::from_str(&value) {
                Ok(mut hv) => {
                    hv.set_sensitive(true);
                    // Every header value may be a credential; scrub them all from output.
                    redactor.add(value);
                    headers.insert(name, hv);
                }
                Err(_) => {
                    self.d.push(v.span(), ctx, format!("headers.{k}: value has characters not allowed in a header (newlines or control characters)"));
                    headers_ok = false;
                }
            }
        }

        let token = match (&r.bearer_token, &r.bearer_token_file) {
            (Some(_), Some(f)) => {
                self.d.push(
                    f.span(),
                    ctx,
                    "set bearer_token or bearer_token_file, not both",
                );
                None
            }
            (Some(t), None) => self
                .string(ctx, "bearer_token", t, Some(&mut *redactor))
                .map(Some),
            (None, Some(f)) => self
                .secret_file(ctx, "bearer_token_file", f, redactor)
                .map(Some),
            (None, None) => Some(None),
        };
        let token_ok = match token {
            None => false,
            Some(None) => true,
            Some(Some(t)) if t.is_empty() => {
                let at = r
                    .bearer_token
                    .as_ref()
                    .or(r.bearer_token_file.as_ref())
                    .map_or(span.clone(), |s| s.span());
                let (line, _) = self.d.line_col(at.start);
                warnings.push(format!(
                    "{ctx}: bearer_token is empty (line {line}; is the variable set?): requests go out without a key and an API will answer 401"
                ));
                true
            }
            Some(Some(t)) => match HeaderValue::from_str(&format!("Bearer {t}")) {
                Ok(mut hv) => {
                    hv.set_sensitive(true);
                    redactor.add(t);
                    headers.insert(AUTHORIZATION, hv);
                    true
                }
                Err(_) => {
                    let at = r
                        .bearer_token
                        .as_ref()
                        .or(r.bearer_token_file.as_ref())
                        .map_or(span.clone(), |s| s.span());
                    self.d.push(
                        at,
                        ctx,
                        "bearer_token: the token has characters not allowed in a header",
                    );
                    false
                }
            },
        };

        (headers, headers_ok && token_ok)
    }

    /// `interval` or `schedule` (not both), else `[defaults]`' interval (a chat probe's own
    /// default when `[defaults]` sets none).
    fn target_schedule(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
        def: &Defaults,
        chat: bool,
    ) -> Option<ScheduleSpec> {
        match (&r.interval, &r.schedule) {
            (Some(_), Some(s)) => {
                self.d
                    .push(s.span(), ctx, "set interval or schedule, not both");
                None
            }
            (Some(_), None) => self
                .duration(ctx, "interval", &r.interval, false)
                .flatten()
                .and_then(|d| {
                    if d < Duration::from_millis(100) {
                        let at = r.interval.as_ref().map_or(span.clone(), |s| s.span());
                        self.d.push(at, ctx, "interval: must be at least 100ms");
                        None
                    } else {
                        Some(ScheduleSpec::Interval(d))
                    }
                }),
            (None, Some(s)) => self.string(ctx, "schedule", s, None).and_then(|text| {
                ScheduleSpec::cron(text.trim())
                    .map_err(|e| self.d.push(s.span(), ctx, format!("schedule: {e}")))
                    .ok()
            }),
            (None, None) if chat && !def.interval_set => {
                Some(ScheduleSpec::Interval(CHAT_INTERVAL))
            }
            (None, None) => Some(ScheduleSpec::Interval(def.interval)),
        }
    }
}
