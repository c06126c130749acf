//! Instatus and Checkly documents.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upwatch::statuspage::parse::{checkly, instatus};

fuzz_target!(|data: &[u8]| {
    let _ = instatus::parse(data).map(|s| s.overall(false));
    let _ = checkly::parse_services(data);
    let _ = checkly::parse_uptime(data);
});
