//! What masking means for one client request, decided before any byte of it
//! is forwarded: whether computed result columns must be masked, whether the
//! server's error texts must be withheld, how a COPY TO STDOUT is masked, or
//! that the request must be refused because masked data would be moved
//! somewhere masking no longer covers.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::index::MaskIndex;
use super::MaskFn;
use crate::catalog::{Relation, Snapshot};
use crate::policy::masks::ProfileMasks;
use crate::policy::model::DerivedMode;
use crate::policy::Denial;
use crate::sql::lineage::{CopyFormatKind, CopySource, CopyTo, Output};
use crate::sql::{Access, Analysis, Effect, Statement};

/// Built-in functions that run SQL given as text, which pgward cannot analyse.
const DYNAMIC_SQL_FUNCTIONS: [&str; 10] = [
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "schema_to_xml",
    "database_to_xml",
];

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
}

pub struct Evaluation<'a> {
    pub snapshot: &'a Snapshot,
    pub index: &'a MaskIndex,
    pub masks: &'a ProfileMasks,
    pub profile: &'a str,
    /// Schemas unqualified names resolve to; `None` when unknown.
    pub search_path: Option<&'a [String]>,
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
        })
    }

    /// Decides the masking of a request. `prepared` resolves SQL-level
    /// `EXECUTE name` to what `PREPARE name` stored.
    pub fn evaluate(
        &self,
        analysis: &Analysis,
        prepared: &dyn Fn(&str) -> Option<Arc<Analysis>>,
    ) -> Result<StatementMasking, Box<Denial>> {
        let mut out = StatementMasking::default();
        for (i, st) in analysis.statements.iter().enumerate() {
            if let Some(name) = &st.executes {
                match prepared(name) {
                    Some(p) => {
                        let inner = self.evaluate(&p, &|_| None)?;
                        out.merge(inner);
                    }
                    None => {
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
        let opaque_call = st.functions.iter().any(|f| {
            self.snapshot.is_user_function(f.schema.as_deref(), &f.name)
                || (matches!(f.schema.as_deref(), None | Some("pg_catalog"))
                    && (DYNAMIC_SQL_FUNCTIONS.contains(&f.name.as_str())
                        || f.name.starts_with("dblink")))
        });
        for r in &masked {
            for n in self.index.masked_names(r.oid).into_iter().flatten() {
                if st.referenced_columns.contains(n) || lineage.derived.contains(n) {
                    out.masked_columns
                        .insert(Arc::from(format!("{}.{}.{}", r.schema, r.name, n)));
                }
            }
        }

        if st.has(Effect::Code) || OPAQUE_CODE.contains(&st.kind.as_str()) {
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
                out.copy = Some(self.copy_plan(c, st, &masked, &names, derived, i)?);
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
                                    .map(|col| {
                                        self.index.column(rel.oid, col.attnum).map(|m| CopyColumn {
                                            function: Arc::clone(&m.function),
                                            type_oid: col.type_oid.0,
                                        })
                                    })
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
                                    [rel] => cols.extend(rel.columns.iter().map(|col| {
                                        self.index.column(rel.oid, col.attnum).map(|m| CopyColumn {
                                            function: Arc::clone(&m.function),
                                            type_oid: col.type_oid.0,
                                        })
                                    })),
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

    /// The mask of the masked column `name` among `masked` relations, if one relation has it.
    fn column_mask(&self, masked: &[&Arc<Relation>], name: &str) -> Option<CopyColumn> {
        let mut found = masked.iter().filter_map(|r| {
            let col = r.columns.iter().find(|c| c.name == name)?;
            let m = self.index.column(r.oid, col.attnum)?;
            Some(CopyColumn {
                function: Arc::clone(&m.function),
                type_oid: col.type_oid.0,
            })
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
        if other.copy.is_some() {
            self.copy = other.copy;
        }
        self.masked_columns.extend(other.masked_columns);
    }

    /// Nothing to do for this request's results.
    pub fn is_clear(&self) -> bool {
        !self.derived && !self.scrub_messages && self.copy.is_none() && !self.fetches
    }
}
