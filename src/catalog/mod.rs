//! What pgward reads from the server's catalog: column provenance for masking
//! (a shared, per-database [`Snapshot`] loaded over pgward's own connection)
//! and function volatility for `volatile_functions: write` (read on the
//! session's connection).

pub mod clear_names;
pub mod query;
pub mod registry;
pub mod snapshot;
pub mod volatility;

pub use registry::{CatalogSource, Catalogs, DbCatalog};
pub use snapshot::{Column, Oid, RelKind, Relation, Snapshot};
pub use volatility::{load_volatile_functions, Volatility};

use crate::session::peer::PeerError;
use crate::wire::backend::ErrorSummary;

/// A function's schema and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionName {
    pub schema: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the server refused the catalog query: {} ({})", .0.message, .0.code)]
    Refused(ErrorSummary),
    #[error("unexpected reply to the catalog query: {0}")]
    Protocol(&'static str),
    #[error("server: {0}")]
    Server(#[from] PeerError),
    #[error("cannot open the catalog connection: {0}")]
    Connect(String),
    #[error("the catalog did not load within {0:?}")]
    Timeout(std::time::Duration),
    #[error("masking needs the server's catalog, and no catalog credential is configured (set catalog.user and catalog.password_file)")]
    NotConfigured,
}
