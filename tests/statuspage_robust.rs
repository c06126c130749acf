//! Parsers read outside input: truncated, empty, huge, wrong-type, HTML-instead-of-JSON and
//! invalid UTF-8 bodies give a typed error, never a panic. Besides the named cases, every
//! fixture is mutated (truncated at many points, bytes flipped, spliced with another
//! fixture) with a fixed seed, so a failure replays exactly. This is the bounded,
//! CI-sized counterpart of the cargo-fuzz targets in `fuzz/`.

use upwatch::statuspage::parse::{
    betterstack, checkly, feed, html, incidentio, instatus, rootly, statusio, statuspage, upptime,
    ParseError,
};
use upwatch::statuspage::Snapshot;

type Parser = fn(&[u8]) -> Result<Snapshot, ParseError>;

fn rootly_both(b: &[u8]) -> Result<Snapshot, ParseError> {
    let mut s = rootly::parse_status(b)
        .unwrap_or_else(|_| Snapshot::new(upwatch::statuspage::Platform::Rootly));
    rootly::parse_incidents(b, &mut s)?;
    Ok(s)
}

const PARSERS: &[(&str, Parser)] = &[
    ("statuspage", statuspage::parse),
    ("instatus", instatus::parse),
    ("checkly summary", checkly::parse_summary),
    ("checkly services", checkly::parse_services),
    ("checkly uptime", checkly::parse_uptime),
    ("incidentio", incidentio::parse),
    ("betterstack", betterstack::parse),
    ("statusio", statusio::parse),
    ("upptime", upptime::parse),
    ("rootly", rootly_both),
    ("feed", feed::parse),
    ("html", html::parse),
];

fn fixtures() -> Vec<Vec<u8>> {
    let root = format!("{}/tests/fixtures/statuspages", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            out.push(std::fs::read(f.unwrap().path()).unwrap());
        }
    }
    assert_eq!(out.len(), 14, "every shared fixture is used");
    out
}

/// Runs every parser on `body`; the only acceptable outcomes are a snapshot or an error.
fn all_parsers(body: &[u8]) {
    for (name, parse) in PARSERS {
        let r = std::panic::catch_unwind(|| {
            let _ = parse(body);
            let _ = html::feed_links(&String::from_utf8_lossy(body));
            let _ = html::is_challenge(403, None, body);
        });
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("upwatch-crash-{name}.bin"));
            let _ = std::fs::write(&path, body);
            panic!("{name} panicked; input saved to {}", path.display());
        }
    }
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = format!(
        "{}/tests/fixtures/fuzz-regressions",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            all_parsers(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n >= 1);
    // The shape of the first one: an entity cut inside a multi-byte character.
    all_parsers("<p>&ééééééé;</p>".as_bytes());
}

#[test]
fn named_bad_inputs_are_typed_errors() {
    assert_eq!(statuspage::parse(b""), Err(ParseError::Empty));
    assert_eq!(statuspage::parse(b"  \n"), Err(ParseError::Empty));
    assert_eq!(
        statuspage::parse(&[0xff, 0xfe, b'{']),
        Err(ParseError::NotUtf8)
    );
    assert!(matches!(
        statuspage::parse(b"<!DOCTYPE html><html></html>"),
        Err(ParseError::Html { .. })
    ));
    assert!(matches!(
        statuspage::parse(b"{\"page\":"),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        statuspage::parse(b"[1,2,3]"),
        Err(ParseError::Shape { .. })
    ));
    assert!(matches!(
        statuspage::parse(br#"{"page": "not an object", "status": {}}"#),
        Err(ParseError::Shape { .. })
    ));
    // Wrong types inside count as absent, not as errors.
    let s = statuspage::parse(
        br#"{"page":{"id":1,"updated_at":false},"status":{"indicator":7},"components":"none","incidents":[{"name":["x"],"status":3,"incident_updates":{}}]}"#,
    )
    .unwrap();
    assert!(s.components.is_empty());
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.incidents[0].title, "(untitled)");
    assert!(matches!(
        feed::parse(b"<feed><entry><title>x"),
        Err(ParseError::Xml(_)) | Ok(_)
    ));
    assert!(matches!(
        feed::parse(b"<html><body/></html>"),
        Err(ParseError::Html { .. })
    ));
    assert!(matches!(
        feed::parse(b"<notafeed/>"),
        Err(ParseError::Shape { .. })
    ));
    assert!(matches!(
        upptime::parse(b"{}"),
        Err(ParseError::Shape { .. })
    ));
    assert!(matches!(
        html::parse(b"<html>"),
        Err(ParseError::Shape { .. })
    ));
}

#[test]
fn huge_and_deep_inputs_are_bounded() {
    // 20,000 components: kept up to the cap, quickly.
    let comps: Vec<String> = (0..20_000)
        .map(|i| format!(r#"{{"name":"c{i}","status":"operational"}}"#))
        .collect();
    let body = format!(
        r#"{{"page":{{"id":"abc"}},"status":{{"indicator":"none"}},"components":[{}]}}"#,
        comps.join(",")
    );
    let s = statuspage::parse(body.as_bytes()).unwrap();
    assert_eq!(s.components.len(), 500);
    // Nesting deeper than serde_json's limit is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(statuspage::parse(deep.as_bytes()).is_err());
    let deep_xml = format!("<feed>{}</feed>", "<a>".repeat(10_000));
    assert!(feed::parse(deep_xml.as_bytes()).is_err());
    // An HTML page of 2 MiB of unclosed tags is scanned once.
    let tags = "<div class=\"x\" data-component-status=\"operational\">".repeat(40_000);
    let _ = html::parse(tags.as_bytes());
}

#[test]
fn mutated_fixtures_never_panic() {
    let fixtures = fixtures();
    let mut rng = fastrand::Rng::with_seed(0x5eed_2026);
    let mut cases = 0usize;
    for (i, f) in fixtures.iter().enumerate() {
        // Truncations at 64 points, including inside multi-byte characters.
        for k in 0..64 {
            let cut = f.len() * k / 64;
            all_parsers(&f[..cut]);
            cases += 1;
        }
        // Random byte flips and insertions of structural characters.
        for _ in 0..150 {
            let mut m = f.clone();
            for _ in 0..rng.usize(1..8) {
                if m.is_empty() {
                    break;
                }
                let at = rng.usize(..m.len());
                match rng.u8(..5) {
                    0 => m[at] = rng.u8(..),
                    1 => m.insert(at, *b"{}[]<>\"&;:,".get(rng.usize(..11)).unwrap()),
                    2 => {
                        let end = (at + rng.usize(..64)).min(m.len());
                        m.drain(at..end);
                    }
                    // A multi-byte character right after an entity start.
                    3 => {
                        m.splice(at..at, "&ééé".bytes());
                    }
                    _ => m.insert(at, 0xc3),
                }
            }
            all_parsers(&m);
            cases += 1;
        }
        // Splices: the head of one fixture on the tail of another.
        let other = &fixtures[(i + 1) % fixtures.len()];
        let mut spliced = f[..f.len() / 2].to_vec();
        spliced.extend_from_slice(&other[other.len() / 2..]);
        all_parsers(&spliced);
        cases += 1;
    }
    assert!(cases > 3000, "{cases}");
}
