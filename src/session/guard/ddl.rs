//! Which forwarded DDL makes the shared catalog snapshot stale for the
//! decisions taken from it. Reloading a large catalog after every `CREATE`
//! is what made DDL-heavy sessions slow with masks defined; most DDL cannot
//! change a masking or volatility decision, and that can be told from the
//! statement and the snapshot:
//!
//! * while some column of the database matches a mask (under any profile),
//!   every DDL counts: a view over a view over a masked table names nothing
//!   masked;
//! * otherwise masked data appears only where a schema, a table and a
//!   column name matching one mask come together, and each name has to
//!   come from somewhere: the statement's words, the schema the session
//!   creates in (its search path), or names already in the catalog (a
//!   column copied by `LIKE` or `AS SELECT`, a table gaining a column from
//!   its parent). A mask none of whose parts can be had from those cannot
//!   be met. A Unicode-escaped identifier (`U&"…"`) or a mask part with
//!   characters no bare word has counts as named;
//! * extensions and foreign-schema imports create objects the statement
//!   does not name: they count;
//! * routine DDL counts when some profile reads function volatility.

use crate::catalog::Snapshot;
use crate::policy::compile::Policy;
use crate::policy::glob::Glob;
use crate::sql::Statement;

/// Statement kinds that make objects the text does not name, or give a
/// relation a name pgward does not record (renames and moves: their
/// relations are then found by reloading, not in `ClearNames`).
const UNNAMED_OBJECTS: [&str; 6] = [
    "CreateExtensionStmt",
    "AlterExtensionStmt",
    "AlterExtensionContentsStmt",
    "ImportForeignSchemaStmt",
    "RenameStmt",
    "AlterObjectSchemaStmt",
];

/// Statement kinds that create or change routines (aggregates are
/// `DefineStmt`).
const ROUTINES: [&str; 4] = [
    "CreateFunctionStmt",
    "AlterFunctionStmt",
    "DefineStmt",
    "CreateTransformStmt",
];

/// Which name parts of each mask of a policy the catalog already holds,
/// and whether some column matches a mask outright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogReach {
    masked: bool,
    /// Per mask column pattern, in policy order: schema, table, column.
    parts: Vec<[bool; 3]>,
}

/// What the catalog holds of each mask's names.
pub fn catalog_reach(policy: &Policy, snapshot: &Snapshot) -> CatalogReach {
    let globs: Vec<_> = policy
        .masking
        .rules
        .iter()
        .flat_map(|r| r.columns.iter())
        .collect();
    let mut parts = vec![[false; 3]; globs.len()];
    let mut masked = false;
    for rel in snapshot.relations() {
        for (g, seen) in globs.iter().zip(parts.iter_mut()) {
            let [schema, table, column] = g.parts();
            seen[0] |= schema.is_none_or(|p| p.is_match(&rel.schema));
            seen[1] |= table.is_none_or(|p| p.is_match(&rel.name));
            for c in &rel.columns {
                seen[2] |= column.is_none_or(|p| p.is_match(&c.name));
                masked |= g.is_match(&rel.schema, &rel.name, &c.name);
            }
        }
    }
    CatalogReach { masked, parts }
}

/// Does this DDL (in request text `sql`) change what decisions taken from
/// the catalog snapshot see? `reach`: from a snapshot as new as the
/// database's last known change (`None`: there is none); `create_path`:
/// the schemas the session creates in (`None`: unknown).
pub fn ddl_matters(
    policy: &Policy,
    reach: Option<&CatalogReach>,
    create_path: Option<&[String]>,
    st: &Statement,
    sql: &str,
) -> bool {
    if UNNAMED_OBJECTS.contains(&st.kind.as_str()) {
        return true;
    }
    if ROUTINES.contains(&st.kind.as_str()) && policy.reads_volatility() {
        return true;
    }
    if policy.masking.rules.is_empty() {
        return false;
    }
    let Some(reach) = reach.filter(|r| !r.masked) else {
        return true;
    };
    let lower = sql.to_ascii_lowercase();
    if lower.contains("u&") {
        return true;
    }
    let as_written: Vec<&str> = words(sql).collect();
    let folded: Vec<&str> = words(&lower).collect();
    let named = |p: &Glob| {
        !p.as_str().chars().all(is_word_or_wildcard)
            || as_written.iter().chain(&folded).any(|w| p.is_match(w))
    };
    policy
        .masking
        .rules
        .iter()
        .flat_map(|r| r.columns.iter())
        .zip(&reach.parts)
        .any(|(g, in_catalog)| {
            g.parts().iter().enumerate().all(|(i, part)| {
                let Some(p) = part else { return true };
                in_catalog.get(i).copied().unwrap_or(true)
                    || named(p)
                    || (i == 0 && create_path.is_none_or(|c| c.iter().any(|s| p.is_match(s))))
            })
        })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn is_word_or_wildcard(c: char) -> bool {
    is_word_char(c) || c == '*' || c == '?'
}

/// Maximal runs of identifier characters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::analyze;

    fn policy(masks: &str) -> Policy {
        let yaml = format!(
            "version: 1\ndefault_profile: dev\nprofiles:\n  dev:\n    inherits: developer\nmasks:\n{masks}"
        );
        Policy::from_yaml(&yaml, "p.yaml").expect("policy")
    }

    fn matters(p: &Policy, reach: Option<&CatalogReach>, sql: &str) -> bool {
        let path = ["public".to_string()];
        let a = analyze(sql);
        let a = a.as_ref().expect("parses");
        a.statements
            .iter()
            .any(|st| ddl_matters(p, reach, Some(&path), st, sql))
    }

    fn reach(p: &Policy, masked: bool, parts: [bool; 3]) -> CatalogReach {
        let n = p.masking.rules.iter().map(|r| r.columns.len()).sum();
        CatalogReach {
            masked,
            parts: vec![parts; n],
        }
    }

    #[test]
    fn only_ddl_that_could_bring_masked_data_counts() {
        let p = policy("  - columns: [\"hr.salaries.amount\"]\n    function: redact\n");
        let nothing = reach(&p, false, [false; 3]);
        for sql in [
            "create table t (id int)",
            "create index on t (id)",
            "alter table t add column note text",
            "drop table t",
            "create view v as select * from t",
            "create table hr_x (amount int)",
        ] {
            assert!(!matters(&p, Some(&nothing), sql), "{sql}");
            assert!(
                matters(&p, Some(&reach(&p, true, [true; 3])), sql),
                "{sql}: masked data exists"
            );
            assert!(matters(&p, None, sql), "{sql}: no current snapshot");
        }
        for sql in [
            "create table hr.salaries (amount int)",
            "alter table hr.x rename to salaries",
            "create table U&\"s\\0061laries\" (id int)",
            "create extension pgcrypto",
            "import foreign schema x from server s into public",
        ] {
            assert!(
                matters(&p, Some(&reach(&p, false, [true, false, true])), sql),
                "{sql}"
            );
        }
        // A column copied from the catalog, a schema from the search path.
        let copied = reach(&p, false, [false, false, true]);
        assert!(!matters(
            &p,
            Some(&copied),
            "create table t as select * from src"
        ));
        let p2 = policy("  - columns: [\"public.*.amount\"]\n    function: redact\n");
        let copied2 = reach(&p2, false, [false, false, true]);
        assert!(
            matters(&p2, Some(&copied2), "create table t as select * from src"),
            "public comes from the search path, amount from src"
        );
        // A table gaining a column from its parent.
        let parent = reach(&p, false, [true, true, false]);
        assert!(matters(
            &p,
            Some(&parent),
            "alter table base add column amount int"
        ));
        assert!(!matters(
            &p,
            Some(&parent),
            "alter table base add column note int"
        ));
        // No masks at all: only extensions and imports count.
        let none =
            Policy::from_yaml("version: 1\ndefault_profile: admin\n", "p.yaml").expect("policy");
        assert!(!matters(&none, None, "create table ssn (ssn int)"));
        assert!(matters(&none, None, "create extension hstore"));
    }

    #[test]
    fn routine_ddl_counts_when_volatility_is_read() {
        let f = "create function f() returns int language sql as 'select 1'";
        let admin =
            Policy::from_yaml("version: 1\ndefault_profile: admin\n", "p.yaml").expect("policy");
        assert!(
            !matters(&admin, None, f),
            "no reachable profile reads volatility"
        );
        let reader = Policy::from_yaml("version: 1\ndefault_profile: read_only\n", "p.yaml")
            .expect("policy");
        assert!(matters(&reader, None, f));
        assert!(matters(
            &reader,
            None,
            "create aggregate a (int) (sfunc = int4pl, stype = int)"
        ));
    }
}
