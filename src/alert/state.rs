//! The alert state machine of one (target, severity): `ok → pending → firing → ok`.
//!
//! A pure function: (state, failing conditions, policy, now, held) → (state, transition).
//! No I/O and no clock reads, so every path is covered by table-driven tests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::AlertPolicy;
use crate::probe::Failure;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertPhase {
    /// Nothing failing.
    #[default]
    Ok,
    /// Failing, below `failure_threshold` (or held by a maintenance window).
    Pending,
    /// Notified as firing; waiting for `success_threshold` good probes.
    Firing,
}

/// The persisted state of one (target, severity).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AlertState {
    /// Current phase.
    pub phase: AlertPhase,
    /// Consecutive failing probes in this episode.
    pub fail_streak: u32,
    /// Consecutive good probes while firing.
    pub ok_streak: u32,
    /// First failing probe of the current episode.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last firing or reminder notification was queued.
    pub last_sent_at: Option<DateTime<Utc>>,
    /// The conditions of the latest failing probe.
    pub conditions: Vec<Failure>,
    /// The latest probes of this episode, newest in bit 0 (1: failing), for "M of N"
    /// thresholds; at most 64.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub history: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl AlertState {
    /// Failing probes among the latest `n` of this episode.
    fn failing_in(&self, n: u32) -> u32 {
        (self.history & window_mask(n)).count_ones()
    }

    /// Good probes among the latest `n` of this episode (probes before it count as good).
    fn good_in(&self, n: u32) -> u32 {
        n.min(64) - self.failing_in(n)
    }
}

fn window_mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// What a step asks to notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    /// The alert started firing.
    Firing,
    /// Still firing after `repeat_interval`.
    Reminder,
    /// Recovered after firing.
    Resolved,
    /// A one-off event outside any alert episode (a model catalog change).
    Notice,
}

/// One notification-worthy change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Which change.
    pub kind: TransitionKind,
    /// Failing conditions (for resolved: those of the last failing probe).
    pub conditions: Vec<Failure>,
    /// First failing probe of the episode.
    pub started_at: DateTime<Utc>,
    /// Recovery time (resolved only).
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Advances `state` by one probe. `failing` holds the probe's failures at this severity
/// (empty: good). `held` is true inside a maintenance window: firing and reminders wait
/// (an alert that reached its threshold fires on the first failing probe after the window),
/// while a recovery is still reported so no incident is left open.
pub fn step(
    state: &AlertState,
    failing: &[Failure],
    policy: &AlertPolicy,
    now: DateTime<Utc>,
    held: bool,
) -> (AlertState, Option<Transition>) {
    let mut s = state.clone();
    let windowed = policy.failure_window > policy.failure_threshold;
    if !failing.is_empty() || s.phase != AlertPhase::Ok {
        s.history = (s.history << 1) | u64::from(!failing.is_empty());
    }
    if !failing.is_empty() {
        s.conditions = failing.to_vec();
        s.ok_streak = 0;
        s.fail_streak = s.fail_streak.saturating_add(1);
        let started_at = *s.started_at.get_or_insert(now);
        let reached = if windowed {
            s.failing_in(policy.failure_window) >= policy.failure_threshold
        } else {
            s.fail_streak >= policy.failure_threshold
        };
        match s.phase {
            AlertPhase::Ok | AlertPhase::Pending => {
                if reached && !held {
                    s.phase = AlertPhase::Firing;
                    s.last_sent_at = Some(now);
                    let t = Transition {
                        kind: TransitionKind::Firing,
                        conditions: s.conditions.clone(),
                        started_at,
                        resolved_at: None,
                    };
                    return (s, Some(t));
                }
                s.phase = AlertPhase::Pending;
                (s, None)
            }
            AlertPhase::Firing => {
                let due = match (policy.repeat_interval, s.last_sent_at) {
                    (Some(every), Some(last)) => {
                        chrono::Duration::from_std(every).is_ok_and(|every| now - last >= every)
                    }
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if due && !held {
                    s.last_sent_at = Some(now);
                    let t = Transition {
                        kind: TransitionKind::Reminder,
                        conditions: s.conditions.clone(),
                        started_at,
                        resolved_at: None,
                    };
                    return (s, Some(t));
                }
                (s, None)
            }
        }
    } else {
        match s.phase {
            AlertPhase::Ok => (s, None),
            // A failure that never reached the threshold (a flap) is forgotten silently:
            // at once when counting consecutive probes, once no failure is left in the
            // window when counting M of N.
            AlertPhase::Pending if windowed && s.failing_in(policy.failure_window) > 0 => {
                s.fail_streak = 0;
                (s, None)
            }
            AlertPhase::Pending => (AlertState::default(), None),
            AlertPhase::Firing => {
                s.ok_streak = s.ok_streak.saturating_add(1);
                let recovered = if policy.success_window > policy.success_threshold {
                    s.good_in(policy.success_window) >= policy.success_threshold
                } else {
                    s.ok_streak >= policy.success_threshold
                };
                if !recovered {
                    return (s, None);
                }
                let started_at = s.started_at.unwrap_or(now);
                let t = policy.send_resolved.then(|| Transition {
                    kind: TransitionKind::Resolved,
                    conditions: s.conditions.clone(),
                    started_at,
                    resolved_at: Some(now),
                });
                (AlertState::default(), t)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::FailureKind;
    use chrono::TimeZone;
    use std::time::Duration;

    fn policy(fail: u32, ok: u32, repeat_min: u64, send_resolved: bool) -> AlertPolicy {
        AlertPolicy {
            failure_threshold: fail,
            failure_window: fail,
            success_threshold: ok,
            success_window: ok,
            repeat_interval: (repeat_min > 0).then(|| Duration::from_secs(repeat_min * 60)),
            send_resolved,
            ..AlertPolicy::default()
        }
    }

    fn m_of_n(fail: u32, fail_window: u32, ok: u32, ok_window: u32) -> AlertPolicy {
        AlertPolicy {
            failure_threshold: fail,
            failure_window: fail_window,
            success_threshold: ok,
            success_window: ok_window,
            repeat_interval: None,
            ..AlertPolicy::default()
        }
    }

    /// One probe per minute: `F` failing, `.` good, `h` failing inside maintenance,
    /// `g` good inside maintenance. Returns the transitions with the minute they happened.
    fn run(p: &AlertPolicy, probes: &str) -> (Vec<(usize, TransitionKind)>, AlertState) {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let fail = vec![Failure::new(
            FailureKind::HttpStatus,
            "HTTP 503, expected 200",
        )];
        let mut s = AlertState::default();
        let mut out = Vec::new();
        for (minute, c) in probes.chars().enumerate() {
            let now = t0 + chrono::Duration::minutes(minute as i64);
            let (failing, held) = match c {
                'F' => (fail.as_slice(), false),
                'h' => (fail.as_slice(), true),
                'g' => (&[][..], true),
                _ => (&[][..], false),
            };
            let (next, t) = step(&s, failing, p, now, held);
            if let Some(t) = t {
                if t.kind == TransitionKind::Resolved {
                    assert_eq!(t.resolved_at, Some(now));
                }
                out.push((minute, t.kind));
            }
            s = next;
        }
        (out, s)
    }

    use TransitionKind::*;

    /// (name, policy, probes, expected transitions by minute)
    type Case = (
        &'static str,
        AlertPolicy,
        &'static str,
        &'static [(usize, TransitionKind)],
    );

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("all good: nothing",                  policy(2, 2, 60, true), "......",        &[]),
            ("one failure under threshold: flap",  policy(2, 2, 60, true), ".F.F.F",        &[]),
            ("fires on the 2nd consecutive",       policy(2, 2, 60, true), "FF",            &[(1, Firing)]),
            ("threshold 1 fires at once",          policy(1, 1, 0, true),  "F.",            &[(0, Firing), (1, Resolved)]),
            ("resolves after 2 good",              policy(2, 2, 60, true), "FFF..",         &[(1, Firing), (4, Resolved)]),
            ("one good inside firing is not enough", policy(2, 2, 60, true), "FF.F..",      &[(1, Firing), (5, Resolved)]),
            ("no resolved when send_resolved off", policy(2, 2, 60, false), "FF..",         &[(1, Firing)]),
            ("reminder every 3 minutes",           policy(1, 1, 3, true),  "FFFFFFF",       &[(0, Firing), (3, Reminder), (6, Reminder)]),
            ("no reminders when repeat is 0",      policy(1, 1, 0, true),  "FFFFFFF",       &[(0, Firing)]),
            ("held: no firing in the window",      policy(2, 2, 60, true), "hhhh",          &[]),
            ("held: fires right after the window", policy(2, 2, 60, true), "hhhF",          &[(3, Firing)]),
            ("held: recovery in window is silent", policy(2, 2, 60, true), "hhgg",          &[]),
            ("held: resolve still reported",       policy(2, 2, 60, true), "FFhhgg",        &[(1, Firing), (5, Resolved)]),
            ("held: reminders wait",               policy(1, 1, 2, true),  "FhhhhF",        &[(0, Firing), (5, Reminder)]),
            ("second episode fires again",         policy(2, 1, 0, true),  "FF.FF",         &[(1, Firing), (2, Resolved), (4, Firing)]),
            ("3 of 5: a flapping target fires",    m_of_n(3, 5, 2, 2),     "F.F.F",         &[(4, Firing)]),
            ("3 of 5: two in five never fire",     m_of_n(3, 5, 2, 2),     "F..F...F..F",   &[]),
            ("3 of 5: a window with no failure forgets", m_of_n(3, 5, 2, 2), "FF.....F",    &[]),
            ("3 of 5: consecutive fires too",      m_of_n(3, 5, 2, 2),     "FFF",           &[(2, Firing)]),
            ("3 of 5 to fire, 4 of 5 good to resolve", m_of_n(3, 5, 4, 5), "FFF..F..",     &[(2, Firing), (7, Resolved)]),
            ("plain counts stay consecutive",      policy(3, 2, 0, true),  "FF.FF.FFF..",   &[(8, Firing), (10, Resolved)]),
        ];
        for (name, p, probes, want) in cases {
            let (got, _) = run(p, probes);
            assert_eq!(&got[..], *want, "case {name:?} ({probes})");
        }
    }

    #[test]
    fn resolved_carries_the_episode_start_and_conditions() {
        let p = policy(2, 1, 0, true);
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let f = vec![Failure::new(
            FailureKind::Timeout,
            "no response head within 10s",
        )];
        let (s, _) = step(&AlertState::default(), &f, &p, t0, false);
        let (s, fired) = step(&s, &f, &p, t0 + chrono::Duration::minutes(1), false);
        assert_eq!(fired.unwrap().started_at, t0);
        let (s, resolved) = step(&s, &[], &p, t0 + chrono::Duration::minutes(12), false);
        let r = resolved.unwrap();
        assert_eq!(r.kind, Resolved);
        assert_eq!(r.started_at, t0);
        assert_eq!(r.conditions, f);
        assert_eq!(s, AlertState::default());
    }

    #[test]
    fn healthy_steps_do_not_change_state() {
        let p = policy(2, 2, 60, true);
        let (s, t) = step(&AlertState::default(), &[], &p, Utc::now(), false);
        assert_eq!((s, t), (AlertState::default(), None));
    }
}
