//! `upwatch test-alert`: one labelled test notification straight to each channel (not
//! through the outbox), with the exact error per channel.

use std::path::Path;

use super::{load, EXIT_ERROR, EXIT_OK, EXIT_UNHEALTHY};
use crate::config::LogFormat;
use crate::telemetry::{self, Sink};

pub(super) async fn test_alert(path: &Path, names: &[String]) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(LogFormat::Pretty, Sink::Stderr);
    if config.channels.is_empty() {
        eprintln!("upwatch: {} defines no [[channel]]", path.display());
        return EXIT_ERROR;
    }
    for name in names {
        if !config.channels.iter().any(|c| &*c.name == name.as_str()) {
            let known: Vec<&str> = config.channels.iter().map(|c| &*c.name).collect();
            eprintln!(
                "upwatch: no channel named {name:?} (channels: {})",
                known.join(", ")
            );
            return EXIT_ERROR;
        }
    }
    let notifiers = match crate::notify::Notifier::build_all(
        &config.channels,
        config.daemon.page_url().as_deref(),
    ) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let now = chrono::Utc::now();
    let mut failed = false;
    for n in notifiers
        .iter()
        .filter(|n| names.is_empty() || names.iter().any(|x| x == n.name()))
    {
        let msg = crate::notify::Notification::test_message(&config.daemon.location, now);
        match n.send(&msg, now).await {
            Ok(()) => println!("{}: ok", n.name()),
            Err(e) => {
                failed = true;
                println!("{}: {}", n.name(), e);
            }
        }
    }
    if failed {
        EXIT_UNHEALTHY
    } else {
        EXIT_OK
    }
}
