//! The normalised model every platform is read into: one status scale, incidents with one
//! status vocabulary, maintenances in progress. Values a parser does not recognise become
//! `unknown` with the vendor's raw word kept, so nothing is silently mapped to "fine".

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

/// How bad things are, on one scale for the page, its components and incident impacts.
/// Ordered from best to worst so "the worst of" is `max`; `Unknown` is outside the order
/// and never wins over a known level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The vendor's word could not be read.
    Unknown,
    /// Everything works.
    Operational,
    /// Planned maintenance in progress.
    Maintenance,
    /// Slower or flakier than usual.
    Degraded,
    /// Part of the service fails.
    PartialOutage,
    /// The service (or a component) is down.
    MajorOutage,
}

impl Level {
    /// Snake-case name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Operational => "operational",
            Level::Maintenance => "maintenance",
            Level::Degraded => "degraded",
            Level::PartialOutage => "partial_outage",
            Level::MajorOutage => "major_outage",
        }
    }

    /// Words for a sentence: "partial outage".
    pub fn words(self) -> &'static str {
        match self {
            Level::PartialOutage => "partial outage",
            Level::MajorOutage => "major outage",
            other => other.as_str(),
        }
    }

    /// The metric value: 0 operational, 1 maintenance, 2 degraded, 3 partial outage,
    /// 4 major outage, -1 unknown.
    pub fn gauge(self) -> i64 {
        match self {
            Level::Unknown => -1,
            Level::Operational => 0,
            Level::Maintenance => 1,
            Level::Degraded => 2,
            Level::PartialOutage => 3,
            Level::MajorOutage => 4,
        }
    }

    /// Degraded or worse: the vendor admits to a problem.
    pub fn is_problem(self) -> bool {
        self >= Level::Degraded
    }

    /// The level of a word from any platform (`degraded_performance`, `HASISSUES`,
    /// `full_outage`, `under_maintenance`, ...); `None` for words this scale has no place for.
    pub fn from_word(word: &str) -> Option<Level> {
        Some(match squash(word).as_str() {
            "operational" | "none" | "up" | "ok" | "allsystemsoperational" => Level::Operational,
            "maintenance" | "undermaintenance" | "inmaintenance" | "undermaintainance" => {
                Level::Maintenance
            }
            "minor"
            | "degraded"
            | "degradedperformance"
            | "hasissues"
            | "performanceissues"
            | "low" => Level::Degraded,
            "major" | "partialoutage" | "partial" | "partialservicedisruption" | "medium" => {
                Level::PartialOutage
            }
            "critical" | "majoroutage" | "fulloutage" | "outage" | "down" | "downtime"
            | "servicedisruption" => Level::MajorOutage,
            _ => return None,
        })
    }
}

/// A vendor word reduced to lower-case letters and digits, so `HAS_ISSUES`, `hasissues`
/// and `Has Issues` compare equal.
fn squash(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A component (service) as the vendor lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Display name.
    pub name: String,
    /// Group it belongs to, if the page says.
    pub group: Option<String>,
    /// Its status on our scale.
    pub status: Level,
    /// The vendor's word when it is not one we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    /// Whether this entry is a group header rather than a component (not counted).
    #[serde(skip)]
    pub is_group: bool,
}

/// Where an incident stands, in the Statuspage vocabulary every platform maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Looking into it.
    Investigating,
    /// Cause known.
    Identified,
    /// Fixed, watching.
    Monitoring,
    /// Over.
    Resolved,
    /// Over, with a write-up.
    Postmortem,
    /// A word we do not know (kept in `raw_status`).
    Unknown,
}

impl IncidentStatus {
    /// Snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Postmortem => "postmortem",
            IncidentStatus::Unknown => "unknown",
        }
    }

    /// The status of a word from any platform; `None` when it is not a status word.
    pub fn from_word(word: &str) -> Option<IncidentStatus> {
        Some(match squash(word).as_str() {
            "investigating" | "intriage" | "started" | "open" | "new" => {
                IncidentStatus::Investigating
            }
            "identified" | "fixing" => IncidentStatus::Identified,
            "monitoring" | "mitigated" | "verifying" => IncidentStatus::Monitoring,
            "resolved" | "completed" | "closed" | "cancelled" | "canceled" | "finished" => {
                IncidentStatus::Resolved
            }
            "postmortem" => IncidentStatus::Postmortem,
            _ => return None,
        })
    }

    /// Still open (anything but resolved and postmortem).
    pub fn is_open(self) -> bool {
        !matches!(self, IncidentStatus::Resolved | IncidentStatus::Postmortem)
    }
}

/// An incident the page reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// The vendor's id (or, for feeds, the entry id).
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: IncidentStatus,
    /// The vendor's word when it is not one we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_status: Option<String>,
    /// Its impact on our scale (`Unknown` when the page does not say).
    pub impact: Level,
    /// When it began.
    pub started_at: Option<DateTime<Utc>>,
    /// Last update.
    pub updated_at: Option<DateTime<Utc>>,
    /// The newest update's text, plain and trimmed.
    pub last_update: Option<String>,
    /// Link to the incident.
    pub url: Option<String>,
}

/// A maintenance in progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Maintenance {
    /// The vendor's id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Start (actual or scheduled).
    pub starts_at: Option<DateTime<Utc>>,
    /// Scheduled end.
    pub ends_at: Option<DateTime<Utc>>,
    /// Link.
    pub url: Option<String>,
}

/// What one page said, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Which platform's format it was read as.
    pub platform: super::Platform,
    /// The page's own summary indicator, when it has one.
    pub indicator: Option<Level>,
    /// Components, in page order.
    pub components: Vec<Component>,
    /// Incidents still open.
    pub incidents: Vec<Incident>,
    /// Maintenances in progress.
    pub maintenances: Vec<Maintenance>,
    /// The page's own "last updated" time, when it gives one.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Snapshot {
    /// An empty snapshot of `platform`.
    pub fn new(platform: super::Platform) -> Self {
        Snapshot {
            platform,
            indicator: None,
            components: Vec::new(),
            incidents: Vec::new(),
            maintenances: Vec::new(),
            updated_at: None,
        }
    }

    /// Keeps only the components named in `filter` (case-insensitive) and the incidents
    /// that do not name other components; an empty filter keeps everything.
    pub fn retain_components(&mut self, filter: &[String]) {
        if filter.is_empty() {
            return;
        }
        self.components
            .retain(|c| filter.iter().any(|f| f.eq_ignore_ascii_case(&c.name)));
    }

    /// The worst of the indicator, the non-group components, the impact of open incidents
    /// and maintenance in progress. When `filtered`, the page-wide indicator is ignored
    /// (it speaks for components the user excluded). Pages disagree with themselves, so
    /// none of these alone is trusted.
    pub fn overall(&self, filtered: bool) -> Level {
        let mut worst = Level::Unknown;
        let mut known = false;
        let mut take = |l: Level| {
            if l != Level::Unknown {
                known = true;
                worst = worst.max(l);
            }
        };
        if !filtered {
            if let Some(i) = self.indicator {
                take(i);
            }
        }
        for c in self.components.iter().filter(|c| !c.is_group) {
            take(c.status);
        }
        if !filtered {
            for i in self.incidents.iter().filter(|i| i.status.is_open()) {
                // An open incident of unknown impact still means something is wrong.
                take(if i.impact == Level::Unknown {
                    Level::Degraded
                } else {
                    i.impact
                });
            }
            if !self.maintenances.is_empty() {
                take(Level::Maintenance);
            }
        }
        if known {
            worst
        } else if filtered {
            Level::Unknown
        } else {
            // A page that parsed but lists nothing wrong and no indicator: nothing admitted.
            Level::Operational
        }
    }
}

/// Parses every timestamp form the fixtures use: RFC 3339 with `Z` or an offset, with or
/// without fraction; RFC 2822 (RSS); JavaScript `Date.toString()`
/// ("Sat Jun 11 2022 18:55:50 GMT+0000 (Coordinated Universal Time)"); Unix seconds or
/// milliseconds as numbers.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    // A space instead of `T`, no zone: taken as UTC.
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    // JavaScript Date.toString(): drop the parenthesised zone name.
    let js = t.split(" (").next().unwrap_or(t);
    if let Ok(d) = DateTime::<FixedOffset>::parse_from_str(js, "%a %b %d %Y %H:%M:%S GMT%z") {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(n) = t.parse::<i64>() {
        return from_epoch(n);
    }
    None
}

/// Unix seconds, or milliseconds when the number is too large to be seconds.
pub fn from_epoch(n: i64) -> Option<DateTime<Utc>> {
    if n > 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

/// RFC 3339 with seconds, `Z`.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// HTML or Markdown-ish update text to one plain, trimmed line of at most `max` chars.
pub fn plain_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 2));
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let decoded = decode_entities(&out);
    let mut line = String::new();
    for w in decoded.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if line.chars().count() > max {
        let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// The common named and numeric HTML entities.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        // Bytes, not a str slice: 12 bytes may end inside a character (found by fuzzing).
        let end = rest.as_bytes()[..rest.len().min(12)]
            .iter()
            .position(|&b| b == b';');
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_fixture_form() {
        let z = parse_time("2026-09-29T18:29:41Z").unwrap();
        assert_eq!(rfc3339(&z), "2026-09-29T18:29:41Z");
        let off = parse_time("2020-06-16T10:06:05.123-07:00").unwrap();
        assert_eq!(rfc3339(&off), "2020-06-16T17:06:05Z");
        let js =
            parse_time("Sat Jun 11 2022 18:55:50 GMT+0000 (Coordinated Universal Time)").unwrap();
        assert_eq!(rfc3339(&js), "2022-06-11T18:55:50Z");
        let rss = parse_time("Thu, 09 Jul 2026 06:01:43 +0000").unwrap();
        assert_eq!(rfc3339(&rss), "2026-07-09T06:01:43Z");
        assert_eq!(
            rfc3339(&parse_time("1783580400000").unwrap()),
            rfc3339(&parse_time("1783580400").unwrap())
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn words_map_to_levels_and_statuses() {
        assert_eq!(
            Level::from_word("degraded_performance"),
            Some(Level::Degraded)
        );
        assert_eq!(Level::from_word("HAS_ISSUES"), Some(Level::Degraded));
        assert_eq!(Level::from_word("MAJOROUTAGE"), Some(Level::MajorOutage));
        assert_eq!(Level::from_word("full_outage"), Some(Level::MajorOutage));
        assert_eq!(
            Level::from_word("under_maintenance"),
            Some(Level::Maintenance)
        );
        assert_eq!(Level::from_word("sparkly"), None);
        assert_eq!(
            IncidentStatus::from_word("MONITORING"),
            Some(IncidentStatus::Monitoring)
        );
        assert_eq!(IncidentStatus::from_word("Update"), None);
        assert!(!IncidentStatus::Postmortem.is_open());
        assert!(Level::Degraded.is_problem() && !Level::Maintenance.is_problem());
    }

    #[test]
    fn plain_text_strips_markup_and_caps() {
        assert_eq!(
            plain_text("<p>We&#39;re <strong>on it</strong>&amp;\n\n more</p>", 100),
            "We're on it & more"
        );
        assert_eq!(plain_text("abcdef", 4), "abc…");
        assert_eq!(decode_entities("a &unknown; &#x41;"), "a &unknown; A");
        assert_eq!(decode_entities("&ééééééé;"), "&ééééééé;");
    }
}
