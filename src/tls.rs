//! The one TLS stack for every outbound connection (probes, status pages, SMTP, webhooks):
//! rustls with the ring provider, one `ClientConfig` per trust setting built at start (never
//! per connection), and a verifier that records the presented leaf certificate so a rejected
//! certificate still yields its facts. Knows nothing of targets or probe results.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Whom a TLS client trusts: the system roots plus an optional CA file, or nobody checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Extra CA certificates (PEM) trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (facts are still recorded).
    pub insecure: bool,
}

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

pub(crate) fn system_roots() -> &'static (Vec<CertificateDer<'static>>, Option<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
