//! Probing: one request to one target, timed per phase, judged against the target's
//! conditions. Owns the probe result type ([`result`]), the HTTP/TLS engine ([`http`]) and
//! the probe's TLS configs and certificate facts ([`tls`]). Must not schedule, store or alert: it returns data.

pub mod assert;
pub mod batch;
pub mod http;
pub mod judge;
pub mod llm;
pub mod provider;
pub mod ratelimit;
pub mod result;
pub mod tls;

pub use batch::probe_all;
pub use http::TargetProber;
pub use result::{
    failure_line, ChatInfo, Failure, FailureKind, Health, Hop, HttpVersion, Phase, Phases,
    ProbeResult, ResponseInfo, TlsFacts,
};
