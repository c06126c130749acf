//! Store cost: fills a state folder with 30 days of results for 100 targets at 60 s
//! (4,320,000 rows), written through the same batched insert the result writer uses, with
//! hourly aggregates built as the daemon builds them. Each row is a copy of one real probe
//! of the bench target (phases, TLS facts, headers), with its own time and latency.
//!
//! Usage: `bench-store STATE_DIR URL CA_PEM` prints JSON: rows, rows_per_second,
//! bytes_per_million.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use upwatch::config::{self, Env, StoreSettings};
use upwatch::probe::tls::TlsConfigs;
use upwatch::probe::TargetProber;
use upwatch::store::{ResultRow, Store};

const TARGETS: usize = 100;
const DAYS: i64 = 30;
/// Rows per transaction: what the writer commits at most at once.
const BATCH: usize = 1000;

#[tokio::main]
async fn main() {
    upwatch::tls::install_default_provider();
    let mut args = std::env::args().skip(1);
    let (Some(state), Some(url), Some(ca)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: bench-store STATE_DIR URL CA_PEM");
        std::process::exit(2);
    };
    let text = format!("[[target]]\nname = \"t0\"\nurl = \"{url}\"\ntls_ca_file = \"{ca}\"\n");
    let cfg = config::parse(
        std::path::Path::new("bench.toml"),
        &text,
        &Env::from_pairs(&[]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let target = cfg.targets[0].clone();
    let (tls, _) = TlsConfigs::build([target.as_ref()]).expect("tls");
    let sample = TargetProber::new(target.clone(), tls.get(&target.tls))
        .probe()
        .await;
    assert!(
        sample.ok(),
        "the sample probe failed: {:?}",
        sample.failures
    );
    let template = ResultRow::from_result(&sample);
    let names: Vec<Arc<str>> = (0..TARGETS)
        .map(|i| Arc::from(format!("t{i}").as_str()))
        .collect();

    let store = Store::open(std::path::Path::new(&state)).expect("store");
    let end = Utc::now();
    let start = end - chrono::Duration::days(DAYS);
    let minutes = DAYS * 24 * 60;
    let mut batch = Vec::with_capacity(BATCH);
    let mut rows = 0usize;
    let t0 = Instant::now();
    for m in 0..minutes {
        let at = start + chrono::Duration::minutes(m);
        for (i, name) in names.iter().enumerate() {
            let mut r = template.clone();
            r.target = name.clone();
            r.checked_at = at + chrono::Duration::milliseconds((i as i64 * 599) % 60_000);
            r.total_ms = 80.0 + ((m as usize * 7 + i * 13) % 400) as f64 / 10.0;
            batch.push(r);
            if batch.len() == BATCH {
                rows += store
                    .insert_results(std::mem::take(&mut batch))
                    .await
                    .expect("insert");
            }
        }
    }
    if !batch.is_empty() {
        rows += store.insert_results(batch).await.expect("insert");
    }
    let insert = t0.elapsed();
    // Hourly aggregates, as the daemon's maintenance builds them (a bounded number per pass).
    let settings = StoreSettings::default();
    while store
        .aggregate_closed_hours(end, &settings)
        .await
        .expect("aggregate")
        > 0
    {}
    drop(store);
    let dir = std::path::Path::new(&state);
    let bytes: u64 = ["upwatch.db", "upwatch.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "rows": rows,
            "rows_per_second": rows as f64 / insert.as_secs_f64().max(1e-9),
            "bytes_per_million": bytes as f64 * 1e6 / rows as f64,
            "insert_seconds": insert.as_secs_f64(),
            "sample_detail_bytes": template.detail.shared.len() + template.detail.own.len(),
            "sample_own_bytes": template.detail.own.len(),
        })
    );
}
