//! Probe etiquette towards a provider that rate-limits: after a 429 a target (or its whole
//! `rate_limit_group`) waits for `Retry-After`, or backs off exponentially without one; and
//! the targets of a group are spaced so together they never exceed the group's `max_rps`.
//!
//! Pure arithmetic on `tokio::time::Instant` behind one lock per gate, so it runs under the
//! paused clock in tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{RateLimitGroup, Target};
use crate::probe::ProbeResult;

/// The longest `Retry-After` honoured: a larger value is taken as this (a provider asking
/// for a day's silence is more likely a bug than a plan, and the monitor must come back).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Exponential backoff stops growing at this many periods.
pub const MAX_BACKOFF_PERIODS: u32 = 10;

/// Where the targets of one group (or one target alone) coordinate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The group's name, or the target's when it has no group.
    pub name: Arc<str>,
    /// Whether several targets share the gate.
    pub shared: bool,
    /// Least time between two starts through the gate (zero: no spacing).
    spacing: Duration,
    state: Arc<Mutex<GateState>>,
}

#[derive(Debug, Default)]
struct GateState {
    /// The earliest start of the next probe through the gate.
    next_slot: Option<Instant>,
    /// No probe starts before this (set by a 429).
    hold_until: Option<Instant>,
    /// 429s in a row without `Retry-After`.
    strikes: u32,
}

/// Why a gate now holds its probes, for one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// No probe through the gate starts before this.
    pub until: Instant,
    /// How long from the moment it was set.
    pub wait: Duration,
    /// `Retry-After 30 s` or `backoff 4 × interval (no Retry-After)`.
    pub reason: String,
}

impl Gate {
    /// A gate of its own for one target.
    pub fn single(name: Arc<str>) -> Self {
        Gate {
            name,
            shared: false,
            spacing: Duration::ZERO,
            state: Arc::default(),
        }
    }

    /// A gate shared by the targets of a group.
    pub fn group(name: Arc<str>, group: RateLimitGroup) -> Self {
        let spacing = Duration::from_secs_f64(1.0 / group.max_rps.max(1e-6));
        Gate {
            name,
            shared: true,
            spacing,
            state: Arc::default(),
        }
    }

    /// The moment before which no probe may start, if it is after `now`.
    pub fn held_until(&self, now: Instant) -> Option<Instant> {
        self.lock().hold_until.filter(|h| *h > now)
    }

    /// Reserves the next start at or after `now`, spaced from the previous one.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut s = self.lock();
        let slot = match s.next_slot {
            Some(next) if next > now => next,
            _ => now,
        };
        if !self.spacing.is_zero() {
            s.next_slot = Some(slot + self.spacing);
        }
        slot
    }

    /// Learns from a finished probe of the tick at `started` that ended at `now`: a 429 holds the gate; anything else clears the backoff. `period` is the
    /// target's nominal interval. Returns the new hold when one was set.
    pub fn observe(
        &self,
        r: &ProbeResult,
        period: Duration,
        started: Instant,
        now: Instant,
    ) -> Option<Hold> {
        let mut s = self.lock();
        if r.status != Some(429) {
            s.strikes = 0;
            return None;
        }
        let retry_after = r
            .response
            .as_ref()
            .and_then(|resp| resp.ratelimit.retry_after_s)
            .filter(|s| s.is_finite() && *s >= 0.0)
            // A value too large for a Duration ("1e300") is the cap, not a panic.
            .map(|s| {
                Duration::try_from_secs_f64(s)
                    .unwrap_or(MAX_RETRY_AFTER)
                    .min(MAX_RETRY_AFTER)
            });
        let (until, reason) = match retry_after {
            Some(wait) => {
                s.strikes = 0;
                (now + wait, format!("Retry-After {} s", wait.as_secs_f64()))
            }
            None => {
                s.strikes = s.strikes.saturating_add(1);
                let periods = backoff_periods(s.strikes);
                (
                    started + period * periods,
                    format!("backoff {periods} × interval (no Retry-After)"),
                )
            }
        };
        // Never shorten a hold another target of the group set.
        let until = s.hold_until.map_or(until, |h| h.max(until));
        s.hold_until = Some(until);
        Some(Hold {
            until,
            wait: until.saturating_duration_since(now),
            reason,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Periods to wait after the n-th 429 in a row: 2, 4, 8, then 10 (the cap).
pub fn backoff_periods(strikes: u32) -> u32 {
    let doubled = 1u32.checked_shl(strikes.min(31)).unwrap_or(u32::MAX);
    doubled.min(MAX_BACKOFF_PERIODS)
}

/// One gate per target: shared within a `rate_limit_group`, private otherwise.
pub fn gates(
    targets: &[Arc<Target>],
    groups: &std::collections::BTreeMap<Arc<str>, RateLimitGroup>,
) -> HashMap<Arc<str>, Gate> {
    let mut shared: HashMap<Arc<str>, Gate> = HashMap::new();
    targets
        .iter()
        .map(|t| {
            let gate = match &t.llm.rate_limit_group {
                Some(g) => shared
                    .entry(g.clone())
                    .or_insert_with(|| {
                        Gate::group(g.clone(), groups.get(g).copied().unwrap_or_default())
                    })
                    .clone(),
                None => Gate::single(t.name.clone()),
            };
            (t.name.clone(), gate)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_ten_periods() {
        let seq: Vec<u32> = (1..=6).map(backoff_periods).collect();
        assert_eq!(seq, vec![2, 4, 8, 10, 10, 10]);
        assert_eq!(backoff_periods(u32::MAX), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn group_slots_are_spaced_at_max_rps() {
        let g = Gate::group("g".into(), RateLimitGroup { max_rps: 2.0 });
        let t0 = Instant::now();
        let slots: Vec<Instant> = (0..4).map(|_| g.reserve(t0)).collect();
        let gaps: Vec<Duration> = slots.iter().map(|s| *s - t0).collect();
        assert_eq!(
            gaps,
            vec![
                Duration::ZERO,
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_millis(1500)
            ]
        );
        // Once the group has been idle, a start is free again.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(g.reserve(later), later);
        let single = Gate::single("s".into());
        assert_eq!(single.reserve(t0), t0);
        assert_eq!(single.reserve(t0), t0);
    }
}
