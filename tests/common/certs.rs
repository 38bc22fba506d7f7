//! Test PKI: a throwaway CA plus leaf certificates signed by it (rcgen),
//! and rustls client configs that trust that CA.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::util;

/// A certificate plus its private key, PEM encoded.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A test certificate authority able to issue server and client certs.
pub struct TestCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A fresh CA with the given common name.
    pub fn new(common_name: &str) -> TestCa {
        let key = KeyPair::generate().expect("generate CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign CA cert");
        TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for the given SANs (DNS names or IP literals).
    pub fn issue_server(&self, sans: &[&str]) -> IssuedCert {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let cn = sans.first().cloned().unwrap_or_else(|| "server".into());
        let mut params = CertificateParams::new(sans).expect("server cert params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate whose subject CN is `common_name` (e.g. a role name).
    pub fn issue_client(&self, common_name: &str) -> IssuedCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> IssuedCert {
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign leaf cert");
        IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// CA + `localhost`/`127.0.0.1` server cert, written to a directory as
/// `ca.pem`, `server.pem`, `server.key` (key mode 0600).
pub struct TestCerts {
    pub ca: TestCa,
    pub server: IssuedCert,
    pub dir: PathBuf,
}

impl TestCerts {
    /// Generate a CA and server cert and write them into `dir` (created if needed).
    /// Files are owned by the caller; see [`TestCerts::give_to_postgres`].
    pub fn generate(dir: &Path) -> TestCerts {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("create cert dir {}: {e}", dir.display()));
        let ca = TestCa::new("pgward test CA");
        let server = ca.issue_server(&["localhost", "127.0.0.1"]);
        let certs = TestCerts {
            ca,
            server,
            dir: dir.to_path_buf(),
        };
        write(&certs.ca_path(), &certs.ca.cert_pem);
        write(&certs.cert_path(), &certs.server.cert_pem);
        write(&certs.key_path(), &certs.server.key_pem);
        util::set_mode(&certs.key_path(), 0o600);
        certs
    }

    /// chown the cert dir to the postgres OS user (when root) so the server accepts the key.
    pub fn give_to_postgres(&self) {
        util::chown_to_pg_user(&self.dir);
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// A rustls client config trusting this CA.
    pub fn client_config(&self) -> rustls::ClientConfig {
        client_config_for_ca_pem(self.ca.cert_pem.as_bytes())
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The ring crypto provider, as rustls wants it.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Root store containing every certificate in a PEM blob.
pub fn root_store(ca_pem: &[u8]) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.expect("parse CA PEM"))
            .expect("add CA to root store");
    }
    assert!(!roots.is_empty(), "no certificate found in CA PEM");
    roots
}

/// A rustls client config trusting the CA(s) in the given PEM bytes.
pub fn client_config_for_ca_pem(ca_pem: &[u8]) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("rustls protocol versions")
        .with_root_certificates(root_store(ca_pem))
        .with_no_client_auth()
}

/// A rustls client config trusting the CA PEM file at `ca_path`.
pub fn client_config(ca_path: &Path) -> rustls::ClientConfig {
    let pem =
        std::fs::read(ca_path).unwrap_or_else(|e| panic!("read CA {}: {e}", ca_path.display()));
    client_config_for_ca_pem(&pem)
}

/// A rustls client config trusting `ca_pem` and presenting `client` as client cert.
pub fn client_config_with_cert(ca_pem: &[u8], client: &IssuedCert) -> rustls::ClientConfig {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("parse client cert PEM");
    let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).expect("parse client key");
    rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("rustls protocol versions")
        .with_root_certificates(root_store(ca_pem))
        .with_client_auth_cert(chain, key)
        .expect("client auth cert")
}
