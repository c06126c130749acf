//! Alert policy: which failures count at which severity, thresholds, reminders, routing.
//! Config, not state: the state lives in [`super::state`] and the store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::probe::FailureKind;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone should act now (the target is down).
    Critical,
    /// Worth a look (slow, certificate expiring).
    Warning,
}

impl Severity {
    /// Both severities, most urgent first.
    pub const ALL: [Severity; 2] = [Severity::Critical, Severity::Warning];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }

    /// The severity with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The alert policy of one target (the `[alerting]` defaults with its overrides applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Failing probes before an alert fires (≥ 1): consecutive ones, or among the last
    /// `failure_window` probes when that is larger ("3 of 5").
    pub failure_threshold: u32,
    /// The window `failure_threshold` counts in (equal to it: consecutive).
    pub failure_window: u32,
    /// Good probes before a firing alert resolves (≥ 1), consecutive or among the last
    /// `success_window`.
    pub success_threshold: u32,
    /// The window `success_threshold` counts in (equal to it: consecutive).
    pub success_window: u32,
    /// Reminder period while firing (`None`: never).
    pub repeat_interval: Option<Duration>,
    /// Whether recovery is notified.
    pub send_resolved: bool,
    /// Channel names notifications go to.
    pub channels: Vec<Arc<str>>,
    /// Per failure kind: another severity, or `None` to ignore the kind for alerting.
    pub severity_overrides: BTreeMap<FailureKind, Option<Severity>>,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        AlertPolicy {
            failure_threshold: 2,
            failure_window: 2,
            success_threshold: 2,
            success_window: 2,
            repeat_interval: Some(Duration::from_secs(3600)),
            send_resolved: true,
            channels: Vec::new(),
            severity_overrides: BTreeMap::new(),
        }
    }
}

impl AlertPolicy {
    /// The severity a failure kind raises under this policy (`None`: not alerted on).
    /// Defaults: degrade-only kinds (too_slow, tls_expiring) warn, everything else is critical.
    pub fn severity_of(&self, kind: FailureKind) -> Option<Severity> {
        match self.severity_overrides.get(&kind) {
            Some(s) => *s,
            None if kind.degrades_only() => Some(Severity::Warning),
            None => Some(Severity::Critical),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_severities_and_overrides() {
        let mut p = AlertPolicy::default();
        assert_eq!(
            p.severity_of(FailureKind::HttpStatus),
            Some(Severity::Critical)
        );
        assert_eq!(p.severity_of(FailureKind::TooSlow), Some(Severity::Warning));
        p.severity_overrides
            .insert(FailureKind::TooSlow, Some(Severity::Critical));
        p.severity_overrides.insert(FailureKind::TlsExpiring, None);
        assert_eq!(
            p.severity_of(FailureKind::TooSlow),
            Some(Severity::Critical)
        );
        assert_eq!(p.severity_of(FailureKind::TlsExpiring), None);
    }
}
