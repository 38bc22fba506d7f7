//! Whether a request's masking could depend on catalog changes the
//! session's snapshot has not loaded yet, which decides whether the
//! snapshot is reloaded before the request is decided.

use std::sync::Arc;

use crate::catalog::{Relation, Snapshot};
use crate::sql::lineage::Output;
use crate::sql::{Analysis, ParseFailure};

/// The snapshot holds user relations only: a system catalog (qualified,
/// or unqualified with a pg_catalog name, which lookups find first) is not
/// unknown, and holds nothing masks apply to.
pub(super) fn is_system_relation(schema: Option<&str>, name: &str) -> bool {
    match schema {
        Some(s) => matches!(s, "pg_catalog" | "information_schema" | "pg_toast"),
        None => name.starts_with("pg_"),
    }
}

/// Could what this request returns depend on catalog changes a snapshot
/// that knows every name the request uses would still miss? True for text
/// that did not parse, a name (relation, column, user function) the
/// snapshot lacks, a view (whose base columns may have been renamed), `*`
/// and whole rows (which pick up renamed and added columns) and COPY.
/// A request that names only known tables and known columns cannot reach a
/// renamed or new column without naming it.
pub fn sees_catalog_changes(
    snapshot: &Snapshot,
    analysis: &Result<Analysis, ParseFailure>,
    search_path: Option<&[String]>,
) -> bool {
    let Ok(a) = analysis else { return true };
    a.statements.iter().any(|st| {
        if st.kind == "CopyStmt"
            || st.executes.is_some()
            || st.lineage.nested_star
            || !st.lineage.whole_rows.is_empty()
        {
            return true;
        }
        if st
            .lineage
            .outputs
            .as_ref()
            .is_some_and(|outs| outs.iter().any(|o| matches!(o, Output::Star { .. })))
        {
            return true;
        }
        let mut rels: Vec<&Arc<Relation>> = Vec::new();
        for o in &st.objects {
            if is_system_relation(o.schema.as_deref(), &o.name) {
                continue;
            }
            let found = snapshot.resolve(o.schema.as_deref(), &o.name, search_path);
            if found.is_empty() && o.naming == crate::sql::Naming::Existing {
                return true;
            }
            if found.iter().any(|r| {
                matches!(
                    r.kind,
                    crate::catalog::RelKind::View | crate::catalog::RelKind::MaterializedView
                )
            }) {
                return true;
            }
            rels.extend(found);
        }
        let unknown_function = calls_unknown_function(snapshot, st);
        let unknown_column = st.referenced_columns.iter().any(|c| {
            !rels
                .iter()
                .any(|r| r.columns.iter().any(|col| &col.name == c))
        });
        unknown_function || unknown_column
    })
}

/// Does the statement call a function the snapshot does not know (created
/// since it was loaded, or a name that does not exist)?
pub fn calls_unknown_function(snapshot: &Snapshot, st: &crate::sql::Statement) -> bool {
    st.functions.iter().any(|f| {
        let builtin = matches!(f.schema.as_deref(), None | Some("pg_catalog"))
            && crate::sql::builtins::is_builtin_function(&f.name);
        !builtin && !snapshot.is_user_function(f.schema.as_deref(), &f.name)
    })
}
