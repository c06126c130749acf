//! What one observation changes in alerting, as the engine hands it to the store: alert
//! state per (subject, severity), incidents opened and closed, vendor incidents announced.
//! Plain data; the store writes it in one transaction with the notifications.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{AlertState, Severity};

/// A change of one alert's state: `None` deletes it (back to ok).
pub type StateChange = ((Arc<str>, Severity), Option<AlertState>);

/// The start or end of an incident: an alert that fired, until it resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentEvent {
    /// An alert started firing.
    Opened {
        /// Target name.
        target: Arc<str>,
        /// Alert severity.
        severity: Severity,
        /// First failing probe of the episode.
        started_at: DateTime<Utc>,
        /// The failing conditions, one line.
        cause: String,
    },
    /// An alert resolved (or was dropped with its target).
    Closed {
        /// Target name.
        target: Arc<str>,
        /// Alert severity.
        severity: Severity,
        /// When it ended.
        ended_at: DateTime<Utc>,
    },
}

/// A vendor incident that upwatch announced (opened) or saw end (closed).
#[derive(Debug, Clone, PartialEq)]
pub enum PageIncidentChange {
    /// Announced: remember it.
    Opened {
        /// `[[status_page]]` name.
        page: Arc<str>,
        /// The vendor's incident id.
        id: String,
        /// Its title.
        title: String,
        /// When upwatch first saw it.
        opened_at: DateTime<Utc>,
    },
    /// Ended (or gone from the page): forget it.
    Closed {
        /// `[[status_page]]` name.
        page: Arc<str>,
        /// The vendor's incident id.
        id: String,
    },
}
