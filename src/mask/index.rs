//! One profile's masks applied to one catalog snapshot: which (relation,
//! attribute) pairs are masked and with what, including view columns traced
//! back to the masked base columns they show. Built once per snapshot and
//! profile, then only looked up.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::MaskFn;
use crate::catalog::{Oid, RelKind, Relation, Snapshot};
use crate::policy::masks::ProfileMasks;
use crate::sql::lineage::Output;

/// Why a column is masked.
#[derive(Clone, Debug)]
pub struct MaskedColumn {
    /// The policy rule, or `derived` for values computed from masked columns.
    pub rule: Arc<str>,
    pub function: Arc<MaskFn>,
    /// `schema.table.column` of the masked column.
    pub column: Arc<str>,
}

/// What the index says about a RowDescription field.
#[derive(Clone, Debug)]
pub enum Provenance<'a> {
    Clear,
    Masked(&'a MaskedColumn),
    /// A user relation or column the snapshot does not have: created or
    /// changed since it was loaded, or not yet committed.
    Unknown,
}

/// The rule name recorded for values masked because they derive from masked columns.
pub const DERIVED_RULE: &str = "derived";

#[derive(Debug)]
pub struct MaskIndex {
    columns: HashMap<(Oid, i16), MaskedColumn>,
    /// Relations with at least one masked column.
    masked_relations: HashSet<Oid>,
    /// Per relation, the names of its masked columns.
    masked_names: HashMap<Oid, BTreeSet<String>>,
    /// `snapshot.generation` this index was built from.
    pub generation: u64,
    derived: Arc<MaskedColumn>,
}

/// Warns, once per column and rule in this process, that a mask maps
/// distinct values of a unique column to one value: a masked copy of the
/// table (pg_dump, restored elsewhere) would fail its unique index.
fn warn_collapsing(rel: &Relation, column: &str, rule: &str) {
    static WARNED: std::sync::Mutex<Option<HashSet<String>>> = std::sync::Mutex::new(None);
    let key = format!("{}.{}.{} {}", rel.schema, rel.name, column, rule);
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned.get_or_insert_with(HashSet::new).insert(key) {
        tracing::warn!(
            table = %format!("{}.{}", rel.schema, rel.name),
            column,
            mask = rule,
            "mask on a unique or primary-key column maps distinct values to one: \
             masked copies of this table will not restore; use the hash mask to keep values distinct"
        );
    }
}

impl MaskIndex {
    pub fn build(snapshot: &Snapshot, masks: &ProfileMasks) -> MaskIndex {
        let derived = Arc::new(MaskedColumn {
            rule: Arc::from(DERIVED_RULE),
            function: Arc::new(MaskFn::Redact),
            column: Arc::from(""),
        });
        let mut idx = MaskIndex {
            columns: HashMap::new(),
            masked_relations: HashSet::new(),
            masked_names: HashMap::new(),
            generation: snapshot.generation,
            derived,
        };
        if masks.is_empty() {
            return idx;
        }
        let mut views: Vec<&Arc<Relation>> = Vec::new();
        for rel in snapshot.relations() {
            if matches!(rel.kind, RelKind::View | RelKind::MaterializedView) {
                views.push(rel);
            }
            // Rules name columns of views too: a view column matching a glob
            // is masked like a table column.
            for col in &rel.columns {
                if let Some(rule) = masks.rule_for(&rel.schema, &rel.name, &col.name) {
                    if col.unique && !rule.function.keeps_distinct() {
                        warn_collapsing(rel, &col.name, &rule.name);
                    }
                    idx.insert(
                        rel,
                        col.attnum,
                        &col.name,
                        MaskedColumn {
                            rule: Arc::from(rule.name.as_str()),
                            function: Arc::clone(&rule.function),
                            column: Arc::from(format!("{}.{}.{}", rel.schema, rel.name, col.name)),
                        },
                    );
                }
            }
        }
        // Views over views: repeat until nothing changes (bounded by the
        // number of views, as each round masks at least one more column).
        for _ in 0..=views.len() {
            let mut changed = false;
            for view in &views {
                changed |= idx.trace_view(snapshot, view);
            }
            if !changed {
                break;
            }
        }
        idx
    }

    fn insert(&mut self, rel: &Relation, attnum: i16, name: &str, mask: MaskedColumn) {
        self.masked_relations.insert(rel.oid);
        self.masked_names
            .entry(rel.oid)
            .or_default()
            .insert(name.to_owned());
        self.columns.insert((rel.oid, attnum), mask);
    }

    /// Masks the view columns that show masked base columns. A view whose
    /// definition cannot be analysed, or whose outputs cannot be lined up with
    /// its columns, is masked whole if it reads any masked relation.
    fn trace_view(&mut self, snapshot: &Snapshot, view: &Relation) -> bool {
        let mut changed = false;
        let analysis = view
            .definition
            .as_deref()
            .and_then(|d| crate::sql::analyze(d).ok());
        let statement = analysis.as_ref().and_then(|a| a.statements.first());
        let reads: Vec<Oid> = match statement {
            Some(st) => st
                .objects
                .iter()
                .flat_map(|o| snapshot.resolve(o.schema.as_deref(), &o.name, None))
                .map(|r| r.oid)
                .collect(),
            // No definition (or none pgward can analyse): what the view's
            // rule depends on, as pg_depend records it.
            None => view.depends_on.clone(),
        };
        let reads_masked = reads.iter().any(|o| self.masked_relations.contains(o));
        // A user function (or SQL run from text) in the definition can read
        // masked columns the view names nowhere; where some column is
        // masked, what does not come straight from a relation it reads is
        // treated as computed from masked data.
        let code_reads_masked = !self.columns.is_empty()
            && statement.is_some_and(|st| {
                st.functions
                    .iter()
                    .any(|f| super::opaque::runs_unseen_code(snapshot, f))
            });
        let outputs = statement.and_then(|st| {
            let outs = st.lineage.outputs.as_ref()?;
            (outs.len() == view.columns.len()
                && !outs.iter().any(|o| matches!(o, Output::Star { .. })))
            .then_some((outs, st))
        });
        let Some((outputs, st)) = outputs else {
            // Not lined up (or no definition): whole, if it can show
            // anything masked at all.
            if reads_masked || code_reads_masked {
                for col in &view.columns {
                    changed |= self.mask_view_column(view, col.attnum, &col.name, None);
                }
            }
            return changed;
        };
        let masked_in_reads: BTreeSet<String> = reads
            .iter()
            .filter_map(|o| self.masked_names.get(o))
            .flatten()
            .cloned()
            .collect();
        let whole_rows =
            reads_masked && (!st.lineage.whole_rows.is_empty() || st.lineage.nested_star);
        // A bare name no relation read has comes from a function in FROM.
        let from_reads = |name: &str| {
            reads.iter().any(|o| {
                snapshot
                    .relation(*o)
                    .is_some_and(|r| r.columns.iter().any(|c| c.name == name))
            })
        };
        for (col, out) in view.columns.iter().zip(outputs) {
            let mask = match out {
                Output::Column { name, .. } if code_reads_masked && !from_reads(name) => Some(None),
                Output::Derived { .. } if code_reads_masked => Some(None),
                Output::Column { name, .. } if masked_in_reads.contains(name) => {
                    // The base column's own mask when exactly one read relation has it.
                    let mut found = reads.iter().filter_map(|o| {
                        let rel = snapshot.relation(*o)?;
                        let c = rel.columns.iter().find(|c| &c.name == name)?;
                        self.columns.get(&(rel.oid, c.attnum)).cloned()
                    });
                    match (found.next(), found.next()) {
                        (Some(m), None) => Some(Some(m)),
                        _ => Some(None),
                    }
                }
                Output::Column { .. } => None,
                Output::Derived { names, whole_row } => {
                    (names.iter().any(|n| masked_in_reads.contains(n))
                        || (*whole_row && reads_masked)
                        || whole_rows)
                        .then_some(None)
                }
                Output::Star { .. } => reads_masked.then_some(None),
            };
            if let Some(m) = mask {
                changed |= self.mask_view_column(view, col.attnum, &col.name, m);
            }
        }
        changed
    }

    fn mask_view_column(
        &mut self,
        view: &Relation,
        attnum: i16,
        name: &str,
        mask: Option<MaskedColumn>,
    ) -> bool {
        if self.columns.contains_key(&(view.oid, attnum)) {
            return false;
        }
        let mask = mask.unwrap_or_else(|| MaskedColumn {
            rule: Arc::from(DERIVED_RULE),
            function: Arc::new(MaskFn::Redact),
            column: Arc::from(format!("{}.{}.{}", view.schema, view.name, name)),
        });
        self.insert(view, attnum, name, mask);
        true
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Looks up a RowDescription field's source column.
    pub fn provenance(&self, snapshot: &Snapshot, table: Oid, attnum: i16) -> Provenance<'_> {
        if let Some(m) = self.columns.get(&(table, attnum)) {
            return Provenance::Masked(m);
        }
        if table.is_system() {
            return Provenance::Clear;
        }
        // Attribute 0 is the whole row (`SELECT t FROM t`): it carries every
        // column, masked ones included.
        if attnum == 0 && self.masked_relations.contains(&table) {
            return Provenance::Masked(&self.derived);
        }
        match snapshot.relation(table) {
            Some(rel) if attnum <= 0 || rel.column(attnum).is_some() => Provenance::Clear,
            _ => Provenance::Unknown,
        }
    }

    pub fn is_masked_relation(&self, oid: Oid) -> bool {
        self.masked_relations.contains(&oid)
    }

    pub fn masked_names(&self, oid: Oid) -> Option<&BTreeSet<String>> {
        self.masked_names.get(&oid)
    }

    pub fn column(&self, oid: Oid, attnum: i16) -> Option<&MaskedColumn> {
        self.columns.get(&(oid, attnum))
    }

    /// The mask for values computed from masked columns.
    pub fn derived(&self) -> &MaskedColumn {
        &self.derived
    }
}
