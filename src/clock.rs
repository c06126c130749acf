//! The wall clock, injected: decision logic and tasks that stamp times take a [`WallClock`]
//! instead of calling `Utc::now()`, so tests can drive them on tokio's paused clock.
//! Durations are measured with `tokio::time` (monotonic), never with this.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where a task reads "now" on the wall clock.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The real wall clock.
pub fn system_clock() -> WallClock {
    Arc::new(Utc::now)
}
