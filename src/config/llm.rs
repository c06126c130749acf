//! The LLM-API keys of a target (`kind = "chat"`, `model`, `expect_models`, rate-limit and
//! request-id settings) and the `[rate_limit_group.NAME]` tables.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::raw::{RawTarget, S};
use super::validate::valid_name;
use super::Validator;
use serde::Deserialize;

/// What a probe does with the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// One request, judged on status, latency, body and certificate.
    Http,
    /// A minimal streaming chat completion: also times the first token and checks that the
    /// stream ends cleanly.
    Chat {
        /// The model asked.
        model: String,
    },
}

/// A number written as an integer or a float (`max_rps = 1` and `max_rps = 0.5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    fn value(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// The LLM-API settings of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmOptions {
    /// Extra response headers read as request ids (lower-case), after the built-in ones.
    pub request_id_headers: Vec<String>,
    /// Warn when a rate-limit window's remaining share falls under this (`None`: off).
    pub ratelimit_warn_fraction: Option<f64>,
    /// Targets sharing one key: spaced to the group's `max_rps`, backed off together.
    pub rate_limit_group: Option<Arc<str>>,
    /// Models the catalog (`data[].id`) must list.
    pub expect_models: Vec<String>,
    /// Notify the target's channels when models appear in or leave the catalog.
    pub notify_catalog_changes: bool,
    /// A chat probe whose first token takes longer is `too_slow`.
    pub max_ttft: Option<Duration>,
}

impl Default for LlmOptions {
    fn default() -> Self {
        LlmOptions {
            request_id_headers: Vec::new(),
            ratelimit_warn_fraction: Some(DEFAULT_WARN_FRACTION),
            rate_limit_group: None,
            expect_models: Vec::new(),
            notify_catalog_changes: false,
            max_ttft: None,
        }
    }
}

impl LlmOptions {
    /// Whether the probe reads the model catalog from the body.
    pub fn reads_catalog(&self) -> bool {
        !self.expect_models.is_empty() || self.notify_catalog_changes
    }
}

/// Default of `ratelimit_warn_fraction`.
pub const DEFAULT_WARN_FRACTION: f64 = 0.1;

/// Default interval of a chat target: each probe costs tokens.
pub const CHAT_INTERVAL: Duration = Duration::from_secs(300);

/// Default prompt of a chat target: short, so the probe costs a handful of input tokens.
pub const CHAT_PROMPT: &str = "Reply with one word: ok";

/// `[rate_limit_group.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateLimitGroup {
    pub max_rps: S<Number>,
}

/// A validated rate-limit group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitGroup {
    /// Most requests per second the group's targets make together.
    pub max_rps: f64,
}

impl Default for RateLimitGroup {
    /// One request a second: the free tier's limit on Mistral's API.
    fn default() -> Self {
        RateLimitGroup { max_rps: 1.0 }
    }
}

/// The JSON body of a chat probe: one short message, one token, streamed.
pub fn chat_body(model: &str, prompt: &str) -> bytes::Bytes {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": 1,
        "stream": true,
    });
    bytes::Bytes::from(body.to_string())
}

impl Validator<'_> {
    /// The probe kind and LLM settings of a target.
    pub(super) fn llm(
        &mut self,
        r: &RawTarget,
        span: Range<usize>,
        ctx: &str,
    ) -> Option<(ProbeKind, LlmOptions)> {
        let kind_name = self.choice(ctx, "kind", &r.kind, &[("http", false), ("chat", true)]);
        let model = match &r.model {
            Some(m) => self.string(ctx, "model", m, None).map(Some),
            None => Some(None),
        };
        let kind = match (kind_name?, model?) {
            (Some(true), Some(model)) if !model.trim().is_empty() => ProbeKind::Chat { model },
            (Some(true), _) => {
                let at = r.kind.as_ref().map_or(span, |k| k.span());
                self.d.push(
                    at,
                    ctx,
                    "kind = \"chat\" needs a model, e.g. model = \"mistral-small-latest\"",
                );
                return None;
            }
            (_, Some(_)) => {
                if let Some(m) = &r.model {
                    self.d.push(
                        m.span(),
                        ctx,
                        "model: only a kind = \"chat\" target sends a model; add kind = \"chat\" or remove model",
                    );
                }
                return None;
            }
            (_, None) => ProbeKind::Http,
        };
        let chat = matches!(kind, ProbeKind::Chat { .. });
        for (key, set) in [
            ("prompt", r.prompt.as_ref().map(|p| p.span())),
            ("max_ttft", r.max_ttft.as_ref().map(|p| p.span())),
        ] {
            if let (Some(at), false) = (set, chat) {
                self.d.push(
                    at,
                    ctx,
                    format!("{key}: only applies to a kind = \"chat\" target"),
                );
            }
        }
        if let (Some(b), true) = (&r.body, chat) {
            self.d.push(
                b.span(),
                ctx,
                "body: a chat target builds its own body from model and prompt; remove body",
            );
        }

        let mut request_id_headers = Vec::new();
        for h in r.request_id_headers.iter().flat_map(|h| h.get_ref()) {
            let name = h.get_ref().trim().to_ascii_lowercase();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.d.push(
                    h.span(),
                    ctx,
                    format!("request_id_headers: {:?} is not a header name", h.get_ref()),
                );
            } else if !request_id_headers.contains(&name) {
                request_id_headers.push(name);
            }
        }

        let warn = match &r.ratelimit_warn_fraction {
            None => Some(DEFAULT_WARN_FRACTION),
            Some(v) => {
                let f = v.get_ref().value();
                if !(0.0..1.0).contains(&f) {
                    self.d.push(
                        v.span(),
                        ctx,
                        format!("ratelimit_warn_fraction: {f} must be at least 0 and under 1 (0 turns the warning off), e.g. 0.1"),
                    );
                }
                (f > 0.0).then_some(f)
            }
        };

        let group = match &r.rate_limit_group {
            Some(g) => {
                let name = self.string(ctx, "rate_limit_group", g, None);
                match name {
                    Some(n) if valid_name(&n) => Some(Arc::<str>::from(n)),
                    Some(n) => {
                        self.d.push(
                            g.span(),
                            ctx,
                            format!("rate_limit_group: {n:?} must be 1-64 characters of a-z, 0-9, _ and -"),
                        );
                        None
                    }
                    None => None,
                }
            }
            None => None,
        };

        let mut expect_models = Vec::new();
        for m in r.expect_models.iter().flat_map(|m| m.get_ref()) {
            if let Some(text) = self.string(ctx, "expect_models", m, None) {
                if text.trim().is_empty() {
                    self.d
                        .push(m.span(), ctx, "expect_models: a model name is empty");
                } else if !expect_models.contains(&text) {
                    expect_models.push(text);
                }
            }
        }
        let max_ttft = self.duration(ctx, "max_ttft", &r.max_ttft, false)?;
        Some((
            kind,
            LlmOptions {
                request_id_headers,
                ratelimit_warn_fraction: warn,
                rate_limit_group: group,
                expect_models,
                notify_catalog_changes: r
                    .notify_catalog_changes
                    .as_ref()
                    .is_some_and(|b| *b.get_ref()),
                max_ttft,
            },
        ))
    }

    /// `[rate_limit_group.NAME]` tables.
    pub(super) fn rate_limit_groups(
        &mut self,
        raw: Vec<(String, Range<usize>, RawRateLimitGroup)>,
    ) -> BTreeMap<Arc<str>, RateLimitGroup> {
        let mut groups = BTreeMap::new();
        for (name, span, g) in raw {
            let ctx = format!("rate_limit_group {name:?}");
            if !valid_name(&name) {
                self.d.push(
                    span.clone(),
                    &ctx,
                    format!("{name:?}: a group name must be 1-64 characters of a-z, 0-9, _ and -"),
                );
                continue;
            }
            let mut group = RateLimitGroup::default();
            if let Some(v) = &g.max_rps {
                let rps = v.get_ref().value();
                if rps.is_finite() && rps > 0.0 && rps <= 10_000.0 {
                    group.max_rps = rps;
                } else {
                    self.d.push(
                        v.span(),
                        &ctx,
                        format!("max_rps: {rps} must be above 0 and at most 10000, e.g. 1 or 0.5"),
                    );
                    continue;
                }
            }
            groups.insert(Arc::from(name.as_str()), group);
        }
        groups
    }
}
