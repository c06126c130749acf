//! `upwatch status`: what the store recorded, read through its own read-only connection
//! (works with or without a running daemon).

use std::path::Path;

use super::tables::status_table;
use super::{load, select_targets, Format, EXIT_ERROR, EXIT_OK, EXIT_UNHEALTHY};
use crate::probe::Health;

pub(super) async fn status(path: &Path, only: &[String], format: Format) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let targets = match select_targets(&config, path, only) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let reader = match crate::store::Reader::open(&config.daemon.state_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let names = targets.iter().map(|t| t.name.clone()).collect();
    let now = chrono::Utc::now();
    let reports = match reader.targets(names, now).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    match format {
        Format::Json => {
            for (t, r) in targets.iter().zip(&reports) {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("url".into(), serde_json::Value::from(&*t.display_url));
                }
                println!("{v}");
            }
        }
        Format::Table => print!("{}", status_table(&reports, now)),
    }
    if reports.iter().all(|r| r.health == Some(Health::Up)) {
        EXIT_OK
    } else {
        EXIT_UNHEALTHY
    }
}
