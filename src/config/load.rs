//! Reading monitor.toml: the environment it may use ([`Env`]), the TOML walk over the top-level
//! sections (each deserialized with its span so every error has a line), and the order in
//! which sections are validated.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::error::{suggest, Diagnostics};
use super::fields::fields_of;
use super::llm::RawRateLimitGroup;
use super::raw::{
    RawAlerting, RawChannel, RawDaemon, RawDefaults, RawMaintenance, RawStatusPage, RawStore,
    RawTarget,
};
use super::*;
use crate::schedule::ScheduleSpec;
use crate::secret::Redactor;

/// Looks up one environment variable by name.
pub type VarLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where loading looks things up outside the file. Tests pass their own; the binary uses
/// [`Env::process`].
pub struct Env {
    /// Variable lookup for `${VAR}`.
    pub vars: VarLookup,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            vars: Box::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixed set of variables (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env {
            vars: Box::new(move |name| map.get(name).cloned()),
        }
    }

    pub(super) fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name)
    }

    /// A folder systemd passes in the environment; empty counts as unset.
    pub(super) fn dir_var(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.is_empty())
    }
}

/// Loads and validates the config at `path` with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with(path, &Env::process())
}

/// Loads and validates the config at `path`, resolving variables through `env`.
pub fn load_with(path: &Path, env: &Env) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, env)
}

/// Validates config `text` as if read from `path` (relative `*_file` names and `state_dir`
/// resolve against `path`'s folder).
pub fn parse(path: &Path, text: &str, env: &Env) -> Result<Config, ConfigError> {
    let mut d = Diagnostics::new(path.display().to_string(), text);
    let root = match DeTable::parse(text) {
        Ok(t) => t,
        Err(e) => {
            d.push(
                e.span().unwrap_or(0..0),
                "",
                format!("invalid TOML: {}", e.message().trim()),
            );
            return Err(ConfigError::Invalid(d.into_sorted()));
        }
    };
    let config_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();

    let mut daemon: Option<RawDaemon> = None;
    let mut defaults: Option<(RawDefaults, Range<usize>)> = None;
    let mut targets: Vec<(RawTarget, Range<usize>, String)> = Vec::new();
    let mut alerting: Option<RawAlerting> = None;
    let mut store: Option<RawStore> = None;
    let mut channels: Vec<(RawChannel, Range<usize>, String)> = Vec::new();
    let mut windows: Vec<(RawMaintenance, Range<usize>, String)> = Vec::new();
    let mut raw_pages: Vec<(RawStatusPage, Range<usize>, String)> = Vec::new();
    let mut raw_groups: Vec<(String, Range<usize>, RawRateLimitGroup)> = Vec::new();
    for (key, value) in root.into_inner() {
        let span = value.span();
        match key.get_ref().as_ref() {
            "daemon" => daemon = section(&mut d, "daemon", value),
            "defaults" => defaults = section(&mut d, "defaults", value).map(|r| (r, span)),
            "alerting" => alerting = section(&mut d, "alerting", value),
            "store" => store = section(&mut d, "store", value),
            "target" => targets = array_section(&mut d, "target", value),
            "channel" => channels = array_section(&mut d, "channel", value),
            "maintenance" => windows = array_section(&mut d, "maintenance", value),
            "status_page" => raw_pages = array_section(&mut d, "status_page", value),
            "rate_limit_group" => raw_groups = named_sections(&mut d, "rate_limit_group", value),
            other => d.push(key.span(), "", unknown_key_message(other, TOP_KEYS)),
        }
    }

    let mut v = Validator {
        d,
        env,
        config_dir: config_dir.clone(),
        overrides: Vec::new(),
    };
    let raw_daemon = daemon.unwrap_or_default();
    let mut redactor = Redactor::default();
    let daemon = v.daemon(&raw_daemon, &mut redactor);
    let store = v.store(&store.unwrap_or_default());
    let (raw_defaults, _) = defaults.unwrap_or_default();
    let defaults = v.defaults(&raw_defaults);

    // Channel names as written, so a reference to a channel with another error is not
    // reported twice.
    let channel_names: Vec<Arc<str>> = channels
        .iter()
        .filter_map(|(r, _, _)| r.name.as_ref().map(|n| Arc::from(n.get_ref().as_str())))
        .collect();
    let raw_alerting = alerting.unwrap_or_default();
    let alerting = v.alerting(&raw_alerting, &channel_names);

    let mut warnings = Vec::new();
    let mut built_channels: Vec<Arc<ChannelConfig>> = Vec::new();
    for (raw, span, ctx) in &channels {
        if let Some(c) = v.channel(raw, span.clone(), ctx, alerting.grouping, &mut warnings) {
            if built_channels.iter().any(|b| b.name == c.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("duplicate channel name {:?}", &*c.name));
            } else {
                built_channels.push(Arc::new(c));
            }
        }
    }

    let mut status_pages: Vec<Arc<StatusPage>> = Vec::new();
    for (raw, span, ctx) in &raw_pages {
        if let Some(p) = v.status_page(raw, span.clone(), ctx, &alerting.policy, &channel_names) {
            if status_pages.iter().any(|b| b.name == p.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(
                    at,
                    ctx,
                    format!("duplicate status_page name {:?}", &*p.name),
                );
            } else {
                status_pages.push(Arc::new(p));
            }
        }
    }
    // Page names as written, so a link to a page with another error is not reported twice.
    let page_names: Vec<&str> = raw_pages
        .iter()
        .filter_map(|(r, _, _)| r.name.as_ref().map(|n| n.get_ref().as_str()))
        .collect();

    let mut depends = v.depends_on(&targets, &page_names);
    let mut seen = HashSet::new();
    let mut built = Vec::new();
    for (raw, span, ctx) in &targets {
        let policy = v.target_policy(ctx, raw, &alerting.policy, &channel_names);
        let link = raw.status_page.as_ref().and_then(|p| {
            let name = p.get_ref().as_str();
            if page_names.contains(&name) {
                Some(Arc::<str>::from(name))
            } else {
                let hint = match suggest(name, &page_names) {
                    Some(s) => format!(" (did you mean {s:?}?)"),
                    None if page_names.is_empty() => " (no [[status_page]] is defined)".into(),
                    None => format!(" (status pages: {})", page_names.join(", ")),
                };
                v.d.push(
                    p.span(),
                    ctx,
                    format!("status_page: no status page named {name:?}{hint}"),
                );
                None
            }
        });
        if let Some(mut t) = v.target(raw, span.clone(), ctx, &defaults, &mut warnings) {
            t.alert = policy;
            t.status_page = link;
            t.depends_on = depends.remove(&*t.name).unwrap_or_default();
            if page_names.contains(&&*t.name) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("name {:?} is also a status_page name: alerts are keyed by name, so give each its own", &*t.name));
            }
            if !seen.insert(t.name.clone()) {
                let at = raw.name.as_ref().map(|n| n.span()).unwrap_or(span.clone());
                v.d.push(at, ctx, format!("duplicate target name {:?}", &*t.name));
            } else {
                built.push(Arc::new(t));
            }
        }
    }
    // Watching vendors' pages alone, before any probe, is a valid start.
    if targets.is_empty() && raw_pages.is_empty() && v.d.is_empty() {
        v.d.push(
            0..0,
            "",
            "no [[target]] or [[status_page]] defined: add at least one, e.g.\n  [[target]]\n  name = \"api\"\n  url = \"https://example.com/health\"",
        );
    }
    let mut rate_limit_groups = v.rate_limit_groups(raw_groups);
    for (name, _) in rate_limit_groups.iter() {
        if !built
            .iter()
            .any(|t| t.llm.rate_limit_group.as_ref() == Some(name))
        {
            warnings.push(format!("rate_limit_group {name:?} is defined but no target uses it (set rate_limit_group = {name:?} on the targets that share the key)"));
        }
    }
    for t in &built {
        if let Some(g) = &t.llm.rate_limit_group {
            rate_limit_groups.entry(g.clone()).or_default();
        }
    }
    // A group whose targets together ask for more than max_rps can never keep up.
    for (name, group) in &rate_limit_groups {
        let demand: f64 = built
            .iter()
            .filter(|t| t.llm.rate_limit_group.as_ref() == Some(name))
            .filter_map(|t| match &t.schedule {
                ScheduleSpec::Interval(d) => Some(1.0 / d.as_secs_f64()),
                ScheduleSpec::Cron(_) => None,
            })
            .sum();
        if demand > group.max_rps {
            warnings.push(format!("rate_limit_group {name:?}: its targets ask for {demand:.2} requests/s, over max_rps = {}; probes will start late and skip ticks (raise the intervals or max_rps)", group.max_rps));
        }
    }
    let mut maintenance = Vec::new();
    for (raw, span, ctx) in &windows {
        if let Some(m) = v.maintenance(raw, span.clone(), ctx, &seen) {
            maintenance.push(m);
        }
    }
    if !v.d.is_empty() {
        return Err(ConfigError::Invalid(v.d.into_sorted()));
    }
    // Routing by channel name from here on: only channels that validated are referenced.
    Ok(Config {
        path: path.to_path_buf(),
        daemon: daemon.expect("daemon is built whenever there are no diagnostics"),
        targets: built,
        alerting,
        channels: built_channels,
        maintenance,
        status_pages,
        store: store.unwrap_or_default(),
        rate_limit_groups,
        warnings,
        overrides: v.overrides,
    })
}

/// Each table of an array of tables (`[[kind]]`), with its span and context.
pub(super) fn array_section<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    kind: &str,
    value: Spanned<DeValue<'_>>,
) -> Vec<(T, Range<usize>, String)> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(items) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let item_span = item.span();
                let ctx = item_context(kind, &item, i);
                section::<T>(d, &ctx, item).map(|t| (t, item_span, ctx))
            })
            .collect(),
        other => {
            d.push(
                span,
                kind,
                format!(
                    "expected [[{kind}]] tables (an array), found {}",
                    other.type_str()
                ),
            );
            Vec::new()
        }
    }
}

/// Each sub-table of a table of named tables (`[kind.NAME]`), with its span.
pub(super) fn named_sections<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    kind: &str,
    value: Spanned<DeValue<'_>>,
) -> Vec<(String, Range<usize>, T)> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Table(items) => items
            .into_iter()
            .filter_map(|(name, item)| {
                let name = name.get_ref().to_string();
                let item_span = item.span();
                let ctx = format!("{kind} {name:?}");
                section::<T>(d, &ctx, item).map(|t| (name, item_span, t))
            })
            .collect(),
        other => {
            d.push(
                span,
                kind,
                format!("expected [{kind}.NAME] tables, found {}", other.type_str()),
            );
            Vec::new()
        }
    }
}

/// `target "name"` when the table has a string name, else `target #N` (1-based).
pub(super) fn item_context(kind: &str, item: &Spanned<DeValue<'_>>, index: usize) -> String {
    let name = item.get_ref().as_table().and_then(|t| {
        t.iter()
            .find(|(k, _)| k.get_ref().as_ref() == "name")
            .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
    });
    match name {
        Some(n) => format!("{kind} {n:?}"),
        None => format!("{kind} #{}", index + 1),
    }
}

pub(super) fn unknown_key_message(key: &str, known: &[&str]) -> String {
    match suggest(key, known) {
        Some(s) => format!("unknown key {key:?} (did you mean {s:?}?)"),
        None => format!("unknown key {key:?} (known keys: {})", known.join(", ")),
    }
}

/// Deserializes one table into `T`, first reporting (and dropping) every unknown key so
/// the type errors that remain are reported too.
pub(super) fn section<T: DeserializeOwned>(
    d: &mut Diagnostics<'_>,
    ctx: &str,
    value: Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    let mut table = match value.into_inner() {
        DeValue::Table(t) => t,
        other => {
            d.push(
                span,
                ctx,
                format!("expected a table, found {}", other.type_str()),
            );
            return None;
        }
    };
    let known = fields_of::<T>();
    let unknown: Vec<_> = table
        .keys()
        .filter(|k| !known.contains(&k.get_ref().as_ref()))
        .cloned()
        .collect();
    for k in unknown {
        d.push(k.span(), ctx, unknown_key_message(k.get_ref(), known));
        table.remove(&k);
    }
    // Remember where each value sits so a type error can name its key.
    let spans: Vec<(String, Range<usize>)> = table
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), v.span()))
        .collect();
    match T::deserialize(ValueDeserializer::from(Spanned::new(
        span.clone(),
        DeValue::Table(table),
    ))) {
        Ok(v) => Some(v),
        Err(e) => {
            let at = e.span().unwrap_or(span);
            let key = spans
                .iter()
                .find(|(_, s)| s.start <= at.start && at.end <= s.end)
                .map(|(k, _)| format!("{k}: "))
                .unwrap_or_default();
            d.push(at, ctx, format!("{key}{}", e.message().trim()));
            None
        }
    }
}
