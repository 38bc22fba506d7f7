//! One database's catalog as pgward needs it for masking: every user
//! relation's columns by OID and attribute number (what RowDescription
//! reports), the same relations by name (what SQL text names), view
//! definitions (so view columns can be traced to base columns) and the user
//! functions (whose bodies pgward cannot see).

use std::collections::HashMap;

// foldhash, seeded per process, for the maps every governed statement
// looks names and OIDs up in (SipHash was most of a lookup's cost).
type FastMap<K, V> = foldhash::HashMap<K, V>;
use std::sync::Arc;
use std::time::Instant;

use super::query::Rows;
use super::CatalogError;

/// A PostgreSQL object identifier. A newtype so a table OID is never mixed
/// up with a type OID, an attribute number or a row count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(pub u32);

impl Oid {
    /// OIDs below this are assigned at initdb: system catalogs and built-in
    /// types, never a user table.
    pub const FIRST_NORMAL: Oid = Oid(16384);

    pub fn is_system(self) -> bool {
        self < Oid::FIRST_NORMAL
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelKind {
    Table,
    View,
    MaterializedView,
    Foreign,
    Partitioned,
    /// Read by pg_dump (`SELECT last_value, is_called FROM seq`).
    Sequence,
}

impl RelKind {
    fn from_code(c: &str) -> Option<RelKind> {
        Some(match c {
            "r" => RelKind::Table,
            "v" => RelKind::View,
            "m" => RelKind::MaterializedView,
            "f" => RelKind::Foreign,
            "p" => RelKind::Partitioned,
            "S" => RelKind::Sequence,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub attnum: i16,
    pub name: String,
    pub type_oid: Oid,
    /// Part of a unique index or primary key: a mask that maps two values
    /// to one breaks a restore of masked data.
    pub unique: bool,
}

#[derive(Clone, Debug)]
pub struct Relation {
    pub oid: Oid,
    pub schema: String,
    pub name: String,
    pub kind: RelKind,
    /// In attribute-number order, dropped columns left out.
    pub columns: Vec<Column>,
    /// `pg_get_viewdef` for views and materialized views.
    pub definition: Option<String>,
    /// Views: the relations their rule depends on (from pg_depend, read
    /// without locks): what a view whose definition could not be read is
    /// traced through.
    pub depends_on: Vec<Oid>,
    /// Views: the rule's OID and row version, so an unchanged view keeps
    /// the definition read for it earlier.
    pub version: Option<String>,
}

impl Relation {
    pub fn column(&self, attnum: i16) -> Option<&Column> {
        self.columns
            .binary_search_by_key(&attnum, |c| c.attnum)
            .ok()
            .and_then(|i| self.columns.get(i))
    }
}

/// An immutable catalog snapshot; sessions hold an `Arc` to the one they use.
#[derive(Debug)]
pub struct Snapshot {
    relations: FastMap<Oid, Arc<Relation>>,
    /// Every relation of each name, whatever its schema, in OID order: a
    /// statement's names are resolved without building a key per lookup
    /// or walking every relation for temporary tables (both were per name
    /// of every governed statement).
    by_name: FastMap<String, Vec<Oid>>,
    /// User functions, and which are volatile.
    functions: Arc<crate::catalog::volatility::UserFunctions>,
    /// The invalidation generation this snapshot was loaded after.
    pub generation: u64,
    pub loaded_at: Instant,
}

/// User relations and their live columns.
pub const RELATIONS_SQL: &str =
    "SELECT c.oid, n.nspname, c.relname, c.relkind, a.attnum, a.attname, a.atttypid, \
     EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisunique \
             AND a.attnum = ANY (i.indkey)) \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
     WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p', 'S') AND a.attnum > 0 AND NOT a.attisdropped \
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     ORDER BY c.oid, a.attnum";

/// User views and materialized views: their rule's version and the
/// relations it depends on. Plain catalog reads: no lock is taken, so
/// concurrent DDL can neither block nor break them (`pg_get_viewdef` can:
/// it locks the view's tables, and fails on one dropped meanwhile).
pub const VIEWS_SQL: &str =
    "SELECT c.oid, r.oid::pg_catalog.text || ':' || r.xmin::pg_catalog.text, \
     pg_catalog.string_agg(DISTINCT d.refobjid::pg_catalog.text, ',') \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_rewrite r ON r.ev_class = c.oid AND r.rulename = '_RETURN' \
     LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
          AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
          AND d.refobjid <> c.oid \
     WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     GROUP BY c.oid, r.oid, r.xmin";

/// The definitions of these views (a comma-separated OID list follows).
pub const VIEW_DEFINITIONS_SQL: &str =
    "SELECT c.oid, pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c WHERE c.oid IN ";

fn field(row: &[Option<String>], i: usize) -> Result<&str, CatalogError> {
    row.get(i)
        .and_then(|f| f.as_deref())
        .ok_or(CatalogError::Protocol("missing field in a catalog row"))
}

fn number<T: std::str::FromStr>(row: &[Option<String>], i: usize) -> Result<T, CatalogError> {
    field(row, i)?
        .parse()
        .map_err(|_| CatalogError::Protocol("non-numeric field in a catalog row"))
}

impl Snapshot {
    /// Builds a snapshot from the replies to [`RELATIONS_SQL`], [`VIEWS_SQL`]
    /// and [`FUNCTIONS_SQL`](super::volatility::FUNCTIONS_SQL).
    pub fn from_rows(
        relations: Rows,
        views: Rows,
        functions: Rows,
        generation: u64,
    ) -> Result<Snapshot, CatalogError> {
        let mut building: HashMap<Oid, Relation> = HashMap::new();
        for row in &relations {
            let oid = Oid(number(row, 0)?);
            let kind = RelKind::from_code(field(row, 3)?)
                .ok_or(CatalogError::Protocol("unexpected relkind"))?;
            let rel = building.entry(oid).or_insert_with(|| Relation {
                oid,
                schema: String::new(),
                name: String::new(),
                kind,
                columns: Vec::new(),
                definition: None,
                depends_on: Vec::new(),
                version: None,
            });
            if rel.name.is_empty() {
                rel.schema = field(row, 1)?.to_owned();
                rel.name = field(row, 2)?.to_owned();
            }
            rel.columns.push(Column {
                attnum: number(row, 4)?,
                name: field(row, 5)?.to_owned(),
                type_oid: Oid(number(row, 6)?),
                unique: row.get(7).and_then(|f| f.as_deref()) == Some("t"),
            });
        }
        for row in &views {
            let oid = Oid(number(row, 0)?);
            if let Some(rel) = building.get_mut(&oid) {
                rel.definition = row.get(1).cloned().flatten();
            }
        }
        let mut by_name: FastMap<String, Vec<Oid>> =
            FastMap::with_capacity_and_hasher(building.len(), Default::default());
        let mut out = FastMap::with_capacity_and_hasher(building.len(), Default::default());
        for (oid, mut rel) in building {
            rel.columns.sort_by_key(|c| c.attnum);
            by_name.entry(rel.name.clone()).or_default().push(oid);
            out.insert(oid, Arc::new(rel));
        }
        for same in by_name.values_mut() {
            same.sort_by_key(|oid| oid.0);
        }
        let fns = crate::catalog::volatility::user_functions(&functions)?;
        Ok(Snapshot {
            relations: out,
            by_name,
            functions: Arc::new(fns),
            generation,
            loaded_at: Instant::now(),
        })
    }

    /// Records views' rule versions and dependencies (rows of [`VIEWS_SQL`]).
    pub fn set_view_meta(&mut self, rows: &Rows) -> Result<(), CatalogError> {
        for row in rows {
            let oid = Oid(number(row, 0)?);
            let Some(rel) = self.relations.get_mut(&oid).and_then(Arc::get_mut) else {
                continue;
            };
            rel.version = row.get(1).cloned().flatten();
            rel.depends_on = row
                .get(2)
                .and_then(|f| f.as_deref())
                .map(|list| {
                    list.split(',')
                        .filter_map(|o| o.parse().ok().map(Oid))
                        .collect()
                })
                .unwrap_or_default();
        }
        Ok(())
    }

    /// Takes the definitions of views unchanged since `prev`; returns the
    /// views whose definitions must still be read.
    /// A view's text names its tables' columns: it is carried over only if
    /// the view's rule and the columns of everything it depends on are
    /// unchanged (a renamed column changes the text the server prints).
    pub fn carry_definitions(&mut self, prev: Option<&Snapshot>) -> Vec<Oid> {
        let unchanged = |oid: &Oid| -> bool {
            let (Some(p), Some(now)) =
                (prev.and_then(|p| p.relation(*oid)), self.relations.get(oid))
            else {
                return false;
            };
            p.version == now.version
                && p.definition.is_some()
                && p.depends_on == now.depends_on
                && now.depends_on.iter().all(|d| {
                    match (prev.and_then(|p| p.relation(*d)), self.relations.get(d)) {
                        (Some(a), Some(b)) => a.columns == b.columns && a.name == b.name,
                        // Outside the snapshot (system relations): as before.
                        (None, None) => true,
                        _ => false,
                    }
                })
        };
        let views: Vec<Oid> = self
            .relations
            .values()
            .filter(|r| matches!(r.kind, RelKind::View | RelKind::MaterializedView))
            .map(|r| r.oid)
            .collect();
        let mut missing = Vec::new();
        let mut carried = Vec::new();
        for oid in views {
            match unchanged(&oid)
                .then(|| {
                    prev.and_then(|p| p.relation(oid))
                        .and_then(|r| r.definition.clone())
                })
                .flatten()
            {
                Some(def) => carried.push((oid, def)),
                None => missing.push(oid),
            }
        }
        for (oid, def) in carried {
            self.set_definition(oid, def);
        }
        missing
    }

    /// A view's definition, read separately.
    pub fn set_definition(&mut self, oid: Oid, definition: String) {
        if let Some(rel) = self.relations.get_mut(&oid).and_then(Arc::get_mut) {
            rel.definition = Some(definition);
        }
    }

    pub fn relation(&self, oid: Oid) -> Option<&Arc<Relation>> {
        self.relations.get(&oid)
    }

    pub fn relations(&self) -> impl Iterator<Item = &Arc<Relation>> {
        self.relations.values()
    }

    /// Relations a name in SQL text can refer to. Qualified: at most one.
    /// Unqualified with a known search path: the first schema on the path
    /// that has it. Unqualified with an unknown path: every schema's.
    pub fn resolve(
        &self,
        schema: Option<&str>,
        name: &str,
        search_path: Option<&[String]>,
    ) -> Vec<&Arc<Relation>> {
        let Some(oids) = self.by_name.get(name) else {
            return Vec::new();
        };
        let named = || oids.iter().filter_map(|oid| self.relations.get(oid));
        let get = |s: &str| named().find(|r| r.schema == s);
        match (schema, search_path) {
            (Some(s), _) => get(s).into_iter().collect(),
            (None, Some(path)) => {
                // Temporary tables shadow everything when not listed explicitly.
                let temp = named().filter(|r| r.schema.starts_with("pg_temp"));
                let on_path = path.iter().find_map(|s| get(s));
                temp.chain(on_path).collect()
            }
            (None, None) => named().collect(),
        }
    }

    /// The volatile user functions, for `volatile_functions: write`:
    /// shared by every session on the database, refreshed with the snapshot.
    pub fn volatility(&self) -> crate::catalog::Volatility {
        crate::catalog::Volatility::Known(Arc::clone(&self.functions))
    }

    /// Could a call to this function run a user-defined body pgward cannot see?
    pub fn is_user_function(&self, schema: Option<&str>, name: &str) -> bool {
        match schema {
            Some("pg_catalog") | Some("information_schema") => false,
            Some(s) => self
                .functions
                .all
                .contains(&(s.to_owned(), name.to_owned())),
            None => self.functions.all.iter().any(|(_, n)| n == name),
        }
    }

    pub fn len(&self) -> usize {
        self.relations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.relations.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[&str]) -> Vec<Option<String>> {
        fields.iter().map(|f| Some((*f).to_owned())).collect()
    }

    #[test]
    fn builds_relations_and_resolves_names() {
        let rels = vec![
            row(&["16400", "public", "customers", "r", "1", "id", "23"]),
            row(&["16400", "public", "customers", "r", "3", "ssn", "25"]),
            row(&["16400", "public", "customers", "r", "2", "email", "25"]),
            row(&["16500", "crm", "customers", "r", "1", "id", "20"]),
            row(&["16600", "public", "v", "v", "1", "s", "25"]),
        ];
        let views = vec![row(&[
            "16600",
            " SELECT customers.ssn AS s FROM customers;",
        ])];
        let fns = vec![row(&["public", "leak"])];
        let s = Snapshot::from_rows(rels, views, fns, 7).expect("valid rows");
        let c = s.relation(Oid(16400)).expect("customers");
        assert_eq!(
            c.columns.iter().map(|c| c.attnum).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(c.column(3).map(|c| c.name.as_str()), Some("ssn"));
        assert!(c.column(9).is_none());
        assert!(s
            .relation(Oid(16600))
            .and_then(|v| v.definition.as_deref())
            .is_some());
        let path = vec!["crm".to_owned(), "public".to_owned()];
        let found = s.resolve(None, "customers", Some(&path));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].schema, "crm");
        assert_eq!(s.resolve(None, "customers", None).len(), 2);
        assert_eq!(s.resolve(Some("public"), "customers", None).len(), 1);
        assert!(s.is_user_function(None, "leak"));
        assert!(s.is_user_function(Some("public"), "leak"));
        assert!(!s.is_user_function(Some("pg_catalog"), "leak"));
        assert!(!s.is_user_function(None, "upper"));
        assert_eq!(s.generation, 7);
    }

    #[test]
    fn malformed_rows_are_errors() {
        let bad = vec![vec![Some("x".to_owned())]];
        assert!(Snapshot::from_rows(bad, vec![], vec![], 0).is_err());
        let bad_kind = vec![row(&["1", "s", "t", "z", "1", "c", "25"])];
        assert!(Snapshot::from_rows(bad_kind, vec![], vec![], 0).is_err());
        assert!(Oid(1259).is_system());
        assert!(!Oid(16384).is_system());
    }
}
