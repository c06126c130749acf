//! Secrets and redaction: the only place that decides what a secret looks like in output.
//!
//! A [`Secret`] never prints its value (Debug and Display both show `***`), and
//! [`display_url`] turns a URL into the form that may appear in logs, JSON and alerts: no
//! userinfo, every query value masked, and any secret that was substituted into it masked.

use std::fmt;

use url::Url;

/// A value that must never reach a log line, a Debug print or an API response.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (a request header, an SMTP login).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string (e.g. an unset `${VAR:-}`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The mask written in place of secret material.
pub const MASK: &str = "***";

/// The shareable form of `url`: userinfo dropped, query values masked (`?token=***`), and
/// every string in `secrets` (values substituted from the environment or files) masked
/// wherever it still appears, e.g. in a path segment.
pub fn display_url(url: &Url, secrets: &[String]) -> String {
    let mut u = url.clone();
    // Setting these cannot fail for http(s) URLs; for other schemes the URL is kept as is
    // apart from the masking below.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, bool)> = u
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), !v.is_empty()))
            .collect();
        let masked = pairs
            .iter()
            .map(|(k, has_value)| {
                if *has_value {
                    format!("{k}={MASK}")
                } else {
                    k.clone()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        u.set_query(Some(&masked));
    }
    let mut out = u.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), MASK);
        // The URL parser percent-encodes some characters; mask that spelling too.
        let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
        if encoded != *s {
            out = out.replace(&encoded, MASK);
        }
    }
    out
}

/// Replaces every occurrence of each secret in `text` with [`MASK`]. Used on text that
/// comes from outside (error messages, response bodies) before it is shown anywhere.
/// Values shorter than 4 characters are left alone: masking them would garble the text
/// without protecting anything.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), MASK);
    }
    out
}

/// The secret values that belong to one target (header values, substituted variables,
/// file contents), kept so anything shown about the target can be scrubbed of them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor(Vec<String>);

impl Redactor {
    /// Adds a value to scrub (empty values are ignored).
    pub fn add(&mut self, value: impl Into<String>) {
        let v = value.into();
        if !v.is_empty() && !self.0.contains(&v) {
            self.0.push(v);
        }
    }

    /// `text` with every known secret masked.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.0)
    }

    /// The shareable form of `url` (see [`display_url`]).
    pub fn display_url(&self, url: &Url) -> String {
        display_url(url, &self.0)
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn url_loses_userinfo_and_query_values() {
        let u = Url::parse("https://user:pw@example.com/v1/x?token=abc&flag&b=2").unwrap();
        assert_eq!(
            display_url(&u, &[]),
            "https://example.com/v1/x?token=***&flag&b=***"
        );
    }

    #[test]
    fn url_masks_substituted_secrets_in_path() {
        let u = Url::parse("https://example.com/hook/T0KEN-xyz/send").unwrap();
        assert_eq!(
            display_url(&u, &["T0KEN-xyz".to_string()]),
            "https://example.com/hook/***/send"
        );
    }

    #[test]
    fn redact_masks_known_values_only() {
        let secrets = vec!["sk-abcdef".to_string(), "ab".to_string()];
        assert_eq!(
            redact("bad key sk-abcdef for ab", &secrets),
            "bad key *** for ab"
        );
    }
}
