//! incident.io widget, Better Stack index and Rootly documents.
#![no_main]
use libfuzzer_sys::fuzz_target;
use upwatch::statuspage::parse::{betterstack, incidentio, rootly};

fuzz_target!(|data: &[u8]| {
    let _ = incidentio::parse(data).map(|s| s.overall(false));
    let _ = betterstack::parse(data);
    let mut s = rootly::parse_status(data)
        .unwrap_or_else(|_| upwatch::statuspage::Snapshot::new(upwatch::statuspage::Platform::Rootly));
    let _ = rootly::parse_incidents(data, &mut s);
});
