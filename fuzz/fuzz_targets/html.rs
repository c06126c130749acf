//! The HTML fallback, feed discovery and challenge recognition.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upwatch::statuspage::parse::html;

fuzz_target!(|data: &[u8]| {
    let _ = html::parse(data);
    let _ = html::is_challenge(403, None, data);
    let _ = html::feed_links(&String::from_utf8_lossy(data));
});
