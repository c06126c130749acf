//! The one TLS stack: rustls with the ring provider, one shared `ClientConfig` per trust
//! setting (built once at start, never per probe), certificate facts, and TLS errors turned
//! into typed failure kinds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use x509_parser::extensions::GeneralName;

use super::result::{FailureKind, TlsFacts};
use crate::config::{Target, TlsOptions};

/// The process's one crypto provider (ring), shared by every outbound TLS connection.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Installs [`provider`] as rustls' process default, so libraries that build their own
/// configs use the same one. Safe to call more than once.
pub fn install_default_provider() {
    let _ = CryptoProvider::install_default((*provider()).clone());
}

/// Why TLS could not be set up for a target.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("{0}")]
    CaFile(String),
    /// rustls rejected the configuration.
    #[error("cannot build TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The verifier could not be built (e.g. no usable root certificate).
    #[error("cannot build certificate verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

/// Reads the PEM certificates in `path`; an error message names the file and the fix.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&data).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(format!(
            "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)",
            path.display()
        )),
        Err(e) => Err(format!("{} is not valid PEM: {e}", path.display())),
    }
}

fn system_roots() -> &'static (Vec<CertificateDer<'static>>, Option<String>) {
    static ROOTS: OnceLock<(Vec<CertificateDer<'static>>, Option<String>)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        let warning = if loaded.certs.is_empty() {
            Some(format!(
                "no system CA certificates found ({} errors); HTTPS targets without tls_ca_file \
                 will fail with tls_unknown_issuer: install the ca-certificates package",
                loaded.errors.len()
            ))
        } else {
            None
        };
        (loaded.certs, warning)
    })
}

/// The system's trusted root certificates (loaded once), for other TLS clients (SMTP) that
/// must trust exactly what the probe trusts.
pub fn system_root_ders() -> &'static [CertificateDer<'static>] {
    &system_roots().0
}

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
            if t.url.scheme() != "https" || configs.contains_key(&t.tls) {
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

/// A client config trusting the system roots plus `options.ca_file`, offering h2 and
/// http/1.1 through ALPN.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    for c in &system_roots().0 {
        // A malformed system certificate must not disable the others.
        let _ = roots.add(c.clone());
    }
    if let Some(path) = &options.ca_file {
        for c in load_ca_file(path).map_err(TlsSetupError::CaFile)? {
            roots.add(c)?;
        }
    }
    // With no root at all (no ca-certificates, no tls_ca_file) every chain is untrusted.
    let inner = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()?,
        )
    };
    let verifier = Arc::new(CapturingVerifier {
        inner,
        provider: provider.clone(),
        insecure: options.insecure,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

tokio::task_local! {
    /// The leaf certificate the server presented during the current task's handshake, so
    /// a failed verification (expired, wrong host, unknown issuer) still yields its facts.
    static PRESENTED: RefCell<Option<CertificateDer<'static>>>;
}

/// Runs a handshake future with a slot for the presented leaf certificate; returns the
/// future's output and the certificate, if the server got as far as sending one.
pub async fn capture_presented<F: std::future::Future>(
    f: F,
) -> (F::Output, Option<CertificateDer<'static>>) {
    PRESENTED
        .scope(RefCell::new(None), async move {
            let out = f.await;
            let cert = PRESENTED.with(|slot| slot.borrow_mut().take());
            (out, cert)
        })
        .await
}

/// Delegates verification to webpki (or accepts everything when `insecure`), recording the
/// presented leaf certificate first.
#[derive(Debug)]
struct CapturingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    insecure: bool,
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let _ =
            PRESENTED.try_with(|slot| *slot.borrow_mut() = Some(end_entity.clone().into_owned()));
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a cert").unwrap();
        let e = load_ca_file(&p).unwrap_err();
        assert!(
            e.contains("ca.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = load_ca_file(&dir.path().join("missing.pem")).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }
}
