//! The masking plan for the rows now arriving: built from the columns'
//! description, the result formats, the catalog snapshot and the profile's
//! mask index, and kept per prepared statement so a statement executed many
//! times is planned once.

use std::sync::{Arc, Weak};

use super::{Desc, Pending, PortalRows, ResultMasker, StatementInfo, View};
use crate::catalog::{Oid, Snapshot};
use crate::mask::index::{MaskIndex, Provenance};
use crate::mask::row::{ColumnMask, RowPlan};
use crate::mask::statement::StatementMasking;
use crate::mask::{Format, MaskFn};
use crate::session::names::ByName;
use crate::wire::extended::{FieldDesc, ResultFormats};

/// What every kept plan was built against besides its own columns and
/// masking: the catalog snapshot and mask index, compared by identity
/// (held weakly, so an address cannot be reused while the plan is kept),
/// and whether computed columns are masked.
struct BuiltAgainst {
    snapshot: Weak<Snapshot>,
    index: Weak<MaskIndex>,
    derived: bool,
}

impl BuiltAgainst {
    fn new(view: &View<'_>, derived: bool) -> Self {
        BuiltAgainst {
            snapshot: Arc::downgrade(view.snapshot),
            index: Arc::downgrade(view.index),
            derived,
        }
    }

    fn holds(&self, view: &View<'_>, derived: bool) -> bool {
        Weak::as_ptr(&self.snapshot) == Arc::as_ptr(view.snapshot)
            && Weak::as_ptr(&self.index) == Arc::as_ptr(view.index)
            && self.derived == derived
    }
}

/// A prepared statement's plan and everything it was built from besides
/// the statement's masking. The columns are compared by value, since
/// drivers such as libpq have every portal described anew.
pub(super) struct Planned {
    desc: Desc,
    formats: ResultFormats,
    against: BuiltAgainst,
    plan: Plan,
}

impl Planned {
    pub(super) fn fits(
        &self,
        desc: &Desc,
        view: &View<'_>,
        formats: &ResultFormats,
        derived: bool,
    ) -> bool {
        (Arc::ptr_eq(&self.desc, desc) || self.desc == *desc)
            && self.formats == *formats
            && self.against.holds(view, derived)
    }
}

/// How the rows now arriving are masked.
#[derive(Clone)]
pub(super) enum Plan {
    Clear,
    Mask(Arc<RowPlan>),
    /// The columns are not known: every value becomes NULL.
    AllNull,
}

/// The plan last built for the rows of a simple-protocol Query, and what
/// it was built from: a Query's RowDescription comes with every execution,
/// and a client repeating a statement with other constants (the guard then
/// hands out the same masking) would otherwise have it parsed and planned
/// every time. Everything the plan reads is compared: the description's
/// bytes (which carry the formats), the masking by identity (held weakly,
/// as the catalog and index are), and what [`BuiltAgainst`] holds.
pub(super) struct QueryPlanned {
    rows: Box<[u8]>,
    masking: Weak<StatementMasking>,
    against: BuiltAgainst,
    plan: Plan,
}

/// A longer RowDescription is planned at every execution rather than kept,
/// so an idle session holds little.
const KEEP_QUERY_ROWS: usize = 1024;

/// What a statement parsed again under the same name keeps from the
/// one it replaces: drivers that parse every execution into the unnamed
/// statement (libpq's extended protocol, JDBC before its prepare
/// threshold) would otherwise have every RowDescription parsed and
/// every plan built anew. Only with the very same masking (the guard
/// hands out one per decision it remembers): the plan is still checked
/// against the columns, formats, catalog snapshot and mask index before
/// it serves, and the description is kept with the bytes it was parsed
/// from.
pub(super) fn reparsed(
    statements: &mut ByName<StatementInfo>,
    name: &[u8],
    masking: &Arc<StatementMasking>,
) -> (Option<Planned>, Option<PortalRows>) {
    match statements.get_mut(name) {
        Some(old) if Arc::ptr_eq(&old.masking, masking) => {
            (old.planned.take(), old.portal_rows.take())
        }
        _ => (None, None),
    }
}

impl ResultMasker {
    /// The kept plan for a RowDescription answering the Query at the head
    /// of the queue, if it was built from the very same inputs.
    pub(super) fn kept_query_plan(&self, rows: &[u8], view: &View<'_>) -> Option<Plan> {
        let Some(Pending::Query { masking }) = self.pending.front() else {
            return None;
        };
        let kept = self.query_planned.as_ref()?;
        (*kept.rows == *rows
            && Weak::as_ptr(&kept.masking) == Arc::as_ptr(masking)
            && kept.against.holds(view, self.derived(masking)))
        .then(|| kept.plan.clone())
    }

    /// Plans rows described by `rows` (parsed: `desc`) that answer no
    /// Describe; when they answer a Query, the plan is kept for the next
    /// execution.
    pub(super) fn plan_rows(&mut self, view: &View<'_>, rows: &[u8], desc: &Desc) -> Plan {
        let query = matches!(self.pending.front(), Some(Pending::Query { .. }));
        let masking = self.front_masking().unwrap_or_else(super::unknown_masking);
        let (plan, keepable) = self.build_keepable(view, desc, &masking, None);
        if query && keepable && rows.len() <= KEEP_QUERY_ROWS {
            self.query_planned = Some(QueryPlanned {
                rows: rows.into(),
                masking: Arc::downgrade(&masking),
                against: BuiltAgainst::new(view, self.derived(&masking)),
                plan: plan.clone(),
            });
        }
        plan
    }

    /// [`ResultMasker::build`], and whether the plan may be kept: one that
    /// met a relation the catalog lacked is not, since the next execution
    /// must report it again (and see the refreshed catalog).
    fn build_keepable(
        &mut self,
        view: &View<'_>,
        desc: &[FieldDesc],
        masking: &StatementMasking,
        formats: Option<&ResultFormats>,
    ) -> (Plan, bool) {
        let unknown_before = self.saw_unknown;
        self.saw_unknown = false;
        let plan = self.build(view, desc, masking, formats);
        let keepable = !self.saw_unknown;
        self.saw_unknown |= unknown_before;
        (plan, keepable)
    }

    pub(super) fn plan_for_head(&mut self, view: &View<'_>) {
        self.plan = None;
        let Some(Pending::Execute { portal }) = self.pending.front() else {
            return;
        };
        let Some(p) = self.portals.get(portal) else {
            self.plan = Some(Plan::AllNull);
            return;
        };
        let desc = match &p.desc {
            Some(Some(desc)) => Arc::clone(desc),
            Some(None) => {
                self.plan = Some(Plan::Clear);
                return;
            }
            None => {
                self.plan = Some(Plan::AllNull);
                return;
            }
        };
        let derived = self.derived(&p.masking);
        // The statement's plan serves every portal bound from it with the
        // same columns and formats.
        let statement = self
            .statements
            .get(&p.statement)
            .filter(|s| Arc::ptr_eq(&s.masking, &p.masking));
        if let Some(planned) = statement
            .and_then(|s| s.planned.as_ref())
            .filter(|c| c.fits(&desc, view, &p.formats, derived))
        {
            self.plan = Some(planned.plan.clone());
            return;
        }
        let shared = statement.is_some();
        let masking = Arc::clone(&p.masking);
        let formats = p.formats.clone();
        let statement = p.statement.clone();
        let (plan, keepable) = self.build_keepable(view, &desc, &masking, Some(&formats));
        if shared && keepable {
            if let Some(s) = self.statements.get_mut(&statement) {
                s.planned = Some(Planned {
                    desc,
                    formats,
                    against: BuiltAgainst::new(view, derived),
                    plan: plan.clone(),
                });
            }
        }
        self.plan = Some(plan);
    }

    pub(super) fn derived(&self, masking: &StatementMasking) -> bool {
        masking.derived || (masking.fetches && self.cursor_taint)
    }

    pub(super) fn build(
        &mut self,
        view: &View<'_>,
        desc: &[FieldDesc],
        masking: &StatementMasking,
        formats: Option<&ResultFormats>,
    ) -> Plan {
        let derived = self.derived(masking);
        let mut any = false;
        let cols: Vec<Option<ColumnMask>> = desc
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let format = match formats {
                    Some(list) => list.format_for(i),
                    None => f.format,
                };
                let format = if format == 1 {
                    Format::Binary
                } else {
                    Format::Text
                };
                let function = if f.table == 0 {
                    derived.then(|| Arc::clone(&view.index.derived().function))
                } else {
                    match view.index.provenance(view.snapshot, Oid(f.table), f.attnum) {
                        Provenance::Clear => None,
                        Provenance::Masked(m) => Some(Arc::clone(&m.function)),
                        Provenance::Unknown
                            if masking.unknown
                                == crate::mask::statement::UnknownRelations::Clear =>
                        {
                            None
                        }
                        Provenance::Unknown => {
                            tracing::debug!(
                                table = f.table,
                                attnum = f.attnum,
                                generation = view.snapshot.generation,
                                "result column of a relation the catalog snapshot lacks: masked"
                            );
                            self.saw_unknown = true;
                            Some(Arc::new(MaskFn::Redact))
                        }
                    }
                };
                function.map(|func| {
                    any = true;
                    ColumnMask {
                        func,
                        type_oid: f.type_oid,
                        format,
                    }
                })
            })
            .collect();
        if any {
            Plan::Mask(Arc::new(RowPlan::new(cols)))
        } else {
            Plan::Clear
        }
    }
}
