//! Logging setup: pretty for terminals, JSON for machines, and under journald plain lines
//! with a priority prefix and no timestamp of our own.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
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
    // journald stamps every line itself and reads a `<N>` priority prefix.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !is_tty && !under_journald,
    };
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
        builder
            .with_ansi(false)
            .event_format(Journald(
                tracing_subscriber::fmt::format()
                    .with_ansi(false)
                    .without_time()
                    .with_target(false),
            ))
            .try_init()
    } else {
        builder.with_ansi(is_tty).try_init()
    };
}

/// Prefixes each line with its syslog priority (`<3>` error, `<4>` warning, `<6>` info,
/// `<7>` debug), which journald turns into the entry's priority.
struct Journald<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journald<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
