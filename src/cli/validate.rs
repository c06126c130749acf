//! `upwatch validate`: load the config, print every error or `ok` with the target count.

use std::path::Path;

use super::{load, EXIT_OK};

pub(super) fn validate(path: &Path) -> u8 {
    match load(path) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}: ok ({} target(s))", path.display(), c.targets.len());
            EXIT_OK
        }
        Err(code) => code,
    }
}
