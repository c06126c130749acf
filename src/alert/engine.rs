//! The alert engine: feeds each probe result through the state machine of every
//! (target, severity), and turns transitions into notifications for the target's channels.
//! Holds the runtime state (loaded from and written back to the store by the pipeline);
//! never does I/O itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::changes::{IncidentEvent, PageIncidentChange, StateChange};
use super::notification::{Evidence, Notification};
use super::policy::{AlertPolicy, Severity};
use super::state::{step, AlertPhase, AlertState, Transition, TransitionKind};
use crate::config::{Maintenance, StatusPage, Target};
use crate::correlate::{Reach, Side};
use crate::probe::{Failure, FailureKind, ProbeResult};
use crate::statuspage::{Level, Reading};

/// What one result did to a target's alerts.
#[derive(Debug, Default)]
pub struct Observation {
    /// State changes to persist.
    pub changes: Vec<StateChange>,
    /// Incidents opened (an alert fired) or closed (it resolved).
    pub incidents: Vec<IncidentEvent>,
    /// Notifications to queue, one per channel per transition.
    pub notifications: Vec<(Arc<str>, Notification)>,
    /// Whether each severity is firing after this result.
    pub firing: Vec<(Severity, bool)>,
    /// Vendor incidents announced or ended (status page readings only).
    pub page_incidents: Vec<PageIncidentChange>,
}

/// Who an alert is about: a target or a status page.
struct Subject<'a> {
    name: &'a Arc<str>,
    url: &'a str,
    policy: &'a AlertPolicy,
}

/// The observation behind a step, read only when a transition needs a notification (most
/// observations change nothing, and serialising a result to JSON costs more than stepping).
#[derive(Clone, Copy)]
enum Source<'a> {
    Probe(&'a ProbeResult),
    Page(&'a Reading),
}

impl Source<'_> {
    /// What a notification carries: the evidence, the check JSON for the webhook, and the
    /// vendor word of a failing result.
    fn describe(self, n: &mut Notification) {
        match self {
            Source::Probe(r) => {
                n.evidence = Evidence::of(r);
                n.last_result = r.to_check_json();
                // Recovery needs no excuse; a firing alert or reminder carries the word.
                if n.kind != TransitionKind::Resolved {
                    n.vendor = r.vendor.as_ref().map(|v| v.text.clone());
                }
            }
            Source::Page(reading) => n.last_result = reading.to_check_json(),
        }
    }
}

/// A vendor incident appearing or ending, before it becomes one notification per channel.
struct Announcement {
    id: String,
    kind: TransitionKind,
    severity: Severity,
    condition: Failure,
    url: String,
    started_at: DateTime<Utc>,
    text: Option<String>,
}

/// A vendor incident already announced: its title and when upwatch first saw it.
type Announced = BTreeMap<String, (String, DateTime<Utc>)>;

/// The name the host's own alert is keyed and sent by (no target can take it: names are
/// a-z, 0-9, _ and -).
pub const HOST: &str = "@host";

/// Alert state of every (target, severity) that is not plainly ok.
pub struct Engine {
    states: HashMap<(Arc<str>, Severity), AlertState>,
    announced: HashMap<Arc<str>, Announced>,
    location: String,
    maintenance: Vec<Maintenance>,
    /// The policy (thresholds, channels) of the `@host` alert: `[alerting]`'s.
    host_policy: AlertPolicy,
    host_name: Arc<str>,
    /// Each target's parents: its `depends_on`, and its linked status page.
    parents: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Subjects failing as of their latest result or reading (parents hold children).
    failing_now: HashSet<Arc<str>>,
    /// Targets whose latest result failed on this host's side. The `@host` alert
    /// recovers only once this is empty: a probe that answers proves little when another
    /// still cannot open a socket (a descriptor shortage hits some probes, not all).
    host_troubled: HashSet<Arc<str>>,
}

impl Engine {
    /// An engine resuming from persisted `states`. `names` are the configured targets and
    /// status pages; states of any other name are dropped (returned as deletions, and
    /// logged) instead of resolved, since nothing probes them any more.
    pub fn resume(
        states: Vec<((Arc<str>, Severity), AlertState)>,
        names: &[Arc<str>],
        location: &str,
        maintenance: Vec<Maintenance>,
    ) -> (Self, Vec<StateChange>) {
        let mut kept = HashMap::new();
        let mut dropped = Vec::new();
        for ((target, sev), state) in states {
            let host = (&*target == HOST).then(|| Arc::from(HOST));
            match names.iter().find(|n| **n == target).cloned().or(host) {
                Some(n) => {
                    kept.insert((n, sev), state);
                }
                None => {
                    tracing::warn!(target_name = %target, severity = sev.as_str(), phase = ?state.phase, "target removed from the config: dropping its alert state (no resolved notification is sent)");
                    dropped.push(((target, sev), None));
                }
            }
        }
        (
            Engine {
                states: kept,
                announced: HashMap::new(),
                location: location.to_string(),
                maintenance,
                host_policy: AlertPolicy::default(),
                host_name: Arc::from(HOST),
                parents: HashMap::new(),
                failing_now: HashSet::new(),
                host_troubled: HashSet::new(),
            },
            dropped,
        )
    }

    /// The `@host` alert's policy (`[alerting]`'s thresholds and channels).
    pub fn with_host_policy(mut self, policy: AlertPolicy) -> Self {
        self.host_policy = policy;
        self
    }

    /// The targets' dependencies: while a parent (a target in `depends_on`, or the linked
    /// status page) fails, its children's alerts are held and named on the parent's.
    pub fn with_dependencies(mut self, targets: &[Arc<Target>]) -> Self {
        for t in targets {
            let parents: Vec<Arc<str>> =
                t.depends_on.iter().chain(&t.status_page).cloned().collect();
            if !parents.is_empty() {
                self.parents.insert(t.name.clone(), parents);
            }
        }
        self
    }

    /// Whether a parent of `name` is failing now.
    fn parent_failing(&self, name: &str) -> bool {
        self.parents
            .get(name)
            .is_some_and(|ps| ps.iter().any(|p| self.failing_now.contains(p)))
    }

    /// The children of `name` failing now, in name order.
    fn failing_children(&self, name: &str) -> Vec<String> {
        let mut kids: Vec<String> = self
            .parents
            .iter()
            .filter(|(child, ps)| {
                self.failing_now.contains(*child) && ps.iter().any(|p| &**p == name)
            })
            .map(|(child, _)| child.to_string())
            .collect();
        kids.sort();
        kids
    }

    /// Notes whether `name` fails as of its latest result (only parents are tracked).
    fn note_failing(&mut self, name: &Arc<str>, failing: bool) {
        if !failing {
            self.failing_now.remove(name);
        } else if !self.failing_now.contains(name) {
            self.failing_now.insert(name.clone());
        }
    }

    /// Vendor incidents announced before a restart, as (page, id, title, first seen), so
    /// they are not announced again.
    pub fn with_announced(mut self, rows: Vec<(String, String, String, DateTime<Utc>)>) -> Self {
        for (page, id, title, at) in rows {
            self.announced
                .entry(Arc::from(page.as_str()))
                .or_default()
                .insert(id, (title, at));
        }
        self
    }

    /// The current state of one alert (ok when unknown).
    pub fn state(&self, target: &str, severity: Severity) -> AlertState {
        self.states
            .get(&(Arc::from(target), severity))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether a maintenance window holds `target`'s alerts at `now`.
    pub fn held(&self, target: &str, now: DateTime<Utc>) -> bool {
        self.maintenance.iter().any(|m| m.active(target, now))
    }

    /// Whether `target`'s alert of `severity` is firing.
    pub fn firing(&self, target: &str, severity: Severity) -> bool {
        self.states
            .get(&(Arc::from(target), severity))
            .is_some_and(|s| s.phase == AlertPhase::Firing)
    }

    /// Steps every severity of `target` with `result`. A failure on this host's side
    /// (its network or its resources, see [`crate::correlate`]) holds the target's alerts
    /// (no firing, no resolved, no reminder; a pending episode is forgotten, since the host
    /// explains it) and steps the one `@host` alert instead. While that alert is not ok, a
    /// target that cannot be reached is held too (a probe started before the network came
    /// back), without feeding the `@host` alert, so a provider still unreachable once the
    /// host has recovered alerts on its own. Any other result clears its target of host
    /// trouble, and once no target's latest result is on this host's side, tells the
    /// `@host` alert the host is fine.
    pub fn observe(
        &mut self,
        target: &Target,
        result: &ProbeResult,
        now: DateTime<Utc>,
    ) -> Observation {
        if !self.parents.is_empty() {
            self.note_failing(&target.name, result.health == crate::probe::Health::Down);
        }
        let host_side = matches!(result.side, Some(Side::Host { .. }));
        // Two lookups, not a scan: in a mass outage every target has a state.
        let host_active = Severity::ALL
            .into_iter()
            .any(|sev| self.states.contains_key(&(self.host_name.clone(), sev)));
        let held = host_side
            || (host_active && crate::correlate::reach(&result.failures) == Reach::Unreachable);
        let mut obs = if held {
            let mut obs = Observation::default();
            for sev in Severity::ALL {
                let key = (target.name.clone(), sev);
                if self
                    .states
                    .get(&key)
                    .is_some_and(|s| s.phase == AlertPhase::Pending)
                {
                    self.states.remove(&key);
                    obs.changes.push((key, None));
                }
                obs.firing.push((sev, self.firing(&target.name, sev)));
            }
            obs
        } else {
            let subject = Subject {
                name: &target.name,
                url: &target.display_url,
                policy: &target.alert,
            };
            self.step_subject(&subject, &result.failures, Source::Probe(result), now)
        };
        if host_side {
            self.host_troubled.insert(target.name.clone());
        } else if !self.host_troubled.is_empty() {
            self.host_troubled.remove(&target.name);
        }
        if host_side || (host_active && !held && self.host_troubled.is_empty()) {
            let lost = if host_side {
                let what = result.side.as_ref().map(Side::text).unwrap_or_default();
                vec![Failure::new(
                    FailureKind::Host,
                    format!("{what} ({}: {})", result.target, result.failure_summary()),
                )]
            } else {
                Vec::new()
            };
            let name = self.host_name.clone();
            let policy = self.host_policy.clone();
            let subject = Subject {
                name: &name,
                url: "",
                policy: &policy,
            };
            let host = self.step_subject(&subject, &lost, Source::Probe(result), now);
            obs.changes.extend(host.changes);
            obs.incidents.extend(host.incidents);
            obs.notifications.extend(host.notifications);
        }
        obs
    }

    /// Steps a status page's alerts with one reading: its overall level through the state
    /// machine (degraded warns, an outage is critical), and each vendor incident announced
    /// once when it appears and once when it ends. An unreadable page changes nothing: it
    /// neither raises nor resolves an alert.
    pub fn observe_page(
        &mut self,
        page: &StatusPage,
        reading: &Reading,
        now: DateTime<Utc>,
    ) -> Observation {
        let Ok(snap) = &reading.outcome else {
            let firing = Severity::ALL
                .into_iter()
                .map(|sev| (sev, self.firing(&page.name, sev)))
                .collect();
            return Observation {
                firing,
                ..Observation::default()
            };
        };
        // A page that admits a problem, and alerts on it, holds its targets' alerts: they
        // are named on the page's notifications instead.
        if !self.parents.is_empty() {
            let problem = reading.overall.is_problem() && !page.alert.channels.is_empty();
            self.note_failing(&page.name, problem);
        }
        let word = reading.vendor_word();
        let failures = match reading.overall {
            Level::Degraded => vec![Failure::new(FailureKind::VendorDegraded, &word.text)],
            Level::PartialOutage | Level::MajorOutage => {
                vec![Failure::new(FailureKind::VendorOutage, &word.text)]
            }
            _ => Vec::new(),
        };
        let subject = Subject {
            name: &page.name,
            url: page.url.as_str(),
            policy: &page.alert,
        };
        let mut obs = self.step_subject(&subject, &failures, Source::Page(reading), now);

        // Vendor incidents: announce new ones, and the end of those gone from the page.
        let announced = self.announced.entry(page.name.clone()).or_default();
        let mut events: Vec<Announcement> = Vec::new();
        for i in &snap.incidents {
            if announced.contains_key(&i.id) || i.id.is_empty() {
                continue;
            }
            let sev = if i.impact >= Level::PartialOutage {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let kind = if sev == Severity::Critical {
                FailureKind::VendorOutage
            } else {
                FailureKind::VendorDegraded
            };
            let impact = match i.impact {
                Level::Unknown => "impact not stated".to_string(),
                l => format!("impact {}", l.words()),
            };
            let detail = format!(
                "{} reports an incident: {} ({impact}, {})",
                page.host,
                i.title,
                i.status.as_str()
            );
            let started = i.started_at.unwrap_or(now);
            announced.insert(i.id.clone(), (i.title.clone(), now));
            obs.page_incidents.push(PageIncidentChange::Opened {
                page: page.name.clone(),
                id: i.id.clone(),
                title: i.title.clone(),
                opened_at: now,
            });
            events.push(Announcement {
                id: i.id.clone(),
                kind: TransitionKind::Firing,
                severity: sev,
                condition: Failure::new(kind, detail),
                url: i.url.clone().unwrap_or_else(|| page.url.to_string()),
                started_at: started,
                text: i.last_update.clone(),
            });
        }
        let gone: Vec<String> = announced
            .keys()
            .filter(|id| !snap.incidents.iter().any(|i| &i.id == *id))
            .cloned()
            .collect();
        for id in gone {
            let Some((title, seen)) = announced.remove(&id) else {
                continue;
            };
            obs.page_incidents.push(PageIncidentChange::Closed {
                page: page.name.clone(),
                id: id.clone(),
            });
            if page.alert.send_resolved {
                events.push(Announcement {
                    id,
                    kind: TransitionKind::Resolved,
                    severity: Severity::Warning,
                    condition: Failure::new(
                        FailureKind::VendorDegraded,
                        format!("{} no longer lists the incident: {title}", page.host),
                    ),
                    url: page.url.to_string(),
                    started_at: seen,
                    text: None,
                });
            }
        }
        for a in events {
            tracing::warn!(page = %page.name, alert = ?a.kind, "vendor incident: {}", a.condition.detail);
            let mut base = Notification::new(
                a.kind,
                a.severity,
                page.name.as_ref(),
                a.url,
                vec![a.condition],
                a.started_at,
                self.location.as_str(),
            );
            base.resolved_at = (a.kind == TransitionKind::Resolved).then_some(now);
            base.vendor = a.text;
            base.incident = Some(a.id);
            for channel in &page.alert.channels {
                obs.notifications
                    .push((channel.clone(), base.for_channel()));
            }
        }
        obs
    }

    /// Every alert firing now, as one reminder per channel of its subject: what channels
    /// that keep alerts alive (Alertmanager) take over after a restart. `subject` gives a
    /// name's URL and channels (`None` for a name no longer configured).
    pub fn standing(
        &self,
        subject: impl Fn(&str) -> Option<(String, Vec<Arc<str>>)>,
    ) -> Vec<(Arc<str>, Notification)> {
        let mut out = Vec::new();
        for ((name, sev), state) in &self.states {
            if state.phase != AlertPhase::Firing {
                continue;
            }
            let Some((url, channels)) = subject(name) else {
                continue;
            };
            let Some(started_at) = state.started_at else {
                continue;
            };
            let n = Notification::new(
                TransitionKind::Reminder,
                *sev,
                name.as_ref(),
                url,
                state.conditions.clone(),
                started_at,
                self.location.as_str(),
            );
            out.extend(channels.into_iter().map(|c| (c, n.for_channel())));
        }
        out
    }

    /// `daemon.location`, as notifications carry it.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn step_subject(
        &mut self,
        subject: &Subject<'_>,
        failures: &[Failure],
        source: Source<'_>,
        now: DateTime<Utc>,
    ) -> Observation {
        // A parent failing holds a child like a maintenance window: the child's alert
        // waits and is named on the parent's notifications instead.
        let held = self.held(subject.name, now) || self.parent_failing(subject.name);
        let mut obs = Observation::default();
        for sev in Severity::ALL {
            let failing: Vec<_> = failures
                .iter()
                .filter(|f| subject.policy.severity_of(f.kind) == Some(sev))
                .cloned()
                .collect();
            let key = (subject.name.clone(), sev);
            let current = self.states.get(&key).cloned().unwrap_or_default();
            let (next, transition) = step(&current, &failing, subject.policy, now, held);
            obs.firing.push((sev, next.phase == AlertPhase::Firing));
            if next != current {
                if next == AlertState::default() {
                    self.states.remove(&key);
                    obs.changes.push((key.clone(), None));
                } else {
                    self.states.insert(key.clone(), next.clone());
                    obs.changes.push((key.clone(), Some(next)));
                }
            }
            if let Some(t) = transition {
                match t.kind {
                    TransitionKind::Firing => obs.incidents.push(IncidentEvent::Opened {
                        target: subject.name.clone(),
                        severity: sev,
                        started_at: t.started_at,
                        cause: crate::probe::failure_line(&t.conditions),
                    }),
                    TransitionKind::Resolved => obs.incidents.push(IncidentEvent::Closed {
                        target: subject.name.clone(),
                        severity: sev,
                        ended_at: t.resolved_at.unwrap_or(now),
                    }),
                    TransitionKind::Reminder | TransitionKind::Notice => {}
                }
                obs.notifications
                    .extend(self.notifications(subject, source, sev, &t));
            }
        }
        obs
    }

    fn notifications(
        &self,
        subject: &Subject<'_>,
        source: Source<'_>,
        sev: Severity,
        t: &Transition,
    ) -> Vec<(Arc<str>, Notification)> {
        let mut base = Notification::new(
            t.kind,
            sev,
            subject.name.as_ref(),
            subject.url,
            t.conditions.clone(),
            t.started_at,
            self.location.as_str(),
        );
        base.resolved_at = t.resolved_at;
        source.describe(&mut base);
        if t.kind != TransitionKind::Resolved {
            base.also_failing = self.failing_children(subject.name);
        }
        // The log channel is always on.
        tracing::warn!(
            target_name = %subject.name,
            severity = sev.as_str(),
            alert = ?t.kind,
            conditions = %base.summary(),
            channels = subject.policy.channels.len(),
            "alert {}",
            base.subject()
        );
        subject
            .policy
            .channels
            .iter()
            .map(|channel| (channel.clone(), base.for_channel()))
            .collect()
    }
}
