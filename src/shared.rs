//! What every session shares, built once from the configuration: the
//! upstream and its branches, the policy, the caches, the audit trail and
//! the readiness facts. Kept apart from the listener so that sessions, the
//! admin listener and the MCP endpoint depend on it and not on each other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cancel::CancelRegistry;
use crate::config::Config;
use crate::policy::{PolicyError, PolicyStore};
use crate::sql::AnalysisCache;
use crate::tls::{self, TlsError};
use crate::upstream::{Upstream, UpstreamError};

/// Why the shared state could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("client TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("upstream: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("authentication setup: {0}")]
    Auth(String),
    #[error("policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("branches: {0}")]
    Branch(String),
}

/// pgward-held authentication: how clients are verified, and the service
/// account used upstream.
pub struct LocalAuthSetup {
    pub method: crate::auth::local::LocalAuth,
    pub service_user: String,
    pub service_password: crate::auth::client_login::Secret,
}

/// What every session shares.
pub struct Shared {
    pub local_auth: Option<LocalAuthSetup>,
    pub config: Config,
    pub tls_acceptor: Option<tokio_rustls::TlsAcceptor>,
    pub upstream: Arc<Upstream>,
    pub cancels: Arc<CancelRegistry>,
    pub policy: Arc<PolicyStore>,
    pub analysis_cache: Arc<AnalysisCache>,
    /// Catalog snapshots for masking, per database.
    pub catalogs: Arc<crate::catalog::Catalogs>,
    /// Which server each branch runs on; `upstream` is the default branch's.
    pub branches: crate::branch::Branches,
    /// Cancelled when the shutdown grace period is over: sessions end now.
    pub hard_close: CancellationToken,
    /// The audit trail, when `audit:` is configured.
    pub audit: Option<Arc<crate::audit::Auditor>>,
    /// Usage counters, kept only while the admin listener can show them.
    pub usage: Option<Arc<crate::metrics::Usage>>,
    pub health: Health,
}

/// Readiness facts, updated where they change.
#[derive(Default)]
pub struct Health {
    /// The PostgreSQL listener is bound and not draining.
    pub accepting: AtomicBool,
    /// When the upstream last accepted a TCP connection.
    upstream_ok_at: Mutex<Option<Instant>>,
}

impl Health {
    /// Ready: accepting, a policy is installed (the store always holds one
    /// once pgward started), and the upstream accepted a TCP connection
    /// within the last three check intervals.
    pub fn ready(&self, check_interval: Duration) -> bool {
        let upstream = self
            .upstream_ok_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() <= check_interval * 3);
        self.accepting.load(Ordering::Relaxed) && upstream
    }

    pub(crate) fn note_upstream(&self, ok: bool) {
        let mut at = self
            .upstream_ok_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if ok {
            *at = Some(Instant::now());
        }
    }
}

impl Shared {
    pub fn new(
        config: Config,
        audit: Option<Arc<crate::audit::Auditor>>,
    ) -> Result<Arc<Shared>, SetupError> {
        let tls_acceptor = match &config.client_tls {
            Some(t) => Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                &t.cert_file,
                &t.key_file,
                t.client_certs.as_ref(),
            )?)),
            None => None,
        };
        let upstream = Upstream::from_config(&config.upstream)?;
        let policy = match &config.policy {
            Some(path) => PolicyStore::from_file(path)?,
            None => PolicyStore::allow_all(),
        };
        let local_auth = local_auth(&config.auth)?;
        let catalogs = crate::catalog::Catalogs::new(catalog_source(&config)?);
        let branches = crate::branch::Branches::new(Arc::clone(&upstream), &config.branches)
            .map_err(|e| SetupError::Branch(e.to_string()))?;
        let has_masks = !policy.current().policy.masking.rules.is_empty();
        if has_masks && !catalogs.is_configured() {
            return Err(SetupError::Catalog(
                "the policy masks columns, and masking needs the server's catalog: set catalog.user and catalog.password_file (or use auth mode scram/jwt, whose service account is used)".into(),
            ));
        }
        let usage = (config.admin.is_some() || config.metrics.otlp.is_some())
            .then(|| Arc::new(crate::metrics::Usage::new(&config.metrics)));
        Ok(Arc::new(Shared {
            audit,
            usage,
            health: Health::default(),
            catalogs,
            branches,
            local_auth,
            config,
            tls_acceptor,
            upstream,
            cancels: CancelRegistry::new(),
            policy,
            analysis_cache: Arc::new(AnalysisCache::new(ANALYSIS_CACHE_ENTRIES)),
            hard_close: CancellationToken::new(),
        }))
    }
}

/// The catalog credential of a configuration, with its password read.
pub fn catalog_source(
    config: &Config,
) -> Result<Option<crate::catalog::CatalogSource>, SetupError> {
    let Some(cred) = config.catalog_credential() else {
        return Ok(None);
    };
    Ok(Some(crate::catalog::CatalogSource {
        user: cred.user.clone(),
        password: service_secret(cred)?,
        refresh_interval: config.catalog.refresh_interval,
    }))
}

fn service_secret(
    s: &crate::config::ServiceCredential,
) -> Result<crate::auth::client_login::Secret, SetupError> {
    use crate::auth::client_login::Secret;
    use crate::config::PasswordSource;
    match &s.password {
        PasswordSource::File(p) => Secret::from_file(p),
        PasswordSource::Env(v) => Secret::from_env(v),
    }
    .map_err(|e| SetupError::Auth(format!("password for {}: {e}", s.user)))
}

fn local_auth(cfg: &crate::config::AuthConfig) -> Result<Option<LocalAuthSetup>, SetupError> {
    use crate::auth::local::LocalAuth;
    use crate::config::AuthConfig;
    let secret = service_secret;
    Ok(match cfg {
        AuthConfig::Passthrough => None,
        AuthConfig::Scram {
            users_file,
            service,
        } => {
            let users = crate::auth::users::UsersFile::from_file(users_file)
                .map_err(|e| SetupError::Auth(e.to_string()))?;
            let mock =
                crate::auth::scram::MockSecret::random(crate::auth::scram::DEFAULT_ITERATIONS)
                    .map_err(|e| SetupError::Auth(e.to_string()))?;
            Some(LocalAuthSetup {
                method: LocalAuth::Scram {
                    users: Arc::new(users),
                    mock,
                },
                service_user: service.user.clone(),
                service_password: secret(service)?,
            })
        }
        AuthConfig::Jwt {
            jwks_file,
            jwt,
            allow_without_tls,
            service,
        } => {
            let validator = crate::auth::jwt::JwtValidator::from_jwks_file(jwks_file, jwt.clone())
                .map_err(|e| SetupError::Auth(format!("{}: {e}", jwks_file.display())))?;
            Some(LocalAuthSetup {
                method: LocalAuth::Jwt {
                    validator: Arc::new(validator),
                    allow_without_tls: *allow_without_tls,
                },
                service_user: service.user.clone(),
                service_password: secret(service)?,
            })
        }
    })
}

/// Distinct statement texts whose analysis is kept (a few MB at most).
const ANALYSIS_CACHE_ENTRIES: usize = 20_000;
