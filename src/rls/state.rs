//! What a database has that row filters care about: its user tables (with
//! their row-level security flags and parents) and every row-level security
//! policy, read from the catalog as text rows.

/// A user table (ordinary or partitioned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// Tables it is a partition or inheritance child of.
    pub parents: Vec<u32>,
}

/// A row-level security policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub table: u32,
    pub name: String,
    /// Its comment ('' when it has none).
    pub comment: String,
    /// [`SERVER_DIGEST_SQL`] of it.
    pub server_digest: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbState {
    pub tables: Vec<Table>,
    pub policies: Vec<Policy>,
}

/// SQL computing the digest of a `pg_policy` row `p` as the server stores
/// it (the same expression in the plan and in the check).
pub const SERVER_DIGEST_SQL: &str = "pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.concat_ws(E'\\n', p.polpermissive::text, p.polcmd::text, p.polroles::text, coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''), coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')), 'UTF8')), 'hex')";

pub const TABLES_SQL: &str = "SELECT c.oid::text, n.nspname::text, c.relname::text, \
     c.relrowsecurity::text, c.relforcerowsecurity::text, \
     coalesce((SELECT string_agg(i.inhparent::text, ',') FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid), '') \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
     ORDER BY 2, 3";

pub fn policies_sql() -> String {
    format!(
        "SELECT p.polrelid::text, p.polname::text, \
         coalesce(pg_catalog.obj_description(p.oid, 'pg_policy'), ''), {} \
         FROM pg_catalog.pg_policy p ORDER BY 1, 2",
        SERVER_DIGEST_SQL
    )
}

type Rows = Vec<Vec<Option<String>>>;

fn field(row: &[Option<String>], i: usize) -> Result<&str, String> {
    row.get(i)
        .and_then(|v| v.as_deref())
        .ok_or_else(|| format!("catalog row without field {i}"))
}

fn oid(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| format!("not an oid: {s:?}"))
}

impl DbState {
    /// From the rows of [`TABLES_SQL`] and [`policies_sql`].
    pub fn from_rows(tables: Rows, policies: Rows) -> Result<DbState, String> {
        let mut out = DbState::default();
        for r in tables {
            let parents = field(&r, 5)?;
            out.tables.push(Table {
                oid: oid(field(&r, 0)?)?,
                schema: field(&r, 1)?.to_owned(),
                name: field(&r, 2)?.to_owned(),
                rls_enabled: field(&r, 3)? == "true",
                rls_forced: field(&r, 4)? == "true",
                parents: if parents.is_empty() {
                    Vec::new()
                } else {
                    parents.split(',').map(oid).collect::<Result<_, _>>()?
                },
            });
        }
        for r in policies {
            out.policies.push(Policy {
                table: oid(field(&r, 0)?)?,
                name: field(&r, 1)?.to_owned(),
                comment: field(&r, 2)?.to_owned(),
                server_digest: field(&r, 3)?.to_owned(),
            });
        }
        Ok(out)
    }

    pub fn table(&self, oid: u32) -> Option<&Table> {
        self.tables.iter().find(|t| t.oid == oid)
    }

    /// The table and every table it descends from (partition of, inherits).
    pub fn ancestors_and_self(&self, oid: u32) -> Vec<&Table> {
        let mut out: Vec<&Table> = Vec::new();
        let mut todo = vec![oid];
        while let Some(o) = todo.pop() {
            if out.iter().any(|t| t.oid == o) {
                continue;
            }
            if let Some(t) = self.table(o) {
                out.push(t);
                todo.extend(t.parents.iter().copied());
            }
        }
        out
    }

    pub fn policies_of(&self, table: u32) -> impl Iterator<Item = &Policy> + '_ {
        self.policies.iter().filter(move |p| p.table == table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_state() {
        let s = |v: &str| Some(v.to_owned());
        let state = DbState::from_rows(
            vec![
                vec![s("10"), s("app"), s("t"), s("true"), s("false"), s("")],
                vec![s("11"), s("app"), s("t_1"), s("false"), s("false"), s("10")],
            ],
            vec![vec![s("10"), s("pgward_rows"), s(""), s("ab")]],
        )
        .expect("state");
        assert!(state.tables[0].rls_enabled && !state.tables[0].rls_forced);
        let up: Vec<u32> = state.ancestors_and_self(11).iter().map(|t| t.oid).collect();
        assert_eq!(up, vec![11, 10]);
        assert_eq!(state.policies_of(10).count(), 1);
        assert!(DbState::from_rows(vec![vec![s("x")]], vec![]).is_err());
    }
}
