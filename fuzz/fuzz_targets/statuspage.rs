//! Atlassian Statuspage / incident.io-compatible summary parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = upwatch::statuspage::parse::statuspage::parse(data) {
        let _ = s.overall(false);
    }
});
