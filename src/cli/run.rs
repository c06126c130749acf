//! `upwatch run`: the daemon, one generation per configuration; SIGHUP starts the next
//! generation from a valid new config, SIGTERM/SIGINT end it.

use std::path::Path;

use super::{load, EXIT_ERROR, EXIT_OK};
use crate::config::{self, Config};
use crate::telemetry::{self, Sink};

pub(super) async fn run(path: &Path) -> u8 {
    let mut config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(config.daemon.log_format, Sink::Stdout);
    let sd = crate::sdnotify::SdNotify::from_env();
    // Taken before the first probe, so SIGHUP never gets its default (terminating) action.
    let mut hangups = crate::shutdown::Hangups::new();
    loop {
        // One generation of the daemon runs until a signal: SIGTERM/SIGINT end it for good;
        // SIGHUP re-reads the config and, only when it is valid, ends this generation so
        // the next starts from it. Alert state, history and the outbox live in the store,
        // so the next generation resumes them.
        let mut next: Option<Config> = None;
        let stop = async {
            loop {
                tokio::select! {
                    name = crate::shutdown::signal() => {
                        tracing::info!("{name} received");
                        crate::shutdown::exit_on_second_signal();
                        return;
                    }
                    _ = hangups.recv() => match reload(path) {
                        Some(c) => {
                            next = Some(c);
                            return;
                        }
                        None => continue,
                    },
                }
            }
        };
        let ran = crate::app::run(config, crate::clock::system_clock(), stop).await;
        if let Err(e) = ran {
            tracing::error!("{e}");
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
        match next {
            Some(c) => {
                if let Some(sd) = &sd {
                    sd.send("RELOADING=1\nSTATUS=reloading the configuration");
                }
                tracing::info!(config = %path.display(), "configuration reloaded: starting the new one");
                config = c;
            }
            None => {
                if let Some(sd) = &sd {
                    sd.send("STOPPING=1\nSTATUS=shutting down");
                }
                return EXIT_OK;
            }
        }
    }
}

/// The config after a SIGHUP, when it is valid; otherwise its errors are logged (as
/// `validate` prints them) and the running config stays.
fn reload(path: &Path) -> Option<Config> {
    tracing::info!(config = %path.display(), "SIGHUP received: reading the configuration again");
    match config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(
                "the new configuration is invalid; still running the previous one:\n{e}"
            );
            None
        }
    }
}
