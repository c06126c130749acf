//! The config loader on broken input: the shipped monitor.toml and the README's TOML
//! blocks, cut, flipped, shuffled and spliced thousands of ways. Never a panic; every
//! failure is a list of errors, each naming a line of the text (the fuzz target
//! `fuzz/fuzz_targets/config.rs` checks the same on whatever libFuzzer finds).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use upwatch::config::{parse, Env};

fn seeds() -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut seeds = vec![std::fs::read_to_string(format!("{root}/monitor.toml")).unwrap()];
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line) {
            (None, "```toml") => block = Some(String::new()),
            (Some(b), "```") => {
                seeds.push(std::mem::take(b));
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(seeds.len() >= 5, "the README's TOML blocks were found");
    seeds
}

/// Parses `text`; panics (with the text) on a panic inside or an error without a line.
fn check(text: &str) {
    let env = Env::from_pairs(&[("MISTRAL_API_KEY", "k"), ("UPWATCH_API_TOKEN", "t")]);
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        parse(Path::new("/nonexistent/monitor.toml"), text, &env)
    }));
    let Ok(parsed) = parsed else {
        panic!("the loader panicked on:\n{text}");
    };
    if let Err(e) = parsed {
        assert!(!e.diagnostics().is_empty(), "{e}");
        let lines = text.lines().count().max(1) + 1;
        for d in e.diagnostics() {
            assert!(
                d.line >= 1 && d.line <= lines,
                "error without a line of the text: {d}\n{text}"
            );
            assert!(!d.message.is_empty());
        }
    }
}

#[test]
fn the_seeds_themselves_load_or_name_a_line() {
    for s in seeds() {
        check(&s);
    }
}

#[test]
fn mutated_configs_never_panic_and_every_error_has_a_line() {
    let seeds = seeds();
    let mut rng = fastrand::Rng::with_seed(0xc0f1_2026);
    let mut cases = 0usize;
    for seed in &seeds {
        let bytes = seed.as_bytes();
        // Cut at 40 points (inside a key, a string, a table header, a multi-byte char).
        for _ in 0..40 {
            let at = rng.usize(..=bytes.len());
            check(&String::from_utf8_lossy(&bytes[..at]));
            cases += 1;
        }
        let lines: Vec<&str> = seed.lines().collect();
        for _ in 0..300 {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            match rng.u8(..6) {
                // Drop a line, or repeat one (a duplicate key or table).
                0 if !l.is_empty() => {
                    l.remove(rng.usize(..l.len()));
                }
                1 if !l.is_empty() => {
                    let i = rng.usize(..l.len());
                    let dup = l[i].clone();
                    l.insert(rng.usize(..=l.len()), dup);
                }
                // A value replaced by one of another type or an absurd one.
                2 if !l.is_empty() => {
                    let i = rng.usize(..l.len());
                    if let Some((k, _)) = l[i].clone().split_once('=') {
                        let v = [
                            "-1",
                            "1e308",
                            "\"\"",
                            "[]",
                            "{}",
                            "true",
                            "\"999999999999h\"",
                            "\"${NOPE}\"",
                            "\"\\u0000\"",
                            "18446744073709551616",
                            "\"0s\"",
                            "[[1]]",
                            "\"*/0 * * * * *\"",
                        ][rng.usize(..13)];
                        l[i] = format!("{k}= {v}");
                    }
                }
                // Two lines swapped (a key moved under another table).
                3 if l.len() > 1 => {
                    let (a, b) = (rng.usize(..l.len()), rng.usize(..l.len()));
                    l.swap(a, b);
                }
                // A line spliced from another seed.
                4 => {
                    let other = &seeds[rng.usize(..seeds.len())];
                    if let Some(line) = other.lines().nth(rng.usize(..other.lines().count().max(1)))
                    {
                        l.insert(rng.usize(..=l.len()), line.to_string());
                    }
                }
                _ => {
                    // A byte flipped somewhere.
                    let mut b = l.join("\n").into_bytes();
                    if !b.is_empty() {
                        let i = rng.usize(..b.len());
                        b[i] = rng.u8(..);
                    }
                    check(&String::from_utf8_lossy(&b));
                    cases += 1;
                    continue;
                }
            }
            check(&l.join("\n"));
            cases += 1;
        }
    }
    assert!(cases > 1000, "{cases}");
}
