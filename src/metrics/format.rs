//! The two exposition formats `/metrics` speaks. The registry encodes OpenMetrics; the
//! classic Prometheus text format (0.0.4), which older scrapers and people with curl get
//! by default, differs in what concerns us only in its metadata: a counter's `HELP` and
//! `TYPE` lines name the sample (`upwatch_probes_total`, not `upwatch_probes`), there are
//! no `UNIT` lines, `HELP` escapes only backslash and newline, and there is no `# EOF`.

use std::collections::HashSet;

/// Which format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
    /// `text/plain; version=0.0.4`.
    Text,
}

impl Format {
    /// OpenMetrics only when the `Accept` header names it (Prometheus does), else text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The OpenMetrics exposition `om`, rewritten in the Prometheus text format.
pub fn to_text(om: &str) -> String {
    let counters: HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|r| ("HELP", r))
            .or_else(|| line.strip_prefix("# TYPE ").map(|r| ("TYPE", r)));
        match meta {
            Some((kind, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                let tail = if kind == "HELP" {
                    tail.replace("\\\"", "\"")
                } else {
                    tail.to_string()
                };
                out.push_str(&format!("# {kind} {name}{suffix} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_by_their_sample_and_the_trailer_goes() {
        let om = "# HELP upwatch_probes Probes, by \\\"health\\\".\n# TYPE upwatch_probes counter\nupwatch_probes_total{target=\"a\"} 3\n# HELP upwatch_up Up.\n# TYPE upwatch_up gauge\n# UNIT upwatch_up ratio\nupwatch_up 1\n# EOF\n";
        assert_eq!(
            to_text(om),
            "# HELP upwatch_probes_total Probes, by \"health\".\n# TYPE upwatch_probes_total counter\nupwatch_probes_total{target=\"a\"} 3\n# HELP upwatch_up Up.\n# TYPE upwatch_up gauge\nupwatch_up 1\n"
        );
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        for (accept, want) in [
            (None, Format::Text),
            (Some("*/*"), Format::Text),
            (Some("text/plain"), Format::Text),
            (
                Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                Format::OpenMetrics,
            ),
        ] {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }
}
