//! What upwatch reads from an LLM provider's answer: error bodies, rate-limit headers
//! (the input read as `name: value` lines), the model catalog and a chat event stream
//! (fed in two chunks split at the first byte's position).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = upwatch::probe::provider::decode_error(data);
    let _ = upwatch::probe::llm::parse_catalog(data);

    let text = String::from_utf8_lossy(data);
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let limits = upwatch::probe::ratelimit::parse(&headers, chrono::Utc::now());
    let _ = limits.tightest();

    let split = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let (a, b) = data.split_at(split);
    let mut stream = upwatch::probe::llm::ChatStream::default();
    stream.feed(a);
    stream.feed(b);
    stream.finish();
    let _ = stream.ended_cleanly();
});
