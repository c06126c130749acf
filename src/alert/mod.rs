//! Alerting: the policy (which failures count, thresholds, routing), the pure state machine,
//! the engine that feeds results through it, and what it hands on: the state changes for the
//! store (`changes`) and the typed notifications for the channels (`notification`).

pub mod changes;
pub mod engine;
pub mod notification;
pub mod policy;
pub mod state;

pub use changes::{IncidentEvent, PageIncidentChange, StateChange};
pub use notification::{Evidence, Notification};
pub use policy::{AlertPolicy, Severity};
pub use state::{AlertPhase, AlertState, Transition, TransitionKind};
