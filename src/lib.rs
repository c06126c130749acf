//! upwatch: a synthetic uptime-monitoring daemon for HTTP APIs.
//!
//! Data flows one way: [`config`] → [`schedule`] → [`probe`] result → [`pipeline`] (logs
//! now; store, metrics and alerts later). The binary (`src/main.rs`) is a thin edge over
//! [`cli`].

pub mod alert;
pub mod app;
pub mod cli;
pub mod config;
pub mod notify;
pub mod pipeline;
pub mod probe;
pub mod schedule;
pub mod secret;
pub mod shutdown;
pub mod store;
pub mod telemetry;
