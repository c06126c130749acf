//! Alerting: the policy (which failures count, thresholds, routing), the pure state machine,
//! and the engine that feeds results through it and queues notifications in the store.

pub mod engine;
pub mod policy;
pub mod state;

pub use policy::{AlertPolicy, Severity};
pub use state::{AlertPhase, AlertState, Transition, TransitionKind};
