//! The command line: `run`, `check`, `status`, `validate` and `test-alert`, with their output
//! formats and exit codes (0 healthy, 1 unhealthy, 2 error).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::task::JoinSet;

use crate::config::{self, Config, LogFormat};
use crate::correlate::Others;
use crate::fmt::ms;
use crate::probe::tls::TlsConfigs;
use crate::probe::{Health, ProbeResult, TargetProber};
use crate::statuspage::Reading;
use crate::telemetry::{self, Sink};

/// Exit code: everything probed was up / the command succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: a target was degraded or down.
pub const EXIT_UNHEALTHY: u8 = 1;
/// Exit code: the config was invalid or upwatch itself failed.
pub const EXIT_ERROR: u8 = 2;

/// upwatch: synthetic uptime monitoring for HTTP APIs.
#[derive(Debug, Parser)]
#[command(name = "upwatch", version, about, long_about = None)]
pub struct Cli {
    /// Config file.
    #[arg(
        long,
        short = 'c',
        env = "UPWATCH_CONFIG",
        default_value = "monitor.toml",
        global = true
    )]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: probe every target on its schedule until SIGINT/SIGTERM.
    Run,
    /// Probe targets once, print the results, exit 0 if all are up, 1 otherwise.
    Check {
        /// Only this target (repeatable).
        #[arg(long = "target", short = 't', value_name = "NAME")]
        targets: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show what the store recorded: health and since when, uptime over 24 h / 7 d / 30 d,
    /// latency percentiles, open alerts and the last incident. Works with or without a
    /// running daemon. Exit 0 if every target is up, 1 otherwise.
    Status {
        /// Only this target (repeatable).
        #[arg(long = "target", short = 't', value_name = "NAME")]
        targets: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check the config and exit: 0 when valid, 2 with every error.
    Validate,
    /// Ask the running daemon's `/healthz` (on the configured `listen` address) whether
    /// its scheduler is on time: exit 0 if so, 1 if not or if nothing answers. For
    /// container health checks: no curl needed.
    Healthcheck,
    /// Send a clearly labelled test notification through each channel (not through the
    /// outbox); print `ok` or the exact error per channel; exit 1 if any failed.
    TestAlert {
        /// Only this channel (repeatable).
        #[arg(long = "channel", value_name = "NAME")]
        channels: Vec<String>,
    },
}

/// Output format of `check` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per target per line.
    Json,
}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    crate::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upwatch: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Validate => validate(&cli.config),
            Command::Healthcheck => healthcheck(&cli.config).await,
            Command::Check { targets, format } => check(&cli.config, &targets, format).await,
            Command::Run => run(&cli.config).await,
            Command::Status { targets, format } => status(&cli.config, &targets, format).await,
            Command::TestAlert { channels } => test_alert(&cli.config, &channels).await,
        }
    });
    // Probe tasks that outlived a grace period must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(code)
}

fn load(path: &Path) -> Result<Config, u8> {
    config::load(path).map_err(|e| {
        eprintln!("{e}");
        EXIT_ERROR
    })
}

fn validate(path: &Path) -> u8 {
    match load(path) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}: ok ({} target(s))", path.display(), c.targets.len());
            EXIT_OK
        }
        Err(code) => code,
    }
}

/// The configured targets named in `names`, in that order (all when empty), or the exit
/// code after naming the unknown one.
fn select_targets(
    config: &Config,
    path: &Path,
    names: &[String],
) -> Result<Vec<Arc<config::Target>>, u8> {
    if names.is_empty() {
        return Ok(config.targets.clone());
    }
    let mut selected = Vec::new();
    for name in names {
        match config.targets.iter().find(|t| &*t.name == name.as_str()) {
            Some(t) => selected.push(t.clone()),
            None => {
                let known: Vec<&str> = config.targets.iter().map(|t| &*t.name).collect();
                eprintln!(
                    "upwatch: no target named {name:?} in {} (targets: {})",
                    path.display(),
                    known.join(", ")
                );
                return Err(EXIT_ERROR);
            }
        }
    }
    Ok(selected)
}

async fn status(path: &Path, only: &[String], format: Format) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let targets = match select_targets(&config, path, only) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let reader = match crate::store::Reader::open(&config.daemon.state_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let names = targets.iter().map(|t| t.name.clone()).collect();
    let now = chrono::Utc::now();
    let reports = match reader.targets(names, now).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    match format {
        Format::Json => {
            for (t, r) in targets.iter().zip(&reports) {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("url".into(), serde_json::Value::from(&*t.display_url));
                }
                println!("{v}");
            }
        }
        Format::Table => print!("{}", status_table(&reports, now)),
    }
    if reports.iter().all(|r| r.health == Some(Health::Up)) {
        EXIT_OK
    } else {
        EXIT_UNHEALTHY
    }
}

/// The `status` table.
pub fn status_table(
    reports: &[crate::store::TargetReport],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let ago = |t: chrono::DateTime<chrono::Utc>| {
        crate::fmt::human_duration((now - t).to_std().unwrap_or_default())
    };
    let pct = |p: Option<f64>| {
        p.map_or("-".to_string(), |p| {
            format!("{:.2}%", (p * 100.0).floor() / 100.0)
        })
    };
    let mut rows = vec![[
        "TARGET",
        "HEALTH",
        "SINCE",
        "UP_24H",
        "UP_7D",
        "UP_30D",
        "P50/P95/P99_24H_MS",
        "ALERTS",
        "LAST_INCIDENT",
    ]
    .map(String::from)];
    for r in reports {
        let latency = r.latency_24h.as_ref().map_or("-".to_string(), |l| {
            format!("{:.0}/{:.0}/{:.0}", l.p50_ms, l.p95_ms, l.p99_ms)
        });
        let alerts = if r.open_alerts.is_empty() {
            "-".to_string()
        } else {
            r.open_alerts
                .iter()
                .map(|a| format!("{} firing", a.severity))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let incident = r.last_incident.as_ref().map_or("-".to_string(), |i| {
            let span = match i.ended_at {
                Some(_) => format!(
                    "lasted {}",
                    crate::fmt::human_duration(std::time::Duration::from_secs(
                        u64::try_from(i.duration_s).unwrap_or(0)
                    ))
                ),
                None => "ongoing".to_string(),
            };
            format!(
                "{} ({}, {span}): {}",
                when(i.started_at),
                i.severity,
                i.cause
            )
        });
        rows.push([
            r.target.clone(),
            match r.health {
                Some(Health::Up) => "up",
                Some(Health::Degraded) => "DEGRADED",
                Some(Health::Down) => "DOWN",
                None => "no data",
            }
            .to_string(),
            r.since
                .map_or("-".to_string(), |t| format!("{} ago", ago(t))),
            pct(r.uptime.first().and_then(|w| w.uptime_percent)),
            pct(r.uptime.get(1).and_then(|w| w.uptime_percent)),
            pct(r.uptime.get(2).and_then(|w| w.uptime_percent)),
            latency,
            alerts,
            incident,
        ]);
    }
    align(&rows)
}

/// Rows as aligned columns; the last column is not padded (it holds free text).
fn align<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == N - 1 {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

async fn run(path: &Path) -> u8 {
    let mut config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(config.daemon.log_format, Sink::Stdout);
    let sd = crate::sdnotify::SdNotify::from_env();
    // Taken before the first probe, so SIGHUP never gets its default (terminating) action.
    let mut hangups = crate::shutdown::Hangups::new();
    loop {
        // One generation of the daemon runs until a signal: SIGTERM/SIGINT end it for good;
        // SIGHUP re-reads the config and, only when it is valid, ends this generation so
        // the next starts from it. Alert state, history and the outbox live in the store,
        // so the next generation resumes them.
        let mut next: Option<Config> = None;
        let stop = async {
            loop {
                tokio::select! {
                    name = crate::shutdown::signal() => {
                        tracing::info!("{name} received");
                        crate::shutdown::exit_on_second_signal();
                        return;
                    }
                    _ = hangups.recv() => match reload(path) {
                        Some(c) => {
                            next = Some(c);
                            return;
                        }
                        None => continue,
                    },
                }
            }
        };
        let ran = crate::app::run(config, crate::clock::system_clock(), stop).await;
        if let Err(e) = ran {
            tracing::error!("{e}");
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
        match next {
            Some(c) => {
                if let Some(sd) = &sd {
                    sd.send("RELOADING=1\nSTATUS=reloading the configuration");
                }
                tracing::info!(config = %path.display(), "configuration reloaded: starting the new one");
                config = c;
            }
            None => {
                if let Some(sd) = &sd {
                    sd.send("STOPPING=1\nSTATUS=shutting down");
                }
                return EXIT_OK;
            }
        }
    }
}

/// The config after a SIGHUP, when it is valid; otherwise its errors are logged (as
/// `validate` prints them) and the running config stays.
fn reload(path: &Path) -> Option<Config> {
    tracing::info!(config = %path.display(), "SIGHUP received: reading the configuration again");
    match config::load(path) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(
                "the new configuration is invalid; still running the previous one:\n{e}"
            );
            None
        }
    }
}

async fn healthcheck(path: &Path) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A wildcard listen address is reached on loopback.
    let mut addr = config.daemon.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/healthz");
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upwatch: cannot build an HTTP client: {e}");
            return EXIT_ERROR;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            let body = resp.text().await.unwrap_or_default();
            print!("{body}");
            if ok {
                EXIT_OK
            } else {
                EXIT_UNHEALTHY
            }
        }
        Err(e) => {
            println!(
                "unhealthy: no answer from {url}: {}",
                crate::error_chain(&e)
            );
            EXIT_UNHEALTHY
        }
    }
}

async fn test_alert(path: &Path, names: &[String]) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(LogFormat::Pretty, Sink::Stderr);
    if config.channels.is_empty() {
        eprintln!("upwatch: {} defines no [[channel]]", path.display());
        return EXIT_ERROR;
    }
    for name in names {
        if !config.channels.iter().any(|c| &*c.name == name.as_str()) {
            let known: Vec<&str> = config.channels.iter().map(|c| &*c.name).collect();
            eprintln!(
                "upwatch: no channel named {name:?} (channels: {})",
                known.join(", ")
            );
            return EXIT_ERROR;
        }
    }
    let notifiers = match crate::notify::Notifier::build_all(
        &config.channels,
        config.daemon.page_url().as_deref(),
    ) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    let now = chrono::Utc::now();
    let mut failed = false;
    for n in notifiers
        .iter()
        .filter(|n| names.is_empty() || names.iter().any(|x| x == n.name()))
    {
        let msg = crate::notify::Notification::test_message(&config.daemon.location, now);
        match n.send(&msg, now).await {
            Ok(()) => println!("{}: ok", n.name()),
            Err(e) => {
                failed = true;
                println!("{}: {}", n.name(), e);
            }
        }
    }
    if failed {
        EXIT_UNHEALTHY
    } else {
        EXIT_OK
    }
}

async fn check(path: &Path, names: &[String], format: Format) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(LogFormat::Pretty, Sink::Stderr);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // Names may be targets or status pages; pages linked from chosen targets come along.
    let (target_names, page_names): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| !config.status_pages.iter().any(|p| *p.name == **n));
    let selected = if names.is_empty() || !target_names.is_empty() {
        match select_targets(&config, path, &target_names) {
            Ok(t) => t,
            Err(code) => return code,
        }
    } else {
        Vec::new()
    };
    let pages: Vec<Arc<config::StatusPage>> = config
        .status_pages
        .iter()
        .filter(|p| {
            names.is_empty()
                || page_names.iter().any(|n| *n == *p.name)
                || selected
                    .iter()
                    .any(|t| t.status_page.as_ref() == Some(&p.name))
        })
        .cloned()
        .collect();
    let (tls, warnings) = match TlsConfigs::build(selected.iter().map(|t| t.as_ref())) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("upwatch: {e}");
            return EXIT_ERROR;
        }
    };
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let (mut results, readings) = tokio::join!(
        probe_all(&selected, &tls, config.daemon.max_concurrency),
        poll_pages(&pages)
    );
    // The vendor's word goes with each failing target that links its page.
    for r in &mut results {
        if r.health == Health::Up {
            continue;
        }
        let page = selected
            .iter()
            .find(|t| t.name == r.target)
            .and_then(|t| t.status_page.as_ref());
        if let Some(reading) = page.and_then(|p| readings.iter().find(|x| x.page == *p)) {
            r.vendor = Some(reading.vendor_word());
        }
    }
    // Which side each failure is most likely on, against the other results of this run.
    let sides: Vec<_> = results
        .iter()
        .map(|r| {
            let others = Others::tally(
                results
                    .iter()
                    .filter(|o| o.target != r.target)
                    .map(|o| (o.health, o.error_class)),
            );
            Some(crate::correlate::side(
                r.error_class?,
                r.vendor.as_ref(),
                others,
            ))
        })
        .collect();
    for (r, side) in results.iter_mut().zip(sides) {
        r.side = side;
    }
    match format {
        Format::Json => {
            for r in &results {
                println!("{}", r.to_check_json());
            }
            for r in &readings {
                println!("{}", r.to_check_json());
            }
        }
        Format::Table => {
            if !results.is_empty() {
                print!("{}", table(&results));
            }
            if !readings.is_empty() {
                if !results.is_empty() {
                    println!();
                }
                print!("{}", pages_table(&readings));
            }
        }
    }
    if results.iter().all(ProbeResult::ok) && readings.iter().all(Reading::ok) {
        EXIT_OK
    } else {
        EXIT_UNHEALTHY
    }
}

/// Polls every page once, concurrently, in config order.
pub async fn poll_pages(pages: &[Arc<config::StatusPage>]) -> Vec<Reading> {
    let mut set = JoinSet::new();
    for (i, page) in pages.iter().enumerate() {
        let page = page.clone();
        set.spawn(async move {
            let reading = match crate::statuspage::poll::client(&page) {
                Ok(http) => {
                    let mut poller = crate::statuspage::Poller::new(page, http);
                    poller.poll(chrono::Utc::now()).await
                }
                Err(e) => Reading::unreadable(
                    &page,
                    chrono::Utc::now(),
                    std::time::Duration::ZERO,
                    None,
                    crate::statuspage::Unreadable {
                        reason: crate::statuspage::UnreadableReason::Unreachable,
                        detail: format!("cannot build the HTTP client: {e}"),
                    },
                ),
            };
            (i, reading)
        });
    }
    let mut out = Vec::with_capacity(pages.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(x) => out.push(x),
            Err(e) => tracing::error!("status page task failed: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The status pages as a table, then each open incident and each unreadable page's detail.
pub fn pages_table(readings: &[Reading]) -> String {
    let mut rows = vec![[
        "PAGE".to_string(),
        "OVERALL".to_string(),
        "PLATFORM".to_string(),
        "COMPONENTS_NOT_OPERATIONAL".to_string(),
        "INCIDENTS".to_string(),
        "NOTE".to_string(),
    ]];
    for r in readings {
        let snap = r.outcome.as_ref().ok();
        rows.push([
            r.page.to_string(),
            if r.ok() {
                r.overall.as_str().to_string()
            } else {
                r.overall.as_str().to_ascii_uppercase()
            },
            snap.map_or("-".to_string(), |s| s.platform.as_str().to_string()),
            snap.map_or("-".to_string(), |s| {
                s.components
                    .iter()
                    .filter(|c| !c.is_group && c.status != crate::statuspage::Level::Operational)
                    .count()
                    .to_string()
            }),
            r.incidents().len().to_string(),
            match &r.outcome {
                Err(u) => format!("unknown ({})", u.reason.as_str()),
                Ok(_) if r.stale => "stale: the page has not been updated".to_string(),
                Ok(_) => "-".to_string(),
            },
        ]);
    }
    let mut out = align(&rows);
    for r in readings {
        match &r.outcome {
            Err(u) => out.push_str(&format!("\n{}: {}", r.page, u.detail)),
            Ok(_) => {
                for i in r.incidents() {
                    out.push_str(&format!(
                        "\n{}: {} ({}, {}){}",
                        r.page,
                        i.title,
                        i.status.as_str(),
                        i.impact.words(),
                        i.url.as_ref().map(|u| format!(" {u}")).unwrap_or_default()
                    ));
                }
            }
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Probes each target once, concurrently (bounded), results in the given order.
pub async fn probe_all(
    targets: &[Arc<config::Target>],
    tls: &TlsConfigs,
    max_concurrency: usize,
) -> Vec<ProbeResult> {
    let permits = Arc::new(tokio::sync::Semaphore::new(max_concurrency.max(1)));
    let mut set = JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let mut prober = TargetProber::new(t.clone(), tls.get(&t.tls));
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, prober.probe().await)
        });
    }
    let mut out: Vec<(usize, ProbeResult)> = Vec::with_capacity(targets.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(x) => out.push(x),
            Err(e) => tracing::error!("probe task failed: {e}"),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The human table of `check`.
pub fn table(results: &[ProbeResult]) -> String {
    let opt =
        |d: Option<std::time::Duration>| d.map_or("-".to_string(), |d| format!("{:.1}", ms(d)));
    let mut rows = vec![[
        "TARGET".to_string(),
        "HEALTH".to_string(),
        "STATUS".to_string(),
        "TOTAL_MS".to_string(),
        "DNS/CONNECT/TLS/TTFB/TRANSFER_MS".to_string(),
        "HTTP".to_string(),
        "CERT_DAYS".to_string(),
        "FAILURES".to_string(),
    ]];
    for r in results {
        let p = &r.phases;
        rows.push([
            r.target.to_string(),
            match r.health {
                Health::Up => "up",
                Health::Degraded => "DEGRADED",
                Health::Down => "DOWN",
            }
            .to_string(),
            r.status.map_or("-".to_string(), |s| s.to_string()),
            format!("{:.1}", ms(r.total)),
            format!(
                "{}/{}/{}/{}/{}",
                opt(p.dns),
                opt(p.connect),
                opt(p.tls),
                opt(p.ttfb),
                opt(p.transfer)
            ),
            r.http_version.map_or("-", |v| v.as_str()).to_string(),
            r.tls
                .as_ref()
                .map_or("-".to_string(), |t| t.days_left.to_string()),
            if r.failures.is_empty() {
                "-".to_string()
            } else {
                r.failure_summary()
            },
        ]);
    }
    let mut out = align(&rows);
    // Under the table: what the vendor says, what each failure class means, and what to
    // quote to support.
    for r in results {
        if let Some(c) = &r.chat {
            let ttft = c
                .ttft
                .map_or("none".to_string(), |d| format!("{:.1} ms", ms(d)));
            out.push_str(&format!(
                "\n{}: time to first token {ttft}; stream: {} events, {}",
                r.target,
                c.stream.events,
                if c.stream.done {
                    "[DONE]".to_string()
                } else {
                    format!(
                        "finish_reason {}",
                        c.stream.finish_reason.as_deref().unwrap_or("none")
                    )
                }
            ));
        }
        if let Some(m) = &r.models {
            out.push_str(&format!("\n{}: catalog lists {} models", r.target, m.len()));
        }
        if let Some(v) = &r.vendor {
            out.push_str(&format!("\n{}: vendor: {}", r.target, v.text));
        }
    }
    for r in results {
        let Some(class) = r.error_class else { continue };
        out.push_str(&format!(
            "\n{}: {} — {}",
            r.target,
            class.as_str(),
            class.remedy()
        ));
        if let Some(side) = &r.side {
            out.push_str(&format!("\n  most likely: {}", side.text()));
        }
        if let Some(resp) = &r.response {
            if let Some(e) = resp
                .provider_error
                .as_ref()
                .and_then(|e| e.message.as_ref())
            {
                out.push_str(&format!("\n  provider said: {e}"));
            }
            for (name, id) in &resp.request_ids {
                out.push_str(&format!("\n  {name}: {id}"));
            }
            if let Some(l) = resp.ratelimit.tightest() {
                let figure = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v}"));
                out.push_str(&format!(
                    "\n  rate limit ({}): {} of {} left",
                    l.kind,
                    figure(l.remaining),
                    figure(l.limit)
                ));
            }
            if let Some(s) = resp.ratelimit.retry_after_s {
                out.push_str(&format!("\n  retry after: {s} s"));
            }
        }
        out.push('\n');
    }
    out
}
