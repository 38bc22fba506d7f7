//! Which columns a caller receives masked, for `list_tables` and
//! `describe_table`. The answer comes from the same place the session's
//! masking does: the profile's masks applied to pgward's catalog snapshot
//! (so view columns that show masked base columns are flagged too). Without
//! a readable catalog it falls back to the rules' column globs.

use std::sync::Arc;

use serde_json::{json, Value};

use super::super::auth::Caller;
use super::super::conn::check_branch;
use super::super::error::McpError;
use crate::catalog::{Oid, Snapshot};
use crate::mask::index::MaskIndex;
use crate::policy::Profile;
use crate::shared::Shared;

pub struct MaskView {
    profile: Arc<Profile>,
    index: Option<(Arc<Snapshot>, MaskIndex)>,
}

impl MaskView {
    /// The masks `profile` sees on the caller's database and branch.
    pub async fn load(
        shared: &Shared,
        caller: &Caller,
        profile: Arc<Profile>,
        branch: Option<&str>,
    ) -> Result<MaskView, McpError> {
        if profile.masks.is_empty() || !shared.catalogs.is_configured() {
            return Ok(MaskView {
                profile,
                index: None,
            });
        }
        let branch = match branch {
            Some(b) => shared
                .branches
                .get(check_branch(b)?.as_str())
                .map_err(|e| McpError::Arguments(e.to_string()))?,
            None => Arc::clone(shared.branches.default_branch()),
        };
        let db = super::super::conn::database(shared, caller);
        let catalog = shared
            .catalogs
            .database(&branch.upstream, branch.name.as_str(), &db);
        let snapshot = catalog
            .fresh(&shared.catalogs, catalog.generation())
            .await
            .map_err(|e| McpError::Catalog(e.to_string()))?;
        let index = MaskIndex::build(&snapshot, &profile.masks);
        Ok(MaskView {
            profile,
            index: Some((snapshot, index)),
        })
    }

    /// The mask on one column, as `{column, rule, mask}`, or `None` if the
    /// caller sees it in clear.
    pub fn column(
        &self,
        oid: u32,
        attnum: i16,
        schema: &str,
        table: &str,
        col: &str,
    ) -> Option<Value> {
        if self.profile.masks.is_empty() {
            return None;
        }
        if let Some((snapshot, index)) = &self.index {
            if let Some(m) = index.column(Oid(oid), attnum) {
                return Some(json!({
                    "column": col,
                    "rule": &*m.rule,
                    "mask": m.function.describe(),
                }));
            }
            // A relation the snapshot knows is answered by it alone; a newer
            // one (the session masks it whole until the reload) by the globs.
            if snapshot.relation(Oid(oid)).is_some() {
                return None;
            }
        }
        self.profile
            .masks
            .rule_for(schema, table, col)
            .map(|r| json!({ "column": col, "rule": r.name, "mask": r.function.describe() }))
    }
}
