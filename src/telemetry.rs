//! Logging setup: pretty for terminals, JSON for machines, no own timestamps under journald.

use std::io::IsTerminal;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// The daemon logs to stdout (containers and journald collect it there).
    Stdout,
    /// Commands that print results on stdout log to stderr.
    Stderr,
}

/// Installs the global subscriber. The level comes from `UPWATCH_LOG` (or `RUST_LOG`),
/// default `info`. Safe to call once per process; later calls are ignored.
pub fn init(format: LogFormat, sink: Sink) {
    let filter = std::env::var("UPWATCH_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let is_tty = match sink {
        Sink::Stdout => std::io::stdout().is_terminal(),
        Sink::Stderr => std::io::stderr().is_terminal(),
    };
    let writer = match sink {
        Sink::Stdout => BoxMakeWriter::new(std::io::stdout),
        Sink::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !is_tty,
    };
    // journald stamps every line itself.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else if under_journald {
        builder.with_ansi(false).without_time().try_init()
    } else {
        builder.with_ansi(is_tty).try_init()
    };
}
