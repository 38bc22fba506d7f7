//! TLS material: the server side pgward offers clients, and the client side it
//! uses towards the upstream with libpq's sslmode semantics. Everything uses
//! rustls with the ring provider, chosen explicitly so no process-wide default
//! provider has to be installed.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

/// How pgward secures its connection to the upstream server (libpq's sslmode words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamTlsMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl UpstreamTlsMode {
    pub fn verifies_chain(self) -> bool {
        matches!(
            self,
            UpstreamTlsMode::VerifyCa | UpstreamTlsMode::VerifyFull
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {message}")]
    Certs { path: PathBuf, message: String },
    #[error("no certificate found in {0}")]
    NoCerts(PathBuf),
    #[error("cannot read private key from {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("cannot load the system's trusted certificates: {0}")]
    NativeRoots(String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot build certificate verifier: {0}")]
    Verifier(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Certs {
            path: path.to_owned(),
            message: e.to_string(),
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certs {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts(path.to_owned()));
    }
    Ok(certs)
}

/// How clients may prove who they are with a certificate.
#[derive(Clone, Debug)]
pub struct ClientCertPolicy {
    /// CA certificates that sign acceptable client certificates.
    pub ca_file: std::path::PathBuf,
    /// Refuse the handshake without a client certificate.
    pub required: bool,
}

/// TLS for client connections (answering SSLRequest with 'S').
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
    client_certs: Option<&ClientCertPolicy>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsError::Key {
        path: key_file.to_owned(),
        message: e.to_string(),
    })?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_certs {
        None => builder.with_no_client_auth(),
        Some(p) => {
            let mut roots = RootCertStore::empty();
            for c in load_certs(&p.ca_file)? {
                roots.add(c)?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            );
            let verifier = if p.required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Verifier(e.to_string()))?,
            )
        }
    };
    let mut cfg = builder.with_single_cert(certs, key)?;
    // PostgreSQL 17+ clients announce this ALPN protocol; older ones send none.
    cfg.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(cfg))
}

/// TLS towards the upstream. `None` for `disable`.
pub fn upstream_config(
    mode: UpstreamTlsMode,
    ca_file: Option<&Path>,
) -> Result<Option<Arc<ClientConfig>>, TlsError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let roots = || -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(p) => {
                for c in load_certs(p)? {
                    roots.add(c)?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() {
                    return Err(TlsError::NativeRoots(
                        found
                            .errors
                            .first()
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "none found".into()),
                    ));
                }
                roots.add_parsable_certificates(found.certs);
            }
        }
        Ok(roots)
    };
    let cfg = match mode {
        UpstreamTlsMode::Disable => return Ok(None),
        // As libpq: require with a CA file given behaves like verify-ca.
        UpstreamTlsMode::Prefer | UpstreamTlsMode::Require if ca_file.is_none() => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostCheck::unverified(provider())))
            .with_no_client_auth(),
        UpstreamTlsMode::Prefer | UpstreamTlsMode::Require | UpstreamTlsMode::VerifyCa => {
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots()?),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoHostCheck::chain_only(
                    inner,
                    provider(),
                )))
                .with_no_client_auth()
        }
        UpstreamTlsMode::VerifyFull => builder
            .with_root_certificates(roots()?)
            .with_no_client_auth(),
    };
    Ok(Some(Arc::new(cfg)))
}

/// The subject of the verified client certificate on a TLS connection, in
/// RFC 4514 form ("CN=ci-bot, O=Example"), for identity rules.
pub fn client_subject(conn: &rustls::ServerConnection) -> Option<String> {
    let der = conn.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(cert.subject().to_string())
}

/// Verifier for the sslmodes that do not check the host name: with a chain
/// verifier (verify-ca) it accepts a certificate for any name; without one
/// (require/prefer) it accepts any certificate, but always checks handshake
/// signatures so the session keys belong to whoever holds the certificate.
#[derive(Debug)]
struct NoHostCheck {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl NoHostCheck {
    fn unverified(provider: Arc<CryptoProvider>) -> Self {
        NoHostCheck {
            chain: None,
            provider,
        }
    }
    fn chain_only(
        inner: Arc<rustls::client::WebPkiServerVerifier>,
        provider: Arc<CryptoProvider>,
    ) -> Self {
        NoHostCheck {
            chain: Some(inner),
            provider,
        }
    }
}

impl ServerCertVerifier for NoHostCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(v) => Ok(v),
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                ..
            })) => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
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
