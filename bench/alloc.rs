//! Heap bytes per target, by component: `bench-alloc CONFIG` loads the config, registers
//! every target's metric series and records one HTTPS-shaped result per target, counting
//! live heap bytes with a counting global allocator around each step. bench/run uses it to
//! explain the scale section's RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use upwatch::probe::{Phases, ProbeResult};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bench-alloc CONFIG");
        std::process::exit(2);
    };
    let before = live();
    let cfg = match upwatch::config::load(std::path::Path::new(&path)) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let n = cfg.targets.len().max(1) as isize;
    let config = live() - before;

    let metrics = upwatch::metrics::Metrics::new("bench");
    let before = live();
    for t in &cfg.targets {
        metrics.register_target(&t.name);
    }
    let registered = live() - before;

    let ms = Duration::from_millis;
    let before = live();
    for t in &cfg.targets {
        metrics.observe(&ProbeResult {
            status: Some(200),
            phases: Phases {
                dns: Some(ms(0)),
                connect: Some(ms(1)),
                tls: Some(ms(2)),
                ttfb: Some(ms(3)),
                transfer: Some(ms(1)),
                ..Phases::default()
            },
            total: ms(7),
            ..ProbeResult::started(
                t.name.clone(),
                Arc::from(t.url.as_str()),
                chrono::Utc::now(),
            )
        });
    }
    let observed = live() - before;
    println!(
        "{}",
        serde_json::json!({
            "targets": n,
            "config_bytes_per_target": config / n,
            "metrics_registered_bytes_per_target": registered / n,
            "metrics_observed_bytes_per_target": observed / n,
        })
    );
    // Dropping 50,000 targets' worth would only cost time.
    std::mem::forget((cfg, metrics));
}
