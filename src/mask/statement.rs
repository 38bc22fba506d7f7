//! What masking means for one client request, decided before any byte of it
//! is forwarded: whether computed result columns must be masked, whether the
//! server's error texts must be withheld, how a COPY TO STDOUT is masked, or
//! that the request must be refused because masked data would be moved
//! somewhere masking no longer covers.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::index::MaskIndex;
use super::staleness::is_system_relation;
use super::MaskFn;
use crate::catalog::{Relation, Snapshot};
use crate::policy::masks::ProfileMasks;
use crate::policy::model::DerivedMode;
use crate::policy::Denial;
use crate::sql::lineage::{CopyFormatKind, CopySource, CopyTo, Output};
use crate::sql::{Access, Analysis, Effect, ParseFailure, Statement};

/// Effects through which a value read by the statement could be stored or
/// sent somewhere results are not masked: notifications, large objects,
/// server files, server configuration, volatile user functions (and
/// `set_config`, checked by name: `SET` itself cannot read a column).
const SIDE_CHANNELS: [Effect; 5] = [
    Effect::Notify,
    Effect::LargeObject,
    Effect::ServerFiles,
    Effect::Config,
    Effect::Volatile,
];

/// Statements that create or run code whose body pgward does not analyse.
const OPAQUE_CODE: [&str; 6] = [
    "CreateFunctionStmt",
    "DoStmt",
    "CallStmt",
    "CreateTrigStmt",
    "RuleStmt",
    "CreateEventTrigStmt",
];

/// An analysis as the session keeps it (SQL-level prepared statements).
pub type SharedAnalysis = Arc<Result<Analysis, ParseFailure>>;

/// How one column of a COPY TO STDOUT stream is masked.
#[derive(Clone, Debug)]
pub struct CopyColumn {
    pub function: Arc<MaskFn>,
    /// 0 when unknown: the value is then replaced by NULL.
    pub type_oid: u32,
}

#[derive(Clone, Debug)]
pub enum CopyColumns {
    /// One entry per output column; `None` is passed through.
    Each(Vec<Option<CopyColumn>>),
    /// The columns could not be traced: every column is NULL in the stream.
    All,
}

#[derive(Clone, Debug)]
pub struct CopyPlan {
    pub kind: CopyFormatKind,
    pub delimiter: u8,
    pub null: Vec<u8>,
    pub quote: u8,
    pub escape: u8,
    pub header: bool,
    pub columns: CopyColumns,
}

/// The masking facts of one request (all its statements).
#[derive(Clone, Debug, Default)]
pub struct StatementMasking {
    /// Result columns with no source column (expressions) are masked.
    pub derived: bool,
    /// Error and notice texts are withheld: they can quote values.
    pub scrub_messages: bool,
    /// Set for COPY ... TO STDOUT.
    pub copy: Option<CopyPlan>,
    /// Declares a cursor, or calls a user function (which can open one),
    /// whose computed columns must be masked when fetched.
    pub taints_cursors: bool,
    /// Fetches from a cursor.
    pub fetches: bool,
    /// Masked columns the request reads (for the audit trail).
    pub masked_columns: BTreeSet<Arc<str>>,
    /// How columns of relations the catalog snapshot does not know are
    /// treated.
    pub unknown: UnknownRelations,
    /// Relations the request names (schema as written, name) that neither
    /// the snapshot nor what the session created through pgward places:
    /// the session's own connection can say what they are.
    pub unplaced: Vec<(Option<String>, String)>,
    /// What placed the relations the request names.
    pub placement: Placement,
}

/// Where the relations a request names were found: the evaluation of a
/// request whose names the snapshot placed read the snapshot, the mask
/// index, the masks and the search path, and no session state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Every one in the catalog snapshot (or a system relation).
    Snapshot,
    /// Some only through the session's own tables, names created through
    /// pgward, or not at all.
    #[default]
    Elsewhere,
}

/// Result columns from relations missing from the catalog snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownRelations {
    /// Masked whole (and the catalog reloaded): pgward cannot tell what
    /// they hold.
    #[default]
    Masked,
    /// Every relation the request names is known, or is a table created in
    /// this transaction whose columns no mask can match by name.
    Clear,
}

/// A table created by the session in its open transaction (not yet
/// visible to pgward's catalog connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTable {
    pub schema: Option<String>,
    pub name: String,
    pub columns: Vec<String>,
}

pub struct Evaluation<'a> {
    pub snapshot: &'a Snapshot,
    pub index: &'a MaskIndex,
    pub masks: &'a ProfileMasks,
    pub profile: &'a str,
    /// Schemas unqualified names resolve to; `None` when unknown.
    pub search_path: Option<&'a [String]>,
    /// Tables created earlier in the session's open transaction.
    pub new_tables: &'a [NewTable],
    /// Relations created through pgward by DDL that could bring no masked
    /// data, when the snapshot is current (`None` otherwise).
    pub clear_names: Option<&'a crate::catalog::clear_names::ClearNames>,
}

impl Evaluation<'_> {
    fn deny(
        &self,
        st: &Statement,
        i: usize,
        rule: &str,
        message: String,
        hint: &str,
    ) -> Box<Denial> {
        Box::new(Denial {
            profile: self.profile.to_owned(),
            rule: rule.to_owned(),
            statement: i,
            command: st.command_tag.to_owned(),
            object: None,
            message,
            hint: Some(hint.to_owned()),
            unqualified: false,
        })
    }

    /// Decides the masking of a request. `prepared` resolves SQL-level
    /// `EXECUTE name` to what `PREPARE name` stored.
    pub fn evaluate(
        &self,
        analysis: &Analysis,
        prepared: &dyn Fn(&str) -> Option<SharedAnalysis>,
    ) -> Result<StatementMasking, Box<Denial>> {
        let mut out = StatementMasking::default();
        let mut new_tables: Vec<NewTable> = self.new_tables.to_vec();
        let mut unresolved = false;
        let mut all_clear = true;
        for st in &analysis.statements {
            for o in &st.objects {
                if o.naming != crate::sql::Naming::Existing
                    || is_system_relation(o.schema.as_deref(), &o.name)
                    || !self
                        .snapshot
                        .resolve(o.schema.as_deref(), &o.name, self.search_path)
                        .is_empty()
                {
                    continue;
                }
                unresolved = true;
                if self
                    .clear_names
                    .is_some_and(|c| c.contains(o.schema.as_deref(), &o.name, self.search_path))
                {
                    continue;
                }
                let clear = new_tables.iter().any(|t| {
                    t.name == o.name
                        && (o.schema.is_none() || t.schema.is_none() || o.schema == t.schema)
                        && !t.columns.iter().any(|c| self.masks.could_mask(&t.name, c))
                });
                let name = (o.schema.clone(), o.name.clone());
                if !clear && !out.unplaced.contains(&name) {
                    out.unplaced.push(name);
                }
                all_clear &= clear;
            }
            if let (Some(cols), Some(o)) = (&st.created_columns, st.objects.first()) {
                new_tables.push(NewTable {
                    schema: o.schema.clone(),
                    name: o.name.clone(),
                    columns: cols.clone(),
                });
            }
        }
        if !unresolved {
            out.placement = Placement::Snapshot;
        }
        if unresolved {
            if all_clear {
                out.unknown = UnknownRelations::Clear;
            } else {
                // What an unknown relation holds, or computes, is unknown.
                out.derived = true;
            }
        }
        if self.index.is_empty() && (!unresolved || all_clear) {
            // No column this request can read is masked: nothing to mask,
            // and nothing for code or writes to leak. A relation a result
            // names that the snapshot lacks was created since (or created
            // again under a name it has): by DDL through pgward that could
            // bring no masked data (DDL that could makes the snapshot
            // stale, and names it unknown to the request), or outside
            // pgward, which the snapshot shows once refreshed.
            out.unknown = UnknownRelations::Clear;
            return Ok(out);
        }
        for (i, st) in analysis.statements.iter().enumerate() {
            if let Some(name) = &st.executes {
                match prepared(name).as_deref() {
                    Some(Ok(p)) => {
                        let inner = self.evaluate(p, &|_| None)?;
                        out.merge(inner);
                    }
                    _ => {
                        out.derived = true;
                        out.scrub_messages = true;
                    }
                }
            }
            self.statement(st, i, &mut out)?;
        }
        Ok(out)
    }

    fn relations(&self, st: &Statement) -> Vec<&Arc<Relation>> {
        st.objects
            .iter()
            .flat_map(|o| {
                self.snapshot
                    .resolve(o.schema.as_deref(), &o.name, self.search_path)
            })
            .collect()
    }

    fn statement(
        &self,
        st: &Statement,
        i: usize,
        out: &mut StatementMasking,
    ) -> Result<(), Box<Denial>> {
        let rels = self.relations(st);
        let masked: Vec<&Arc<Relation>> = rels
            .iter()
            .copied()
            .filter(|r| self.index.is_masked_relation(r.oid))
            .collect();
        let names: BTreeSet<&str> = masked
            .iter()
            .filter_map(|r| self.index.masked_names(r.oid))
            .flatten()
            .map(String::as_str)
            .collect();
        let touches = !masked.is_empty();
        let lineage = &st.lineage;
        let hit = |set: &BTreeSet<String>| -> Vec<String> {
            set.iter()
                .filter(|n| names.contains(n.as_str()))
                .cloned()
                .collect()
        };
        // A bare result name that is no column of the relations read is a
        // whole row (`SELECT t FROM t`) or a column of a subquery or CTE.
        let bare_non_column = lineage.outputs.as_ref().is_some_and(|outs| {
            outs.iter().any(|o| match o {
                Output::Column { name, .. } => !rels
                    .iter()
                    .any(|r| r.columns.iter().any(|c| &c.name == name)),
                _ => false,
            })
        });
        let whole_row =
            touches && (!lineage.whole_rows.is_empty() || lineage.nested_star || bare_non_column);
        let derived_hits = hit(&lineage.derived);
        let derived_from_masked = !derived_hits.is_empty() || whole_row;
        let opaque_call = st
            .functions
            .iter()
            .any(|f| super::opaque::runs_unseen_code(self.snapshot, f));
        for r in &masked {
            for n in self.index.masked_names(r.oid).into_iter().flatten() {
                if st.referenced_columns.contains(n) || lineage.derived.contains(n) {
                    out.masked_columns
                        .insert(Arc::from(format!("{}.{}.{}", r.schema, r.name, n)));
                }
            }
        }

        // Code pgward cannot see into is refused only where there is masked
        // data for it to read: a database none of whose columns is masked
        // has nothing such code could leak.
        if (st.has(Effect::Code) || OPAQUE_CODE.contains(&st.kind.as_str()))
            && !self.index.is_empty()
        {
            return Err(self.deny(
                st,
                i,
                "masking-code",
                format!(
                    "permission denied by pgward policy: profile \"{}\" has masked columns and may not run code pgward cannot see into ({})",
                    self.profile, st.command_tag
                ),
                "masked columns are only guaranteed masked for statements pgward can analyse",
            ));
        }
        if let Some(r) = st
            .objects
            .iter()
            .filter(|o| o.access == Access::Ddl)
            .flat_map(|o| {
                self.snapshot
                    .resolve(o.schema.as_deref(), &o.name, self.search_path)
            })
            .find(|r| self.index.is_masked_relation(r.oid))
        {
            return Err(self.deny(
                st,
                i,
                "masking-ddl",
                format!(
                    "permission denied by pgward policy: profile \"{}\" may not change the definition of {}.{}, which has masked columns",
                    self.profile, r.schema, r.name
                ),
                "renaming or moving a masked column or table would unmask it; ask an exempt profile",
            ));
        }
        if let Some(flow) = &lineage.writes_from {
            let hits = hit(&flow.names);
            if !hits.is_empty() || (flow.whole_row && touches) {
                let what = if hits.is_empty() {
                    "whole rows of a table with masked columns".to_owned()
                } else {
                    format!("masked column {}", hits.join(", "))
                };
                return Err(self.deny(
                    st,
                    i,
                    "masking-copy",
                    format!(
                        "permission denied by pgward policy: profile \"{}\" may not write {what} somewhere else ({})",
                        self.profile, st.command_tag
                    ),
                    "a copy of masked data would not be masked; select the columns you need instead",
                ));
            }
        }
        let referenced_hits = hit(&st.referenced_columns);
        let stores_values = SIDE_CHANNELS.iter().any(|e| st.has(*e))
            || st.functions.iter().any(|f| {
                f.name == "set_config" && f.schema.as_deref().is_none_or(|s| s == "pg_catalog")
            });
        if (derived_from_masked || !referenced_hits.is_empty()) && stores_values {
            return Err(self.deny(
                st,
                i,
                "masking-side-channel",
                format!(
                    "permission denied by pgward policy: profile \"{}\" may not pass masked columns to settings, notifications, large objects, files or volatile functions",
                    self.profile
                ),
                "such values would leave the server without being masked",
            ));
        }
        let derived = derived_from_masked || opaque_call;
        if derived_from_masked && self.masks.derived == DerivedMode::Deny {
            return Err(self.deny(
                st,
                i,
                "masking-derived",
                format!(
                    "permission denied by pgward policy: profile \"{}\" may not compute values from masked columns ({})",
                    self.profile,
                    if derived_hits.is_empty() { "whole-row reference".to_owned() } else { derived_hits.join(", ") }
                ),
                "select masked columns directly (they come back masked) or leave them out",
            ));
        }
        out.derived |= derived;
        out.scrub_messages |= touches || opaque_call || derived;
        let is_fetch = matches!(st.kind.as_str(), "FetchStmt");
        out.fetches |= is_fetch;
        out.taints_cursors |= derived && (st.kind == "DeclareCursorStmt" || opaque_call);
        if let Some(c) = &lineage.copy_to {
            if c.to_stdout {
                let plan = self.copy_plan(c, st, &masked, &names, derived, i)?;
                out.add_copy(plan);
            }
        }
        Ok(())
    }

    fn copy_plan(
        &self,
        c: &CopyTo,
        st: &Statement,
        masked: &[&Arc<Relation>],
        names: &BTreeSet<&str>,
        derived: bool,
        i: usize,
    ) -> Result<CopyPlan, Box<Denial>> {
        let o = &c.options;
        let single = |v: &Option<String>, default: u8, what: &str| -> Result<u8, Box<Denial>> {
            match v.as_deref() {
                None => Ok(default),
                Some(s) if s.len() == 1 => Ok(s.as_bytes()[0]),
                Some(_) => Err(self.deny(
                    st,
                    i,
                    "masking-copy-options",
                    format!("pgward cannot mask a COPY whose {what} is not a single byte"),
                    "use a single-byte delimiter, quote and escape",
                )),
            }
        };
        let (delimiter, null) = match o.format {
            CopyFormatKind::Csv => (
                single(&o.delimiter, b',', "delimiter")?,
                o.null.clone().unwrap_or_default(),
            ),
            _ => (
                single(&o.delimiter, b'\t', "delimiter")?,
                o.null.clone().unwrap_or_else(|| "\\N".into()),
            ),
        };
        let quote = single(&o.quote, b'"', "quote")?;
        let escape = single(&o.escape, quote, "escape")?;
        let columns = match &c.source {
            CopySource::Relation {
                schema,
                name,
                columns,
            } => {
                let found = self
                    .snapshot
                    .resolve(schema.as_deref(), name, self.search_path);
                match found.as_slice() {
                    [rel] => {
                        let cols: Option<Vec<_>> = if columns.is_empty() {
                            Some(rel.columns.iter().collect())
                        } else {
                            columns
                                .iter()
                                .map(|n| rel.columns.iter().find(|c| &c.name == n))
                                .collect()
                        };
                        match cols {
                            Some(cols) => CopyColumns::Each(
                                cols.into_iter()
                                    .map(|col| self.copy_column(rel, col))
                                    .collect(),
                            ),
                            None => CopyColumns::All,
                        }
                    }
                    // Not found (the server will say so) or ambiguous: trace nothing.
                    _ if found.iter().all(|r| !self.index.is_masked_relation(r.oid))
                        && !found.is_empty() =>
                    {
                        CopyColumns::Each(Vec::new())
                    }
                    _ => CopyColumns::All,
                }
            }
            CopySource::Query => match &st.lineage.outputs {
                Some(outs) => {
                    let mut cols = Vec::with_capacity(outs.len());
                    let mut traced = true;
                    for out in outs {
                        match out {
                            Output::Column { name, .. } => cols.push(
                                names
                                    .contains(name.as_str())
                                    .then(|| self.column_mask(masked, name))
                                    .flatten()
                                    .or_else(|| {
                                        names.contains(name.as_str()).then(|| CopyColumn {
                                            function: Arc::new(MaskFn::Redact),
                                            type_oid: 0,
                                        })
                                    }),
                            ),
                            Output::Star { .. } => {
                                let rels = self.relations(st);
                                match rels.as_slice() {
                                    [rel] => cols.extend(
                                        rel.columns.iter().map(|col| self.copy_column(rel, col)),
                                    ),
                                    _ if masked.is_empty() => {}
                                    _ => traced = false,
                                }
                            }
                            Output::Derived {
                                names: used,
                                whole_row,
                            } => {
                                let hit = used.iter().any(|n| names.contains(n.as_str()))
                                    || (*whole_row && !masked.is_empty())
                                    || derived;
                                cols.push(hit.then(|| CopyColumn {
                                    function: Arc::new(MaskFn::Null),
                                    type_oid: 0,
                                }));
                            }
                        }
                    }
                    if traced {
                        CopyColumns::Each(cols)
                    } else {
                        CopyColumns::All
                    }
                }
                None if masked.is_empty() && !derived => CopyColumns::Each(Vec::new()),
                None => CopyColumns::All,
            },
        };
        Ok(CopyPlan {
            kind: o.format.clone(),
            delimiter,
            null: null.into_bytes(),
            quote,
            escape,
            header: o.header,
            columns,
        })
    }

    /// How a table column is masked in a COPY stream, if it is.
    fn copy_column(&self, rel: &Relation, col: &crate::catalog::Column) -> Option<CopyColumn> {
        self.index.column(rel.oid, col.attnum).map(|m| CopyColumn {
            function: Arc::clone(&m.function),
            type_oid: col.type_oid.0,
        })
    }

    /// The mask of the masked column `name` among `masked` relations, if one relation has it.
    fn column_mask(&self, masked: &[&Arc<Relation>], name: &str) -> Option<CopyColumn> {
        let mut found = masked.iter().filter_map(|r| {
            let col = r.columns.iter().find(|c| c.name == name)?;
            self.copy_column(r, col)
        });
        match (found.next(), found.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        }
    }
}

impl StatementMasking {
    fn merge(&mut self, other: StatementMasking) {
        self.derived |= other.derived;
        self.scrub_messages |= other.scrub_messages;
        self.taints_cursors |= other.taints_cursors;
        self.fetches |= other.fetches;
        if let Some(plan) = other.copy {
            self.add_copy(plan);
        }
        self.masked_columns.extend(other.masked_columns);
        if other.placement == Placement::Elsewhere {
            self.placement = Placement::Elsewhere;
        }
    }

    /// One request with two COPYs cannot tell which stream is which from
    /// the CopyOutResponse alone: both are then masked whole.
    fn add_copy(&mut self, plan: CopyPlan) {
        self.copy = Some(match self.copy.take() {
            None => plan,
            Some(_) => CopyPlan {
                columns: CopyColumns::All,
                ..plan
            },
        });
    }

    /// Nothing to do for this request's results.
    pub fn is_clear(&self) -> bool {
        !self.derived && !self.scrub_messages && self.copy.is_none() && !self.fetches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    const POLICY: &str = r#"
version: 1
default_profile: analyst
masks:
  - name: ssn
    columns: ["*.ssn"]
    function: { partial: { last: 4 } }
"#;

    fn row(fields: &[&str]) -> Vec<Option<String>> {
        fields.iter().map(|f| Some((*f).to_owned())).collect()
    }

    fn snapshot() -> Snapshot {
        let rels = vec![
            row(&["16400", "public", "customers", "r", "1", "id", "23"]),
            row(&["16400", "public", "customers", "r", "2", "ssn", "25"]),
            row(&["16400", "public", "customers", "r", "3", "email", "25"]),
            row(&["16500", "public", "orders", "r", "1", "id", "23"]),
            row(&["16500", "public", "orders", "r", "2", "note", "25"]),
            row(&["16600", "public", "v", "v", "1", "id", "23"]),
            row(&["16600", "public", "v", "v", "2", "s", "25"]),
        ];
        let views = vec![row(&[
            "16600",
            " SELECT customers.id, upper(customers.ssn) AS s FROM customers;",
        ])];
        let fns = vec![row(&["public", "leak"])];
        Snapshot::from_rows(rels, views, fns, 1).expect("valid rows")
    }

    fn eval(sql: &str) -> Result<StatementMasking, Box<Denial>> {
        let policy = Policy::from_yaml(POLICY, "test").expect("policy");
        let profile = policy.profile("analyst").expect("analyst");
        let snap = snapshot();
        let index = MaskIndex::build(&snap, &profile.masks);
        let path = vec!["pg_catalog".to_owned(), "public".to_owned()];
        let e = Evaluation {
            snapshot: &snap,
            index: &index,
            masks: &profile.masks,
            profile: "analyst",
            search_path: Some(&path),
            new_tables: &[],
            clear_names: None,
        };
        let analysis = crate::sql::analyze(sql).expect("parses");
        e.evaluate(&analysis, &|_| None)
    }

    fn rule(sql: &str) -> String {
        match eval(sql) {
            Err(d) => d.rule,
            Ok(m) => panic!("{sql}: expected a refusal, got {m:?}"),
        }
    }

    #[test]
    fn derived_values_and_plain_reads() {
        let m = eval("select upper(ssn) from customers").expect("allowed");
        assert!(m.derived && m.scrub_messages);
        assert!(m.masked_columns.contains("public.customers.ssn"));
        let m = eval("select id, upper(email) from customers").expect("allowed");
        assert!(!m.derived, "no masked column in an expression");
        assert!(m.scrub_messages, "reads a table with masked columns");
        let m = eval("select row_to_json(c) from customers c").expect("allowed");
        assert!(m.derived, "whole row");
        let m = eval("select c from customers c").expect("allowed");
        assert!(m.derived, "bare whole row");
        let m = eval("select upper(note) from orders").expect("allowed");
        assert!(m.is_clear(), "{m:?}");
        let m = eval("select leak(1)").expect("allowed");
        assert!(m.derived, "user function");
        let m = eval("select query_to_xml('select 1', true, false, '')").expect("allowed");
        assert!(m.derived, "dynamic SQL");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            rule("insert into orders select id, ssn from customers"),
            "masking-copy"
        );
        assert_eq!(
            rule("create table x as select * from customers"),
            "masking-copy"
        );
        assert_eq!(
            rule("alter table customers rename column ssn to x"),
            "masking-ddl"
        );
        assert_eq!(
            rule("select set_config('a.b', ssn, false) from customers"),
            "masking-side-channel"
        );
        assert_eq!(
            rule("select 1 from customers where pg_notify('c', ssn) is null"),
            "masking-side-channel"
        );
        assert_eq!(rule("do $$ begin end $$"), "masking-code");
        assert_eq!(
            rule("create function f() returns int language sql as 'select 1'"),
            "masking-code"
        );
        assert!(eval("update orders set note = 'x' where id = 1").is_ok());
        assert!(eval("alter table orders add column y int").is_ok());
    }

    #[test]
    fn copy_plans() {
        let m = eval("copy customers to stdout").expect("allowed");
        let plan = m.copy.expect("copy plan");
        match plan.columns {
            CopyColumns::Each(cols) => {
                assert_eq!(cols.len(), 3);
                assert!(cols[0].is_none() && cols[2].is_none());
                assert_eq!(cols[1].as_ref().map(|c| c.type_oid), Some(25));
            }
            CopyColumns::All => panic!("traceable"),
        }
        let m = eval("copy (select ssn, id, upper(ssn) from customers) to stdout with (format csv, delimiter '|')")
            .expect("allowed");
        let plan = m.copy.expect("copy plan");
        assert_eq!(plan.delimiter, b'|');
        match plan.columns {
            CopyColumns::Each(cols) => {
                assert_eq!(cols.len(), 3);
                assert!(cols[0].is_some() && cols[1].is_none() && cols[2].is_some());
            }
            CopyColumns::All => panic!("traceable"),
        }
        let m = eval("copy (select * from customers c join orders o on o.id = c.id) to stdout")
            .expect("allowed");
        assert!(matches!(m.copy.map(|p| p.columns), Some(CopyColumns::All)));
        assert_eq!(
            rule("copy customers to stdout with (format csv, delimiter '||')"),
            "masking-copy-options"
        );
        let m = eval("copy orders to stdout; copy customers to stdout").expect("allowed");
        assert!(
            matches!(m.copy.map(|p| p.columns), Some(CopyColumns::All)),
            "two streams in one request are masked whole"
        );
    }

    #[test]
    fn view_columns_follow_their_definition() {
        let policy = Policy::from_yaml(POLICY, "test").expect("policy");
        let profile = policy.profile("analyst").expect("analyst");
        let snap = snapshot();
        let index = MaskIndex::build(&snap, &profile.masks);
        assert!(
            index.column(crate::catalog::Oid(16600), 2).is_some(),
            "v.s = upper(ssn)"
        );
        assert!(
            index.column(crate::catalog::Oid(16600), 1).is_none(),
            "v.id is clear"
        );
        assert!(index.column(crate::catalog::Oid(16400), 2).is_some());
    }
}
