//! The validator: checks one value at a time (durations, sizes, names, secrets, choices, CA
//! files, environment overrides) and collects every diagnostic; `[daemon]` and `[store]`.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::Diagnostics;
use super::raw::{RawDaemon, RawStore, S};
use super::*;
use crate::secret::Redactor;

pub(super) struct Validator<'a> {
    pub(super) d: Diagnostics<'a>,
    pub(super) env: &'a Env,
    pub(super) config_dir: PathBuf,
    pub(super) overrides: Vec<&'static str>,
}

impl Validator<'_> {
    /// `value` from the file, replaced by environment variable `var` when that is set and
    /// not empty. A bad value is reported against the variable, not the file.
    pub(super) fn env_override<T>(
        &mut self,
        var: &'static str,
        ctx: &str,
        value: Option<T>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let Some(text) = self.env.dir_var(var) else {
            return value;
        };
        self.overrides.push(var);
        match parse(text.trim()) {
            // A bad value in the file is still reported: the file must be valid on its own.
            Ok(v) => Some(v),
            Err(m) => {
                self.d.push_env(var, ctx, m);
                None
            }
        }
    }

    /// Expands `${VAR}` in a string value, recording substituted values in `redactor`.
    pub(super) fn string(
        &mut self,
        ctx: &str,
        key: &str,
        v: &Spanned<String>,
        redactor: Option<&mut Redactor>,
    ) -> Option<String> {
        match expand(v.get_ref(), &|n| self.env.var(n)) {
            Ok(e) => {
                if let Some(r) = redactor {
                    for s in e.substituted {
                        r.add(s);
                    }
                }
                Some(e.value)
            }
            Err(err) => {
                self.d.push(v.span(), ctx, format!("{key}: {err}"));
                None
            }
        }
    }

    /// An optional PEM CA file (relative to the config file), checked to hold certificates.
    /// Empty means none.
    pub(super) fn ca_file(&mut self, ctx: &str, v: &S<String>) -> Option<Option<PathBuf>> {
        let Some(f) = v else { return Some(None) };
        let name = self.string(ctx, "tls_ca_file", f, None)?;
        if name.is_empty() {
            return Some(None);
        }
        let path = if Path::new(&name).is_absolute() {
            PathBuf::from(&name)
        } else {
            self.config_dir.join(&name)
        };
        match crate::tls::load_ca_file(&path) {
            Ok(_) => Some(Some(path)),
            Err(e) => {
                self.d.push(f.span(), ctx, format!("tls_ca_file: {e}"));
                None
            }
        }
    }

    /// A required `name`: 1-64 characters of a-z, 0-9, _ and -.
    pub(super) fn name(
        &mut self,
        ctx: &str,
        v: &S<String>,
        table: Range<usize>,
        example: &str,
    ) -> Option<String> {
        let Some(n) = v else {
            self.d.push(
                table,
                ctx,
                format!("missing key \"name\", e.g. name = {example}"),
            );
            return None;
        };
        let s = self.string(ctx, "name", n, None)?;
        if valid_name(&s) {
            Some(s)
        } else {
            self.d.push(
                n.span(),
                ctx,
                format!("name: {s:?} must be 1-64 characters of a-z, 0-9, _ and -"),
            );
            None
        }
    }

    pub(super) fn duration(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        zero_ok: bool,
    ) -> Option<Option<Duration>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match humantime::parse_duration(text.trim()) {
            Ok(dur) if dur.is_zero() && !zero_ok => {
                self.d
                    .push(v.span(), ctx, format!("{key}: must be greater than zero"));
                None
            }
            Ok(dur) => Some(Some(dur)),
            Err(e) => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: invalid duration {text:?} ({e}); write e.g. \"10s\", \"500ms\" or \"1m30s\""),
                );
                None
            }
        }
    }

    pub(super) fn int_in(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<i64>,
        range: Range<i64>,
    ) -> Option<Option<i64>> {
        let Some(v) = v else { return Some(None) };
        let n = *v.get_ref();
        if range.contains(&n) {
            Some(Some(n))
        } else {
            self.d.push(
                v.span(),
                ctx,
                format!(
                    "{key}: {n} is out of range ({}..={})",
                    range.start,
                    range.end - 1
                ),
            );
            None
        }
    }

    pub(super) fn choice<T: Copy>(
        &mut self,
        ctx: &str,
        key: &str,
        v: &S<String>,
        options: &[(&str, T)],
    ) -> Option<Option<T>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match options.iter().find(|(name, _)| *name == text) {
            Some((_, t)) => Some(Some(*t)),
            None => {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: {text:?} is not one of {}", names.join(" | ")),
                );
                None
            }
        }
    }

    pub(super) fn size(&mut self, ctx: &str, key: &str, v: &S<String>) -> Option<Option<usize>> {
        let Some(v) = v else { return Some(None) };
        let text = self.string(ctx, key, v, None)?;
        match parse_size(&text) {
            Some(n) if n > 0 => Some(Some(n)),
            _ => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!(
                        "{key}: invalid size {text:?}; write e.g. \"1MiB\", \"256KiB\" or \"4096\""
                    ),
                );
                None
            }
        }
    }

    pub(super) fn statuses(
        &mut self,
        ctx: &str,
        v: &S<Vec<Spanned<i64>>>,
    ) -> Option<Option<Vec<u16>>> {
        let Some(v) = v else { return Some(None) };
        if v.get_ref().is_empty() {
            self.d.push(
                v.span(),
                ctx,
                "expect_status: list at least one status, e.g. [200]",
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for s in v.get_ref() {
            match u16::try_from(*s.get_ref()) {
                Ok(code) if (100..=599).contains(&code) => out.push(code),
                _ => {
                    self.d.push(
                        s.span(),
                        ctx,
                        format!(
                            "expect_status: {} is not an HTTP status (100..=599)",
                            s.get_ref()
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Some(out))
    }

    pub(super) fn secret_file(
        &mut self,
        ctx: &str,
        key: &str,
        v: &Spanned<String>,
        redactor: &mut Redactor,
    ) -> Option<String> {
        let name = self.string(ctx, key, v, None)?;
        let creds = self.env.dir_var("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let path = env::resolve_secret_path(&name, creds.as_deref(), &self.config_dir);
        match env::read_secret_file(&path) {
            Ok(s) => {
                redactor.add(s.clone());
                Some(s)
            }
            Err(e) => {
                self.d.push(
                    v.span(),
                    ctx,
                    format!("{key}: cannot read secret file {}: {e}", path.display()),
                );
                None
            }
        }
    }

    pub(super) fn store(&mut self, r: &RawStore) -> Option<StoreSettings> {
        let ctx = "store";
        let base = StoreSettings::default();
        let retention = self.duration(ctx, "retention", &r.retention, false)?;
        let aggregate = self.duration(ctx, "aggregate_retention", &r.aggregate_retention, false)?;
        let s = StoreSettings {
            retention: retention.unwrap_or(base.retention),
            aggregate_retention: aggregate.unwrap_or(base.aggregate_retention),
        };
        // Windows of 24 h are computed from raw results, so keep at least that much.
        if s.retention < Duration::from_secs(86_400) {
            let at = r.retention.as_ref().map(|v| v.span()).unwrap_or(0..0);
            self.d.push(at, ctx, "retention: must be at least 1d (the 24 h latency percentiles are computed from raw results)");
            return None;
        }
        if s.aggregate_retention < s.retention {
            let at = r
                .aggregate_retention
                .as_ref()
                .or(r.retention.as_ref())
                .map(|v| v.span())
                .unwrap_or(0..0);
            self.d.push(at, ctx, format!(
                "aggregate_retention: {} is shorter than retention ({}); hourly aggregates must outlive raw results",
                humantime::format_duration(s.aggregate_retention),
                humantime::format_duration(s.retention)
            ));
            return None;
        }
        Some(s)
    }

    pub(super) fn daemon(&mut self, r: &RawDaemon, redactor: &mut Redactor) -> Option<Daemon> {
        let ctx = "daemon";
        let state_dir = match &r.state_dir {
            Some(s) => self.string(ctx, "state_dir", s, None).map(PathBuf::from),
            None => Some(PathBuf::from("state")),
        };
        let state_dir = match self.env.dir_var("UPWATCH_STATE_DIR") {
            // An explicit override is taken as given (relative to the working directory).
            Some(dir) => {
                self.overrides.push("UPWATCH_STATE_DIR");
                Some(PathBuf::from(dir))
            }
            None => state_dir.map(|p| match self.env.dir_var("STATE_DIRECTORY") {
                // systemd may pass several, colon-separated; the first is ours.
                Some(dirs) => PathBuf::from(dirs.split(':').next().unwrap_or(&dirs)),
                None if p.is_relative() => self.config_dir.join(p),
                None => p,
            }),
        };
        let listen = match &r.listen {
            Some(s) => self.string(ctx, "listen", s, None).and_then(|text| {
                parse_listen(&text)
                    .map_err(|m| self.d.push(s.span(), ctx, m))
                    .ok()
            }),
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9777))),
        };
        let listen = self.env_override("UPWATCH_LISTEN", ctx, listen, parse_listen);
        let log_format = self
            .choice(ctx, "log_format", &r.log_format, LOG_FORMATS)
            .map(|f| f.unwrap_or(LogFormat::Auto));
        let log_format = self.env_override("UPWATCH_LOG_FORMAT", ctx, log_format, |text| {
            LOG_FORMATS
                .iter()
                .find(|(name, _)| *name == text)
                .map(|(_, f)| *f)
                .ok_or_else(|| format!("log_format: {text:?} is not one of auto | pretty | json"))
        });
        let location = match &r.location {
            Some(s) => self.string(ctx, "location", s, None).and_then(|l| {
                check_location(&l)
                    .map_err(|m| self.d.push(s.span(), ctx, m))
                    .ok()
            }),
            None => Some("local".to_string()),
        };
        let location = self.env_override("UPWATCH_LOCATION", ctx, location, check_location);
        let max_concurrency = self.int_in(ctx, "max_concurrency", &r.max_concurrency, 1..1_000_001);
        let max_connections = self.int_in(ctx, "max_connections", &r.max_connections, 1..1_000_001);
        let header_timeout = self.duration(ctx, "header_timeout", &r.header_timeout, false);
        let grace = self.duration(ctx, "shutdown_grace", &r.shutdown_grace, true);
        let api_token = match (&r.api_token, &r.api_token_file) {
            (None, None) => Some(None),
            _ => self
                .secret_pair(
                    ctx,
                    "api_token",
                    &r.api_token,
                    &r.api_token_file,
                    redactor,
                    0..0,
                    false,
                )
                // `${VAR:-}` left empty means "no token", as for bearer_token.
                .map(|t| Some(t).filter(|t| !t.is_empty())),
        };
        let external_url = match &r.external_url {
            None => Some(None),
            Some(s) => self.string(ctx, "external_url", s, None).and_then(|text| {
                match url::Url::parse(&text) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Some(Some(u)),
                    _ => {
                        self.d.push(
                            s.span(),
                            ctx,
                            format!("external_url: {text:?} is not an http:// or https:// URL"),
                        );
                        None
                    }
                }
            }),
        };
        let protect_metrics = r.protect_metrics.as_ref().map(|b| *b.get_ref());
        let api_token = api_token?;
        if protect_metrics == Some(true) && api_token.is_none() {
            let at = r.protect_metrics.as_ref().map(|b| b.span()).unwrap_or(0..0);
            self.d.push(
                at,
                ctx,
                "protect_metrics: needs api_token (or api_token_file) to be set",
            );
            return None;
        }
        Some(Daemon {
            api_token,
            protect_metrics: protect_metrics.unwrap_or(false),
            external_url: external_url?,
            state_dir: state_dir?,
            listen: listen?,
            log_format: log_format?,
            location: location?,
            max_concurrency: max_concurrency?.map_or(256, |n| n as usize),
            max_connections: max_connections?.map_or(256, |n| n as usize),
            header_timeout: header_timeout?.unwrap_or(Duration::from_secs(10)),
            shutdown_grace: grace?.unwrap_or(Duration::from_secs(10)),
        })
    }

    pub(super) fn ip_version(&mut self, ctx: &str, v: &S<String>) -> Option<Option<IpVersion>> {
        self.choice(
            ctx,
            "ip_version",
            v,
            &[
                ("any", IpVersion::Any),
                ("v4", IpVersion::V4),
                ("v6", IpVersion::V6),
            ],
        )
    }
}

pub(super) fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The `log_format` names.
pub(super) const LOG_FORMATS: &[(&str, LogFormat)] = &[
    ("auto", LogFormat::Auto),
    ("pretty", LogFormat::Pretty),
    ("json", LogFormat::Json),
];

/// The environment variables that override `[daemon]` keys, for container users.
pub const ENV_OVERRIDES: [(&str, &str); 4] = [
    ("UPWATCH_LISTEN", "listen"),
    ("UPWATCH_LOG_FORMAT", "log_format"),
    ("UPWATCH_STATE_DIR", "state_dir"),
    ("UPWATCH_LOCATION", "location"),
];

pub(super) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>().map_err(|_| {
        format!(
            "listen: {text:?} is not an address:port, e.g. \"127.0.0.1:9777\" or \"[::1]:9777\""
        )
    })
}

pub(super) fn check_location(l: &str) -> Result<String, String> {
    if valid_label(l) {
        Ok(l.to_string())
    } else {
        Err(format!(
            "location: {l:?} must be 1-64 characters of a-z, A-Z, 0-9, _ . -"
        ))
    }
}

pub(super) fn valid_label(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `"1MiB"`, `"256KiB"`, `"2MB"`, `"4096"` → bytes.
pub(super) fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "KiB" => 1024,
        "MB" => 1000 * 1000,
        "MiB" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}
