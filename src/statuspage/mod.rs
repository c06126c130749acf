//! Status pages: reading what a vendor admits to. Owns the normalised model ([`model`]),
//! one parser per platform ([`parse`]), endpoint detection and fetching ([`poll`]) and the
//! reading of one poll with its sentence for alerts ([`reading`]). Must not alert or
//! store: like a probe, it returns data, and "cannot read the page" is a value, not an
//! `Err`.

pub mod model;
pub mod parse;
pub mod poll;
pub mod reading;

pub use model::{Component, Incident, IncidentStatus, Level, Maintenance, Snapshot};
pub use poll::Poller;
pub use reading::{Reading, Unreadable, UnreadableReason, VendorWord};

use serde::Serialize;

/// The platform a page was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Atlassian Statuspage.
    Statuspage,
    /// incident.io (its Statuspage-compatible summary or its own widget API).
    #[serde(rename = "incidentio")]
    IncidentIo,
    /// Rootly.
    Rootly,
    /// Instatus.
    Instatus,
    /// Checkly.
    Checkly,
    /// Better Stack.
    #[serde(rename = "betterstack")]
    BetterStack,
    /// Status.io.
    Statusio,
    /// Upptime.
    Upptime,
    /// An Atom or RSS feed.
    Feed,
}

impl Platform {
    /// Lower-case name, as in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Statuspage => "statuspage",
            Platform::IncidentIo => "incidentio",
            Platform::Rootly => "rootly",
            Platform::Instatus => "instatus",
            Platform::Checkly => "checkly",
            Platform::BetterStack => "betterstack",
            Platform::Statusio => "statusio",
            Platform::Upptime => "upptime",
            Platform::Feed => "feed",
        }
    }
}

/// `format` in `[[status_page]]`: detect, or read one platform's endpoints only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Try every machine-readable endpoint, then feeds, then the HTML page.
    Auto,
    /// Only this platform's endpoints.
    Only(Platform),
    /// Only the HTML page.
    Html,
}

impl Format {
    /// Every name `format` accepts.
    pub const NAMES: [(&'static str, Format); 11] = [
        ("auto", Format::Auto),
        ("statuspage", Format::Only(Platform::Statuspage)),
        ("incidentio", Format::Only(Platform::IncidentIo)),
        ("rootly", Format::Only(Platform::Rootly)),
        ("instatus", Format::Only(Platform::Instatus)),
        ("checkly", Format::Only(Platform::Checkly)),
        ("betterstack", Format::Only(Platform::BetterStack)),
        ("statusio", Format::Only(Platform::Statusio)),
        ("upptime", Format::Only(Platform::Upptime)),
        ("feed", Format::Only(Platform::Feed)),
        ("html", Format::Html),
    ];
}
