//! The probe's side of TLS: one shared client config per distinct trust setting among the
//! targets (built from [`crate::tls`] once at start), certificate facts, and handshake errors
//! turned into typed failure kinds.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use x509_parser::extensions::GeneralName;

use super::result::{FailureKind, TlsFacts};
use crate::config::Target;
use crate::tls::{client_config, system_roots, TlsOptions, TlsSetupError};

/// Shared client configs, one per distinct [`TlsOptions`].
#[derive(Debug, Default, Clone)]
pub struct TlsConfigs {
    configs: HashMap<TlsOptions, Arc<ClientConfig>>,
}

impl TlsConfigs {
    /// Builds a config for every distinct trust setting among the HTTPS targets.
    pub fn build<'a>(
        targets: impl IntoIterator<Item = &'a Target>,
    ) -> Result<(Self, Vec<String>), TlsSetupError> {
        let mut configs = HashMap::new();
        let mut warnings = Vec::new();
        for t in targets {
            // A plain-http target that follows redirects may be sent to https.
            let may_use_tls = t.url.scheme() == "https" || t.redirects.follow;
            if !may_use_tls || configs.contains_key(&t.tls) {
                continue;
            }
            if t.tls.ca_file.is_none() && !t.tls.insecure {
                if let Some(w) = &system_roots().1 {
                    if !warnings.contains(w) {
                        warnings.push(w.clone());
                    }
                }
            }
            configs.insert(t.tls.clone(), client_config(&t.tls)?);
        }
        Ok((TlsConfigs { configs }, warnings))
    }

    /// The config for `options`, if one was built.
    pub fn get(&self, options: &TlsOptions) -> Option<Arc<ClientConfig>> {
        self.configs.get(options).cloned()
    }
}

/// Subject, issuer, SANs and validity of a DER certificate, relative to `now`.
pub fn cert_facts(der: &[u8], now: DateTime<Utc>) -> Option<TlsFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_before = DateTime::from_timestamp(cert.validity().not_before.timestamp(), 0)?;
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push((*d).to_string()),
                GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        sans.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        sans.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Some(TlsFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before,
        not_after,
        days_left: days_between(now, not_after),
        version: None,
    })
}

/// Whole days from `now` to `then`, rounded toward negative infinity (so a certificate that
/// expired an hour ago has -1 days left).
pub fn days_between(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    (then - now).num_seconds().div_euclid(86_400)
}

/// Turns a failed handshake into a failure kind and a detail an engineer can act on.
/// `presented` is the leaf certificate the server sent, when known.
pub fn classify_handshake_error(
    err: &std::io::Error,
    presented: Option<&TlsFacts>,
    now: DateTime<Utc>,
) -> (FailureKind, String) {
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(ce)) => {
            classify_certificate_error(ce, presented, now)
        }
        Some(rustls::Error::AlertReceived(alert)) => (
            FailureKind::TlsHandshake,
            format!("server refused the handshake with alert {alert:?}"),
        ),
        Some(rustls::Error::NoApplicationProtocol) => (
            FailureKind::TlsHandshake,
            "server supports neither h2 nor http/1.1 (ALPN)".to_string(),
        ),
        Some(other) => (
            FailureKind::TlsHandshake,
            format!("TLS handshake failed: {other}"),
        ),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => (
            FailureKind::TlsHandshake,
            "connection closed during the TLS handshake (is this port speaking TLS?)".to_string(),
        ),
        None => (
            FailureKind::TlsHandshake,
            format!("TLS handshake failed: {err}"),
        ),
    }
}

fn classify_certificate_error(
    ce: &CertificateError,
    presented: Option<&TlsFacts>,
    now: DateTime<Utc>,
) -> (FailureKind, String) {
    let ago = |when: DateTime<Utc>| {
        let days = (now - when).num_days();
        match days {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            n => format!("{n} days ago"),
        }
    };
    match ce {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let not_after = match ce {
                CertificateError::ExpiredContext { not_after, .. } => {
                    DateTime::from_timestamp(not_after.as_secs() as i64, 0)
                }
                _ => presented.map(|p| p.not_after),
            };
            let detail = match not_after {
                Some(t) => format!(
                    "certificate expired {} (not after {})",
                    ago(t),
                    t.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                None => "certificate expired".to_string(),
            };
            (FailureKind::TlsExpired, detail)
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let not_before = match ce {
                CertificateError::NotValidYetContext { not_before, .. } => {
                    DateTime::from_timestamp(not_before.as_secs() as i64, 0)
                }
                _ => presented.map(|p| p.not_before),
            };
            let detail = match not_before {
                Some(t) => format!("certificate is not valid until {} (check the server's clock or the certificate)", t.format("%Y-%m-%dT%H:%M:%SZ")),
                None => "certificate is not valid yet".to_string(),
            };
            (FailureKind::TlsNotYetValid, detail)
        }
        CertificateError::UnknownIssuer if presented.is_some_and(|p| p.subject == p.issuer) => {
            (FailureKind::TlsUnknownIssuer, self_signed_detail(presented))
        }
        // webpki's verdict on a self-signed certificate marked as a CA, which is what
        // `openssl req -x509` produces.
        CertificateError::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => {
            (FailureKind::TlsUnknownIssuer, self_signed_detail(presented))
        }
        CertificateError::UnknownIssuer => {
            let issuer = presented
                .map(|p| format!(" (issuer: {})", p.issuer))
                .unwrap_or_default();
            (
                FailureKind::TlsUnknownIssuer,
                format!("certificate chain does not lead to a trusted root{issuer}; set tls_ca_file for a private CA"),
            )
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let (expected, names) = match ce {
                CertificateError::NotValidForNameContext {
                    expected,
                    presented,
                } => (Some(server_name_str(expected)), presented.clone()),
                _ => (None, presented.map(|p| p.sans.clone()).unwrap_or_default()),
            };
            let detail = match expected {
                Some(e) => format!(
                    "certificate is not valid for {e}; it names {}",
                    list_or_none(&names)
                ),
                None => format!(
                    "certificate is not valid for this host; it names {}",
                    list_or_none(&names)
                ),
            };
            (FailureKind::TlsHostnameMismatch, detail)
        }
        other => (
            FailureKind::TlsHandshake,
            format!("certificate rejected: {other:?}"),
        ),
    }
}

fn self_signed_detail(presented: Option<&TlsFacts>) -> String {
    let subject = presented
        .map(|p| format!(" ({})", p.subject))
        .unwrap_or_default();
    format!("self-signed certificate{subject} is not trusted; add it to tls_ca_file to trust it")
}

fn server_name_str(n: &ServerName<'_>) -> String {
    match n {
        ServerName::DnsName(d) => d.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "the requested name".to_string(),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "no names".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rustls::pki_types::UnixTime;

    #[test]
    fn days_round_toward_the_past() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        assert_eq!(days_between(now, now + chrono::Duration::days(14)), 14);
        assert_eq!(days_between(now, now + chrono::Duration::hours(23)), 0);
        assert_eq!(days_between(now, now - chrono::Duration::hours(1)), -1);
    }

    #[test]
    fn certificate_errors_map_to_kinds() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let expired = CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(
                std::time::Duration::from_secs(now.timestamp() as u64),
            ),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                (now.timestamp() - 2 * 86_400) as u64,
            )),
        };
        let (k, d) = classify_certificate_error(&expired, None, now);
        assert_eq!(k, FailureKind::TlsExpired);
        assert!(d.starts_with("certificate expired 2 days ago"), "{d}");
        let (k, _) = classify_certificate_error(&CertificateError::UnknownIssuer, None, now);
        assert_eq!(k, FailureKind::TlsUnknownIssuer);
        let (k, _) = classify_certificate_error(&CertificateError::BadEncoding, None, now);
        assert_eq!(k, FailureKind::TlsHandshake);
    }
}
