//! When probes run: interval and cron schedules, deterministic start spreading, skipped
//! ticks, and the per-target runner tasks (in [`runner`]).
//!
//! Timing is pure arithmetic on `tokio::time::Instant` so it runs under tokio's paused
//! clock in tests. The caller passes both "now"s in (monotonic and wall) on every call:
//! nothing here reads a clock, and a suspended host or stepped wall clock cannot leave a
//! stale mapping between the two behind.

pub mod etiquette;
pub mod heartbeat;
pub mod pages;
pub mod runner;
pub mod wallstep;

pub use heartbeat::Heartbeat;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// How often a target runs.
#[derive(Debug, Clone)]
pub enum ScheduleSpec {
    /// Every `Duration`, the n-th run at origin + n · interval.
    Interval(Duration),
    /// At the times a cron expression (with a seconds field, UTC) names.
    Cron(Box<CronSpec>),
}

/// A parsed cron expression and its source text.
#[derive(Debug, Clone)]
pub struct CronSpec {
    /// The expression as written.
    pub expr: String,
    /// The parsed schedule.
    pub schedule: cron::Schedule,
}

impl ScheduleSpec {
    /// Parses a cron expression with seconds: `sec min hour day-of-month month day-of-week [year]`.
    pub fn cron(expr: &str) -> Result<Self, String> {
        let fields = expr.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            return Err(format!(
                "cron expression {expr:?} has {fields} fields; upwatch needs 6 or 7 \
                 (seconds first), e.g. \"0 * * * * *\" for every minute"
            ));
        }
        cron::Schedule::from_str(expr)
            .map(|schedule| {
                ScheduleSpec::Cron(Box::new(CronSpec {
                    expr: expr.to_string(),
                    schedule,
                }))
            })
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))
    }

    /// The usual time between two runs: the interval, or the gap between a cron
    /// expression's next two times (60 s when it has none). Backoff counts in these.
    pub fn nominal_period(&self, now: DateTime<Utc>) -> Duration {
        match self {
            ScheduleSpec::Interval(d) => *d,
            ScheduleSpec::Cron(c) => {
                let mut next = c.schedule.after(&now);
                match (next.next(), next.next()) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                    _ => Duration::from_secs(60),
                }
            }
        }
    }

    /// A short human form: `every 60s` or `cron "0 * * * * *"`.
    pub fn describe(&self) -> String {
        match self {
            ScheduleSpec::Interval(d) => format!("every {}", humantime::format_duration(*d)),
            ScheduleSpec::Cron(c) => format!("cron {:?}", c.expr),
        }
    }
}

/// The deterministic offset of a target inside its interval: a hash of the name, so 1,000
/// targets sharing an interval start spread across it and keep their slot across restarts.
pub fn spread_offset(name: &str, interval: Duration) -> Duration {
    let nanos = interval.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    // FNV-1a: stable across builds and platforms, unlike std's RandomState.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Fold the high bits in: FNV's low bits are weak for short, similar names.
    h ^= h >> 29;
    let offset = u128::from(h) % nanos;
    Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
}

/// Evenly spaced offsets for targets that share an interval: the `n` targets of one
/// interval start one `interval / n` apart, in the order of their [`spread_offset`] (so the
/// order is stable and unrelated to the file's). Hashing alone places starts at random,
/// which clusters them: 1,000 targets at 10 s gave 100 ms buckets of 2 to 20 starts
/// (bench/run); even spacing gives exactly 10 in each. Schedules restart with the process
/// (and on reload), so the offsets need no stability beyond one run.
pub fn even_offsets<'a>(
    targets: impl IntoIterator<Item = (&'a str, Duration)>,
) -> HashMap<&'a str, Duration> {
    let mut groups: HashMap<Duration, Vec<(Duration, &'a str)>> = HashMap::new();
    for (name, period) in targets {
        groups
            .entry(period)
            .or_default()
            .push((spread_offset(name, period), name));
    }
    let mut out = HashMap::new();
    for (period, mut members) in groups {
        members.sort();
        let n = members.len() as u128;
        for (i, (_, name)) in members.into_iter().enumerate() {
            let offset = period.as_nanos() * i as u128 / n;
            out.insert(
                name,
                Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX)),
            );
        }
    }
    out
}

/// The next start a target should make, and how many starts it already missed.
#[derive(Debug)]
pub struct Ticker {
    kind: TickerKind,
}

#[derive(Debug)]
enum TickerKind {
    Interval {
        /// The first start: the offset scaled into [`FIRST_ROUND`], so a long interval
        /// does not keep a new daemon silent for most of it.
        first: Option<Instant>,
        origin: Instant,
        period: Duration,
        next_n: u64,
    },
    Cron {
        /// Monotonic and wall time at the previous call, to notice the wall clock stepping.
        anchor: Option<(Instant, DateTime<Utc>)>,
        spec: Box<CronSpec>,
        last: Option<DateTime<Utc>>,
    },
}

/// A planned start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// When to start.
    pub at: Instant,
    /// Scheduled starts that were already past and are skipped (never run late in a burst).
    pub skipped: u64,
    /// How far the wall clock stepped since the previous call (forward positive), when it
    /// did: cron schedules follow it, and the starts it jumped over are `skipped` without
    /// any probe having overrun.
    pub wall_step: Option<chrono::Duration>,
}

/// The first round of probes is spread over at most this, whatever the intervals: results
/// come within seconds of a start, and 50,000 targets still do not start at once.
pub const FIRST_ROUND: Duration = Duration::from_secs(10);

/// Where in the first round a target with `offset` into `period` starts: the same place,
/// scaled from the period into [`FIRST_ROUND`] when the period is longer.
fn first_offset(offset: Duration, period: Duration) -> Duration {
    if period <= FIRST_ROUND || period.is_zero() {
        return offset;
    }
    let scaled = offset.as_nanos() * FIRST_ROUND.as_nanos() / period.as_nanos();
    Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
}

/// A wall clock that moved this much more or less than monotonic time stepped: NTP's
/// corrections slew far slower (at most 0.05 %), so only a set clock, a VM resume or a
/// suspend get past it.
fn wall_stepped(mono: Duration, wall: chrono::Duration) -> Option<chrono::Duration> {
    let mono = chrono::Duration::from_std(mono).ok()?;
    let drift = wall - mono;
    let tolerance = chrono::Duration::seconds(2) + mono / 1000;
    (drift.abs() > tolerance).then_some(drift)
}

impl Ticker {
    /// A ticker for `spec`. Interval schedules start at `start + spread_offset(name)`.
    pub fn new(spec: &ScheduleSpec, name: &str, start: Instant) -> Self {
        let offset = match spec {
            ScheduleSpec::Interval(period) => spread_offset(name, *period),
            ScheduleSpec::Cron(_) => Duration::ZERO,
        };
        Self::at_offset(spec, offset, start)
    }

    /// A ticker for `spec` whose interval schedule starts at `start + offset` (see
    /// [`even_offsets`]); cron schedules ignore the offset.
    pub fn at_offset(spec: &ScheduleSpec, offset: Duration, start: Instant) -> Self {
        let kind = match spec {
            ScheduleSpec::Interval(period) => TickerKind::Interval {
                first: Some(start + first_offset(offset, *period)),
                origin: start + offset,
                period: *period,
                next_n: 0,
            },
            ScheduleSpec::Cron(c) => TickerKind::Cron {
                anchor: None,
                spec: c.clone(),
                last: None,
            },
        };
        Ticker { kind }
    }

    /// The next start at or after `now` (`wall_now` is the same moment on the wall clock,
    /// used by cron schedules). Starts that fell before `now` (because a probe overran, or
    /// the process was stalled) are counted in `skipped` and not run. `None` when a cron
    /// schedule has no future time.
    pub fn next(&mut self, now: Instant, wall_now: DateTime<Utc>) -> Option<Tick> {
        match &mut self.kind {
            TickerKind::Interval {
                first,
                origin,
                period,
                next_n,
            } => {
                let period_ns = period.as_nanos().max(1);
                if let Some(first) = first.take() {
                    // A task that starts a little late runs its first probe at once: no
                    // start was missed, nothing has run yet.
                    let at = first.max(now);
                    // Then the grid: the first start strictly after this one.
                    let n = match at.checked_duration_since(*origin) {
                        Some(past) => past.as_nanos() / period_ns + 1,
                        None => 0,
                    };
                    *next_n = u64::try_from(n).unwrap_or(u64::MAX);
                    return Some(Tick {
                        at,
                        skipped: 0,
                        wall_step: None,
                    });
                }
                let due = *origin + mul(*period, *next_n);
                if due >= now {
                    *next_n += 1;
                    return Some(Tick {
                        at: due,
                        skipped: 0,
                        wall_step: None,
                    });
                }
                // First n with origin + n·period >= now.
                let behind = now.duration_since(*origin).as_nanos();
                let n = u64::try_from(behind.div_ceil(period_ns)).unwrap_or(u64::MAX);
                let skipped = n.saturating_sub(*next_n);
                *next_n = n.saturating_add(1);
                Some(Tick {
                    at: *origin + mul(*period, n),
                    skipped,
                    wall_step: None,
                })
            }
            TickerKind::Cron { anchor, spec, last } => {
                let now_wall = wall_now;
                let wall_step = anchor.and_then(|(mono, wall)| {
                    wall_stepped(now.saturating_duration_since(mono), now_wall - wall)
                });
                *anchor = Some((now, now_wall));
                // Stepped back: the next start comes from the new wall time, not from the
                // last one planned (which may now be an hour ahead).
                if wall_step.is_some_and(|d| d < chrono::Duration::zero()) {
                    *last = None;
                }
                // Times strictly after `from`; the first call may start exactly now.
                let from = last.unwrap_or(now_wall - chrono::Duration::nanoseconds(1));
                let mut skipped = 0;
                for t in spec.schedule.after(&from) {
                    if t >= now_wall - chrono::Duration::milliseconds(1) {
                        *last = Some(t);
                        let ahead = (t - now_wall).to_std().unwrap_or(Duration::ZERO);
                        return Some(Tick {
                            at: now + ahead,
                            skipped,
                            wall_step,
                        });
                    }
                    skipped += 1;
                    if skipped > 1_000_000 {
                        break;
                    }
                }
                None
            }
        }
    }
}

fn mul(d: Duration, n: u64) -> Duration {
    let nanos = d.as_nanos().saturating_mul(u128::from(n));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Wall time in paused-clock tests: 2026-11-23 10:00:00 UTC at `start`, advancing with
    /// tokio's clock.
    fn wall(start: Instant) -> DateTime<Utc> {
        let base = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        base + chrono::Duration::from_std(Instant::now() - start).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn interval_ticks_do_not_drift_over_1000_periods() {
        let start = Instant::now();
        let period = Duration::from_millis(1500);
        let spec = ScheduleSpec::Interval(period);
        let mut t = Ticker::new(&spec, "a", start);
        let origin = start + spread_offset("a", period);
        for n in 0..1000u32 {
            let tick = t.next(Instant::now(), wall(start)).unwrap();
            assert_eq!(tick.at, origin + period * n);
            assert_eq!(tick.skipped, 0);
            tokio::time::sleep_until(tick.at).await;
            // Work that takes part of the period must not shift later ticks.
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        // The timer wheel rounds a wake-up up to the next millisecond; nothing accumulates.
        let expected_end = origin + period * 999 + Duration::from_millis(700);
        assert!(Instant::now() - expected_end < Duration::from_millis(1));
    }

    /// A new daemon gives first results within seconds, whatever the interval, spread so
    /// that starts never pile up; a task that starts late is not an overrun.
    #[tokio::test(start_paused = true)]
    async fn the_first_round_comes_within_ten_seconds_then_the_grid() {
        let start = Instant::now();
        let period = Duration::from_secs(60);
        let spec = ScheduleSpec::Interval(period);
        for (offset, first) in [(0, 0), (30_000, 5_000), (54_000, 9_000)] {
            let offset = Duration::from_millis(offset);
            let mut t = Ticker::at_offset(&spec, offset, start);
            let tick = t.next(start, wall(start)).unwrap();
            assert_eq!(tick.at, start + Duration::from_millis(first));
            assert_eq!(tick.skipped, 0);
            // Then the even grid: start + offset + n·period, the first one after.
            let next = t.next(tick.at, wall(start)).unwrap();
            let grid = if offset > Duration::from_millis(first) {
                start + offset
            } else {
                start + offset + period
            };
            assert_eq!((next.at, next.skipped), (grid, 0));
        }
        // A task that first runs after its first slot probes at once, with nothing skipped.
        let mut t = Ticker::at_offset(&spec, Duration::ZERO, start);
        tokio::time::advance(Duration::from_millis(3)).await;
        let tick = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!((tick.at, tick.skipped), (Instant::now(), 0));
        assert_eq!(
            t.next(Instant::now(), wall(start)).unwrap().at,
            start + period
        );
    }

    #[tokio::test(start_paused = true)]
    async fn overrun_skips_missed_ticks_instead_of_bursting() {
        let start = Instant::now();
        let period = Duration::from_secs(10);
        let spec = ScheduleSpec::Interval(period);
        let mut t = Ticker::new(&spec, "b", start);
        let origin = start + spread_offset("b", period);
        let first = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!(first.at, origin);
        tokio::time::sleep_until(first.at).await;
        // The probe overran by 3.5 periods: ticks 1..=3 are past and skipped.
        tokio::time::sleep(Duration::from_secs(35)).await;
        let next = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!(next.skipped, 3);
        assert_eq!(next.at, origin + period * 4);
        // After that it is back on the grid.
        tokio::time::sleep_until(next.at).await;
        assert_eq!(
            t.next(Instant::now(), wall(start)).unwrap(),
            Tick {
                at: origin + period * 5,
                skipped: 0,
                wall_step: None,
            }
        );
    }

    /// `*/5 * * * * *` while the wall clock is set an hour ahead and then back, monotonic
    /// time untouched: the forward step is named as such (not an overrun), and after the
    /// backward step the next start is at most 5 s away, not an hour.
    #[tokio::test(start_paused = true)]
    async fn cron_follows_the_wall_clock_across_steps_both_ways() {
        let start = Instant::now();
        let spec = ScheduleSpec::cron("*/5 * * * * *").unwrap();
        let mut t = Ticker::new(&spec, "c", start);
        let mut offset = chrono::Duration::zero();
        let mut runs = 0;
        let at = |t: &mut Ticker, offset: chrono::Duration| {
            t.next(Instant::now(), wall(start) + offset).unwrap()
        };
        for _ in 0..4 {
            let tick = at(&mut t, offset);
            assert_eq!((tick.skipped, tick.wall_step), (0, None));
            tokio::time::sleep_until(tick.at).await;
            runs += 1;
        }
        offset = chrono::Duration::hours(1);
        let tick = at(&mut t, offset);
        let step = tick.wall_step.expect("the forward step is seen");
        assert!((step - chrono::Duration::hours(1)).abs() < chrono::Duration::seconds(1));
        // The hour held 720 starts; the one at the new "now" is the next one, not skipped.
        assert_eq!(tick.skipped, 719);
        assert!(tick.at - Instant::now() <= Duration::from_secs(5));
        tokio::time::sleep_until(tick.at).await;
        offset = chrono::Duration::zero();
        let tick = at(&mut t, offset);
        assert!(tick.wall_step.is_some_and(|d| d < chrono::Duration::zero()));
        assert!(
            tick.at - Instant::now() <= Duration::from_secs(5),
            "the next start comes from the new wall time: {:?}",
            tick.at - Instant::now()
        );
        // And then the rate is kept: a start every 5 s.
        let before = Instant::now();
        for _ in 0..12 {
            let tick = at(&mut t, offset);
            assert_eq!(tick.wall_step, None);
            tokio::time::sleep_until(tick.at).await;
            runs += 1;
        }
        let took = Instant::now() - before;
        assert!(took <= Duration::from_secs(60), "{took:?}");
        assert_eq!(runs, 16);
    }

    #[test]
    fn offsets_spread_across_the_interval() {
        let period = Duration::from_secs(60);
        let offsets: Vec<Duration> = (0..1000)
            .map(|i| spread_offset(&format!("target-{i}"), period))
            .collect();
        assert!(offsets.iter().all(|o| *o < period));
        // Each of the ten 6-second buckets gets a fair share (expected 100 each).
        for b in 0..10u32 {
            let lo = Duration::from_secs(6) * b;
            let hi = lo + Duration::from_secs(6);
            let n = offsets.iter().filter(|o| **o >= lo && **o < hi).count();
            assert!((60..=140).contains(&n), "bucket {b} has {n}");
        }
        // At most a few share any one millisecond (random placement of 1,000 starts in
        // 60,000 ms gives ~8 shared milliseconds, rarely a triple).
        let mut per_ms = std::collections::HashMap::new();
        for o in &offsets {
            *per_ms.entry(o.as_millis()).or_insert(0u32) += 1;
        }
        let crowded = per_ms.values().max().copied().unwrap_or(0);
        assert!(
            crowded <= 3,
            "{crowded} targets start in the same millisecond"
        );
        // Deterministic.
        assert_eq!(spread_offset("x", period), spread_offset("x", period));
    }

    #[test]
    fn targets_sharing_an_interval_are_spaced_evenly() {
        let period = Duration::from_secs(10);
        let names: Vec<String> = (0..1000).map(|i| format!("s{i}")).collect();
        let mut targets: Vec<(&str, Duration)> =
            names.iter().map(|n| (n.as_str(), period)).collect();
        targets.push(("other", Duration::from_secs(60)));
        let offsets = even_offsets(targets);
        assert_eq!(offsets.len(), 1001);
        // Alone in its interval: starts at the beginning.
        assert_eq!(offsets["other"], Duration::ZERO);
        let mut buckets = [0u32; 100];
        for n in &names {
            let o = offsets[n.as_str()];
            assert!(o < period);
            buckets[(o.as_millis() / 100) as usize] += 1;
        }
        assert!(buckets.iter().all(|b| *b == 10), "{buckets:?}");
        // Stable: the same names give the same offsets.
        let again = even_offsets(names.iter().map(|n| (n.as_str(), period)));
        assert!(names
            .iter()
            .all(|n| again[n.as_str()] == offsets[n.as_str()]));
    }

    #[tokio::test(start_paused = true)]
    async fn cron_ticks_follow_wall_time_and_skip_missed() {
        let start = Instant::now();
        let spec = ScheduleSpec::cron("*/15 * * * * *").unwrap();
        let mut t = Ticker::new(&spec, "c", start);
        // The first tick may be "now" (10:00:00 matches).
        let first = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!(first.at, start);
        let second = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!(second.at, start + Duration::from_secs(15));
        tokio::time::sleep_until(second.at + Duration::from_secs(40)).await;
        // 10:00:55 now: 10:00:30 and 10:00:45 were missed.
        let third = t.next(Instant::now(), wall(start)).unwrap();
        assert_eq!(third.skipped, 2);
        assert_eq!(third.at, start + Duration::from_secs(60));
    }

    #[test]
    fn cron_needs_a_seconds_field() {
        let err = ScheduleSpec::cron("* * * * *").unwrap_err();
        assert!(err.contains("needs 6 or 7"), "{err}");
        assert!(ScheduleSpec::cron("0 0 2 * * Sun").is_ok());
        assert!(ScheduleSpec::cron("0 61 * * * *").is_err());
    }
}
