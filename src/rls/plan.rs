//! What a policy's row filters mean for one database: the tables they cover
//! (glob matches, and every partition or inheritance child of one), the
//! policies each table must have, and the SQL that makes it so.
//!
//! The SQL is idempotent (each policy is dropped and created again) and runs
//! in one transaction. Every policy pgward creates is named `pgward_*` and
//! carries a comment that records a digest of the definition pgward meant
//! and of the definition the server stored, so that `pgward rls check` can
//! tell a policy changed in the file from one altered on the server.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;

use super::state::{DbState, Table, SERVER_DIGEST_SQL};
use crate::policy::row_filters::{RowFilter, RowFilters, OWNED_PREFIX, ROWS_POLICY};

/// Start of the comment on every policy pgward creates.
pub const COMMENT_TAG: &str = "pgward rls v1";

/// One policy a table must have.
#[derive(Clone, Debug)]
pub struct ExpectedPolicy {
    pub name: String,
    /// The row filter it carries; `None` for the permissive `pgward_rows`.
    pub filter: Option<Arc<RowFilter>>,
    /// The CREATE POLICY statement.
    pub create: String,
    /// Digest of `create`, recorded in the policy's comment.
    pub definition: String,
}

/// A table the row filters cover, with the policies it must have.
#[derive(Clone, Debug)]
pub struct ExpectedTable {
    pub table: Table,
    pub filters: Vec<Arc<RowFilter>>,
    pub policies: Vec<ExpectedPolicy>,
}

impl ExpectedTable {
    pub fn filter_names(&self) -> String {
        self.filters
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A double-quoted identifier.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `"schema"."table"`.
pub fn qualified(t: &Table) -> String {
    format!("{}.{}", ident(&t.schema), ident(&t.name))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Digest of a policy's CREATE statement, as recorded in its comment.
pub fn definition_digest(create: &str) -> String {
    hex(&Sha256::digest(create.as_bytes()))
}

/// The tables `filters` cover in `state`, each with the policies it needs,
/// ordered by schema and name.
pub fn expected(filters: &RowFilters, state: &DbState) -> Vec<ExpectedTable> {
    let mut out: Vec<ExpectedTable> = Vec::new();
    for t in &state.tables {
        let mut mine: Vec<Arc<RowFilter>> = Vec::new();
        // The table itself, or any table it is a partition or child of.
        for candidate in state.ancestors_and_self(t.oid) {
            for f in &filters.filters {
                if f.matches(Some(&candidate.schema), &candidate.name, None)
                    && !mine.iter().any(|m| m.name == f.name)
                {
                    mine.push(Arc::clone(f));
                }
            }
        }
        if mine.is_empty() {
            continue;
        }
        mine.sort_by(|a, b| a.name.cmp(&b.name));
        let q = qualified(t);
        let mut policies: Vec<ExpectedPolicy> = mine
            .iter()
            .map(|f| {
                let create = f.create_policy(&q);
                ExpectedPolicy {
                    name: f.policy_name(),
                    filter: Some(Arc::clone(f)),
                    definition: definition_digest(&create),
                    create,
                }
            })
            .collect();
        let rows = format!(
            "CREATE POLICY {ROWS_POLICY} ON {q} AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true);"
        );
        policies.push(ExpectedPolicy {
            name: ROWS_POLICY.to_owned(),
            filter: None,
            definition: definition_digest(&rows),
            create: rows,
        });
        out.push(ExpectedTable {
            table: t.clone(),
            filters: mine,
            policies,
        });
    }
    out.sort_by(|a, b| (&a.table.schema, &a.table.name).cmp(&(&b.table.schema, &b.table.name)));
    out
}

/// The SQL that brings `state` in line with `filters`.
pub fn sql(filters: &RowFilters, state: &DbState, header: &str) -> String {
    let want = expected(filters, state);
    let mut out = String::new();
    let _ = writeln!(out, "-- {header}");
    let _ = writeln!(
        out,
        "-- Run as the tables' owner or a superuser; running it again changes nothing."
    );
    out.push_str("BEGIN;\n");
    for e in &want {
        let q = qualified(&e.table);
        let _ = writeln!(
            out,
            "\n-- {}.{}: row filters {}",
            e.table.schema,
            e.table.name,
            e.filter_names()
        );
        let _ = writeln!(out, "ALTER TABLE {q} ENABLE ROW LEVEL SECURITY;");
        let _ = writeln!(out, "ALTER TABLE {q} FORCE ROW LEVEL SECURITY;");
        for p in &e.policies {
            let _ = writeln!(out, "DROP POLICY IF EXISTS {} ON {q};", p.name);
            let _ = writeln!(out, "{}", p.create);
        }
        for stale in state
            .policies_of(e.table.oid)
            .filter(|p| p.name.starts_with(OWNED_PREFIX))
            .filter(|p| !e.policies.iter().any(|w| w.name == p.name))
        {
            let _ = writeln!(
                out,
                "DROP POLICY IF EXISTS {} ON {q};  -- no longer in the policy file",
                ident(&stale.name)
            );
        }
    }
    // Tables pgward filtered before and no longer does.
    for t in &state.tables {
        if want.iter().any(|e| e.table.oid == t.oid) {
            continue;
        }
        let owned: Vec<_> = state
            .policies_of(t.oid)
            .filter(|p| p.name.starts_with(OWNED_PREFIX))
            .collect();
        if owned.is_empty() {
            continue;
        }
        let q = qualified(t);
        let _ = writeln!(
            out,
            "\n-- {}.{}: no row filter covers it any more",
            t.schema, t.name
        );
        for p in &owned {
            let _ = writeln!(out, "DROP POLICY IF EXISTS {} ON {q};", ident(&p.name));
        }
        if state.policies_of(t.oid).count() == owned.len() {
            let _ = writeln!(out, "ALTER TABLE {q} NO FORCE ROW LEVEL SECURITY;");
            let _ = writeln!(out, "ALTER TABLE {q} DISABLE ROW LEVEL SECURITY;");
        }
    }
    if !want.is_empty() {
        out.push_str(&stamp_comments(&want));
    }
    out.push_str("\nCOMMIT;\n");
    out
}

/// A DO block that comments every policy just created with the digest of
/// its intended definition and of what the server stored.
fn stamp_comments(want: &[ExpectedTable]) -> String {
    let rows: Vec<String> = want
        .iter()
        .flat_map(|e| {
            e.policies.iter().map(move |p| {
                format!(
                    "({}, {}, {}, {})",
                    dollar_free_literal(&e.table.schema),
                    dollar_free_literal(&e.table.name),
                    dollar_free_literal(&p.name),
                    dollar_free_literal(&p.definition)
                )
            })
        })
        .collect();
    format!(
        "\n-- Record what was created, for pgward rls check.\nDO $pgward$\nDECLARE r record;\nBEGIN\n  FOR r IN\n    SELECT v.s, v.t, v.p, v.d, {SERVER_DIGEST_SQL} AS digest\n    FROM (VALUES\n      {}\n    ) AS v(s, t, p, d)\n    JOIN pg_catalog.pg_namespace n ON n.nspname = v.s\n    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = v.t\n    JOIN pg_catalog.pg_policy p ON p.polrelid = c.oid AND p.polname = v.p\n  LOOP\n    EXECUTE pg_catalog.format('COMMENT ON POLICY %I ON %I.%I IS %L', r.p, r.s, r.t,\n      '{COMMENT_TAG} definition=' || r.d || ' server=' || r.digest);\n  END LOOP;\nEND\n$pgward$;\n",
        rows.join(",\n      ")
    )
}

/// A string literal for use inside the `$pgward$` block: names that
/// contain the delimiter are written with chr() so the block stays closed.
fn dollar_free_literal(s: &str) -> String {
    let lit = crate::policy::row_filters::sql_literal(s);
    if !s.contains('$') {
        return lit;
    }
    let parts: Vec<String> = s
        .split('$')
        .map(crate::policy::row_filters::sql_literal)
        .collect();
    format!("({})", parts.join(" || chr(36) || "))
}

/// The digests a pgward comment records: (definition, server).
pub fn parse_comment(comment: &str) -> Option<(&str, &str)> {
    let rest = comment.strip_prefix(COMMENT_TAG)?.trim();
    let mut definition = None;
    let mut server = None;
    for part in rest.split_whitespace() {
        if let Some(v) = part.strip_prefix("definition=") {
            definition = Some(v);
        } else if let Some(v) = part.strip_prefix("server=") {
            server = Some(v);
        }
    }
    Some((definition?, server?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::rls::state::{Policy as DbPolicy, Table};

    fn table(oid: u32, schema: &str, name: &str, parents: &[u32]) -> Table {
        Table {
            oid,
            schema: schema.into(),
            name: name.into(),
            rls_enabled: false,
            rls_forced: false,
            parents: parents.to_vec(),
        }
    }

    #[test]
    fn plan_covers_matches_and_their_partitions_and_drops_stale_policies() {
        let p = Policy::from_yaml(
            "version: 1\nidentity_settings: { claims: [tenant] }\nrow_filters:\n  - name: tenant\n    tables: [\"app.orders\", \"app.invoices\"]\n    predicate: tenant_id = current_setting('pgward.claim.tenant', true)\n",
            "p.yaml",
        )
        .expect("valid");
        let state = DbState {
            tables: vec![
                table(1, "app", "orders", &[]),
                table(2, "app", "orders_2024", &[1]),
                table(3, "app", "customers", &[]),
                table(4, "app", "old", &[]),
                table(5, "My \"Schema\"", "invoices$x", &[]),
            ],
            policies: vec![
                DbPolicy {
                    table: 1,
                    name: "pgward_filter_gone".into(),
                    comment: String::new(),
                    server_digest: String::new(),
                },
                DbPolicy {
                    table: 4,
                    name: "pgward_rows".into(),
                    comment: String::new(),
                    server_digest: String::new(),
                },
            ],
        };
        let want = expected(&p.row_filters, &state);
        let names: Vec<&str> = want.iter().map(|e| e.table.name.as_str()).collect();
        assert_eq!(names, vec!["orders", "orders_2024"]);
        let text = sql(&p.row_filters, &state, "test");
        assert!(text.contains("ALTER TABLE \"app\".\"orders_2024\" FORCE ROW LEVEL SECURITY;"));
        assert!(text.contains("CREATE POLICY pgward_filter_tenant ON \"app\".\"orders\" AS RESTRICTIVE FOR ALL TO PUBLIC"));
        assert!(
            text.contains("DROP POLICY IF EXISTS \"pgward_filter_gone\" ON \"app\".\"orders\";")
        );
        assert!(text.contains("DROP POLICY IF EXISTS \"pgward_rows\" ON \"app\".\"old\";"));
        assert!(text.contains("ALTER TABLE \"app\".\"old\" DISABLE ROW LEVEL SECURITY;"));
        assert!(!text.contains("customers"));
        // The whole plan is what PostgreSQL's grammar reads as separate statements.
        let parsed = pg_query::parse(&text, pg_query::ParserOptions::DEFAULT).expect("parses");
        assert!(parsed.protobuf.stmts.len() > 10);
        assert_eq!(dollar_free_literal("a$b"), "('a' || chr(36) || 'b')");
        let def = &want[0].policies[0].definition;
        let comment = format!("{COMMENT_TAG} definition={def} server=abc");
        assert_eq!(parse_comment(&comment), Some((def.as_str(), "abc")));
        assert_eq!(parse_comment("something else"), None);
    }
}
