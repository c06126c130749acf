//! Reading LLM-API bodies: the model catalog (`GET /v1/models`: `data[].id`) and the
//! server-sent events of a streaming chat completion. Both read outside input: bounded,
//! and they return what they saw instead of failing on odd shapes.

use serde::Serialize;
use serde_json::Value;

use super::result::{ChatInfo, Failure, FailureKind, Phase, ProbeResult, ResponseInfo};
use crate::config::Target;

/// Most model ids kept from one catalog.
pub const MAX_MODELS: usize = 2000;
/// Longest model id kept (characters).
pub const MAX_MODEL_ID: usize = 200;
/// Longest SSE line buffered; a longer line is dropped (and counted).
pub const MAX_LINE: usize = 1 << 20;

/// The ids a model catalog lists, sorted and without duplicates: `{"data": [{"id": ...}]}`
/// (OpenAI-compatible, Mistral) or a bare array of such objects.
pub fn parse_catalog(body: &[u8]) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        if body.is_empty() {
            "the body is empty".to_string()
        } else {
            format!("the body is not JSON ({e})")
        }
    })?;
    let list = match &v {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("data").or_else(|| map.get("models")) {
            Some(Value::Array(items)) => items,
            _ => return Err("no \"data\" list of models in the body".to_string()),
        },
        _ => return Err("the body is not a JSON object or list".to_string()),
    };
    let mut ids: Vec<String> = list
        .iter()
        .filter_map(|m| match m {
            Value::Object(o) => o.get("id").or_else(|| o.get("name")),
            other => Some(other),
        })
        .filter_map(Value::as_str)
        .filter(|id| !id.is_empty())
        .take(MAX_MODELS)
        .map(|id| id.chars().take(MAX_MODEL_ID).collect())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// What a streamed chat completion carried, fed chunk by chunk as it arrives.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatStream {
    /// `data:` events seen.
    pub events: u32,
    /// Whether an event carried generated content.
    pub content: bool,
    /// `data: [DONE]` arrived.
    pub done: bool,
    /// The last `finish_reason` sent (`stop`, `length`, ...).
    pub finish_reason: Option<String>,
    /// An error event's message, when the provider sent one mid-stream.
    pub error: Option<String>,
    /// Lines over [`MAX_LINE`] that were dropped.
    pub oversized_lines: u32,
    #[serde(skip)]
    line: Vec<u8>,
    #[serde(skip)]
    skipping: bool,
}

impl ChatStream {
    /// Feeds one chunk of the body. Returns true when this chunk carried the stream's first
    /// content (the moment time-to-first-token is taken).
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        let had_content = self.content;
        for &b in chunk {
            if b == b'\n' {
                if !self.skipping {
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line);
                }
                self.line.clear();
                self.skipping = false;
            } else if !self.skipping {
                if self.line.len() >= MAX_LINE {
                    self.line.clear();
                    self.skipping = true;
                    self.oversized_lines += 1;
                } else {
                    self.line.push(b);
                }
            }
        }
        !had_content && self.content
    }

    /// Ends the stream: a last line without a newline still counts.
    pub fn finish(&mut self) {
        if !self.skipping && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line);
        }
    }

    /// Whether the stream ended the way a complete answer does.
    pub fn ended_cleanly(&self) -> bool {
        self.done || self.finish_reason.is_some()
    }

    fn line_done(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        self.events = self.events.saturating_add(1);
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        if let Some(e) = v.get("error") {
            let msg = e
                .get("message")
                .and_then(Value::as_str)
                .or_else(|| e.as_str())
                .unwrap_or("error event");
            self.error = Some(msg.chars().take(512).collect());
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return;
        };
        for c in choices {
            if has_text(c.pointer("/delta/content")) || has_text(c.get("text")) {
                self.content = true;
            }
            if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(r.chars().take(64).collect());
            }
        }
    }
}

/// Content as a string, or as a list of parts (`[{"type": "text", "text": ...}]`).
fn has_text(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(parts)) => parts.iter().any(|p| {
            p.get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
        }),
        _ => false,
    }
}

/// The LLM-API conditions of an expected response: rate-limit headroom and the model
/// catalog. Sets `result.models` when the target reads the catalog.
pub fn judge_response(
    t: &Target,
    kept: &[u8],
    size: u64,
    info: &ResponseInfo,
    result: &mut ProbeResult,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    if let Some(warn) = t.llm.ratelimit_warn_fraction {
        let low = info
            .ratelimit
            .limits
            .iter()
            .filter_map(|l| l.fraction_left().map(|f| (l, f)))
            .filter(|(_, f)| *f < warn)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((l, f)) = low {
            let resets = l
                .reset_at
                .map(|r| format!(", resets {} UTC", r.format("%H:%M:%S")))
                .unwrap_or_default();
            failures.push(Failure::new(
                FailureKind::RatelimitLow,
                format!(
                    "rate limit ({}): {} of {} left ({:.1} %), under ratelimit_warn_fraction {warn}{resets}",
                    l.kind,
                    l.remaining.unwrap_or(0.0),
                    l.limit.unwrap_or(0.0),
                    f * 100.0
                ),
            ));
        }
    }
    if t.llm.reads_catalog() {
        match parse_catalog(kept) {
            Ok(models) => {
                let missing: Vec<&str> = t
                    .llm
                    .expect_models
                    .iter()
                    .filter(|m| models.binary_search(m).is_err())
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    failures.push(Failure::new(
                        FailureKind::ModelMissing,
                        format!(
                            "not in the model catalog: {} ({} models listed)",
                            missing.join(", "),
                            models.len()
                        ),
                    ));
                }
                result.models = Some(models);
            }
            Err(e) if !t.llm.expect_models.is_empty() => {
                let cut = if size as usize > kept.len() {
                    format!(
                        " (only the first {} bytes were kept: raise max_body_size)",
                        kept.len()
                    )
                } else {
                    String::new()
                };
                failures.push(Failure::new(
                    FailureKind::BodyMismatch,
                    format!("model catalog unreadable: {e}{cut}"),
                ));
            }
            Err(_) => {}
        }
    }
    failures
}

/// The conditions of a chat probe's stream that arrived whole: it carried content, ended
/// cleanly, and its first token came within `max_ttft`.
pub fn judge_stream(t: &Target, chat: &ChatInfo, info: &ResponseInfo) -> Vec<Failure> {
    let s = &chat.stream;
    let broken = if let Some(e) = &s.error {
        // Providers may echo the request (and so the key) in an error.
        Some(format!(
            "the stream carried an error event: {}",
            t.redactor.redact(e)
        ))
    } else if s.events == 0 {
        let ct = info.header("content-type").unwrap_or("none");
        Some(format!(
            "no server-sent events in the response (content-type: {ct})"
        ))
    } else if !s.ended_cleanly() {
        Some(format!(
            "the stream ended after {} events without [DONE] or a finish_reason",
            s.events
        ))
    } else if !s.content {
        Some(format!(
            "the stream ended without any content (finish_reason: {})",
            s.finish_reason.as_deref().unwrap_or("none")
        ))
    } else {
        None
    };
    let mut failures: Vec<Failure> = broken
        .map(|d| Failure::in_phase(FailureKind::StreamIncomplete, Phase::Transfer, d))
        .into_iter()
        .collect();
    if let (Some(limit), Some(ttft)) = (t.llm.max_ttft, chat.ttft) {
        if ttft > limit {
            failures.push(Failure::new(
                FailureKind::TooSlow,
                format!(
                    "time to first token {:.1} ms > max_ttft {:.1} ms",
                    ttft.as_secs_f64() * 1000.0,
                    limit.as_secs_f64() * 1000.0
                ),
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_ids_in_every_shape() {
        let mistral = br#"{"object":"list","data":[{"id":"mistral-small-latest","object":"model","capabilities":{"completion_chat":true}},{"id":"codestral-latest","object":"model"},{"id":"codestral-latest"}]}"#;
        assert_eq!(
            parse_catalog(mistral).unwrap(),
            vec!["codestral-latest", "mistral-small-latest"]
        );
        assert_eq!(
            parse_catalog(br#"[{"id":"a"},{"name":"b"},"c",{"id":7}]"#).unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(parse_catalog(b"").unwrap_err().contains("empty"));
        assert!(parse_catalog(b"<html>").unwrap_err().contains("not JSON"));
        assert!(parse_catalog(br#"{"object":"list"}"#)
            .unwrap_err()
            .contains("no \"data\""));
    }

    #[test]
    fn a_mistral_stream_split_anywhere() {
        let body = concat!(
            "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n",
            "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\n\n",
            "data: [DONE]\n\n"
        );
        // Whatever the chunking, the first content is seen once, in the right chunk.
        for split in 1..body.len() {
            let (a, b) = body.as_bytes().split_at(split);
            let mut s = ChatStream::default();
            let first_a = s.feed(a);
            let first_b = s.feed(b);
            s.finish();
            let content_at = body.find("\"ok\"").unwrap() + 4;
            let line_end = body[content_at..].find('\n').unwrap() + content_at;
            assert_eq!(first_a, split > line_end, "split {split}");
            assert_eq!(first_b, split <= line_end, "split {split}");
            assert_eq!(s.events, 3);
            assert!(s.done && s.ended_cleanly());
            assert_eq!(s.finish_reason.as_deref(), Some("length"));
        }
    }

    #[test]
    fn role_only_and_cut_streams() {
        let mut s = ChatStream::default();
        assert!(!s.feed(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        ));
        assert!(!s.content && !s.ended_cleanly());
        let mut e = ChatStream::default();
        e.feed(b"data: {\"error\":{\"message\":\"overloaded\"}}\n");
        assert_eq!(e.error.as_deref(), Some("overloaded"));
        // Parts-list content (newer Mistral models) counts.
        let mut p = ChatStream::default();
        assert!(p.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":[{\"type\":\"text\",\"text\":\"o\"}]}}]}\n"
        ));
    }

    #[test]
    fn huge_lines_are_dropped_not_buffered() {
        let mut s = ChatStream::default();
        let big = vec![b'a'; MAX_LINE + 10];
        s.feed(b"data: ");
        s.feed(&big);
        s.feed(b"\ndata: [DONE]\n");
        assert_eq!(s.oversized_lines, 1);
        assert!(s.done);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for _ in 0..3000 {
            let len = (x % 300) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let alphabet = b"data: {}[]\"\n\r choices delta content:,0";
                buf.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse_catalog(&buf);
            let mut s = ChatStream::default();
            s.feed(&buf);
            s.finish();
        }
    }
}
