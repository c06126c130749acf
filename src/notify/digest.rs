//! Several notifications for one channel as one message for people: what every grouped
//! message says, whatever the channel renders it as. Firing alerts (and reminders) first,
//! then recoveries, then notices; the vendor's word once when the failing alerts share it.

use crate::alert::{Notification, TransitionKind};

/// How many names a subject line lists before it says "+N more".
const NAMES_IN_SUBJECT: usize = 3;

/// A batch of notifications bound for one channel.
pub struct Digest<'a> {
    /// Firing alerts and reminders, in queue order.
    pub firing: Vec<&'a Notification>,
    /// Recoveries.
    pub resolved: Vec<&'a Notification>,
    /// Notices (catalog changes).
    pub notices: Vec<&'a Notification>,
}

impl<'a> Digest<'a> {
    /// Sorts a batch by kind, keeping queue order within each.
    pub fn of(batch: &'a [Notification]) -> Self {
        let kind = |k: fn(TransitionKind) -> bool| -> Vec<&'a Notification> {
            batch.iter().filter(|n| k(n.kind)).collect()
        };
        Digest {
            firing: kind(|k| matches!(k, TransitionKind::Firing | TransitionKind::Reminder)),
            resolved: kind(|k| k == TransitionKind::Resolved),
            notices: kind(|k| k == TransitionKind::Notice),
        }
    }

    /// Whether any message in the batch is a `test-alert`.
    fn test(&self) -> bool {
        self.all().any(|n| n.test)
    }

    fn all(&self) -> impl Iterator<Item = &'a Notification> + '_ {
        self.firing
            .iter()
            .chain(&self.resolved)
            .chain(&self.notices)
            .copied()
    }

    /// The subject, e.g. `[FIRING] 30 alerts: api-1, api-2, api-3 (+27 more)` or
    /// `[FIRING] 2, [RESOLVED] 5: api-1, api-2, api-3 (+4 more)`.
    pub fn subject(&self) -> String {
        let counts: Vec<String> = [
            ("FIRING", self.firing.len()),
            ("RESOLVED", self.resolved.len()),
            ("NOTICE", self.notices.len()),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| format!("[{label}] {n}"))
        .collect();
        let total = self.firing.len() + self.resolved.len() + self.notices.len();
        let counts = match counts.as_slice() {
            [one] => format!("{one} {}", if total == 1 { "alert" } else { "alerts" }),
            many => many.join(", "),
        };
        let mut names: Vec<&str> = Vec::new();
        for n in self.all() {
            if !names.contains(&n.target.as_str()) {
                names.push(&n.target);
            }
        }
        let more = names.len().saturating_sub(NAMES_IN_SUBJECT);
        let shown = names[..names.len().min(NAMES_IN_SUBJECT)].join(", ");
        let test = if self.test() { "[TEST] " } else { "" };
        match more {
            0 => format!("{test}{counts}: {shown}"),
            m => format!("{test}{counts}: {shown} (+{m} more)"),
        }
    }

    /// The vendor's word, once, when every failing alert that carries one carries the same.
    pub fn shared_vendor(&self) -> Option<&'a str> {
        let mut words = self.firing.iter().filter_map(|n| n.vendor.as_deref());
        let first = words.next()?;
        words.all(|w| w == first).then_some(first)
    }

    /// One line for a firing alert: `api-1 (critical): HTTP 503, expected 200 — likely: the provider`.
    pub fn firing_line(&self, n: &Notification) -> String {
        let still = if n.kind == TransitionKind::Reminder {
            ", still failing"
        } else {
            ""
        };
        let mut line = format!(
            "{} ({}{still}): {}",
            n.target,
            n.severity.as_str(),
            n.summary()
        );
        if let Some(side) = &n.evidence.side {
            line.push_str(&format!(" — likely: {}", side.text()));
        }
        // A word this alert does not share is told on its own line.
        if let (Some(v), None) = (&n.vendor, self.shared_vendor()) {
            line.push_str(&format!(" — vendor: {v}"));
        }
        line
    }

    /// One line for a recovery: `api-1 recovered after 12m (critical)`, or for one whose
    /// firing message never went out, the episode with its cause.
    pub fn resolved_line(n: &Notification) -> String {
        if n.folded {
            return format!("{} ({}): {}", n.episode(), n.severity.as_str(), n.summary());
        }
        format!(
            "{} recovered after {} ({})",
            n.target,
            n.duration_text(n.started_at),
            n.severity.as_str()
        )
    }

    /// One line for a notice: `api-1: model catalog changed: ...`.
    pub fn notice_line(n: &Notification) -> String {
        format!("{}: {}", n.target, n.summary())
    }

    /// The body as titled lists, for channels that render plain lines: `Failing (N)`,
    /// `Recovered (N)`, `Notices` (the empty ones left out), then `Vendor` when shared.
    pub fn sections(&self) -> Vec<(String, Vec<String>)> {
        let mut out = vec![
            (
                format!("Failing ({})", self.firing.len()),
                self.firing.iter().map(|n| self.firing_line(n)).collect(),
            ),
            (
                format!("Recovered ({})", self.resolved.len()),
                self.resolved
                    .iter()
                    .map(|n| Self::resolved_line(n))
                    .collect(),
            ),
            (
                "Notices".to_string(),
                self.notices.iter().map(|n| Self::notice_line(n)).collect(),
            ),
        ];
        if let Some(v) = self.shared_vendor() {
            out.push(("Vendor".to_string(), vec![v.to_string()]));
        }
        out.retain(|(_, lines): &(String, Vec<String>)| !lines.is_empty());
        out
    }

    /// The colour family of the batch: the worst firing severity, else resolved, else
    /// notice.
    pub fn tone(&self) -> Tone {
        if self
            .firing
            .iter()
            .any(|n| n.severity == crate::alert::Severity::Critical)
        {
            Tone::Critical
        } else if !self.firing.is_empty() {
            Tone::Warning
        } else if !self.resolved.is_empty() {
            Tone::Resolved
        } else {
            Tone::Notice
        }
    }
}

/// What colour a message takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A critical alert fires.
    Critical,
    /// Only warnings fire.
    Warning,
    /// Recoveries.
    Resolved,
    /// Notices and tests.
    Notice,
}

impl Tone {
    /// The tone of one notification.
    pub fn of(n: &Notification) -> Tone {
        match (n.kind, n.severity) {
            (TransitionKind::Resolved, _) => Tone::Resolved,
            (TransitionKind::Notice, _) => Tone::Notice,
            (_, crate::alert::Severity::Critical) => Tone::Critical,
            (_, crate::alert::Severity::Warning) => Tone::Warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::probe::Failure;
    use chrono::{TimeZone, Utc};

    fn note(target: &str, kind: TransitionKind, vendor: Option<&str>) -> Notification {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let mut n = Notification::new(
            kind,
            Severity::Critical,
            target,
            "https://api.example.com/v1",
            vec![Failure::http_status(503, "200")],
            t0,
            "paris",
        );
        if kind == TransitionKind::Resolved {
            n.resolved_at = Some(t0 + chrono::Duration::minutes(12));
        }
        n.vendor = vendor.map(str::to_string);
        n
    }

    #[test]
    fn subjects_count_kinds_and_name_the_first_targets() {
        let batch: Vec<Notification> = (1..=30)
            .map(|i| note(&format!("api-{i}"), TransitionKind::Firing, None))
            .collect();
        assert_eq!(
            Digest::of(&batch).subject(),
            "[FIRING] 30 alerts: api-1, api-2, api-3 (+27 more)"
        );
        let mixed = vec![
            note("a", TransitionKind::Resolved, None),
            note("b", TransitionKind::Firing, None),
            note("a", TransitionKind::Firing, None),
        ];
        assert_eq!(
            Digest::of(&mixed).subject(),
            "[FIRING] 2, [RESOLVED] 1: b, a"
        );
        let one = vec![note("a", TransitionKind::Resolved, None)];
        assert_eq!(Digest::of(&one).subject(), "[RESOLVED] 1 alert: a");
    }

    #[test]
    fn the_vendor_word_is_said_once_when_shared() {
        let word = "status.example.com reports a partial outage";
        let shared = vec![
            note("a", TransitionKind::Firing, Some(word)),
            note("b", TransitionKind::Firing, Some(word)),
            note("c", TransitionKind::Firing, None),
        ];
        let d = Digest::of(&shared);
        assert_eq!(d.shared_vendor(), Some(word));
        assert_eq!(
            d.firing_line(d.firing[0]),
            "a (critical): HTTP 503, expected 200"
        );
        let split = vec![
            note("a", TransitionKind::Firing, Some(word)),
            note(
                "b",
                TransitionKind::Firing,
                Some("other.example.com is down"),
            ),
        ];
        let d = Digest::of(&split);
        assert_eq!(d.shared_vendor(), None);
        assert!(d
            .firing_line(d.firing[1])
            .ends_with("— vendor: other.example.com is down"));
        let back = note("a", TransitionKind::Resolved, None);
        assert_eq!(
            Digest::resolved_line(&back),
            "a recovered after 12m (critical)"
        );
    }
}
