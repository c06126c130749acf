//! The recorded history: results round-trip through the store, hourly aggregation and
//! retention against hand-computed values, and what `Reader` reports from them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use upwatch::config::StoreSettings;
use upwatch::probe::Health;
use upwatch::store::{HourStats, Reader, ResultRow, Store};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, h, m, 0).unwrap()
}

fn row(target: &str, t: DateTime<Utc>, health: Health, ms: f64) -> ResultRow {
    let failures = match health {
        Health::Up => "",
        Health::Degraded => "too_slow",
        Health::Down => "http_status",
    };
    ResultRow {
        target: Arc::from(target),
        checked_at: t,
        health,
        host_side: false,
        status: Some(if health == Health::Down { 503 } else { 200 }),
        total_ms: ms,
        failures: failures.into(),
        detail: upwatch::store::detail::split(serde_json::json!({
            "target": target,
            "health": health.as_str(),
            "latency_ms": ms,
            "checked_at": t.to_rfc3339(),
        })),
    }
}

/// Hour 10:00 of "api": six probes not down (10, 20, 30, 40, 1000 ms up; 4000 ms
/// degraded) and one down. Nearest rank over the six sorted latencies:
/// p50 = 3rd = 30, p95 = 6th = 4000, p99 = 6th = 4000.
fn hour_ten() -> Vec<ResultRow> {
    let mut rows: Vec<ResultRow> = [10.0, 20.0, 30.0, 40.0, 1000.0]
        .iter()
        .enumerate()
        .map(|(i, ms)| row("api", at(10, i as u32 * 5), Health::Up, *ms))
        .collect();
    rows.push(row("api", at(10, 30), Health::Down, 2.0));
    rows.push(row("api", at(10, 40), Health::Degraded, 4000.0));
    rows
}

fn expected_hour_ten() -> HourStats {
    HourStats {
        hour: at(10, 0).timestamp(),
        count: 7,
        down: 1,
        degraded: 1,
        host: 0,
        min_ms: Some(10.0),
        p50_ms: Some(30.0),
        p95_ms: Some(4000.0),
        p99_ms: Some(4000.0),
        max_ms: Some(4000.0),
    }
}

#[tokio::test]
async fn hourly_aggregates_match_hand_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let settings = StoreSettings::default();
    let mut rows = hour_ten();
    rows.push(row("other", at(11, 10), Health::Up, 99.0));
    rows.push(row("api", at(12, 1), Health::Up, 50.0));
    assert_eq!(store.insert_results(rows).await.unwrap(), 9);

    let reader = Reader::open(dir.path()).unwrap();
    let now = at(12, 3);
    // Before aggregation, the hours are computed from raw results.
    let before = reader.hourly("api", 3, now).await.unwrap();
    assert_eq!(before[0], expected_hour_ten());

    // At 12:03 only hour 10 has closed long enough ago (11:00-12:00 closes at 12:05).
    assert_eq!(
        store.aggregate_closed_hours(now, &settings).await.unwrap(),
        1
    );
    let now = at(12, 6);
    // Hour 11 now; "api" had no probe in it but "other" did.
    assert_eq!(
        store.aggregate_closed_hours(now, &settings).await.unwrap(),
        1
    );
    assert_eq!(
        store.aggregate_closed_hours(now, &settings).await.unwrap(),
        0
    );

    let hours = reader.hourly("api", 3, now).await.unwrap();
    assert_eq!(hours.len(), 3);
    assert_eq!(hours[0], expected_hour_ten());
    assert_eq!(hours[1].count, 0);
    assert_eq!(hours[1].hour, at(11, 0).timestamp());
    // The open hour comes from raw results.
    assert_eq!(hours[2].count, 1);
    assert_eq!(hours[2].p50_ms, Some(50.0));
    let other = reader.hourly("other", 2, now).await.unwrap();
    assert_eq!((other[0].count, other[0].p99_ms), (1, Some(99.0)));

    // The same numbers through the report: 8 probes in the 24 h window, 1 down.
    let report = reader.target("api", now).await.unwrap();
    let day = &report.uptime[0];
    assert_eq!(
        (day.window, day.probes, day.down, day.degraded),
        ("24h", 8, 1, 1)
    );
    assert_eq!(day.uptime_percent, Some(87.5));
    assert_eq!(day.degraded_percent, Some(12.5));
    // Latency over 24 h: 10, 20, 30, 40, 50, 1000, 4000 -> p50 = 4th = 40.
    let lat = report.latency_24h.unwrap();
    assert_eq!((lat.samples, lat.p50_ms, lat.p95_ms), (7, 40.0, 4000.0));
    assert_eq!(report.health, Some(Health::Up));
    // Up since the first up probe after the last degraded one (10:40).
    assert_eq!(report.since, Some(at(12, 1)));
    assert_eq!(report.last_result.unwrap()["latency_ms"], 50.0);
}

#[tokio::test]
async fn failures_on_this_hosts_side_are_counted_apart_not_as_down() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let host = |m: u32| ResultRow {
        host_side: true,
        ..row("api", at(10, m), Health::Down, 800.0)
    };
    let rows = vec![
        row("api", at(10, 0), Health::Up, 10.0),
        row("api", at(10, 10), Health::Up, 20.0),
        row("api", at(10, 20), Health::Down, 0.0),
        host(30),
        host(40),
        row("api", at(10, 50), Health::Up, 30.0),
    ];
    store.insert_results(rows).await.unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    let check = |h: &HourStats| {
        assert_eq!((h.count, h.down, h.host, h.degraded), (6, 1, 2, 0), "{h:?}");
        // Latency only of the probes that got an answer in time.
        assert_eq!((h.min_ms, h.max_ms), (Some(10.0), Some(30.0)));
    };
    // From raw results, then from the hourly aggregate: the same.
    let now = at(10, 55);
    check(&reader.hourly("api", 1, now).await.unwrap()[0]);
    let now = at(11, 6);
    store
        .aggregate_closed_hours(now, &StoreSettings::default())
        .await
        .unwrap();
    check(&reader.hourly("api", 2, now).await.unwrap()[0]);
    let report = reader.target("api", now).await.unwrap();
    let day = &report.uptime[0];
    assert_eq!((day.probes, day.down, day.host), (6, 1, 2));
    // The two on this host's side count neither way: 3 of the other 4 were not down.
    assert_eq!(day.uptime_percent, Some(75.0));
    assert_eq!(day.host_percent, Some(200.0 / 6.0));
    // The latest result stands for what it was: up.
    assert_eq!(report.health, Some(Health::Up));
}

#[tokio::test]
async fn since_marks_the_start_of_the_current_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .insert_results(vec![
            row("api", at(9, 0), Health::Up, 1.0),
            row("api", at(9, 1), Health::Down, 1.0),
            row("api", at(9, 2), Health::Up, 1.0),
            row("api", at(9, 3), Health::Down, 1.0),
            row("api", at(9, 4), Health::Down, 1.0),
        ])
        .await
        .unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    let r = reader.target("api", at(9, 5)).await.unwrap();
    assert_eq!(r.health, Some(Health::Down));
    assert_eq!(r.since, Some(at(9, 3)));
    let none = reader.target("never-probed", at(9, 5)).await.unwrap();
    assert_eq!(
        (none.health, none.since, none.latency_24h),
        (None, None, None)
    );
    assert_eq!(none.uptime[2].uptime_percent, None);
}

#[tokio::test]
async fn retention_prunes_only_what_is_old_and_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let settings = StoreSettings {
        retention: Duration::from_secs(86_400),
        aggregate_retention: Duration::from_secs(2 * 86_400),
    };
    store.insert_results(hour_ten()).await.unwrap();
    let day_later = at(10, 0) + chrono::Duration::hours(30);
    store
        .insert_results(vec![row("api", day_later, Health::Up, 5.0)])
        .await
        .unwrap();

    // 31 h later: hour 10 is past raw retention, but not aggregated yet, so it stays.
    let now = at(10, 0) + chrono::Duration::hours(31);
    let p = store.prune(now, &settings).await.unwrap();
    assert_eq!(p.results, 0);
    // Aggregate, then prune: the 7 raw rows of hour 10 go, its aggregate stays.
    store.aggregate_closed_hours(now, &settings).await.unwrap();
    let p = store.prune(now, &settings).await.unwrap();
    assert_eq!((p.results, p.hourly), (7, 0));
    let reader = Reader::open(dir.path()).unwrap();
    let hours = reader.hourly("api", 32, now).await.unwrap();
    assert_eq!(hours[0], expected_hour_ten());
    let kept = reader.results("api", None, 100).await.unwrap();
    assert_eq!(kept.len(), 1);
    // The result kept reads back whole: its shared part (also used by the pruned "up"
    // rows of hour 10) stayed, while those only the pruned rows used (degraded, down) went.
    assert_eq!(kept[0]["target"], "api");
    assert_eq!(kept[0]["health"], "up");
    assert_eq!(kept[0]["latency_ms"], 5.0);
    let db = rusqlite::Connection::open(dir.path().join("upwatch.db")).unwrap();
    let bases: i64 = db
        .query_row("SELECT COUNT(*) FROM detail_base", [], |r| r.get(0))
        .unwrap();
    assert_eq!(bases, 1);

    // Past aggregate retention, the aggregate goes too.
    let later = at(10, 0) + chrono::Duration::hours(49);
    store
        .aggregate_closed_hours(later, &settings)
        .await
        .unwrap();
    let p = store.prune(later, &settings).await.unwrap();
    assert_eq!(p.hourly, 1);
    let hours = reader.hourly("api", 50, later).await.unwrap();
    assert_eq!(hours[0].count, 0);
}

#[tokio::test]
async fn pruning_works_in_batches_and_results_read_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let settings = StoreSettings::default();
    let start = at(0, 0);
    // 12,001 results a second apart: more than two pruning batches.
    let rows: Vec<ResultRow> = (0..12_001)
        .map(|i| row("api", start + chrono::Duration::seconds(i), Health::Up, 1.0))
        .collect();
    store.insert_results(rows).await.unwrap();
    let reader = Reader::open(dir.path()).unwrap();
    let newest = reader.results("api", None, 3).await.unwrap();
    assert_eq!(newest.len(), 3);
    assert_eq!(
        newest[0]["checked_at"],
        (start + chrono::Duration::seconds(12_000)).to_rfc3339()
    );
    let since = start + chrono::Duration::seconds(11_990);
    assert_eq!(
        reader.results("api", Some(since), 100).await.unwrap().len(),
        11
    );
    let now = start + chrono::Duration::days(31);
    store.aggregate_closed_hours(now, &settings).await.unwrap();
    let p = store.prune(now, &settings).await.unwrap();
    assert_eq!(p.results, 12_001);
    // The aggregates kept the counts (3,600 an hour, 1 in the fourth), summed per day.
    let days = reader.daily("api", 32, now).await.unwrap();
    assert_eq!(days[0].hour, start.timestamp());
    assert_eq!(days[0].count, 12_001);
    assert_eq!(days[1..].iter().map(|d| d.count).sum::<u64>(), 0);
}
