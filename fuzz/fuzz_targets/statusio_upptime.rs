//! Status.io and Upptime documents.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = upwatch::statuspage::parse::statusio::parse(data);
    let _ = upwatch::statuspage::parse::upptime::parse(data);
});
