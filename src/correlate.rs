//! Which side a failure is most likely on: the failure read together with the vendor's
//! status page and with what the other hosts did at the same time. The answer an on-call
//! engineer wants first: "is it us or them?".
//!
//! The rules, in order: this machine's own resources failing the probe is this host; a
//! provider host that answered at all (an HTTP error, a refused or reset connection, bytes
//! that are not HTTP, a TLS handshake) puts the failure at the vendor, the account or the
//! request, by what it answered; a host that could not be reached (DNS, connect timeout,
//! no route) is this host's network when no other host answers either, the path to that
//! provider when others do.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::probe::provider::ErrorClass;
use crate::probe::{Failure, FailureKind, Health, Phase, ProbeResult};
use crate::statuspage::VendorWord;

/// The most likely side of a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "side")]
pub enum Side {
    /// The key or the account (401, 402, 403).
    Account,
    /// This key's usage: the provider is rate-limiting it.
    Usage,
    /// The probe asks for something that does not exist or is malformed (404, 400/422).
    Request,
    /// This machine as a whole: its network (no host answers) or its own resources.
    Host {
        /// What this host lost.
        cause: HostCause,
    },
    /// The path from here to this provider: DNS or connect fail while other hosts answer.
    Network {
        /// Whether other hosts answer (the path to this provider alone fails).
        others_fine: bool,
    },
    /// The TLS path: an intercepting proxy here or the provider's certificate.
    Tls,
    /// The vendor's page admits to a problem.
    VendorIncident {
        /// The headline incident's title, or the page's level when it names none.
        title: String,
    },
    /// The vendor's page is green while the provider fails.
    VendorUnannounced,
    /// The provider fails and no readable status page says either way.
    Vendor,
}

/// What this host lost, when a failure is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostCause {
    /// Its network: no host answers.
    Network,
    /// Its own resources: file descriptors, memory, local ports.
    Resources,
}

impl Side {
    /// Short name (JSON `side`, metric-safe).
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Account => "account",
            Side::Usage => "usage",
            Side::Request => "request",
            Side::Host { .. } => "host",
            Side::Network { .. } => "network",
            Side::Tls => "tls",
            Side::VendorIncident { .. } => "vendor_incident",
            Side::VendorUnannounced => "vendor_unannounced",
            Side::Vendor => "vendor",
        }
    }

    /// One line for alerts and `check`.
    pub fn text(&self) -> String {
        match self {
            Side::Account => "your account or key".into(),
            Side::Usage => "your usage: the key's rate limit (shared by every client of the key)".into(),
            Side::Request => "the probe's request: the URL, model or body (the provider answered)".into(),
            Side::Host { cause: HostCause::Network } => {
                "this host's network: no host answers, so the trouble is here, not at the providers".into()
            }
            Side::Host { cause: HostCause::Resources } => {
                "this host's own resources (file descriptors, memory or ports): not the provider".into()
            }
            Side::Network { others_fine: true } => {
                "the path to this provider: other hosts answer, so check DNS, proxy and firewall for this provider".into()
            }
            Side::Network { others_fine: false } => "the path to this provider (no other host to compare with)".into(),
            Side::Tls => "the TLS path: an intercepting proxy here, or the provider's certificate".into(),
            Side::VendorIncident { title } => format!("vendor incident: {title}"),
            Side::VendorUnannounced => {
                "vendor reports operational; possibly an unannounced incident".into()
            }
            Side::Vendor => "the provider (no readable status page to confirm)".into(),
        }
    }
}

/// Whether a probe reached the provider's host at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Something answered: a response of any status, a refused or reset connection, a
    /// TLS handshake, bytes that are not HTTP.
    Answered,
    /// Nothing answered: DNS, a connect timeout, no route, a timeout before TCP was up.
    Unreachable,
    /// This machine's own resources failed the probe: says nothing about the host.
    Local,
}

/// The failure that decides a result's side: the first one that is not degrade-only.
fn deciding(failures: &[Failure]) -> Option<&Failure> {
    failures.iter().find(|f| !f.kind.degrades_only())
}

/// How far a result got towards its host.
pub fn reach(failures: &[Failure]) -> Reach {
    let Some(f) = deciding(failures) else {
        return Reach::Answered;
    };
    let before_tcp = matches!(f.phase, Some(Phase::Dns | Phase::Connect));
    match f.kind {
        FailureKind::LocalResource => Reach::Local,
        FailureKind::Dns | FailureKind::ConnectTimeout | FailureKind::NoRoute => Reach::Unreachable,
        FailureKind::Timeout | FailureKind::Io if before_tcp => Reach::Unreachable,
        _ => Reach::Answered,
    }
}

/// What the other hosts look like at the moment of a result: each host counts once,
/// answering when any of its targets' latest probe got an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Others {
    /// Other hosts that answered their latest probe.
    pub answering: usize,
    /// Other hosts none of whose targets got an answer.
    pub unreachable: usize,
}

impl Others {
    /// No other host answers, and there is at least one to ask.
    pub fn all_down(self) -> bool {
        self.answering == 0 && self.unreachable > 0
    }
}

/// Every host's standing from its targets' latest results, kept up to date one result at
/// a time, so that the picture of the other hosts costs the same with 10 targets or 50,000
/// (a mass outage is exactly when every result asks for it).
#[derive(Debug, Default)]
pub struct HostTally {
    /// Each target's host and latest reach.
    latest: HashMap<Arc<str>, (Arc<str>, Reach)>,
    /// Per host: targets whose latest probe got an answer, and that could not reach it.
    hosts: HashMap<Arc<str>, (u32, u32)>,
    /// Hosts with at least one answering target.
    answering: usize,
    /// Hosts with none answering and at least one unreachable.
    unreachable: usize,
}

/// A host's standing from its (answered, unreachable) counts.
fn standing((answered, unreachable): (u32, u32)) -> (bool, bool) {
    (answered > 0, answered == 0 && unreachable > 0)
}

impl HostTally {
    /// Records `target`'s latest result: its host and how far it got. Each distinct host
    /// is allocated once, shared by its targets.
    pub fn record(&mut self, target: &Arc<str>, host: &str, reach: Reach) {
        let host = match self.hosts.get_key_value(host) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(host),
        };
        let before = self.latest.insert(target.clone(), (host.clone(), reach));
        if let Some((old_host, old)) = before {
            self.count(&old_host, old, false);
        }
        self.count(&host, reach, true);
    }

    fn count(&mut self, host: &Arc<str>, reach: Reach, add: bool) {
        let entry = self.hosts.entry(host.clone()).or_default();
        let was = standing(*entry);
        let slot = match reach {
            Reach::Answered => &mut entry.0,
            Reach::Unreachable => &mut entry.1,
            Reach::Local => return,
        };
        *slot = if add {
            slot.saturating_add(1)
        } else {
            slot.saturating_sub(1)
        };
        let now = standing(*entry);
        for (then, is, total) in [
            (was.0, now.0, &mut self.answering),
            (was.1, now.1, &mut self.unreachable),
        ] {
            match (then, is) {
                (false, true) => *total += 1,
                (true, false) => *total = total.saturating_sub(1),
                _ => {}
            }
        }
    }

    /// The hosts other than `mine`.
    pub fn others(&self, mine: &str) -> Others {
        let (answering, unreachable) = self
            .hosts
            .get(mine)
            .map_or((false, false), |c| standing(*c));
        Others {
            answering: self.answering - usize::from(answering),
            unreachable: self.unreachable - usize::from(unreachable),
        }
    }
}

/// The likely side of a failed result: its failures, their class, the vendor's word and
/// the other hosts.
pub fn side(
    failures: &[Failure],
    class: ErrorClass,
    vendor: Option<&VendorWord>,
    others: Others,
) -> Side {
    // The vendor admits to a problem: that explains anything but the account classes.
    let incident = vendor.filter(|v| v.reason.is_none() && v.overall.is_problem());
    let vendor_side = || match (incident, vendor) {
        (Some(v), _) => Side::VendorIncident {
            title: v
                .incident_title
                .clone()
                .unwrap_or_else(|| format!("{} reports {}", v.page, v.overall.words())),
        },
        (None, Some(v)) if v.reason.is_none() => Side::VendorUnannounced,
        _ => Side::Vendor,
    };
    match reach(failures) {
        Reach::Local => Side::Host {
            cause: HostCause::Resources,
        },
        Reach::Unreachable if incident.is_some() => vendor_side(),
        Reach::Unreachable if others.all_down() => Side::Host {
            cause: HostCause::Network,
        },
        Reach::Unreachable => Side::Network {
            others_fine: others.answering > 0,
        },
        Reach::Answered => match class {
            ErrorClass::Auth | ErrorClass::Billing | ErrorClass::Permission => Side::Account,
            ErrorClass::RateLimited => Side::Usage,
            ErrorClass::NotFound | ErrorClass::Validation => Side::Request,
            ErrorClass::Tls => Side::Tls,
            ErrorClass::Local => Side::Host {
                cause: HostCause::Resources,
            },
            ErrorClass::Upstream
            | ErrorClass::Timeout
            | ErrorClass::Network
            | ErrorClass::Redirect
            | ErrorClass::Protocol => vendor_side(),
        },
    }
}

/// The host part of a result's URL (the target name when it has none), for [`Others`].
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}

/// Explains each failing result of one batch (`check`): attaches the word of the status
/// page it links (`word_of(target)`) and its likely side, judged against the other hosts
/// of the same batch.
pub fn explain_batch(results: &mut [ProbeResult], word_of: impl Fn(&str) -> Option<VendorWord>) {
    for r in results.iter_mut().filter(|r| r.health != Health::Up) {
        r.vendor = word_of(&r.target);
    }
    let mut tally = HostTally::default();
    let hosts: Vec<String> = results
        .iter()
        .map(|r| {
            let host = host_of(&r.url);
            tally.record(&r.target, &host, reach(&r.failures));
            host
        })
        .collect();
    let sides: Vec<Option<Side>> = results
        .iter()
        .zip(&hosts)
        .map(|(r, host)| {
            let others = tally.others(host);
            Some(side(&r.failures, r.error_class?, r.vendor.as_ref(), others))
        })
        .collect();
    for (r, side) in results.iter_mut().zip(sides) {
        r.side = side;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::provider::classify;
    use crate::statuspage::Level;

    fn word(overall: Level, title: Option<&str>, reason: Option<&str>) -> VendorWord {
        VendorWord {
            page: "mistral-status".into(),
            overall,
            incident_title: title.map(String::from),
            incident_url: None,
            reason: reason.map(String::from),
            text: String::new(),
            checked_at: chrono::Utc::now(),
        }
    }

    const UP: Others = Others {
        answering: 2,
        unreachable: 0,
    };
    const SOME_DOWN: Others = Others {
        answering: 1,
        unreachable: 2,
    };
    const ALL_DOWN: Others = Others {
        answering: 0,
        unreachable: 3,
    };

    /// Every failure kind a probe can end with, as the probe reports it, × (other hosts
    /// up / some down / all down), with no readable status page.
    #[test]
    fn the_side_of_every_failure_kind() {
        use FailureKind as K;
        use Phase as P;
        let host_net = Side::Host {
            cause: HostCause::Network,
        };
        let host_res = Side::Host {
            cause: HostCause::Resources,
        };
        let path = Side::Network { others_fine: true };
        let acc = Side::Account;
        let v = Side::Vendor;
        #[allow(clippy::type_complexity)]
        let cases: Vec<(K, Option<P>, Option<u16>, [Side; 3])> = vec![
            (
                K::Dns,
                Some(P::Dns),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::ConnectTimeout,
                Some(P::Connect),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::NoRoute,
                Some(P::Connect),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::Timeout,
                Some(P::Dns),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::Timeout,
                Some(P::Connect),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::Io,
                Some(P::Connect),
                None,
                [path.clone(), path.clone(), host_net.clone()],
            ),
            (
                K::LocalResource,
                Some(P::Connect),
                None,
                [host_res.clone(), host_res.clone(), host_res.clone()],
            ),
            (
                K::LocalResource,
                Some(P::Dns),
                None,
                [host_res.clone(), host_res.clone(), host_res.clone()],
            ),
            // The host answered: the vendor's side, whatever the others do.
            (
                K::ConnectRefused,
                Some(P::Connect),
                None,
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::Io,
                Some(P::Ttfb),
                None,
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::Timeout,
                Some(P::Ttfb),
                None,
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::Timeout,
                Some(P::Transfer),
                Some(200),
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::Timeout,
                Some(P::Tls),
                None,
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::HttpStatus,
                None,
                Some(503),
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::StreamIncomplete,
                None,
                Some(200),
                [v.clone(), v.clone(), v.clone()],
            ),
            (
                K::TlsHandshake,
                Some(P::Tls),
                None,
                [Side::Tls, Side::Tls, Side::Tls],
            ),
            (
                K::TlsExpired,
                Some(P::Tls),
                None,
                [Side::Tls, Side::Tls, Side::Tls],
            ),
            (
                K::TlsUnknownIssuer,
                Some(P::Tls),
                None,
                [Side::Tls, Side::Tls, Side::Tls],
            ),
            (
                K::TlsHostnameMismatch,
                Some(P::Tls),
                None,
                [Side::Tls, Side::Tls, Side::Tls],
            ),
            (
                K::TlsNotYetValid,
                Some(P::Tls),
                None,
                [Side::Tls, Side::Tls, Side::Tls],
            ),
            (
                K::HttpStatus,
                None,
                Some(401),
                [acc.clone(), acc.clone(), acc.clone()],
            ),
            (
                K::HttpStatus,
                None,
                Some(402),
                [acc.clone(), acc.clone(), acc.clone()],
            ),
            (
                K::HttpStatus,
                None,
                Some(403),
                [acc.clone(), acc.clone(), acc.clone()],
            ),
            (
                K::HttpStatus,
                None,
                Some(404),
                [Side::Request, Side::Request, Side::Request],
            ),
            (
                K::HttpStatus,
                None,
                Some(422),
                [Side::Request, Side::Request, Side::Request],
            ),
            (
                K::ModelMissing,
                None,
                Some(200),
                [Side::Request, Side::Request, Side::Request],
            ),
            (
                K::RateLimited,
                None,
                Some(429),
                [Side::Usage, Side::Usage, Side::Usage],
            ),
        ];
        for (kind, phase, status, want) in cases {
            let f = Failure {
                kind,
                detail: String::new(),
                phase,
            };
            let class = classify(status, std::slice::from_ref(&f), None)
                .unwrap_or_else(|| panic!("{kind:?} has a class"));
            for (others, want) in [UP, SOME_DOWN, ALL_DOWN].into_iter().zip(want) {
                assert_eq!(
                    side(std::slice::from_ref(&f), class, None, others),
                    want,
                    "{kind:?} in {phase:?} (HTTP {status:?}) with {others:?}"
                );
            }
        }
    }

    #[test]
    fn the_vendors_word_and_degrade_only_failures() {
        let incident = word(Level::PartialOutage, Some("Elevated errors"), None);
        let green = word(Level::Operational, None, None);
        let blocked = word(Level::Unknown, None, Some("blocked"));
        let dns = [Failure::in_phase(FailureKind::Dns, Phase::Dns, "")];
        let status = [Failure::new(FailureKind::HttpStatus, "HTTP 503")];
        // An unreachable host while its vendor admits to an incident is the incident.
        assert_eq!(
            side(&dns, ErrorClass::Network, Some(&incident), ALL_DOWN).text(),
            "vendor incident: Elevated errors"
        );
        assert_eq!(
            side(&status, ErrorClass::Upstream, Some(&green), UP).text(),
            "vendor reports operational; possibly an unannounced incident"
        );
        assert_eq!(
            side(&status, ErrorClass::Upstream, Some(&blocked), UP),
            Side::Vendor
        );
        assert_eq!(
            side(
                &status,
                ErrorClass::Upstream,
                Some(&word(Level::Degraded, None, None)),
                UP
            )
            .text(),
            "vendor incident: mistral-status reports degraded"
        );
        // The account classes are the account's, incident or not.
        let auth = [Failure::new(FailureKind::HttpStatus, "HTTP 401")];
        assert_eq!(
            side(&auth, ErrorClass::Auth, Some(&incident), UP),
            Side::Account
        );
        // A slow answer before a connect timeout does not decide: the timeout does.
        let both = [
            Failure::new(FailureKind::TooSlow, "latency"),
            Failure::in_phase(FailureKind::ConnectTimeout, Phase::Connect, ""),
        ];
        assert_eq!(reach(&both), Reach::Unreachable);
    }

    #[test]
    fn other_hosts_count_once_each() {
        let a = |s: &str| Arc::<str>::from(s);
        let mut t = HostTally::default();
        t.record(&a("t1"), "a.example", Reach::Unreachable);
        t.record(&a("t2"), "b.example", Reach::Unreachable);
        t.record(&a("t3"), "b.example", Reach::Answered);
        t.record(&a("t4"), "c.example", Reach::Local);
        t.record(&a("t5"), "mine.example", Reach::Answered);
        assert_eq!(
            t.others("mine.example"),
            Others {
                answering: 1,
                unreachable: 1
            }
        );
        // t3 now fails too: b.example is unreachable, and with a.example that is all.
        t.record(&a("t3"), "b.example", Reach::Unreachable);
        assert!(t.others("mine.example").all_down());
        assert_eq!(
            t.others("a.example"),
            Others {
                answering: 1,
                unreachable: 1
            },
            "mine.example still answers"
        );
        // A target moving to another host (a reload) leaves the old one.
        t.record(&a("t5"), "d.example", Reach::Unreachable);
        assert_eq!(
            t.others("x"),
            Others {
                answering: 0,
                unreachable: 3
            }
        );
        assert!(
            !HostTally::default().others("mine").all_down(),
            "no other host: cannot tell"
        );
        assert_eq!(
            host_of("https://api.mistral.ai/v1/models?k=***"),
            "api.mistral.ai"
        );
    }
}
