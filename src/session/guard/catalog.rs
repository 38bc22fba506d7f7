//! The catalog snapshot masking decisions are taken against, kept fresh
//! before each request is decided.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Guard, GuardTask, Loaded};
use crate::catalog::{Catalogs, DbCatalog, Snapshot};
use crate::mask::index::MaskIndex;
use crate::policy::masks::ProfileMasks;

/// A failed load is not retried sooner than this (each try may wait for a
/// connection timeout).
const RETRY_AFTER: Duration = Duration::from_secs(1);

type ReachCache = (
    Arc<Snapshot>,
    Arc<crate::policy::masks::Masking>,
    Arc<super::ddl::CatalogReach>,
);

/// What masking decisions are taken against: a catalog snapshot and the
/// profile's masks applied to it.
pub struct MaskState {
    pub catalogs: Arc<Catalogs>,
    pub db: Arc<DbCatalog>,
    pub(super) snapshot: Option<Arc<Snapshot>>,
    pub(super) index: Option<Arc<MaskIndex>>,
    /// The masks the index was built for (a policy reload replaces them).
    built_for: Option<Arc<ProfileMasks>>,
    /// Why there is no snapshot, for the denial message.
    pub(super) failure: Option<String>,
    failed_at: Option<Instant>,
    /// The catalog generation this session's next decision needs (after
    /// its own DDL, or a result that named a relation the snapshot lacked).
    need: u64,
    /// `reach` for a snapshot and a policy's masks (held, so that the
    /// comparison by address stays meaningful).
    reach: Option<ReachCache>,
}

impl MaskState {
    pub fn new(catalogs: Arc<Catalogs>, db: Arc<DbCatalog>) -> Self {
        MaskState {
            catalogs,
            db,
            snapshot: None,
            index: None,
            built_for: None,
            failure: None,
            failed_at: None,
            need: 0,
            reach: None,
        }
    }

    fn load(&self, need: u64) -> GuardTask {
        let db = Arc::clone(&self.db);
        let catalogs = Arc::clone(&self.catalogs);
        // Spawned, not awaited in place: a session that ends while it waits
        // must not cut a load short on the shared connection (it would be
        // left with a reply nobody reads).
        let load = tokio::spawn(async move { db.fresh(&catalogs, need).await });
        Box::pin(async move {
            Loaded::Snapshot(match load.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(format!("catalog load did not finish: {e}")),
            })
        })
    }

    /// What the catalog holds of `policy`'s mask names, from a snapshot as
    /// new as the database's last known change; `None` when there is none.
    fn reach(
        &mut self,
        policy: &crate::policy::compile::Policy,
    ) -> Option<Arc<super::ddl::CatalogReach>> {
        let snap = self.snapshot.as_ref()?;
        if snap.generation < self.db.generation() {
            return None;
        }
        match &self.reach {
            Some((s, m, v)) if Arc::ptr_eq(s, snap) && Arc::ptr_eq(m, &policy.masking) => {
                Some(Arc::clone(v))
            }
            _ => {
                let v = Arc::new(super::ddl::catalog_reach(policy, snap));
                self.reach = Some((
                    Arc::clone(snap),
                    Arc::clone(&policy.masking),
                    Arc::clone(&v),
                ));
                Some(v)
            }
        }
    }

    fn rebuild_index(&mut self, masks: &Arc<ProfileMasks>) {
        let stale = self
            .built_for
            .as_ref()
            .is_none_or(|b| !Arc::ptr_eq(b, masks));
        if let (Some(snap), true) = (&self.snapshot, self.index.is_none() || stale) {
            self.index = Some(Arc::new(MaskIndex::build(snap, masks)));
            self.built_for = Some(Arc::clone(masks));
        }
    }
}

impl Guard {
    /// Called before the next request is decided: picks up a reloaded
    /// policy, and returns the load to wait for when the catalog snapshot
    /// is stale (after reported DDL or the refresh interval). A failed load
    /// is kept: masked requests are then refused, never passed unmasked.
    pub fn begin_read(&mut self) -> Option<GuardTask> {
        self.refresh();
        if !self.masks_active() && !self.volatility_from_catalog() {
            return None;
        }
        let masks = Arc::clone(&self.resolution.profile.masks);
        let state = self.masking.as_mut()?;
        // DDL by other sessions is caught up with per request, only where
        // the request could see it (`reload_for_request`).
        let fresh = state
            .snapshot
            .as_ref()
            .is_some_and(|s| s.generation >= state.need && state.catalogs.is_recent(s));
        let retry = state.failed_at.is_none_or(|t| t.elapsed() >= RETRY_AFTER);
        if !fresh && retry {
            return Some(state.load(state.need));
        }
        state.rebuild_index(&masks);
        None
    }

    /// The result of a task the guard asked for.
    pub fn loaded(&mut self, loaded: Loaded) {
        match loaded {
            Loaded::Snapshot(r) => {
                let masks = Arc::clone(&self.resolution.profile.masks);
                let Some(state) = self.masking.as_mut() else {
                    return;
                };
                match r {
                    Ok(s) => {
                        state.snapshot = Some(s);
                        state.index = None;
                        state.failure = None;
                        state.failed_at = None;
                    }
                    // Results already in flight keep the old snapshot; new
                    // requests are refused until a load succeeds.
                    Err(e) => {
                        state.failure = Some(e);
                        state.failed_at = Some(Instant::now());
                    }
                }
                state.rebuild_index(&masks);
            }
            Loaded::Function { oid, result } => self.functions.loaded(oid, result),
        }
    }

    /// True when the session's profile has masks and this database may hold
    /// masked columns (an empty mask index means none of its columns is).
    pub(super) fn masked_data_here(&self) -> bool {
        self.masks_active() && self.mask_view().is_none_or(|(_, index)| !index.is_empty())
    }

    /// The snapshot and index results are masked against.
    pub fn mask_view(&self) -> Option<(Arc<Snapshot>, Arc<MaskIndex>)> {
        let m = self.masking.as_ref()?;
        Some((
            Arc::clone(m.snapshot.as_ref()?),
            Arc::clone(m.index.as_ref()?),
        ))
    }

    /// Does forwarded DDL in this request make the shared snapshot stale for
    /// decisions taken from it (see `ddl`)?
    pub(super) fn ddl_matters(
        &mut self,
        a: &crate::sql::Analysis,
        sql: &str,
        create_path: Option<&[String]>,
    ) -> bool {
        let installed = self.store.current();
        let policy = &installed.policy;
        let Some(m) = self.masking.as_mut() else {
            return true;
        };
        let reach = m.reach(policy);
        let matters = a
            .statements
            .iter()
            .filter(|st| st.has(crate::sql::Effect::Ddl))
            .any(|st| super::ddl::ddl_matters(policy, reach.as_deref(), create_path, st, sql));
        // What it created holds nothing masked (all of it, when the DDL
        // could bring no masked data; a table whose columns no mask can
        // match, otherwise): a snapshot that lacks it (a temporary table,
        // one created since) need not be reloaded to say so.
        let first = create_path.and_then(|p| p.first()).map(String::as_str);
        let all_masks = crate::policy::masks::ProfileMasks {
            rules: policy.masking.rules.clone(),
            derived: policy.masking.derived,
        };
        let mut full = false;
        for st in &a.statements {
            let clear = !matters
                // A table that names no other relation (no LIKE,
                // INHERITS or PARTITION OF: its columns are all listed).
                || st.created_columns.as_ref().is_some_and(|cols| {
                    st.objects.len() == 1
                        && st
                            .objects
                            .first()
                        .is_some_and(|t| !cols.iter().any(|c| all_masks.could_mask(&t.name, c)))
                });
            if !clear {
                // DDL that could bring masked data into a relation recorded
                // clear: the snapshot must say again (it is stale now).
                // With no current snapshot every DDL counts, and a relation
                // it only refers to (a foreign key's target) keeps its name.
                if reach.is_some() {
                    for o in st
                        .objects
                        .iter()
                        .filter(|o| o.access == crate::sql::Access::Ddl)
                    {
                        m.db.clear_names.forget(&o.name);
                    }
                }
                continue;
            }
            for o in &st.objects {
                let schema = match o.naming {
                    crate::sql::Naming::Created { temporary: true } => Some("pg_temp"),
                    crate::sql::Naming::Created { temporary: false } => {
                        o.schema.as_deref().or(first)
                    }
                    crate::sql::Naming::Existing => continue,
                };
                full |= !m.db.clear_names.note(schema, &o.name);
                // The sequences serial and identity columns get, named as
                // the server names them (`table_column_seq`).
                for c in st.created_columns.iter().flatten() {
                    full |= !m
                        .db
                        .clear_names
                        .note(schema, &format!("{}_{}_seq", o.name, c));
                }
            }
        }
        matters || full
    }

    /// Called at ReadyForQuery: once a transaction that ran DDL is over, the
    /// next decision needs a snapshot that shows it.
    pub fn ddl_completed(&mut self, status: crate::wire::backend::TxnStatus) {
        if self.ddl_forwarded && status == crate::wire::backend::TxnStatus::Idle {
            self.ddl_forwarded = false;
            self.catalog_changed();
        }
    }

    /// The snapshot is known to lack something (DDL completed, or a result
    /// named a relation it does not have): the next decision reloads it.
    pub fn catalog_changed(&mut self) {
        if let Some(m) = self.masking.as_mut() {
            m.need = m.db.changed();
        }
    }

    /// A reload before deciding `analysis`, when other sessions changed the
    /// catalog since this session's snapshot and the request could see it.
    pub(super) fn reload_for_request(
        &mut self,
        analysis: &super::Shared,
        search_path: Option<&[String]>,
    ) -> Option<GuardTask> {
        let masks = self.masks_active();
        let m = self.masking.as_mut()?;
        let current = m.db.generation();
        let snap = m.snapshot.as_ref()?;
        if snap.generation >= current {
            return None;
        }
        let sees = if masks {
            crate::mask::staleness::sees_catalog_changes(snap, analysis, search_path)
        } else {
            // Only the volatility of functions is read from the snapshot.
            analysis.as_ref().as_ref().is_ok_and(|a| {
                a.statements
                    .iter()
                    .any(|st| crate::mask::staleness::calls_unknown_function(snap, st))
            })
        };
        if !sees {
            return None;
        }
        m.need = current;
        Some(m.load(current))
    }

    /// Volatility is read from the shared snapshot when pgward has a catalog
    /// login (no query per session); otherwise from the session's connection.
    pub(super) fn volatility_from_catalog(&self) -> bool {
        self.wants_volatility()
            && self
                .masking
                .as_ref()
                .is_some_and(|m| m.catalogs.is_configured())
    }

    pub fn catalogs(&self) -> Option<&Arc<Catalogs>> {
        self.masking.as_ref().map(|m| &m.catalogs)
    }
}
