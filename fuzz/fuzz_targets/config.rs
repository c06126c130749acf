//! The config loader: any text is a config or a list of errors, never a panic, and every
//! error names a line of the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = upwatch::config::Env::from_pairs(&[("MISTRAL_API_KEY", "fuzz-key")]);
    if let Err(e) = upwatch::config::parse(std::path::Path::new("/nonexistent/monitor.toml"), text, &env) {
        let lines = text.lines().count().max(1) + 1;
        for d in e.diagnostics() {
            assert!(d.line >= 1 && d.line <= lines, "{d}");
        }
        assert!(!e.diagnostics().is_empty(), "{e}");
    }
});
