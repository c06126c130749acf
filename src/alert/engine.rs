//! The alert engine: feeds each probe result through the state machine of every
//! (target, severity), and turns transitions into notifications for the target's channels.
//! Holds the runtime state (loaded from and written back to the store by the pipeline);
//! never does I/O itself.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::policy::Severity;
use super::state::{step, AlertPhase, AlertState, Transition, TransitionKind};
use crate::config::{Maintenance, Target};
use crate::notify::{new_id, Notification};
use crate::probe::ProbeResult;
use crate::store::{IncidentEvent, StateChange};

/// What one result did to a target's alerts.
#[derive(Debug, Default)]
pub struct Observation {
    /// State changes to persist.
    pub changes: Vec<StateChange>,
    /// Incidents opened (an alert fired) or closed (it resolved).
    pub incidents: Vec<IncidentEvent>,
    /// Notifications to queue, one per channel per transition.
    pub notifications: Vec<(Arc<str>, Notification)>,
    /// Whether each severity is firing after this result.
    pub firing: Vec<(Severity, bool)>,
}

/// Alert state of every (target, severity) that is not plainly ok.
pub struct Engine {
    states: HashMap<(Arc<str>, Severity), AlertState>,
    location: String,
    maintenance: Vec<Maintenance>,
}

impl Engine {
    /// An engine resuming from persisted `states`. States of targets no longer configured
    /// are dropped (returned as deletions, and logged) instead of resolved, since nothing
    /// probes them any more.
    pub fn resume(
        states: Vec<((Arc<str>, Severity), AlertState)>,
        targets: &[Arc<Target>],
        location: &str,
        maintenance: Vec<Maintenance>,
    ) -> (Self, Vec<StateChange>) {
        let mut kept = HashMap::new();
        let mut dropped = Vec::new();
        for ((target, sev), state) in states {
            match targets.iter().find(|t| t.name == target) {
                Some(t) => {
                    kept.insert((t.name.clone(), sev), state);
                }
                None => {
                    tracing::warn!(target_name = %target, severity = sev.as_str(), phase = ?state.phase, "target removed from the config: dropping its alert state (no resolved notification is sent)");
                    dropped.push(((target, sev), None));
                }
            }
        }
        (
            Engine {
                states: kept,
                location: location.to_string(),
                maintenance,
            },
            dropped,
        )
    }

    /// The current state of one alert (ok when unknown).
    pub fn state(&self, target: &str, severity: Severity) -> AlertState {
        self.states
            .get(&(Arc::from(target), severity))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether a maintenance window holds `target`'s alerts at `now`.
    pub fn held(&self, target: &str, now: DateTime<Utc>) -> bool {
        self.maintenance.iter().any(|m| m.active(target, now))
    }

    /// Whether `target`'s alert of `severity` is firing.
    pub fn firing(&self, target: &str, severity: Severity) -> bool {
        self.states
            .get(&(Arc::from(target), severity))
            .is_some_and(|s| s.phase == AlertPhase::Firing)
    }

    /// Steps every severity of `target` with `result`.
    pub fn observe(
        &mut self,
        target: &Target,
        result: &ProbeResult,
        now: DateTime<Utc>,
    ) -> Observation {
        let held = self.held(&target.name, now);
        let mut obs = Observation::default();
        for sev in Severity::ALL {
            let failing: Vec<_> = result
                .failures
                .iter()
                .filter(|f| target.alert.severity_of(f.kind) == Some(sev))
                .cloned()
                .collect();
            let key = (target.name.clone(), sev);
            let current = self.states.get(&key).cloned().unwrap_or_default();
            let (next, transition) = step(&current, &failing, &target.alert, now, held);
            obs.firing.push((sev, next.phase == AlertPhase::Firing));
            if next != current {
                if next == AlertState::default() {
                    self.states.remove(&key);
                    obs.changes.push((key.clone(), None));
                } else {
                    self.states.insert(key.clone(), next.clone());
                    obs.changes.push((key.clone(), Some(next)));
                }
            }
            if let Some(t) = transition {
                match t.kind {
                    TransitionKind::Firing => obs.incidents.push(IncidentEvent::Opened {
                        target: target.name.clone(),
                        severity: sev,
                        started_at: t.started_at,
                        cause: crate::probe::failure_line(&t.conditions),
                    }),
                    TransitionKind::Resolved => obs.incidents.push(IncidentEvent::Closed {
                        target: target.name.clone(),
                        severity: sev,
                        ended_at: t.resolved_at.unwrap_or(now),
                    }),
                    TransitionKind::Reminder => {}
                }
                obs.notifications
                    .extend(self.notifications(target, result, sev, &t));
            }
        }
        obs
    }

    fn notifications(
        &self,
        target: &Target,
        result: &ProbeResult,
        sev: Severity,
        t: &Transition,
    ) -> Vec<(Arc<str>, Notification)> {
        let base = Notification {
            id: String::new(),
            kind: t.kind,
            severity: sev,
            target: target.name.to_string(),
            url: target.display_url.to_string(),
            conditions: t.conditions.clone(),
            started_at: t.started_at,
            resolved_at: t.resolved_at,
            location: self.location.clone(),
            last_result: result.to_check_json(),
            test: false,
        };
        // The log channel is always on.
        tracing::warn!(
            target_name = %target.name,
            severity = sev.as_str(),
            alert = ?t.kind,
            conditions = %base.summary(),
            channels = target.alert.channels.len(),
            "alert {}",
            base.subject()
        );
        target
            .alert
            .channels
            .iter()
            .map(|channel| {
                (
                    channel.clone(),
                    Notification {
                        id: new_id(),
                        ..base.clone()
                    },
                )
            })
            .collect()
    }
}
