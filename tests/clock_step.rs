//! The wall clock stepped an hour forward and back under `upwatch run` (libfaketime moves
//! CLOCK_REALTIME only; monotonic time is untouched): an interval target and a cron target
//! both keep their rate through both steps, and the log names the steps, not overruns.

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::time::Instant;

/// Debian's libfaketime (tests/run.sh installs it).
fn libfaketime() -> PathBuf {
    ["x86_64-linux-gnu", "aarch64-linux-gnu"]
        .iter()
        .map(|arch| PathBuf::from(format!("/usr/lib/{arch}/faketime/libfaketimeMT.so.1")))
        .find(|p| p.exists())
        .expect("libfaketime is installed (tests/run.sh installs Debian's libfaketime)")
}

type Hits = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// A server that answers 200 and records when each path was asked, on monotonic time.
async fn counting_server() -> (u16, Hits) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits: Hits = Arc::default();
    let seen = hits.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    seen.lock()
                        .unwrap()
                        .entry(req.uri().path().to_string())
                        .or_default()
                        .push(Instant::now());
                    async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok")))) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (port, hits)
}

fn count(hits: &Hits, path: &str, from: Instant, to: Instant) -> usize {
    hits.lock()
        .unwrap()
        .get(path)
        .map_or(0, |v| v.iter().filter(|t| **t >= from && **t < to).count())
}

fn set_offset(file: &Path, secs: i64) {
    std::fs::write(file, format!("{secs:+}\n")).unwrap();
}

#[tokio::test]
async fn interval_and_cron_targets_keep_their_rate_through_both_steps() {
    let preload = libfaketime();
    let (port, hits) = counting_server().await;
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("faketime");
    set_offset(&offset, 0);
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\n\n\
             [[target]]\nname = \"every-second\"\nurl = \"http://127.0.0.1:{port}/interval\"\ninterval = \"1s\"\ntimeout = \"1s\"\n\n\
             [[target]]\nname = \"cron\"\nurl = \"http://127.0.0.1:{port}/cron\"\nschedule = \"*/2 * * * * *\"\ntimeout = \"1s\"\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env_remove("STATE_DIRECTORY")
        .env("UPWATCH_LOG", "info")
        .env("UPWATCH_LOG_FORMAT", "json")
        .env("LD_PRELOAD", &preload)
        .env("FAKETIME_TIMESTAMP_FILE", &offset)
        .env("FAKETIME_NO_CACHE", "1")
        .env("DONT_FAKE_MONOTONIC", "1")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Each phase: settle 2 s, then count over 8 s.
    let phase = |hits: Hits| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let from = Instant::now();
        tokio::time::sleep(Duration::from_secs(8)).await;
        let to = Instant::now();
        (
            count(&hits, "/interval", from, to),
            count(&hits, "/cron", from, to),
        )
    };
    let before = phase(hits.clone()).await;
    set_offset(&offset, 3600);
    let ahead = phase(hits.clone()).await;
    set_offset(&offset, 0);
    let back = phase(hits.clone()).await;
    assert_eq!(common::stop_daemon(daemon).await, 0);

    let logged = std::fs::read_to_string(&log).unwrap();
    for (name, (interval, cron)) in [("before", before), ("an hour ahead", ahead), ("back", back)] {
        // 8 s: about 8 probes every second, 4 every two seconds.
        assert!(
            (7..=9).contains(&interval),
            "{name}: interval target probed {interval} times in 8 s\n{logged}"
        );
        assert!(
            (3..=5).contains(&cron),
            "{name}: cron target probed {cron} times in 8 s\n{logged}"
        );
    }
    assert!(
        logged.contains("wall clock jumped forward by 1h"),
        "the forward step is logged:\n{logged}"
    );
    assert!(
        logged.contains("wall clock jumped back by 1h"),
        "the backward step is logged:\n{logged}"
    );
    assert!(
        !logged.contains("overran"),
        "a clock step is not an overrun:\n{logged}"
    );
}
