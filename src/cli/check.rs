//! `upwatch check`: probe targets and read status pages once, print what was found
//! (a table or JSON lines), exit 0 when everything is up.

use std::path::Path;
use std::sync::Arc;

use super::tables::{check_table, pages_table};
use super::{load, select_targets, Format, EXIT_ERROR, EXIT_OK, EXIT_UNHEALTHY};
use crate::config::{self, LogFormat};
use crate::probe::tls::TlsConfigs;
use crate::probe::ProbeResult;
use crate::statuspage::Reading;
use crate::telemetry::{self, Sink};

pub(super) async fn check(path: &Path, names: &[String], format: Format) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(LogFormat::Pretty, Sink::Stderr);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // Names may be targets or status pages; pages linked from chosen targets come along.
    let (target_names, page_names): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| !config.status_pages.iter().any(|p| *p.name == **n));
    let selected = if names.is_empty() || !target_names.is_empty() {
        match select_targets(&config, path, &target_names) {
            Ok(t) => t,
            Err(code) => return code,
        }
    } else {
        Vec::new()
    };
    let pages: Vec<Arc<config::StatusPage>> = config
        .status_pages
        .iter()
        .filter(|p| {
            names.is_empty()
                || page_names.iter().any(|n| *n == *p.name)
                || selected
                    .iter()
                    .any(|t| t.status_page.as_ref() == Some(&p.name))
        })
        .cloned()
        .collect();
    let (tls, warnings) = match TlsConfigs::build(selected.iter().map(|t| t.as_ref())) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let (mut results, readings) = tokio::join!(
        crate::probe::probe_all(&selected, &tls, config.daemon.max_concurrency),
        crate::statuspage::poll::poll_all(&pages)
    );
    // The vendor's word and the likely side go with each failing result.
    crate::correlate::explain_batch(&mut results, |target| {
        let page = selected
            .iter()
            .find(|t| *t.name == *target)?
            .status_page
            .as_ref()?;
        readings
            .iter()
            .find(|x| x.page == *page)
            .map(Reading::vendor_word)
    });
    match format {
        Format::Json => {
            for r in &results {
                println!("{}", r.to_check_json());
            }
            for r in &readings {
                println!("{}", r.to_check_json());
            }
        }
        Format::Table => {
            if !results.is_empty() {
                print!("{}", check_table(&results));
            }
            if !readings.is_empty() {
                if !results.is_empty() {
                    println!();
                }
                print!("{}", pages_table(&readings));
            }
        }
    }
    if results.iter().all(ProbeResult::ok) && readings.iter().all(Reading::ok) {
        EXIT_OK
    } else {
        EXIT_UNHEALTHY
    }
}
