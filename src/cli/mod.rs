//! The command line: `run`, `check`, `status`, `validate`, `healthcheck` and `test-alert`,
//! one file each, with their output formats ([`tables`]) and exit codes (0 healthy,
//! 1 unhealthy, 2 error). Commands parse, call the library and print; they hold no
//! business logic.

mod check;
mod healthcheck;
mod run;
mod status;
pub mod tables;
mod test_alert;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};

/// Exit code: everything probed was up / the command succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: a target was degraded or down.
pub const EXIT_UNHEALTHY: u8 = 1;
/// Exit code: the config was invalid or upwatch itself failed.
pub const EXIT_ERROR: u8 = 2;

/// upwatch: synthetic uptime monitoring for HTTP APIs.
#[derive(Debug, Parser)]
#[command(name = "upwatch", version, about, long_about = None)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        short = 'c',
        env = "UPWATCH_CONFIG",
        default_value = "monitor.toml",
        global = true
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: probe every target on its schedule until SIGINT/SIGTERM.
    Run,
    /// Probe targets once, print the results, exit 0 if all are up, 1 otherwise.
    Check {
        /// Only this target (repeatable).
        #[arg(long = "target", short = 't', value_name = "NAME")]
        targets: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show what the store recorded: health and since when, uptime over 24 h / 7 d / 30 d,
    /// latency percentiles, open alerts and the last incident. Works with or without a
    /// running daemon. Exit 0 if every target is up, 1 otherwise.
    Status {
        /// Only this target (repeatable).
        #[arg(long = "target", short = 't', value_name = "NAME")]
        targets: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check the config and exit: 0 when valid, 2 with every error.
    Validate,
    /// Ask the running daemon's `/healthz` (on the configured `listen` address) whether
    /// its scheduler is on time: exit 0 if so, 1 if not or if nothing answers. For
    /// container health checks: no curl needed.
    Healthcheck,
    /// Send a clearly labelled test notification through each channel (email, slack,
    /// discord, telegram, ntfy, teams, google_chat, webhook, alertmanager, pagerduty,
    /// opsgenie), not through the outbox; print `ok` or the exact error per channel; exit 1
    /// if any failed.
    TestAlert {
        /// Only this channel (repeatable).
        #[arg(long = "channel", value_name = "NAME")]
        channels: Vec<String>,
    },
}

/// Output format of `check` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per target per line.
    Json,
}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    crate::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upwatch: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Validate => validate::validate(&cli.config),
            Command::Healthcheck => healthcheck::healthcheck(&cli.config).await,
            Command::Check { targets, format } => check::check(&cli.config, &targets, format).await,
            Command::Run => run::run(&cli.config).await,
            Command::Status { targets, format } => {
                status::status(&cli.config, &targets, format).await
            }
            Command::TestAlert { channels } => test_alert::test_alert(&cli.config, &channels).await,
        }
    });
    // Probe tasks that outlived a grace period must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(code)
}

/// The config at `path`, or the exit code after printing its errors.
pub(crate) fn load(path: &Path) -> Result<Config, u8> {
    config::load(path).map_err(|e| {
        eprintln!("{e}");
        EXIT_ERROR
    })
}

/// The configured targets named in `names`, in that order (all when empty), or the exit
/// code after naming the unknown one.
pub(crate) fn select_targets(
    config: &Config,
    path: &Path,
    names: &[String],
) -> Result<Vec<Arc<config::Target>>, u8> {
    if names.is_empty() {
        return Ok(config.targets.clone());
    }
    let mut selected = Vec::new();
    for name in names {
        match config.targets.iter().find(|t| &*t.name == name.as_str()) {
            Some(t) => selected.push(t.clone()),
            None => {
                let known: Vec<&str> = config.targets.iter().map(|t| &*t.name).collect();
                eprintln!(
                    "upwatch: no target named {name:?} in {} (targets: {})",
                    path.display(),
                    known.join(", ")
                );
                return Err(EXIT_ERROR);
            }
        }
    }
    Ok(selected)
}
