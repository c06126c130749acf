//! upwatch: a synthetic uptime-monitoring daemon for HTTP APIs.
//!
//! Data flows one way: [`config`] → [`schedule`] → [`probe`] result → [`pipeline`], which
//! logs it and hands it to the [`store`] writer, the [`metrics`] and the [`alert`] engine;
//! alerts go through the store's outbox to the [`notify`] channels. The [`server`] reads
//! the store and the metrics. The binary (`src/main.rs`) is a thin edge over [`cli`].

pub mod alert;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod correlate;
pub mod fmt;
pub mod http_date;
pub mod metrics;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod rlimit;
pub mod schedule;
pub mod sdnotify;
pub mod secret;
pub mod server;
pub mod shutdown;
pub mod statuspage;
pub mod store;
pub mod telemetry;
pub mod tls;

/// An error with its causes, `outer: cause: root`, skipping causes whose text the outer
/// message already contains (hyper, reqwest and lettre put the useful part in the source).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
