//! The shared catalog cache: one snapshot per database, loaded over pgward's
//! own connection (its own credential, so no client's privileges or session
//! state change what masking sees), reloaded when a session reports DDL or
//! when it is older than the refresh interval.

use arc_swap::ArcSwapOption;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

use super::query::simple_query;
use super::snapshot::{Oid, Snapshot, RELATIONS_SQL, VIEWS_SQL, VIEW_DEFINITIONS_SQL};
use super::volatility::FUNCTIONS_SQL;
use super::CatalogError;
use crate::auth::client_login::{Secret, UpstreamLogin};
use crate::auth::local::service_login;
use crate::session::peer::Peer;
use crate::upstream::Upstream;
use crate::wire::startup::{build_startup, ProtocolVersion};

/// Catalog replies can be large (one row per column of every user table).
const MAX_CATALOG_MESSAGE: usize = 64 << 20;

/// How long one load may take, connection included.
const LOAD_TIMEOUT: Duration = Duration::from_secs(15);
/// The catalog connection is closed when unused this long.
const IDLE_CLOSE: Duration = Duration::from_millis(500);

pub struct CatalogSource {
    pub user: String,
    pub password: Secret,
    pub refresh_interval: Duration,
}

/// Every database's catalog, shared by all sessions.
pub struct Catalogs {
    source: Option<CatalogSource>,
    /// By (branch, database): OIDs are per database and per server.
    databases: DashMap<(String, String), Arc<DbCatalog>>,
}

impl Catalogs {
    /// `source` is `None` when no credential is configured: then every load
    /// fails with [`CatalogError::NotConfigured`].
    pub fn new(source: Option<CatalogSource>) -> Arc<Catalogs> {
        Arc::new(Catalogs {
            source,
            databases: DashMap::new(),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.source.is_some()
    }

    /// The catalog of database `name` on a branch's server.
    pub fn database(&self, upstream: &Arc<Upstream>, branch: &str, name: &str) -> Arc<DbCatalog> {
        let key = (branch.to_owned(), name.to_owned());
        if let Some(d) = self.databases.get(&key) {
            return Arc::clone(&d);
        }
        Arc::clone(
            self.databases
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(DbCatalog {
                        upstream: Arc::clone(upstream),
                        database: name.to_owned(),
                        snapshot: ArcSwapOption::empty(),
                        generation: AtomicU64::new(0),
                        conn: tokio::sync::Mutex::new(None),
                        uses: AtomicU64::new(0),
                        clear_names: Default::default(),
                    })
                })
                .value(),
        )
    }

    /// Is `snap` young enough to use? (A session that needs changes newer
    /// than it also compares generations.)
    pub fn is_recent(&self, snap: &Snapshot) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| snap.loaded_at.elapsed() < s.refresh_interval)
    }
}

/// One database's snapshot and the connection that loads it.
pub struct DbCatalog {
    upstream: Arc<Upstream>,
    database: String,
    snapshot: ArcSwapOption<Snapshot>,
    /// Bumped when a session saw DDL complete (or a result name a relation
    /// the snapshot lacks): snapshots loaded before it may miss something.
    generation: AtomicU64,
    /// Also serialises loads: concurrent sessions wait for one load.
    conn: tokio::sync::Mutex<Option<Peer>>,
    /// Counts uses of the connection, so an idle one can be closed.
    uses: AtomicU64,
    /// Relations created by DDL that did not make the snapshot stale.
    pub clear_names: super::clear_names::ClearNames,
}

impl DbCatalog {
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.load_full()
    }

    /// Records that the catalog changed (DDL completed), and returns the
    /// generation a snapshot must have to show it.
    pub fn changed(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A recent snapshot of at least generation `need`, loading one if the
    /// shared one is older. Sessions ask for newer generations only after
    /// changes they depend on, so DDL elsewhere does not make every session
    /// reload.
    pub async fn fresh(
        self: &Arc<Self>,
        catalogs: &Catalogs,
        need: u64,
    ) -> Result<Arc<Snapshot>, CatalogError> {
        let usable = |s: &Arc<Snapshot>| s.generation >= need && catalogs.is_recent(s);
        if let Some(s) = self.current().filter(usable) {
            return Ok(s);
        }
        let source = catalogs
            .source
            .as_ref()
            .ok_or(CatalogError::NotConfigured)?;
        let mut conn = self.conn.lock().await;
        // Another session may have loaded it while this one waited.
        if let Some(s) = self.current().filter(usable) {
            return Ok(s);
        }
        // Read before the load: DDL reported during the load makes the result stale.
        let generation = self.generation();
        let previous = self.current();
        let loaded = tokio::time::timeout(LOAD_TIMEOUT, async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                if conn.is_none() {
                    *conn = Some(connect(source, &self.upstream, &self.database).await?);
                }
                let peer = conn
                    .as_mut()
                    .ok_or(CatalogError::Protocol("no connection"))?;
                match load(peer, generation, previous.as_deref()).await {
                    Ok(s) => break Ok(s),
                    // Once more on a new connection: a reused one may have
                    // been ended by the server, or left mid-reply.
                    Err(e) if attempt < 2 => {
                        debug!(database = %self.database, error = %e, "catalog load retried");
                        *conn = None;
                    }
                    Err(e) => break Err(e),
                }
            }
        })
        .await
        .unwrap_or(Err(CatalogError::Timeout(LOAD_TIMEOUT)));
        self.close_when_idle();
        match loaded {
            Ok(snap) => {
                let snap = Arc::new(snap);
                debug!(database = %self.database, relations = snap.len(), generation, "catalog loaded");
                self.snapshot.store(Some(Arc::clone(&snap)));
                self.clear_names.forget_loaded(&snap);
                Ok(snap)
            }
            Err(e) => {
                // A broken connection is not reused; the next load reconnects.
                *conn = None;
                warn!(database = %self.database, error = %e, "catalog load failed");
                Err(e)
            }
        }
    }
}

impl DbCatalog {
    /// The schema and name of the function with this OID (a fast-path
    /// call names its function only by OID); `None` if there is none.
    pub async fn function_name(
        self: &Arc<Self>,
        catalogs: &Catalogs,
        oid: u32,
    ) -> Result<Option<super::FunctionName>, CatalogError> {
        let source = catalogs
            .source
            .as_ref()
            .ok_or(CatalogError::NotConfigured)?;
        let mut conn = self.conn.lock().await;
        let sql = format!(
            "SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p \
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = {oid}"
        );
        let rows = tokio::time::timeout(LOAD_TIMEOUT, async {
            if conn.is_none() {
                *conn = Some(connect(source, &self.upstream, &self.database).await?);
            }
            let peer = conn
                .as_mut()
                .ok_or(CatalogError::Protocol("no connection"))?;
            super::query::simple_query(peer, &sql).await
        })
        .await
        .unwrap_or(Err(CatalogError::Timeout(LOAD_TIMEOUT)));
        if rows.is_err() {
            *conn = None;
        }
        drop(conn);
        self.close_when_idle();
        let rows = rows?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|row| match row.as_slice() {
                [Some(schema), Some(name)] => Some(super::FunctionName {
                    schema: schema.clone(),
                    name: name.clone(),
                }),
                _ => None,
            }))
    }
}

impl DbCatalog {
    /// Closes the connection once it has been idle for [`IDLE_CLOSE`]: an
    /// idle session of pgward's would keep the database from being dropped
    /// or used as a template, while loads that come in bursts (a migration
    /// running DDL) reuse it.
    fn close_when_idle(self: &Arc<Self>) {
        let mine = self.uses.fetch_add(1, Ordering::AcqRel) + 1;
        let this = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(IDLE_CLOSE).await;
            let mut conn = this.conn.lock().await;
            if this.uses.load(Ordering::Acquire) == mine {
                if let Some(mut peer) = conn.take() {
                    peer.close_with(Some(crate::wire::backend::terminate()))
                        .await;
                }
            }
        });
    }
}

/// Opens pgward's own connection to `database` with the catalog credential
/// (also used by `pgward rls`).
pub async fn connect(
    source: &CatalogSource,
    upstream: &Upstream,
    database: &str,
) -> Result<Peer, CatalogError> {
    let stream = upstream
        .connect()
        .await
        .map_err(|e| CatalogError::Connect(e.to_string()))?;
    let mut peer = Peer::new(stream, MAX_CATALOG_MESSAGE);
    peer.queue(build_startup(
        ProtocolVersion::V3_0,
        &[
            ("user", source.user.as_str()),
            ("database", database),
            ("application_name", "pgward catalog"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO"),
            // A session holding a lock a catalog read needs (a view's
            // table, in a transaction that altered it) must not make the
            // read wait for that session, which waits for the read.
            ("options", "-c lock_timeout=2s -c statement_timeout=20s"),
        ],
    ));
    peer.flush()
        .await
        .map_err(|e| CatalogError::Server(e.into()))?;
    let mut login = UpstreamLogin::new(source.user.clone(), source.password.clone());
    service_login(&mut peer, &mut login)
        .await
        .map_err(|e| CatalogError::Connect(e.to_string()))?;
    loop {
        let f = peer.next_frame().await?;
        match f.tag() {
            b'Z' => break,
            b'S' | b'K' | b'N' => {}
            b'E' => {
                return Err(CatalogError::Refused(
                    crate::wire::backend::ErrorSummary::parse(f.body()).unwrap_or_default(),
                ))
            }
            _ => return Err(CatalogError::Protocol("unexpected message after login")),
        }
    }
    info!(database, user = %source.user, "catalog connection open");
    Ok(peer)
}

async fn load(
    peer: &mut Peer,
    generation: u64,
    prev: Option<&Snapshot>,
) -> Result<Snapshot, CatalogError> {
    // One round trip, one consistent picture, no locks: the reads run in
    // one transaction and touch only catalog tables.
    let sql = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {RELATIONS_SQL}; {VIEWS_SQL}; {FUNCTIONS_SQL}; COMMIT"
    );
    let results = simple_query(peer, &sql).await?;
    // BEGIN, the three reads, COMMIT: one result each.
    let [_begin, relations, views, functions, _commit]: [super::query::Rows; 5] =
        results.try_into().map_err(|r: Vec<super::query::Rows>| {
            warn!(
                results = r.len(),
                "catalog query returned an unexpected number of results"
            );
            CatalogError::Protocol("unexpected number of results to the catalog query")
        })?;
    let mut snap = Snapshot::from_rows(relations, Vec::new(), functions, generation)?;
    snap.set_view_meta(&views)?;
    let missing = snap.carry_definitions(prev);
    for (oid, def) in view_definitions(peer, &missing).await? {
        snap.set_definition(oid, def);
    }
    Ok(snap)
}

/// Reads view definitions, which takes locks on the views' tables: briefly
/// bounded, and one view at a time when a batch fails (a view dropped or a
/// table locked meanwhile). A view left without one is traced through the
/// relations it depends on.
async fn view_definitions(
    peer: &mut Peer,
    views: &[Oid],
) -> Result<Vec<(Oid, String)>, CatalogError> {
    let query = |oids: &[Oid]| {
        let list: Vec<String> = oids.iter().map(|o| o.0.to_string()).collect();
        format!(
            // No BEGIN: a failure rolls the implicit transaction back and
            // leaves the connection usable; SET LOCAL lasts for it.
            "SET LOCAL lock_timeout = '250ms'; {VIEW_DEFINITIONS_SQL}({})",
            list.join(",")
        )
    };
    let parse = |results: Vec<super::query::Rows>| -> Vec<(Oid, String)> {
        results
            .into_iter()
            .flatten()
            .filter_map(|row| match row.as_slice() {
                [Some(oid), Some(def)] => Some((Oid(oid.parse().ok()?), def.clone())),
                _ => None,
            })
            .collect()
    };
    if views.is_empty() {
        return Ok(Vec::new());
    }
    // Only a refusal (the server answered, through ReadyForQuery) leaves
    // the connection usable; anything else ends the load.
    match simple_query(peer, &query(views)).await {
        Ok(r) => return Ok(parse(r)),
        Err(CatalogError::Refused(_)) => {}
        Err(e) => return Err(e),
    }
    let mut out = Vec::new();
    for v in views {
        match simple_query(peer, &query(std::slice::from_ref(v))).await {
            Ok(r) => out.extend(parse(r)),
            Err(CatalogError::Refused(e)) => debug!(
                view = v.0,
                error = %e.message,
                "view definition not read; traced through its dependencies"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
