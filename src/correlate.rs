//! Which side a failure is most likely on: the result's error class read together with the
//! vendor's status page and the health of the other targets. The answer an on-call engineer
//! wants first: "is it us or them?".

use serde::{Deserialize, Serialize};

use crate::probe::provider::ErrorClass;
use crate::probe::{Health, ProbeResult};
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
    /// This host's network: DNS, connect, or no target answering at all.
    Network {
        /// Whether other targets answer (the path to this provider alone fails).
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

impl Side {
    /// Short name (JSON `side`, metric-safe).
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Account => "account",
            Side::Usage => "usage",
            Side::Request => "request",
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
            Side::Network { others_fine: true } => {
                "this host's network: other targets answer, so check DNS, proxy and firewall for this provider".into()
            }
            Side::Network { others_fine: false } => "this host's network".into(),
            Side::Tls => "the TLS path: an intercepting proxy here, or the provider's certificate".into(),
            Side::VendorIncident { title } => format!("vendor incident: {title}"),
            Side::VendorUnannounced => {
                "vendor reports operational; possibly an unannounced incident".into()
            }
            Side::Vendor => "the provider (no readable status page to confirm)".into(),
        }
    }
}

/// What the other targets look like at the moment of a result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Others {
    /// Other targets whose latest probe was up or only degraded.
    pub answering: usize,
    /// Other targets whose latest probe failed with a network, timeout or TLS class.
    pub unreachable: usize,
}

impl Others {
    /// Counts the latest (health, class) of each other target.
    pub fn tally(others: impl IntoIterator<Item = (Health, Option<ErrorClass>)>) -> Others {
        let mut o = Others::default();
        for (health, class) in others {
            if health != Health::Down {
                o.answering += 1;
            } else if matches!(
                class,
                Some(ErrorClass::Network | ErrorClass::Timeout | ErrorClass::Tls)
            ) {
                o.unreachable += 1;
            }
        }
        o
    }
}

/// The likely side of a failure of class `class`.
pub fn side(class: ErrorClass, vendor: Option<&VendorWord>, others: Others) -> Side {
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
    let nobody_answers = others.answering == 0 && others.unreachable > 0;
    match class {
        ErrorClass::Auth | ErrorClass::Billing | ErrorClass::Permission => Side::Account,
        ErrorClass::RateLimited => Side::Usage,
        ErrorClass::NotFound | ErrorClass::Validation => Side::Request,
        ErrorClass::Network if incident.is_some() => vendor_side(),
        ErrorClass::Network => Side::Network {
            others_fine: others.answering > 0,
        },
        ErrorClass::Tls => Side::Tls,
        // Every other target unreachable too: the common factor is this host.
        ErrorClass::Timeout if nobody_answers && incident.is_none() => {
            Side::Network { others_fine: false }
        }
        ErrorClass::Upstream | ErrorClass::Timeout => vendor_side(),
    }
}

/// Explains each failing result of one batch (`check`): attaches the word of the status
/// page it links (`word_of(target)`) and its likely side, judged against the other results
/// of the same batch.
pub fn explain_batch(results: &mut [ProbeResult], word_of: impl Fn(&str) -> Option<VendorWord>) {
    for r in results.iter_mut().filter(|r| r.health != Health::Up) {
        r.vendor = word_of(&r.target);
    }
    let sides: Vec<Option<Side>> = results
        .iter()
        .map(|r| {
            let others = Others::tally(
                results
                    .iter()
                    .filter(|o| o.target != r.target)
                    .map(|o| (o.health, o.error_class)),
            );
            Some(side(r.error_class?, r.vendor.as_ref(), others))
        })
        .collect();
    for (r, side) in results.iter_mut().zip(sides) {
        r.side = side;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn the_sides_the_issue_names() {
        let fine = Others {
            answering: 2,
            unreachable: 0,
        };
        let incident = word(Level::PartialOutage, Some("Elevated errors"), None);
        let green = word(Level::Operational, None, None);
        let blocked = word(Level::Unknown, None, Some("blocked"));
        assert_eq!(side(ErrorClass::Auth, Some(&incident), fine), Side::Account);
        assert_eq!(side(ErrorClass::Billing, None, fine), Side::Account);
        assert_eq!(
            side(ErrorClass::Network, Some(&green), fine).text(),
            "this host's network: other targets answer, so check DNS, proxy and firewall for this provider"
        );
        assert_eq!(
            side(ErrorClass::Upstream, Some(&incident), fine).text(),
            "vendor incident: Elevated errors"
        );
        assert_eq!(
            side(ErrorClass::Timeout, Some(&green), fine).text(),
            "vendor reports operational; possibly an unannounced incident"
        );
        assert_eq!(
            side(ErrorClass::Upstream, Some(&blocked), fine),
            Side::Vendor
        );
        assert_eq!(side(ErrorClass::Upstream, None, fine), Side::Vendor);
        // Degraded without a named incident still names the page's level.
        assert_eq!(
            side(
                ErrorClass::Upstream,
                Some(&word(Level::Degraded, None, None)),
                fine
            )
            .text(),
            "vendor incident: mistral-status reports degraded"
        );
        // A timeout while nothing else answers either is this host's network.
        let alone = Others {
            answering: 0,
            unreachable: 3,
        };
        assert_eq!(
            side(ErrorClass::Timeout, Some(&green), alone),
            Side::Network { others_fine: false }
        );
        assert_eq!(side(ErrorClass::RateLimited, None, fine), Side::Usage);
        assert_eq!(side(ErrorClass::NotFound, None, fine), Side::Request);
    }
}
