//! The `upwatch` binary as a user runs it: exit codes, output formats, shutdown.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_upwatch"));
    c.env_remove("UPWATCH_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY");
    c
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("monitor.toml");
    std::fs::write(&p, text).unwrap();
    p
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(args: &[&str], config: &PathBuf) -> Output {
    let out = bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .await
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn validate_reports_the_line_and_suggestion_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n\nintervall = \"30s\"\n",
    );
    let out = run(&["validate"], &p).await;
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "{}:5:1: target \"api\": unknown key \"intervall\" (did you mean \"interval\"?)",
            p.display()
        )
    );
}

#[tokio::test]
async fn validate_accepts_a_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n",
    );
    let out = run(&["validate"], &p).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("ok (1 target(s))"));
}

#[tokio::test]
async fn missing_config_file_is_exit_2() {
    let out = run(&["validate"], &PathBuf::from("/nonexistent/monitor.toml")).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("/nonexistent/monitor.toml: cannot read config file"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn config_path_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        "[[target]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\n",
    );
    // Run from another folder, so a monitor.toml in the working directory cannot answer.
    let out = bin()
        .env("UPWATCH_CONFIG", &p)
        .current_dir(dir.path().parent().unwrap())
        .arg("validate")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.trim(),
        format!("{}: ok (1 target(s))", p.display()),
        "validate names the file it read"
    );
}

#[tokio::test]
async fn check_json_has_the_documented_fields_and_exit_codes() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        &format!(
            "[[target]]\nname = \"good\"\nurl = \"http://127.0.0.1:{0}/ok\"\n\n[[target]]\nname = \"bad\"\nurl = \"http://127.0.0.1:{0}/status/503\"\n",
            s.port()
        ),
    );
    let out = run(&["check", "--format", "json"], &p).await;
    assert_eq!(out.code, 1, "one target is down: {}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let good = &lines[0];
    for key in [
        "target",
        "url",
        "ok",
        "health",
        "status",
        "latency_ms",
        "phases",
        "http_version",
        "tls",
        "failures",
        "checked_at",
        "size_bytes",
        "body_truncated",
        "redirects",
    ] {
        assert!(good.get(key).is_some(), "missing {key} in {good}");
    }
    for key in [
        "redirect_ms",
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "ttfb_ms",
        "transfer_ms",
    ] {
        assert!(good["phases"].get(key).is_some(), "missing phases.{key}");
    }
    assert_eq!(good["target"], "good");
    assert_eq!(good["ok"], true);
    assert_eq!(good["health"], "up");
    assert_eq!(good["status"], 200);
    assert_eq!(good["http_version"], "http/1.1");
    assert!(good["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(good["phases"]["tls_ms"].is_null());
    assert!(good["checked_at"].as_str().unwrap().ends_with('Z'));
    let bad = &lines[1];
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["health"], "down");
    assert_eq!(bad["failures"][0]["kind"], "http_status");
    assert_eq!(bad["failures"][0]["detail"], "HTTP 503, expected 200");

    let only_good = run(&["check", "--target", "good", "--format", "json"], &p).await;
    assert_eq!(only_good.code, 0, "{}", only_good.stderr);
    assert_eq!(only_good.stdout.lines().count(), 1);

    let unknown = run(&["check", "--target", "nope"], &p).await;
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("no target named \"nope\""),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn check_table_names_failures() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, &format!("[[target]]\nname = \"slow\"\nurl = \"http://127.0.0.1:{}/delay/150\"\nmax_latency = \"100ms\"\n", s.port()));
    let out = run(&["check"], &p).await;
    assert_eq!(out.code, 1);
    let mut lines = out.stdout.lines();
    assert!(lines.next().unwrap().starts_with("TARGET"));
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("slow") && row.contains("DEGRADED") && row.contains("too_slow: latency"),
        "{row}"
    );
}

#[tokio::test]
async fn check_on_an_invalid_config_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(&dir, "[[target]]\nname = \"x\"\n");
    let out = run(&["check"], &p).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing key \"url\""), "{}", out.stderr);
}

#[tokio::test]
async fn run_logs_each_probe_and_exits_0_on_sigterm() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        &format!(
            "[daemon]\nlog_format = \"json\"\nlisten = \"127.0.0.1:0\"\n\n[[target]]\nname = \"fast\"\nurl = \"http://127.0.0.1:{0}/ok\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\n\n[[target]]\nname = \"broken\"\nurl = \"http://127.0.0.1:{0}/status/500\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\n",
            s.port()
        ),
    );
    let mut child = bin()
        .arg("--config")
        .arg(&p)
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut up, mut down) = (0, 0);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            match (v["target_name"].as_str(), v["health"].as_str()) {
                (Some("fast"), Some("up")) => up += 1,
                (Some("broken"), Some("down")) => {
                    assert_eq!(v["status"], 500);
                    assert!(v["failures"]
                        .as_str()
                        .unwrap()
                        .contains("http_status: HTTP 500"));
                    down += 1;
                }
                _ => {}
            }
            if up >= 2 && down >= 2 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("two probes of each target within 20 s");
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the grace period")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut rest = String::new();
    while let Ok(Some(l)) = lines.next_line().await {
        rest.push_str(&l);
        rest.push('\n');
    }
    assert!(rest.contains("stopped cleanly"), "{rest}");
}

#[tokio::test]
async fn check_explains_a_provider_refusal_under_the_table() {
    let server = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "[[target]]\nname = \"models\"\nurl = \"http://127.0.0.1:{}/llm/rate-limited\"\n",
            server.port()
        ),
    );
    let out = run(&["check"], &cfg).await;
    assert_eq!(out.code, 1);
    let text = &out.stdout;
    for want in [
        "models: rate_limited — the provider is rate-limiting this key",
        "provider said: Requests rate limit exceeded",
        "x-request-id: req-429",
        "rate limit (requests): 0 of 60 left",
        "retry after: 30 s",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[tokio::test]
async fn run_names_a_listen_address_that_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "[daemon]\nlisten = \"127.0.0.1:{port}\"\n\n[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n"
        ),
    );
    let out = run(&["run"], &cfg).await;
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{all}"
    );
}

#[tokio::test]
async fn healthcheck_asks_the_running_daemon() {
    let target = start(None).await;
    // A free port for the daemon to listen on (healthcheck reads it from the config).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "[daemon]\nstate_dir = \"state\"\nlisten = \"0.0.0.0:{port}\"\n\n[[target]]\nname = \"ok\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"1s\"\ntimeout = \"1s\"\n",
            target.port()
        ),
    );
    let down = run(&["healthcheck"], &cfg).await;
    assert_eq!(
        down.code, 1,
        "nothing listens yet: {} {}",
        down.stdout, down.stderr
    );
    assert!(down
        .stdout
        .starts_with("unhealthy: no answer from http://127.0.0.1:"));

    let child = spawn_daemon(&cfg);
    let mut up = run(&["healthcheck"], &cfg).await;
    for _ in 0..50 {
        if up.code == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        up = run(&["healthcheck"], &cfg).await;
    }
    assert_eq!(up.code, 0, "{} {}", up.stdout, up.stderr);
    assert!(
        up.stdout
            .starts_with("ok: scheduler running, 1 target(s) on time"),
        "{}",
        up.stdout
    );
    assert_eq!(stop_daemon(child).await, 0);
}

#[tokio::test]
async fn a_new_daemon_logs_its_first_result_within_ten_seconds_and_no_warning_before() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    // Ten targets every 60 s: their first round is spread over at most 10 s.
    let mut text =
        "[daemon]\nlog_format = \"json\"\nlisten = \"127.0.0.1:0\"\nstate_dir = \"state\"\n"
            .to_string();
    for i in 0..10 {
        text.push_str(&format!(
            "\n[[target]]\nname = \"t{i}\"\nurl = \"http://127.0.0.1:{}/ok\"\ninterval = \"60s\"\n",
            s.port()
        ));
    }
    let p = write_config(&dir, &text);
    let mut child = bin()
        .arg("--config")
        .arg(&p)
        .arg("run")
        .env("UPWATCH_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut results = 0;
    while results < 10 {
        let line = tokio::time::timeout(std::time::Duration::from_secs(12), lines.next_line())
            .await
            .expect("a line within 12 s")
            .unwrap()
            .expect("the daemon keeps running");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_ne!(v["level"], "WARN", "no warning at start: {line}\n{seen:#?}");
        if v["message"] == "probe up" {
            results += 1;
        }
        if v["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("upwatch started")
        {
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .contains("first results within 10s"),
                "{line}"
            );
        }
        seen.push(line);
    }
    // Every target has its first result within the first round (10 s), not its 60 s.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
}

#[tokio::test]
async fn interval_only_and_pages_only_configs_validate() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "[[target]]\nname = \"api\"\nurl = \"https://api.example.com/\"\ninterval = \"5s\"\n",
        "[[status_page]]\nname = \"mistral\"\nurl = \"https://status.mistral.ai/\"\n",
    ] {
        let p = write_config(&dir, text);
        let out = run(&["validate"], &p).await;
        assert_eq!(out.code, 0, "{text}\n{}{}", out.stdout, out.stderr);
    }
}

#[tokio::test]
async fn check_judges_assertions_and_names_what_it_found() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/models", s.port());
    let p = write_config(
        &dir,
        &format!(
            "[[target]]\nname = \"pass\"\nurl = \"{url}\"\n\n\
             [[target.assert]]\njson = \"$.data[*].id\"\nop = \"eq\"\nvalue = \"codestral-latest\"\n\n\
             [[target.assert]]\njson = \"$.data[*].max_context_length\"\nop = \"ge\"\nvalue = 32000\nmatch = \"all\"\n\n\
             [[target.assert]]\nheader = \"X-RateLimit-Limit\"\nop = \"ge\"\nvalue = 10\n\n\
             [[target.assert]]\non = \"status\"\nin = [200, 204]\n\n\
             [[target.assert]]\njson = \"$.error\"\nop = \"absent\"\n\n\
             [[target]]\nname = \"fail\"\nurl = \"{url}\"\n\n\
             [[target.assert]]\njson = \"$.data[*].id\"\nop = \"eq\"\nvalue = \"pixtral-large-latest\"\n\n\
             [[target.assert]]\njson = \"$.data[*].max_context_length\"\nop = \"ge\"\nvalue = 100000\nmatch = \"all\"\n\n\
             [[target.assert]]\nheader = \"x-ratelimit-limit\"\nop = \"gt\"\nvalue = 60\nseverity = \"warning\"\n\n\
             [[target]]\nname = \"cut\"\nurl = \"{url}\"\nmax_body_size = \"64B\"\n\n\
             [[target.assert]]\njson = \"$.object\"\nop = \"eq\"\nvalue = \"list\"\n"
        ),
    );
    let out = run(&["check", "--format", "json"], &p).await;
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by = |name: &str| lines.iter().find(|l| l["target"] == name).unwrap().clone();
    assert_eq!(by("pass")["health"], "up", "{}", by("pass"));
    let fail = by("fail");
    assert_eq!(fail["health"], "down");
    let failures: Vec<(String, String)> = fail["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                "assertion".to_string(),
                "assert #1 ($.data[*].id eq \"pixtral-large-latest\"): found \"codestral-latest\", \"mistral-small-latest\"".to_string()
            ),
            (
                "assertion".to_string(),
                "assert #2 ($.data[*].max_context_length ge 100000 (all)): found 1 of 2 not passing: 32000".to_string()
            ),
            (
                "assertion_warning".to_string(),
                "assert #3 (header x-ratelimit-limit gt 60): found \"60\"".to_string()
            ),
        ]
    );
    let cut = by("cut");
    assert_eq!(cut["body_truncated"], true);
    assert_eq!(cut["failures"][0]["kind"], "body_too_large", "{cut}");

    // The table names the failed assertion under the target.
    let table = run(&["check"], &p).await;
    assert!(
        table
            .stdout
            .contains("assert #1 ($.data[*].id eq \"pixtral-large-latest\")"),
        "{}",
        table.stdout
    );
}

/// The two assertions shown (commented out) in the shipped monitor.toml load and pass
/// against a catalog in Mistral's shape.
#[tokio::test]
async fn the_shipped_example_assertions_pass_on_a_catalog() {
    let s = start(None).await;
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/monitor.toml")).unwrap();
    let start_at = shipped
        .find("# [[target.assert]]")
        .expect("examples in monitor.toml");
    let examples: String = shipped[start_at..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim_start())
        .map(|l| l.split(" # ").next().unwrap_or(l).trim_end())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        examples.matches("[[target.assert]]").count(),
        2,
        "{examples}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        &format!(
            "[[target]]\nname = \"models\"\nurl = \"http://127.0.0.1:{}/models\"\n\n{examples}",
            s.port()
        ),
    );
    let out = run(&["check", "--format", "json"], &p).await;
    assert_eq!(out.code, 0, "{examples}\n{}{}", out.stdout, out.stderr);
}

/// A redirected probe's phases cell starts with the hops before the final request, so the
/// cell adds up to the total an engineer reads beside it.
#[tokio::test]
async fn check_table_shows_the_time_spent_on_redirects() {
    let s = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(
        &dir,
        &format!(
            "[[target]]\nname = \"moved\"\nurl = \"http://127.0.0.1:{}/to/ok\"\n",
            s.port()
        ),
    );
    let out = run(&["check"], &p).await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let row = out.stdout.lines().nth(1).unwrap();
    assert!(row.contains(" redirects "), "{row}");
    assert!(row.contains(" + "), "{row}");
}
