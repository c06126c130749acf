use super::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::Method;

use super::validate::parse_size;
use crate::schedule::ScheduleSpec;

fn parse_str(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    parse(Path::new("monitor.toml"), text, &Env::from_pairs(env))
}

fn errors(text: &str) -> Vec<String> {
    match parse_str(text, &[]) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

/// For each (text, where, what) case, the config `build(text)` has exactly one error, at
/// `where` and saying `what`.
fn each_one_error(cases: &[(&str, &str, &str)], build: impl Fn(&str) -> String) {
    for (case, at, says) in cases {
        let errs = errors(&build(case));
        assert_eq!(errs.len(), 1, "{case}: {errs:?}");
        assert!(errs[0].starts_with(at), "{case}: {}", errs[0]);
        assert!(errs[0].contains(says), "{case}: {}", errs[0]);
    }
}

const MINIMAL: &str = "[[target]]\nname = \"api\"\nurl = \"https://api.example.com/v1/models\"\n";

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = parse_str(MINIMAL, &[]).unwrap();
    let t = &c.targets[0];
    assert!(matches!(t.schedule, ScheduleSpec::Interval(d) if d == Duration::from_secs(60)));
    assert_eq!(t.timeout, Duration::from_secs(10));
    assert_eq!(t.max_latency, Some(Duration::from_secs(3)));
    assert_eq!(t.expect_status, vec![200]);
    assert_eq!(t.tls_min_days, 14);
    assert_eq!(t.retries, 0);
    assert_eq!(t.method, Method::GET);
    assert_eq!(t.ip_version, IpVersion::Any);
    assert!(!t.reuse_connection);
    assert_eq!(c.daemon.listen, "127.0.0.1:9777".parse().unwrap());
    assert_eq!(c.daemon.max_concurrency, 256);
    assert_eq!(c.daemon.location, "local");
    assert_eq!(c.daemon.log_format, LogFormat::Auto);
    assert_eq!(c.daemon.shutdown_grace, Duration::from_secs(10));
    assert_eq!(c.daemon.state_dir, PathBuf::from("./state"));
}

#[test]
fn unknown_key_names_line_column_context_and_suggestion() {
    let text = format!("{MINIMAL}intervall = \"30s\"\n");
    assert_eq!(
        errors(&text),
        vec!["monitor.toml:4:1: target \"api\": unknown key \"intervall\" (did you mean \"interval\"?)"]
    );
}

#[test]
fn unknown_section_and_unguessable_key() {
    let errs = errors(&format!(
        "[deamon]\nlisten = \"x\"\n\n{MINIMAL}colour = \"red\"\n"
    ));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        errs[0],
        "monitor.toml:1:2: unknown key \"deamon\" (did you mean \"daemon\"?)"
    );
    assert!(
        errs[1].starts_with(
            "monitor.toml:7:1: target \"api\": unknown key \"colour\" (known keys: name, url,"
        ),
        "{}",
        errs[1]
    );
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let text = r#"
[daemon]
listen = "nowhere"
log_format = "xml"

[defaults]
timeout = "10"

[[target]]
name = "Bad Name"
url = "ftp://example.com/"
interval = "1m"
schedule = "0 * * * * *"
expect_status = [200, 700]

[[target]]
url = "https://example.com/"
timeot = "5s"
"#;
    let errs = errors(text);
    let expect = [
        "monitor.toml:3:10: daemon: listen: \"nowhere\" is not an address:port",
        "monitor.toml:4:14: daemon: log_format: \"xml\" is not one of auto | pretty | json",
        "monitor.toml:7:11: defaults: timeout: invalid duration \"10\"",
        "monitor.toml:10:8: target \"Bad Name\": name: \"Bad Name\" must be 1-64 characters",
        "monitor.toml:11:7: target \"Bad Name\": url: scheme \"ftp\" is not supported",
        "monitor.toml:13:12: target \"Bad Name\": set interval or schedule, not both",
        "monitor.toml:14:23: target \"Bad Name\": expect_status: 700 is not an HTTP status",
        "monitor.toml:16:1: target #2: missing key \"name\"",
        "monitor.toml:18:1: target #2: unknown key \"timeot\" (did you mean \"timeout\"?)",
    ];
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expect) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}...");
    }
}

#[test]
fn type_errors_name_their_key() {
    let errs = errors(&format!("{MINIMAL}retries = \"three\"\n"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("monitor.toml:4:11: target \"api\": retries: invalid type: string"),
        "{}",
        errs[0]
    );
}

#[test]
fn syntax_error_points_at_the_line() {
    let errs = errors("[[target]]\nname = \"api\nurl = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("monitor.toml:2:"), "{}", errs[0]);
    assert!(errs[0].contains("invalid TOML"), "{}", errs[0]);
}

#[test]
fn empty_config_asks_for_a_target() {
    let errs = errors("");
    assert!(
        errs[0].contains("no [[target]] or [[status_page]] defined"),
        "{errs:?}"
    );
}

#[test]
fn duplicate_names_are_rejected() {
    let errs = errors(&format!("{MINIMAL}\n{MINIMAL}"));
    assert_eq!(
        errs,
        vec!["monitor.toml:6:8: target \"api\": duplicate target name \"api\""]
    );
}

#[test]
fn environment_variables_expand_and_missing_ones_are_named() {
    let text = r#"
[[target]]
name = "api"
url = "https://${HOST:-api.example.com}/v1"
headers = { Authorization = "Bearer ${KEY}" }
"#;
    let c = parse_str(text, &[("KEY", "sk-1")]).unwrap();
    assert_eq!(c.targets[0].url.as_str(), "https://api.example.com/v1");
    assert_eq!(c.targets[0].headers["authorization"], "Bearer sk-1");
    let errs: Vec<String> = parse_str(text, &[])
        .unwrap_err()
        .diagnostics()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("monitor.toml:5:29: target \"api\": headers.Authorization: environment variable KEY is not set"),
        "{}",
        errs[0]
    );
}

#[test]
fn secret_file_resolves_against_credentials_directory_then_config_folder() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("api_key"), "sk-from-creds\n").unwrap();
    let cfgdir = tempfile::tempdir().unwrap();
    std::fs::write(cfgdir.path().join("api_key"), "sk-from-cfgdir").unwrap();
    let text = format!("{MINIMAL}bearer_token_file = \"api_key\"\n");
    let path = cfgdir.path().join("monitor.toml");

    let env = Env::from_pairs(&[("CREDENTIALS_DIRECTORY", creds.path().to_str().unwrap())]);
    let c = parse(&path, &text, &env).unwrap();
    assert_eq!(c.targets[0].headers[AUTHORIZATION], "Bearer sk-from-creds");
    assert!(c.targets[0].headers[AUTHORIZATION].is_sensitive());

    let c = parse(&path, &text, &Env::from_pairs(&[])).unwrap();
    assert_eq!(c.targets[0].headers[AUTHORIZATION], "Bearer sk-from-cfgdir");

    let missing = format!("{MINIMAL}bearer_token_file = \"nope\"\n");
    let err = parse(&path, &missing, &Env::from_pairs(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bearer_token_file: cannot read secret file") && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn empty_bearer_token_is_a_warning_not_an_error() {
    let c = parse_str(
        &format!("{MINIMAL}bearer_token = \"${{MISTRAL_API_KEY:-}}\"\n"),
        &[],
    )
    .unwrap();
    assert!(c.targets[0].headers.get(AUTHORIZATION).is_none());
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("bearer_token is empty"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn state_directory_from_systemd_wins() {
    let c = parse_str(
        &format!("[daemon]\nstate_dir = \"/tmp/x\"\n{MINIMAL}"),
        &[("STATE_DIRECTORY", "/var/lib/upwatch")],
    )
    .unwrap();
    assert_eq!(c.daemon.state_dir, PathBuf::from("/var/lib/upwatch"));
}

#[test]
fn container_environment_overrides_the_daemon_section() {
    let text = format!(
        "[daemon]\nstate_dir = \"/tmp/x\"\nlisten = \"127.0.0.1:1\"\nlocation = \"file\"\n{MINIMAL}"
    );
    let env = [
        ("UPWATCH_LISTEN", "0.0.0.0:9777"),
        ("UPWATCH_LOG_FORMAT", "json"),
        ("UPWATCH_STATE_DIR", "/var/lib/upwatch"),
        ("UPWATCH_LOCATION", "eu-west"),
        // The explicit override wins over systemd's.
        ("STATE_DIRECTORY", "/var/lib/other"),
    ];
    let c = parse_str(&text, &env).unwrap();
    assert_eq!(c.daemon.listen, "0.0.0.0:9777".parse().unwrap());
    assert_eq!(c.daemon.log_format, LogFormat::Json);
    assert_eq!(c.daemon.state_dir, PathBuf::from("/var/lib/upwatch"));
    assert_eq!(c.daemon.location, "eu-west");
    assert_eq!(
        c.overrides,
        [
            "UPWATCH_STATE_DIR",
            "UPWATCH_LISTEN",
            "UPWATCH_LOG_FORMAT",
            "UPWATCH_LOCATION"
        ]
    );
    // Empty counts as unset.
    let c = parse_str(&text, &[("UPWATCH_LOCATION", "")]).unwrap();
    assert_eq!(c.daemon.location, "file");
    assert!(c.overrides.is_empty());

    // A bad value names the variable; the file's own errors are still reported.
    let err = parse_str(
        &format!("[daemon]\nlocation = \"bad label!\"\n{MINIMAL}"),
        &[
            ("UPWATCH_LISTEN", "localhost"),
            ("UPWATCH_LOG_FORMAT", "xml"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "monitor.toml:2:12: daemon: location: \"bad label!\" must be 1-64 characters of a-z, A-Z, 0-9, _ . -\n\
         environment variable UPWATCH_LISTEN: daemon: listen: \"localhost\" is not an address:port, e.g. \"127.0.0.1:9777\" or \"[::1]:9777\"\n\
         environment variable UPWATCH_LOG_FORMAT: daemon: log_format: \"xml\" is not one of auto | pretty | json\n\
         3 errors in config"
    );
}

#[test]
fn defaults_are_inherited_and_overridden() {
    let text = r#"
[defaults]
interval = "30s"
timeout = "5s"
max_latency = "0s"
retries = 2
headers = { "User-Agent" = "probe/1", Accept = "text/plain" }

[[target]]
name = "a"
url = "http://127.0.0.1:1/"
headers = { Accept = "application/json" }

[[target]]
name = "b"
url = "http://127.0.0.1:1/"
schedule = "*/10 * * * * *"
retries = 0
max_latency = "1s"
"#;
    let c = parse_str(text, &[]).unwrap();
    let (a, b) = (&c.targets[0], &c.targets[1]);
    assert!(matches!(a.schedule, ScheduleSpec::Interval(d) if d == Duration::from_secs(30)));
    assert_eq!(a.timeout, Duration::from_secs(5));
    assert_eq!(a.max_latency, None, "0s disables the latency check");
    assert_eq!(a.retries, 2);
    assert_eq!(a.headers["accept"], "application/json");
    assert_eq!(a.headers["user-agent"], "probe/1");
    assert!(matches!(&b.schedule, ScheduleSpec::Cron(cron) if cron.expr == "*/10 * * * * *"));
    assert_eq!(b.retries, 0);
    assert_eq!(b.max_latency, Some(Duration::from_secs(1)));
}

#[test]
fn timeout_longer_than_interval_is_rejected() {
    let errs = errors(&format!("{MINIMAL}interval = \"5s\"\ntimeout = \"10s\"\n"));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].contains("timeout (10s) is longer than the interval (5s)"),
        "{}",
        errs[0]
    );
}

#[test]
fn a_timeout_the_target_did_not_write_is_clamped_to_its_interval() {
    // Built in: 10 s, clamped to 5 s.
    let c = parse_str(&format!("{MINIMAL}interval = \"5s\"\n"), &[]).unwrap();
    assert_eq!(c.targets[0].timeout, Duration::from_secs(5));
    // From [defaults]: clamped too; a target's own, shorter, wins.
    let c = parse_str(
        &format!("[defaults]\ntimeout = \"30s\"\n\n{MINIMAL}interval = \"2s\"\n\n[[target]]\nname = \"b\"\nurl = \"http://x/\"\ninterval = \"2s\"\ntimeout = \"1s\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(c.targets[0].timeout, Duration::from_secs(2));
    assert_eq!(c.targets[1].timeout, Duration::from_secs(1));
    // An explicit one over the interval is pointed at, on its own line.
    let errs = errors(&format!("{MINIMAL}interval = \"5s\"\ntimeout = \"6s\"\n"));
    assert!(errs[0].starts_with("monitor.toml:5:"), "{errs:?}");
}

#[test]
fn a_config_of_status_pages_only_is_valid() {
    let c = parse_str(
        "[[status_page]]\nname = \"mistral\"\nurl = \"https://status.mistral.ai/\"\n",
        &[],
    )
    .unwrap();
    assert!(c.targets.is_empty());
    assert_eq!(c.status_pages.len(), 1);
}

#[test]
fn bad_cron_and_tiny_interval() {
    let errs = errors(&format!("{MINIMAL}schedule = \"* * * * *\"\n\n[[target]]\nname = \"b\"\nurl = \"http://x/\"\ninterval = \"10ms\"\n"));
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("needs 6 or 7 (seconds first)"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("interval: must be at least 100ms"),
        "{}",
        errs[1]
    );
}

#[test]
fn debug_output_hides_secrets() {
    let text = "[[target]]\nname = \"api\"\nurl = \"https://u:pw@x.example/v1?token=${T}\"\nbearer_token = \"${T}\"\n";
    let c = parse_str(text, &[("T", "hunter2-secret")]).unwrap();
    let dbg = format!("{:?}", c);
    assert!(!dbg.contains("hunter2-secret"), "{dbg}");
    assert!(!dbg.contains("pw@"), "{dbg}");
    assert_eq!(&*c.targets[0].display_url, "https://x.example/v1?token=***");
}

#[test]
fn sizes_parse_with_units() {
    assert_eq!(parse_size("1MiB"), Some(1 << 20));
    assert_eq!(parse_size("256KiB"), Some(256 * 1024));
    assert_eq!(parse_size("4096"), Some(4096));
    assert_eq!(parse_size("2 MB"), Some(2_000_000));
    assert_eq!(parse_size("lots"), None);
}

#[test]
fn channel_errors_are_reported_with_lines() {
    let text = r#"
[alerting]
channels = ["team-slak"]

[[channel]]
name = "mail"
type = "email"
host = "smtp.example.com"
from = "not an address"
to = ["ok@example.com"]
password_file = "/nonexistent/pw"
url = "https://x/"

[[channel]]
name = "team-slack"
type = "slack"
url = "http://hooks.example.com/x"

[[channel]]
name = "x"
type = "pager"

[[target]]
name = "api"
url = "https://api.example.com/"
channels = ["mail", "nope"]
severity_overrides = { too_slowly = "critical", tls_expiring = "loud" }
"#;
    let errs = errors(text);
    let expect = [
        "monitor.toml:3:13: alerting: channels: no channel named \"team-slak\" (did you mean \"team-slack\"?)",
        "monitor.toml:9:8: channel \"mail\": from: \"not an address\" is not an email address",
        "monitor.toml:11:17: channel \"mail\": password_file: cannot read secret file /nonexistent/pw",
        "monitor.toml:12:7: channel \"mail\": url: does not apply to email channels",
        "monitor.toml:17:7: channel \"team-slack\": url: a Slack webhook URL must be https",
        "monitor.toml:21:8: channel \"x\": type: \"pager\" is not one of email | slack | discord | webhook | alertmanager | pagerduty | telegram | ntfy | teams | google_chat | opsgenie",
        "monitor.toml:26:21: target \"api\": channels: no channel named \"nope\"",
        "monitor.toml:27:37: target \"api\": severity_overrides: unknown failure kind \"too_slowly\" (did you mean \"too_slow\"?)",
        "monitor.toml:27:64: target \"api\": severity_overrides.tls_expiring: \"loud\" is not one of critical | warning | none",
    ];
    assert_eq!(errs.len(), expect.len(), "{errs:#?}");
    for (got, want) in errs.iter().zip(expect) {
        assert!(got.starts_with(want), "got  {got}\nwant {want}...");
    }
}

#[test]
fn alert_policy_inherits_and_overrides() {
    let text = r#"
[alerting]
failure_threshold = 3
repeat_interval = "0s"
channels = ["hook"]

[[channel]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:1/h?token=${T}"

[[channel]]
name = "chat"
type = "slack"
url = "http://127.0.0.1:2/s"

[[target]]
name = "a"
url = "http://127.0.0.1:1/"

[[target]]
name = "b"
url = "http://127.0.0.1:1/"
channels = ["chat"]
failure_threshold = 1
severity_overrides = { too_slow = "critical", tls_expiring = "none" }
"#;
    let c = parse_str(text, &[("T", "tok-secret")]).unwrap();
    let (a, b) = (&c.targets[0].alert, &c.targets[1].alert);
    assert_eq!(a.failure_threshold, 3);
    assert_eq!(a.repeat_interval, None);
    assert_eq!(
        a.channels.iter().map(|c| &**c).collect::<Vec<_>>(),
        vec!["hook"]
    );
    assert_eq!(b.failure_threshold, 1);
    assert_eq!(
        b.channels.iter().map(|c| &**c).collect::<Vec<_>>(),
        vec!["chat"]
    );
    assert_eq!(
        b.severity_of(crate::probe::FailureKind::TooSlow),
        Some(crate::alert::Severity::Critical)
    );
    assert_eq!(b.severity_of(crate::probe::FailureKind::TlsExpiring), None);
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("plain http (allowed only because the host is loopback)")),
        "{:?}",
        c.warnings
    );
    match &c.channels[0].kind {
        ChannelKind::Webhook(w) => assert_eq!(w.display_url, "http://127.0.0.1:1/h?token=***"),
        other => panic!("{other:?}"),
    }
    assert!(!format!("{c:?}").contains("tok-secret"));
}

#[test]
fn status_pages_get_defaults_and_targets_link_them() {
    let c = parse_str(
        "[[status_page]]\nname = \"vendor\"\nurl = \"https://status.example.com\"\n\n[[target]]\nname = \"api\"\nurl = \"https://api.example.com/v1\"\nstatus_page = \"vendor\"\n",
        &[],
    )
    .unwrap();
    let p = &c.status_pages[0];
    assert_eq!(p.host, "status.example.com");
    assert_eq!(p.interval, Duration::from_secs(60));
    assert_eq!(p.timeout, Duration::from_secs(15));
    assert_eq!(p.stale_after, Duration::from_secs(6 * 3600));
    assert_eq!(p.max_body_size, 2 * 1024 * 1024);
    assert_eq!(p.format, crate::statuspage::Format::Auto);
    assert_eq!(c.targets[0].status_page.as_deref(), Some("vendor"));
    assert_eq!(c.alert_names().len(), 2);
}

#[test]
fn status_page_errors_name_line_and_key() {
    let errs = errors(
        "[[status_page]]\nname = \"vendor\"\nurl = \"ftp://status.example.com\"\nformat = \"atlassian\"\ntimeout = \"2m\"\n\n[[target]]\nname = \"api\"\nurl = \"https://api.example.com/v1\"\nstatus_page = \"vendr\"\n",
    );
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(
        errs[0].starts_with("monitor.toml:3:7: status_page \"vendor\": url: scheme \"ftp\""),
        "{errs:?}"
    );
    assert!(errs[1].starts_with("monitor.toml:4:10: status_page \"vendor\": format: \"atlassian\" is not one of auto | statuspage"), "{errs:?}");
    assert!(
        errs[2].starts_with(
            "monitor.toml:5:11: status_page \"vendor\": timeout: must not be longer than interval"
        ),
        "{errs:?}"
    );
    assert_eq!(errs[3], "monitor.toml:10:15: target \"api\": status_page: no status page named \"vendr\" (did you mean \"vendor\"?)");
    let errs = errors(
        "[[status_page]]\nname = \"api\"\nurl = \"https://status.example.com\"\ntimeout = \"2m\"\n\n[[target]]\nname = \"api\"\nurl = \"https://api.example.com/v1\"\n",
    );
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("timeout: must not be longer than interval"),
        "{errs:?}"
    );
    assert!(
        errs[1].contains("name \"api\" is also a status_page name"),
        "{errs:?}"
    );
}

#[test]
fn channels_for_people_group_by_default_and_machines_never() {
    let base = "[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:9/\"\n\n\
        [[channel]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"http://127.0.0.1:9/s\"\n\n\
        [[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n";
    let c = parse_str(base, &[]).unwrap();
    let g = crate::config::Grouping::default();
    assert_eq!(c.alerting.grouping, Some(g));
    assert_eq!(c.channels[0].group, Some(g), "slack groups");
    assert_eq!(c.channels[1].group, None, "the webhook never does");

    let off = format!("[alerting]\ngroup = false\ngroup_wait = \"3s\"\n\n{base}");
    let c = parse_str(&off, &[]).unwrap();
    assert_eq!(c.channels[0].group, None);

    let own = base.replace(
        "url = \"http://127.0.0.1:9/s\"\n",
        "url = \"http://127.0.0.1:9/s\"\ngroup_wait = \"2s\"\ngroup_interval = \"0s\"\n",
    );
    let c = parse_str(&format!("[alerting]\ngroup_wait = \"30s\"\n\n{own}"), &[]).unwrap();
    assert_eq!(
        c.channels[0].group,
        Some(crate::config::Grouping {
            wait: Duration::from_secs(2),
            interval: Duration::ZERO
        })
    );

    let bad = base.replace(
        "url = \"http://127.0.0.1:9/h\"\n",
        "url = \"http://127.0.0.1:9/h\"\ngroup = true\n",
    );
    let err = parse_str(&bad, &[]).unwrap_err().to_string();
    assert!(
        err.contains("monitor.toml:14:9: channel \"hook\": group: does not apply to webhook channels (they deliver one payload per alert"),
        "{err}"
    );
}

#[test]
fn thresholds_take_a_count_or_m_of_n() {
    let with = |v: &str| {
        format!("[alerting]\nfailure_threshold = {v}\n\n[[target]]\nname = \"t\"\nurl = \"http://127.0.0.1:9/\"\n")
    };
    let p = parse_str(&with("3"), &[]).unwrap().alerting.policy;
    assert_eq!((p.failure_threshold, p.failure_window), (3, 3));
    let p = parse_str(&with("\"3 of 5\""), &[]).unwrap().alerting.policy;
    assert_eq!((p.failure_threshold, p.failure_window), (3, 5));
    for (bad, says) in [
        ("\"5 of 3\"", "\"5 of 3\" needs 1 <= M <= N <= 64"),
        ("\"3 of 65\"", "needs 1 <= M <= N <= 64"),
        ("\"three of five\"", "is not \"M of N\""),
        ("\"3/5\"", "is not a count or \"M of N\""),
        ("0", "0 is out of range 1-1000"),
    ] {
        let err = parse_str(&with(bad), &[]).unwrap_err().to_string();
        assert!(
            err.contains("monitor.toml:2:21: alerting: failure_threshold: ") && err.contains(says),
            "{bad}: {err}"
        );
    }
}

#[test]
fn depends_on_names_targets_or_pages_without_cycles() {
    let text = "[[status_page]]\nname = \"vendor-status\"\nurl = \"https://status.example.com\"\n\n\
        [[target]]\nname = \"gateway\"\nurl = \"http://127.0.0.1:9/\"\ndepends_on = [\"vendor-status\"]\n\n\
        [[target]]\nname = \"model\"\nurl = \"http://127.0.0.1:9/m\"\ndepends_on = [\"gateway\"]\n";
    let c = parse_str(text, &[]).unwrap();
    assert_eq!(c.targets[1].depends_on, vec![Arc::from("gateway")]);
    assert_eq!(c.targets[0].depends_on, vec![Arc::from("vendor-status")]);

    let bad = "[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\ndepends_on = [\"b\", \"gatway\", \"a\"]\n\n\
        [[target]]\nname = \"b\"\nurl = \"http://127.0.0.1:9/\"\ndepends_on = [\"a\"]\n\n\
        [[target]]\nname = \"gateway\"\nurl = \"http://127.0.0.1:9/\"\n";
    let err = parse_str(bad, &[]).unwrap_err().to_string();
    for want in [
        "monitor.toml:4:20: target \"a\": depends_on: no target or status_page named \"gatway\" (did you mean \"gateway\"?)",
        "monitor.toml:4:30: target \"a\": depends_on: \"a\" is this target itself",
        "monitor.toml:9:15: target \"b\": depends_on: a cycle (a -> b -> a): break it, a target cannot wait on itself",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

#[test]
fn assertions_load_in_order_with_their_checks() {
    let c = parse_str(
        &format!(
            "{MINIMAL}\n[[target.assert]]\njson = \"$.data[*].id\"\nop = \"eq\"\nvalue = \"codestral-latest\"\n\n\
             [[target.assert]]\nheader = \"X-RateLimit-Limit\"\nop = \"ge\"\nvalue = 10\nseverity = \"warning\"\n\n\
             [[target.assert]]\non = \"status\"\nin = [200, 204]\n\n\
             [[target.assert]]\njson = \"$.data[*].max_context_length\"\nop = \"ge\"\nvalue = 8000\nmatch = \"all\"\n"
        ),
        &[],
    )
    .unwrap();
    let shown: Vec<String> = c.targets[0]
        .assertions
        .iter()
        .map(|a| format!("#{} {a} warning={}", a.index, a.warning))
        .collect();
    assert_eq!(
        shown,
        [
            "#1 $.data[*].id eq \"codestral-latest\" warning=false",
            "#2 header x-ratelimit-limit ge 10 warning=true",
            "#3 status in [200, 204] warning=false",
            "#4 $.data[*].max_context_length ge 8000 (all) warning=false",
        ]
    );
}

#[test]
fn a_bad_assertion_is_pointed_at_with_what_would_be_right() {
    let cases: &[(&str, &str, &str)] = &[
        ("json = \"data[*].id\"\nop = \"eq\"\nvalue = 1", "monitor.toml:5:8:", "is not a JSONPath (RFC 9535)"),
        ("json = \"$.id\"\nop = \"equals\"\nvalue = 1", "monitor.toml:6:6:", "op: \"equals\" is not one of eq ne lt le gt ge matches exists absent (did you mean \"eq\"?)"),
        ("json = \"$.id\"\nop = \"gte\"\nvalue = 1", "monitor.toml:6:6:", "(did you mean \"ge\"?)"),
        ("json = \"$.n\"\nop = \"gt\"\nvalue = \"ten\"", "monitor.toml:7:9:", "expected a number (lt, le, gt and ge order numbers)"),
        ("on = \"body\"\nop = \"matches\"\nvalue = \"(unclosed\"", "monitor.toml:7:9:", "is not a regular expression"),
        ("json = \"$.error\"\nop = \"absent\"\nvalue = 1", "monitor.toml:7:9:", "absent takes no value"),
        ("on = \"status\"\nop = \"eq\"\nvalue = \"ok\"", "monitor.toml:6:6:", "take a comparison with a number"),
        ("on = \"status\"\nin = [\"ok\"]", "monitor.toml:6:6:", "in = [...] of numbers"),
        ("on = \"headers\"\nop = \"exists\"", "monitor.toml:5:6:", "is not one of status | body | latency_ms"),
        ("json = \"$.a\"\nheader = \"x\"\nop = \"exists\"", "monitor.toml:4:1:", "exactly one of"),
        ("json = \"$.a\"\nop = \"eq\"\nvalue = 1\nmatch = \"some\"", "monitor.toml:8:9:", "match: \"some\" is not one of any | all"),
        ("json = \"$.a\"\nopp = \"eq\"", "monitor.toml:6:1:", "unknown field `opp`"),
    ];
    each_one_error(cases, |case| {
        format!("{MINIMAL}[[target.assert]]\n{case}\n")
    });
}

#[test]
fn standard_webhooks_secrets_are_checked_where_they_are_written() {
    let hook =
        "[[channel]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://hooks.example.com/h\"\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "signature = \"standard-webhooks\"\nsecret = \"whsec_not base64!\"",
            "monitor.toml:10:10:",
            "\"whsec_\" followed by the base64 of 24 to 64 random bytes",
        ),
        (
            "signature = \"standard-webhooks\"\nsecrets = [\"whsec_AAAA\"]",
            "monitor.toml:10:12:",
            "\"whsec_\" followed by the base64",
        ),
        (
            "signature = \"standard-webhooks\"",
            "monitor.toml:5:1:",
            "needs secret (or secret_file, or secrets)",
        ),
        (
            "secrets = [\"whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz\"]",
            "monitor.toml:9:11:",
            "secrets: only with signature = \"standard-webhooks\"",
        ),
        (
            "signature = \"svix\"",
            "monitor.toml:9:13:",
            "signature: \"svix\" is not one of upwatch | standard-webhooks",
        ),
    ];
    each_one_error(cases, |case| format!("{MINIMAL}\n{hook}{case}\n"));
    // 24 bytes of key, as two secrets during a rotation.
    let c = parse_str(
        &format!("{MINIMAL}\n{hook}signature = \"standard-webhooks\"\nsecrets = [\"whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz\", \"whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4\"]\n"),
        &[],
    )
    .unwrap();
    match &c.channels[0].kind {
        ChannelKind::Webhook(w) => {
            assert_eq!(w.standard_keys.len(), 2);
            assert_eq!(w.standard_keys[0].0, b"012345678901234567890123");
            assert!(w.secret.is_none());
            assert!(!format!("{w:?}").contains("MDEy"), "{w:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pagerduty_channel_needs_its_key_and_an_https_endpoint() {
    let head = "[[channel]]\nname = \"pd\"\ntype = \"pagerduty\"\n";
    let cases: &[(&str, &str, &str)] = &[
        (
            "",
            "monitor.toml:5:1:",
            "missing key \"routing_key\" (or routing_key_file)",
        ),
        (
            "routing_key = \"abc\"\nurl = \"http://events.example.com/v2/enqueue\"",
            "monitor.toml:9:7:",
            "url: must be an https:// URL",
        ),
        (
            "routing_key = \"abc\"\ngroup = true",
            "monitor.toml:9:9:",
            "group: does not apply to pagerduty channels",
        ),
    ];
    each_one_error(cases, |case| format!("{MINIMAL}\n{head}{case}\n"));
    let c = parse_str(&format!("{MINIMAL}\n{head}routing_key = \"abc\"\n"), &[]).unwrap();
    match &c.channels[0].kind {
        ChannelKind::PagerDuty(p) => {
            assert_eq!(p.url, "https://events.pagerduty.com/v2/enqueue");
            assert!(!format!("{p:?}").contains("abc"), "{p:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn telegram_and_ntfy_channels_are_checked_where_they_are_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "type = \"telegram\"\nbot_token = \"1:x\"\nchat_id = \"my-chat\"",
            "monitor.toml:9:11:",
            "chat_id: must be a chat's numeric id (e.g. -1001234567890) or a public channel's \"@name\"",
        ),
        (
            "type = \"telegram\"\nbot_token = \"1:x\"",
            "monitor.toml:5:1:",
            "missing key \"chat_id\"",
        ),
        (
            "type = \"telegram\"\nchat_id = 42",
            "monitor.toml:5:1:",
            "missing key \"bot_token\" (or bot_token_file)",
        ),
        (
            "type = \"ntfy\"\ntopic = \"ops alerts\"",
            "monitor.toml:8:9:",
            "topic: 1 to 64 letters, digits, _ or -",
        ),
        (
            "type = \"ntfy\"\ntopic = \"ops\"\ntoken = \"tk_x\"\nusername = \"u\"\npassword = \"p\"",
            "monitor.toml:5:1:",
            "give token (or token_file), or username with password",
        ),
        (
            "type = \"ntfy\"\ntopic = \"ops\"\nurl = \"http://ntfy.example.com\"",
            "monitor.toml:9:7:",
            "url: must be an https:// URL (default https://ntfy.sh",
        ),
    ];
    each_one_error(cases, |case| {
        format!("{MINIMAL}\n[[channel]]\nname = \"c\"\n{case}\n")
    });
    let c = parse_str(
        &format!("{MINIMAL}\n[[channel]]\nname = \"c\"\ntype = \"telegram\"\nbot_token = \"1:x\"\nchat_id = \"@upwatch_ops\"\n"),
        &[],
    )
    .unwrap();
    match &c.channels[0].kind {
        ChannelKind::Telegram(t) => {
            assert_eq!(t.chat_id, ChatId::Channel("@upwatch_ops".into()));
            assert_eq!(t.url, "https://api.telegram.org");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn teams_google_chat_and_opsgenie_channels_are_checked_where_they_are_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "type = \"teams\"\nurl = \"http://example.com/workflows\"",
            "monitor.toml:8:7:",
            "url: a Teams webhook URL must be https",
        ),
        (
            "type = \"google_chat\"\nurl = \"http://chat.example.com/v1/spaces/A/messages\"",
            "monitor.toml:8:7:",
            "url: a Google Chat webhook URL must be https",
        ),
        (
            "type = \"opsgenie\"",
            "monitor.toml:5:1:",
            "missing key \"api_key\" (or api_key_file)",
        ),
        (
            "type = \"opsgenie\"\napi_key = \"k\"\ngroup = true",
            "monitor.toml:9:9:",
            "group: does not apply to opsgenie channels",
        ),
    ];
    each_one_error(cases, |case| {
        format!("{MINIMAL}\n[[channel]]\nname = \"c\"\n{case}\n")
    });
    let c = parse_str(
        &format!("{MINIMAL}\n[[channel]]\nname = \"c\"\ntype = \"opsgenie\"\napi_key = \"k\"\nurl = \"https://api.eu.opsgenie.com\"\n"),
        &[],
    )
    .unwrap();
    match &c.channels[0].kind {
        ChannelKind::Opsgenie(o) => assert_eq!(o.url, "https://api.eu.opsgenie.com/"),
        other => panic!("{other:?}"),
    }
}
