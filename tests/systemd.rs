//! Running under systemd: the daemon speaks the notify protocol on a socket the test binds
//! (READY=1, STATUS=, periodic WATCHDOG=1, STOPPING=1), and the shipped unit passes
//! `systemd-analyze verify` silently and scores ≤ 1.1 on `systemd-analyze security`.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn the_daemon_reports_ready_status_and_watchdog_pings() {
    let target = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n\n[[target]]\nname = \"ok\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
            target.port()
        ),
    )
    .unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("NOTIFY_SOCKET", &sock)
        // 600 ms: pings every 300 ms.
        .env("WATCHDOG_USEC", "600000")
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let rx = std::sync::Arc::new(rx);
    let collect = |rx: std::sync::Arc<UnixDatagram>, for_: Duration| {
        tokio::task::spawn_blocking(move || {
            let end = Instant::now() + for_;
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while Instant::now() < end {
                if let Ok(n) = rx.recv(&mut buf) {
                    got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
            got
        })
    };
    let got = collect(rx.clone(), Duration::from_secs(3)).await.unwrap();
    assert_eq!(
        got.first().map(String::as_str),
        Some("READY=1\nSTATUS=probing 1 target(s) and 0 status page(s)"),
        "{got:?}"
    );
    let pings = got.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(pings >= 5, "{pings} pings in 3 s: {got:?}");
    assert!(
        got.iter()
            .any(|m| m == "STATUS=probing 1 target(s) and 0 status page(s), 0 alert(s) firing"),
        "{got:?}"
    );
    let stopping = collect(rx, Duration::from_secs(2));
    assert_eq!(stop_daemon(child).await, 0);
    let tail = stopping.await.unwrap();
    assert!(
        tail.iter().any(|m| m == "STOPPING=1\nSTATUS=shutting down"),
        "{tail:?}"
    );
}

/// systemd-analyze, which tests/run.sh installs (Debian's systemd package; nothing boots).
/// Its absence fails the test: a unit check that silently did not run proves nothing.
fn systemd_analyze() -> &'static str {
    let ok = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "systemd-analyze is not installed: run the tests through tests/run.sh, which installs it"
    );
    "systemd-analyze"
}

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/upwatch.service");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_unit_verifies_silently_and_scores_at_most_1_1() {
    let tool = systemd_analyze();
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("upwatch.service");
    std::fs::write(
        &unit,
        unit_text().replace("/usr/local/bin/upwatch", env!("CARGO_BIN_EXE_upwatch")),
    )
    .unwrap();
    let out = Command::new(tool)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );

    let out = Command::new(tool)
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for upwatch.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    assert!(score <= 1.1, "exposure {score} > 1.1:\n{text}");
}

#[test]
fn the_unit_has_what_the_daemon_relies_on() {
    let unit = unit_text();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "StateDirectory=upwatch",
        "ConfigurationDirectory=upwatch",
        "LoadCredential=mistral_api_key:",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(line)),
            "missing {line:?}"
        );
    }
}

#[tokio::test]
async fn under_journald_lines_carry_a_priority_and_no_timestamp() {
    let port = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("monitor.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:{port}/\"\nbearer_token = \"\"\n"
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_upwatch"))
        .env("JOURNAL_STREAM", "8:12345")
        .env("UPWATCH_LOG", "info")
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let warn = err
        .lines()
        .find(|l| l.contains("bearer_token is empty"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(warn.starts_with("<4>"), "{warn}");
    assert!(!has_timestamp(warn), "journald stamps lines itself: {warn}");
    assert!(
        err.lines().all(|l| l.starts_with('<')),
        "every line has a priority: {err}"
    );
}

/// Whether `line` holds a date (`dddd-dd-dd`) or a time of day (`dd:dd:dd`), in any year.
fn has_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    let shaped = |w: &[u8], shape: &[u8]| {
        w.iter().zip(shape).all(|(c, s)| {
            if *s == b'd' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
    };
    b.windows(10).any(|w| shaped(w, b"dddd-dd-dd")) || b.windows(8).any(|w| shaped(w, b"dd:dd:dd"))
}

#[test]
fn the_timestamp_check_sees_any_year() {
    assert!(has_timestamp("<4>2031-01-02 warn"));
    assert!(has_timestamp("<4>at 23:59:07 warn"));
    assert!(!has_timestamp(
        "<4>WARN bearer_token is empty for target t (line 4)"
    ));
}
