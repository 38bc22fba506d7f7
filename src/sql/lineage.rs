//! Column lineage: which column names can reach a statement's result, or the
//! data it writes, through expressions.
//!
//! Masking at the wire works from provenance: RowDescription names the table
//! and column of every plain output column. A masked column that reaches the
//! client any other way (inside an expression, through a subquery, a CTE, a
//! set operation, a table function, a whole-row reference, a COPY to a file)
//! carries no provenance, so the session needs to know, before running the
//! statement, which column names could feed such values.
//!
//! The summary is computed from the raw parse tree only, so it cannot tell a
//! column from a same-named one of another relation, a whole-row reference
//! from a column, or what a function body does. It therefore
//! over-approximates: a name that may flow is reported, and a shape it cannot
//! follow sets a conservative flag ([`Lineage::nested_star`]). An extra name
//! only over-masks; a missing one would leak.
//!
//! Not covered (the session must handle these by other means): the bodies of
//! functions, procedures, rules, triggers and views (a view's own lineage is
//! computed from `pg_get_viewdef` text with [`view_lineage`]); the statement a
//! prepared name stands for in `EXECUTE` (see `Statement::executes`); and
//! inference from predicates (a WHERE clause reveals nothing here, although a
//! client can learn about a column by filtering on it).

use std::borrow::Cow;
use std::collections::BTreeSet;

use pg_query::protobuf::{self, node::Node as N};
use pg_query::NodeRef;

use super::effects::{self, ArgRule};
use super::error::ParseFailure;
use super::names::{self, positional_arg};
use super::options::{ParseOptions, MAX_SQL_NESTING};
use super::walk;

/// Where the columns a statement reads can flow, as column names.
///
/// Names are the last field of a column reference as the parser gives it
/// (unquoted names lower-cased, quoted ones exact). The session matches them
/// against the masked column names of every relation the statement reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Lineage {
    /// Names of columns whose values can reach the result through an
    /// expression: every column reference inside a select-list or RETURNING
    /// expression (sublinks, CASE conditions, FILTER, aggregate ORDER BY and
    /// window clauses included), every column reference in the select list
    /// of a nested query (CTE, FROM subquery, set-operation arm, sublink
    /// anywhere, LATERAL, INSERT source), VALUES lists, the arguments of
    /// functions in FROM, and the expressions of UPDATE SET, ON CONFLICT DO
    /// UPDATE and MERGE actions. A top-level entry that is a bare column
    /// reference is left out (the wire masks it by provenance), except in
    /// set operations, whose arms all count as nested.
    pub derived: BTreeSet<String>,
    /// Names that may be whole-row references: single-field column
    /// references and qualified stars anywhere except bare top-level
    /// entries, `t.f` where `f` is a built-in function that exposes a row's
    /// contents (`t.row_to_json` is `row_to_json(t)`), and the tables read
    /// by `table_to_xml`-style functions — each kept only if it is the name
    /// or alias of a range variable (relation, subquery, CTE, function,
    /// join, RETURNING old/new) of the statement. A bare top-level `t` that
    /// names a range variable is included too: the wire reports it as a
    /// composite value without provenance.
    pub whole_rows: BTreeSet<String>,
    /// Every column of some relation may flow onward under a name not seen
    /// here: an unqualified `*` in a nested select list, a column alias list
    /// on a table or join (`customers AS x(a, b)`), or SQL text executed by
    /// a function that could not be followed.
    pub nested_star: bool,
    /// The top-level result columns in order (also for a RETURNING list),
    /// for positional masking of `COPY (query) TO STDOUT`, cursors and
    /// prepared statements. `None` for set operations, statements that
    /// return no rows (SELECT INTO, CREATE TABLE AS, DML without RETURNING)
    /// and EXPLAIN, whose result is the plan.
    pub outputs: Option<Vec<Output>>,
    /// What the statement writes into a table or file from what it reads:
    /// INSERT, UPDATE, MERGE, CREATE TABLE AS, SELECT INTO, CREATE
    /// MATERIALIZED VIEW, COPY ... TO a file or program, and any statement
    /// with a data-modifying CTE. `None` when it writes nothing derived from
    /// its reads.
    pub writes_from: Option<Flow>,
    /// For COPY ... TO (STDOUT, a file or a program): what is copied and how.
    pub copy_to: Option<CopyTo>,
}

/// One top-level result column.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Output {
    /// A bare column reference (`ssn`, `c.ssn`): the wire knows its origin.
    Column {
        qualifier: Option<String>,
        name: String,
    },
    /// `*` or `c.*`: expands to columns whose origin the wire knows.
    Star { qualifier: Option<String> },
    /// Any other expression, with the column names it reads and whether a
    /// whole row (or star) feeds it.
    Derived {
        names: BTreeSet<String>,
        whole_row: bool,
    },
}

/// Data written by a statement: the column names it is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Flow {
    pub names: BTreeSet<String>,
    /// A star or a whole-row reference feeds the write: any column may.
    pub whole_row: bool,
}

/// A COPY that sends data out of the server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CopyTo {
    pub source: CopySource,
    /// `TO STDOUT`; otherwise the server writes a file or feeds a program.
    pub to_stdout: bool,
    pub options: CopyOptions,
}

/// What a COPY ... TO copies.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum CopySource {
    /// `COPY table [(columns)] TO`: `columns` is empty when all are copied.
    Relation {
        schema: Option<String>,
        name: String,
        columns: Vec<String>,
    },
    /// `COPY (query) TO`: the query's [`Lineage::outputs`] give the columns.
    Query,
}

/// The options that decide how a COPY stream is laid out, which a masker
/// must know to find the fields of each row.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyOptions {
    pub format: CopyFormatKind,
    pub delimiter: Option<String>,
    pub null: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    /// ENCODING: the stream is converted to it, so field boundaries must be
    /// found in that encoding.
    pub encoding: Option<String>,
    /// HEADER given as true, on, 1 or match (or without a value).
    pub header: bool,
}

/// COPY's FORMAT option.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub enum CopyFormatKind {
    #[default]
    Text,
    Csv,
    Binary,
    /// A format this code does not know (the parser accepts any word; a
    /// newer server might too): a masker must refuse it.
    Other(String),
}

/// The lineage of one parsed statement.
pub(crate) fn statement_lineage(node: NodeRef<'_>, options: ParseOptions) -> Lineage {
    let mut c = Collector::new(options);
    let pending = c.top(node);
    c.finish(pending)
}

/// The lineage of a view's query, given its text as `pg_get_viewdef` returns
/// it: [`Lineage::outputs`] maps each view column (by position) to the names
/// it derives from, so the session can treat a view column built from a
/// masked base column as masked.
///
/// The text is read with `standard_conforming_strings = on`, as the
/// server writes it under that (default) setting. Fails unless the text is
/// exactly one query (SELECT, VALUES, a set operation).
pub fn view_lineage(sql: &str) -> Result<Lineage, ParseFailure> {
    // Catalog text is trusted more than client text, but the parser is the
    // same C code: a panic must not take the session down.
    std::panic::catch_unwind(|| {
        let parsed = pg_query::parse(sql, ParseOptions::default().parser_options())?;
        let mut stmts = parsed
            .protobuf
            .stmts
            .iter()
            .filter_map(|raw| raw.stmt.as_ref().and_then(|n| n.node.as_ref()));
        match (stmts.next(), stmts.next()) {
            (Some(node @ N::SelectStmt(_)), None) => {
                Ok(statement_lineage(node.to_ref(), ParseOptions::default()))
            }
            _ => Err(ParseFailure::new(
                "a view definition must be a single query",
            )),
        }
    })
    .unwrap_or_else(|_| Err(ParseFailure::new("internal error while analysing SQL")))
}

/// Built-in functions that, called with a row as their only argument,
/// return its contents (or a value computed from all of it). PostgreSQL
/// accepts them in attribute notation: `t.row_to_json` is `row_to_json(t)`.
/// From pg_proc: one-argument functions over record, anyelement, "any" and
/// the other polymorphic types.
const ROW_FUNCTIONS: &[&str] = &[
    "any_out",
    "any_value",
    "anycompatible_out",
    "anycompatiblenonarray_out",
    "anyelement_out",
    "anynonarray_out",
    "array_agg",
    "concat",
    "first_value",
    "hash_record",
    "hstore",
    "json_agg",
    "json_agg_strict",
    "json_build_array",
    "json_build_object",
    "jsonb_agg",
    "jsonb_agg_strict",
    "jsonb_build_array",
    "jsonb_build_object",
    "lag",
    "last_value",
    "lead",
    "max",
    "min",
    "mode",
    "quote_literal",
    "quote_nullable",
    "record_out",
    "record_send",
    "row_to_json",
    "to_json",
    "to_jsonb",
];

fn is_row_function(name: &str) -> bool {
    ROW_FUNCTIONS.contains(&name)
}

/// How column references met while walking are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Inside an expression whose value flows onward: every column
    /// reference is a derived name.
    Value,
    /// Structure around the values (FROM items, WHERE, GROUP BY, ...):
    /// only nested queries and whole-row candidates are collected.
    Structure,
}

/// Whether a query's select list is the statement's own result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Top,
    Nested,
}

/// A name borrowed from the parse tree (owned only for names found in SQL
/// text run by a function), so the walk allocates little.
type Name<'a> = Cow<'a, str>;

/// Names feeding one sink (an output column or the written data).
#[derive(Debug, Default)]
struct Acc<'a> {
    names: BTreeSet<Name<'a>>,
    /// Possible whole-row names, resolved against the range variables once
    /// the whole statement has been seen.
    candidates: Vec<Name<'a>>,
    star: bool,
}

fn owned(names: BTreeSet<Name<'_>>) -> BTreeSet<String> {
    names.into_iter().map(Cow::into_owned).collect()
}

/// An output column whose whole-row status is settled at the end.
#[derive(Debug)]
enum Pending<'a> {
    Column {
        qualifier: Option<&'a str>,
        name: &'a str,
    },
    Star {
        qualifier: Option<&'a str>,
    },
    /// A bare single-field reference: a column, or a whole row if it names a
    /// range variable.
    Single(&'a str),
    Derived(Acc<'a>),
}

struct Collector<'a> {
    options: ParseOptions,
    depth: u8,
    derived: BTreeSet<Name<'a>>,
    candidates: Vec<Name<'a>>,
    range_names: BTreeSet<Name<'a>>,
    nested_star: bool,
    /// The data being walked is written somewhere (see `write`).
    writing: bool,
    write: Option<Acc<'a>>,
    /// The top-level output column being collected, if any.
    output: Option<Acc<'a>>,
    copy_to: Option<CopyTo>,
}

impl<'a> Collector<'a> {
    fn new(options: ParseOptions) -> Self {
        Collector {
            options,
            depth: 0,
            derived: BTreeSet::new(),
            candidates: Vec::new(),
            range_names: BTreeSet::new(),
            nested_star: false,
            writing: false,
            write: None,
            output: None,
            copy_to: None,
        }
    }

    fn finish(self, pending: Option<Vec<Pending<'a>>>) -> Lineage {
        let Collector {
            derived,
            candidates,
            range_names,
            nested_star,
            write,
            copy_to,
            ..
        } = self;
        let is_range = |n: &Name<'a>| range_names.contains(n);
        let whole_rows = candidates
            .into_iter()
            .filter(is_range)
            .map(Cow::into_owned)
            .collect();
        let outputs = pending.map(|list| {
            list.into_iter()
                .map(|p| match p {
                    Pending::Column { qualifier, name } => Output::Column {
                        qualifier: qualifier.map(str::to_string),
                        name: name.to_string(),
                    },
                    Pending::Star { qualifier } => Output::Star {
                        qualifier: qualifier.map(str::to_string),
                    },
                    Pending::Single(name) if range_names.contains(name) => Output::Derived {
                        names: BTreeSet::from([name.to_string()]),
                        whole_row: true,
                    },
                    Pending::Single(name) => Output::Column {
                        qualifier: None,
                        name: name.to_string(),
                    },
                    Pending::Derived(acc) => Output::Derived {
                        whole_row: acc.star || acc.candidates.iter().any(is_range),
                        names: owned(acc.names),
                    },
                })
                .collect()
        });
        let writes_from = write.map(|acc| Flow {
            whole_row: acc.star || acc.candidates.iter().any(is_range),
            names: owned(acc.names),
        });
        Lineage {
            derived: owned(derived),
            whole_rows,
            nested_star,
            outputs,
            writes_from,
            copy_to,
        }
    }

    // ---------------------------------------------------------------- records

    /// A column name whose value flows onward.
    fn name(&mut self, name: Name<'a>) {
        if self.writing {
            if let Some(w) = &mut self.write {
                w.names.insert(name.clone());
            }
        }
        if let Some(o) = &mut self.output {
            o.names.insert(name.clone());
        }
        self.derived.insert(name);
    }

    /// A name that may denote a whole row.
    fn candidate(&mut self, name: Name<'a>, mode: Mode) {
        if mode == Mode::Value {
            if self.writing {
                if let Some(w) = &mut self.write {
                    w.candidates.push(name.clone());
                }
            }
            if let Some(o) = &mut self.output {
                o.candidates.push(name.clone());
            }
        }
        self.candidates.push(name);
    }

    /// A star (`*`, `t.*`, `(x).*`) or other expansion of whole rows.
    fn star(&mut self, mode: Mode, unqualified: bool) {
        if unqualified {
            self.nested_star = true;
        }
        if mode == Mode::Value {
            if self.writing {
                if let Some(w) = &mut self.write {
                    w.star = true;
                }
            }
            if let Some(o) = &mut self.output {
                o.star = true;
            }
        }
    }

    fn range_name(&mut self, name: Name<'a>) {
        if !name.is_empty() {
            self.range_names.insert(name);
        }
    }

    fn start_writing(&mut self) {
        self.writing = true;
        if self.write.is_none() {
            self.write = Some(Acc::default());
        }
    }

    // ------------------------------------------------------------ traversal

    fn children(&mut self, node: NodeRef<'a>, mode: Mode) {
        walk::for_each_child(node, &mut |child| self.visit(child, mode));
    }

    fn node(&mut self, node: &'a protobuf::Node, mode: Mode) {
        if let Some(inner) = node.node.as_ref() {
            self.visit(inner.to_ref(), mode);
        }
    }

    fn opt_node(&mut self, node: &'a Option<Box<protobuf::Node>>, mode: Mode) {
        if let Some(n) = node {
            self.node(n, mode);
        }
    }

    fn nodes(&mut self, nodes: &'a [protobuf::Node], mode: Mode) {
        for n in nodes {
            self.node(n, mode);
        }
    }

    /// Walks any node. Only nodes that define where values go are handled
    /// here; every other node is walked generically, so a column reference
    /// under a node kind this code does not know is still counted.
    fn visit(&mut self, node: NodeRef<'a>, mode: Mode) {
        match node {
            NodeRef::ColumnRef(c) => self.column_ref(c, mode),
            NodeRef::AIndirection(i) => {
                if mode == Mode::Value {
                    // `(x).f` reads field f of x; `(x).*` expands all of them.
                    for field in &i.indirection {
                        match field.node.as_ref() {
                            Some(N::String(s)) => self.name(Cow::Borrowed(&s.sval)),
                            Some(N::AStar(_)) => self.star(mode, false),
                            _ => {}
                        }
                    }
                }
                self.children(node, mode);
            }
            NodeRef::SelectStmt(s) => match mode {
                // A sublink inside an output expression: everything in it
                // counts, its WHERE clause included.
                Mode::Value => self.children(node, mode),
                Mode::Structure => {
                    self.select(s, Level::Nested);
                }
            },
            NodeRef::InsertStmt(s) => {
                self.insert(s, Level::Nested);
            }
            NodeRef::UpdateStmt(s) => {
                self.update(s, Level::Nested);
            }
            NodeRef::DeleteStmt(s) => {
                self.delete(s, Level::Nested);
            }
            NodeRef::MergeStmt(s) => {
                self.merge(s, Level::Nested);
            }
            NodeRef::RangeVar(r) => {
                self.range_name(Cow::Borrowed(&r.relname));
                if let Some(a) = &r.alias {
                    self.range_name(Cow::Borrowed(&a.aliasname));
                    if !a.colnames.is_empty() {
                        // Renamed columns hide the base names.
                        self.nested_star = true;
                    }
                }
            }
            NodeRef::Alias(a) => self.range_name(Cow::Borrowed(&a.aliasname)),
            NodeRef::JoinExpr(j) => {
                if j.alias.as_ref().is_some_and(|a| !a.colnames.is_empty()) {
                    self.nested_star = true;
                }
                self.children(node, mode);
            }
            NodeRef::RangeFunction(r) => {
                // Without an alias, the function's name is the range name.
                for item in &r.functions {
                    if let Some(N::List(l)) = item.node.as_ref() {
                        if let Some(N::FuncCall(f)) = l.items.first().and_then(|n| n.node.as_ref())
                        {
                            if let Some((_, name)) = function_name(&f.funcname) {
                                self.range_name(Cow::Borrowed(name));
                            }
                        }
                    }
                }
                // Its rows are computed from the arguments.
                self.children(node, Mode::Value);
            }
            NodeRef::RangeTableFunc(_) | NodeRef::JsonTable(_) => self.children(node, Mode::Value),
            NodeRef::CommonTableExpr(c) => {
                self.range_name(Cow::Borrowed(&c.ctename));
                self.children(node, mode);
            }
            NodeRef::ReturningOption(o) => self.range_name(Cow::Borrowed(&o.value)),
            NodeRef::FuncCall(f) => {
                self.func_call(f);
                self.children(node, mode);
            }
            _ => self.children(node, mode),
        }
    }

    fn column_ref(&mut self, c: &'a protobuf::ColumnRef, mode: Mode) {
        let Some((last, rest)) = c.fields.split_last() else {
            return;
        };
        let qualifier = match rest.last().and_then(|n| n.node.as_ref()) {
            Some(N::String(s)) => Some(s.sval.as_str()),
            _ => None,
        };
        match last.node.as_ref() {
            Some(N::AStar(_)) => {
                if let Some(q) = qualifier {
                    self.candidate(Cow::Borrowed(q), mode);
                }
                self.star(mode, rest.is_empty());
            }
            Some(N::String(s)) => {
                if mode == Mode::Value {
                    self.name(Cow::Borrowed(&s.sval));
                }
                if rest.is_empty() {
                    self.candidate(Cow::Borrowed(&s.sval), mode);
                } else if is_row_function(&s.sval) {
                    if let Some(q) = qualifier {
                        self.candidate(Cow::Borrowed(q), mode);
                    }
                }
            }
            _ => {}
        }
    }

    /// Functions that run SQL text or read whole tables named in strings.
    fn func_call(&mut self, f: &'a protobuf::FuncCall) {
        let Some((schema, name)) = function_name(&f.funcname) else {
            return;
        };
        let mut ignored = BTreeSet::new();
        match effects::function_effects(schema, name, false, &mut ignored) {
            // ts_rewrite(query, target, substitute) takes no SQL text.
            ArgRule::ExecutesSql(_) if name == "ts_rewrite" && f.args.len() != 2 => {}
            ArgRule::ExecutesSql(index) => {
                match positional_arg(&f.args, index).and_then(names::string_constant) {
                    Some(sql) => self.nested_sql(sql),
                    None => self.nested_star = true,
                }
            }
            ArgRule::ReadsTable => {
                let table = positional_arg(&f.args, 0)
                    .and_then(names::string_constant)
                    .and_then(names::parse_qualified_name);
                match table {
                    Some((_, table)) => {
                        self.range_name(Cow::Owned(table.clone()));
                        self.candidate(Cow::Owned(table), Mode::Value);
                    }
                    None => self.nested_star = true,
                }
            }
            ArgRule::ReadsMany => self.nested_star = true,
            ArgRule::None | ArgRule::SetConfig | ArgRule::Sequence => {}
        }
    }

    /// SQL text run by a function: its results come back inside the
    /// function's value, so every statement in it counts as nested.
    fn nested_sql(&mut self, sql: &str) {
        if self.depth >= MAX_SQL_NESTING {
            self.nested_star = true;
            return;
        }
        let Ok(parsed) = pg_query::parse(sql, self.options.parser_options()) else {
            self.nested_star = true;
            return;
        };
        // The text's tree lives only here: collect it separately, with
        // everything in one output sink, and merge owned names.
        let mut inner = Collector::new(self.options);
        inner.depth = self.depth + 1;
        inner.output = Some(Acc::default());
        for raw in &parsed.protobuf.stmts {
            if let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
                inner.visit(node.to_ref(), Mode::Structure);
            }
        }
        let acc = inner.output.take().unwrap_or_default();
        self.nested_star |= inner.nested_star;
        for name in inner.range_names {
            self.range_name(Cow::Owned(name.into_owned()));
        }
        for name in inner.candidates {
            self.candidates.push(Cow::Owned(name.into_owned()));
        }
        for name in acc.candidates {
            self.candidate(Cow::Owned(name.into_owned()), Mode::Value);
        }
        for name in inner.derived {
            self.name(Cow::Owned(name.into_owned()));
        }
        if acc.star {
            self.star(Mode::Value, false);
        }
    }

    // ------------------------------------------------------------ statements

    /// A statement at the top level (or the query of EXPLAIN, DECLARE,
    /// PREPARE, CREATE VIEW, COPY, CREATE TABLE AS). Returns its result
    /// columns.
    fn top(&mut self, node: NodeRef<'a>) -> Option<Vec<Pending<'a>>> {
        match node {
            NodeRef::SelectStmt(s) => {
                let into = select_into(s);
                if into || has_modifying_cte(s.with_clause.as_ref()) {
                    self.start_writing();
                }
                let outputs = self.select(s, Level::Top);
                if into {
                    None
                } else {
                    outputs
                }
            }
            NodeRef::InsertStmt(s) => self.insert(s, Level::Top),
            NodeRef::UpdateStmt(s) => self.update(s, Level::Top),
            NodeRef::DeleteStmt(s) => {
                if has_modifying_cte(s.with_clause.as_ref()) {
                    self.start_writing();
                }
                self.delete(s, Level::Top)
            }
            NodeRef::MergeStmt(s) => self.merge(s, Level::Top),
            NodeRef::CopyStmt(s) => self.copy(s),
            NodeRef::ExplainStmt(s) => {
                // The result is the plan, not the rows.
                self.top_node(s.query.as_deref());
                None
            }
            NodeRef::DeclareCursorStmt(s) => self.top_node(s.query.as_deref()),
            NodeRef::PrepareStmt(s) => self.top_node(s.query.as_deref()),
            NodeRef::ViewStmt(s) => self.top_node(s.query.as_deref()),
            NodeRef::CreateTableAsStmt(s) => {
                // Also WITH NO DATA: a later REFRESH fills the table from
                // the same query, out of sight.
                self.start_writing();
                match s.query.as_deref().and_then(|q| q.node.as_ref()) {
                    Some(N::ExecuteStmt(_)) | None => {
                        // The prepared statement is not known here.
                        self.star(Mode::Value, false);
                    }
                    Some(q) => {
                        self.top(q.to_ref());
                    }
                }
                None
            }
            _ => None,
        }
    }

    fn top_node(&mut self, node: Option<&'a protobuf::Node>) -> Option<Vec<Pending<'a>>> {
        let inner = node?.node.as_ref()?;
        self.top(inner.to_ref())
    }

    fn select(&mut self, s: &'a protobuf::SelectStmt, level: Level) -> Option<Vec<Pending<'a>>> {
        let protobuf::SelectStmt {
            distinct_clause,
            into_clause: _,
            target_list,
            from_clause,
            where_clause,
            group_clause,
            group_distinct: _,
            having_clause,
            window_clause,
            values_lists,
            sort_clause,
            limit_offset,
            limit_count,
            limit_option: _,
            locking_clause,
            with_clause,
            op: _,
            all: _,
            larg,
            rarg,
        } = s;
        if let Some(w) = with_clause {
            self.visit(NodeRef::WithClause(w), Mode::Structure);
        }
        let set_operation = larg.is_some() || rarg.is_some();
        if let Some(l) = larg {
            self.select(l, Level::Nested);
        }
        if let Some(r) = rarg {
            self.select(r, Level::Nested);
        }
        self.nodes(from_clause, Mode::Structure);
        self.nodes(distinct_clause, Mode::Structure);
        self.opt_node(where_clause, Mode::Structure);
        self.nodes(group_clause, Mode::Structure);
        self.opt_node(having_clause, Mode::Structure);
        self.nodes(window_clause, Mode::Structure);
        self.nodes(sort_clause, Mode::Structure);
        self.opt_node(limit_offset, Mode::Structure);
        self.opt_node(limit_count, Mode::Structure);
        self.nodes(locking_clause, Mode::Structure);
        if set_operation {
            None
        } else if !values_lists.is_empty() {
            self.values(values_lists, level)
        } else {
            self.targets(target_list, level)
        }
    }

    /// A select or RETURNING list. At the top level, returns the columns.
    fn targets(&mut self, list: &'a [protobuf::Node], level: Level) -> Option<Vec<Pending<'a>>> {
        let mut outputs = Vec::with_capacity(if level == Level::Top { list.len() } else { 0 });
        for item in list {
            let val = match item.node.as_ref() {
                Some(N::ResTarget(t)) => {
                    self.nodes(&t.indirection, Mode::Structure);
                    t.val.as_deref()
                }
                _ => Some(item),
            };
            let Some(val) = val else { continue };
            match level {
                Level::Nested => self.node(val, Mode::Value),
                Level::Top => {
                    let bare = match val.node.as_ref() {
                        Some(N::ColumnRef(c)) => self.bare(c),
                        _ => None,
                    };
                    let entry = match bare {
                        Some(p) => p,
                        None => Pending::Derived(self.collect_output(val)),
                    };
                    outputs.push(entry);
                }
            }
        }
        (level == Level::Top).then_some(outputs)
    }

    /// Walks an output expression, collecting what feeds it.
    fn collect_output(&mut self, val: &'a protobuf::Node) -> Acc<'a> {
        let saved = self.output.replace(Acc::default());
        self.node(val, Mode::Value);
        std::mem::replace(&mut self.output, saved).unwrap_or_default()
    }

    /// A bare column reference as a top-level entry: the wire sees its
    /// origin, so it only counts for data being written. `None` when the
    /// reference is not a plain column or star.
    fn bare(&mut self, c: &'a protobuf::ColumnRef) -> Option<Pending<'a>> {
        let (last, rest) = c.fields.split_last()?;
        let mut qualifier = None;
        for f in rest {
            match f.node.as_ref() {
                Some(N::String(s)) => qualifier = Some(s.sval.as_str()),
                _ => return None,
            }
        }
        match last.node.as_ref()? {
            N::AStar(_) => {
                if self.writing {
                    if let Some(w) = &mut self.write {
                        w.star = true;
                    }
                }
                Some(Pending::Star { qualifier })
            }
            N::String(s) => {
                let name = s.sval.as_str();
                if qualifier.is_some() && is_row_function(name) {
                    // Attribute notation for a function of the whole row.
                    return None;
                }
                if self.writing {
                    if let Some(w) = &mut self.write {
                        w.names.insert(Cow::Borrowed(name));
                        if qualifier.is_none() {
                            w.candidates.push(Cow::Borrowed(name));
                        }
                    }
                }
                match qualifier {
                    None => {
                        self.candidates.push(Cow::Borrowed(name));
                        Some(Pending::Single(name))
                    }
                    Some(_) => Some(Pending::Column { qualifier, name }),
                }
            }
            _ => None,
        }
    }

    fn values(&mut self, rows: &'a [protobuf::Node], level: Level) -> Option<Vec<Pending<'a>>> {
        if level == Level::Nested {
            self.nodes(rows, Mode::Value);
            return None;
        }
        let mut columns: Vec<Acc> = Vec::new();
        for row in rows {
            let Some(N::List(list)) = row.node.as_ref() else {
                self.node(row, Mode::Value);
                continue;
            };
            for (i, expr) in list.items.iter().enumerate() {
                if columns.len() <= i {
                    columns.push(Acc::default());
                }
                let acc = std::mem::take(&mut columns[i]);
                let saved = self.output.replace(acc);
                self.node(expr, Mode::Value);
                columns[i] = std::mem::replace(&mut self.output, saved).unwrap_or_default();
            }
        }
        Some(columns.into_iter().map(Pending::Derived).collect())
    }

    /// SET lists (UPDATE, ON CONFLICT DO UPDATE, MERGE): the values written.
    fn set_list(&mut self, list: &'a [protobuf::Node]) {
        for item in list {
            match item.node.as_ref() {
                Some(N::ResTarget(t)) => {
                    self.nodes(&t.indirection, Mode::Structure);
                    self.opt_node(&t.val, Mode::Value);
                }
                _ => self.node(item, Mode::Value),
            }
        }
    }

    /// RETURNING: the rows sent back. At the top level they do not feed the
    /// write.
    fn returning(
        &mut self,
        clause: Option<&'a protobuf::ReturningClause>,
        level: Level,
    ) -> Option<Vec<Pending<'a>>> {
        let clause = clause?;
        // RETURNING old / new name whole rows of the target (PostgreSQL 18).
        self.range_name(Cow::Borrowed("old"));
        self.range_name(Cow::Borrowed("new"));
        self.nodes(&clause.options, Mode::Structure);
        let saved = self.writing;
        if level == Level::Top {
            self.writing = false;
        }
        let outputs = self.targets(&clause.exprs, level);
        self.writing = saved;
        outputs
    }

    fn insert(&mut self, s: &'a protobuf::InsertStmt, level: Level) -> Option<Vec<Pending<'a>>> {
        let protobuf::InsertStmt {
            relation,
            cols,
            select_stmt,
            on_conflict_clause,
            returning_clause,
            with_clause,
            r#override: _,
        } = s;
        self.start_writing();
        if let Some(w) = with_clause {
            self.visit(NodeRef::WithClause(w), Mode::Structure);
        }
        if let Some(r) = relation {
            self.visit(NodeRef::RangeVar(r), Mode::Structure);
        }
        self.nodes(cols, Mode::Structure);
        self.opt_node(select_stmt, Mode::Structure);
        if let Some(c) = on_conflict_clause {
            // EXCLUDED is the row proposed for insertion.
            self.range_name(Cow::Borrowed("excluded"));
            if let Some(i) = &c.infer {
                self.visit(NodeRef::InferClause(i), Mode::Structure);
            }
            self.set_list(&c.target_list);
            self.opt_node(&c.where_clause, Mode::Structure);
        }
        self.returning(returning_clause.as_ref(), level)
    }

    fn update(&mut self, s: &'a protobuf::UpdateStmt, level: Level) -> Option<Vec<Pending<'a>>> {
        let protobuf::UpdateStmt {
            relation,
            target_list,
            where_clause,
            from_clause,
            returning_clause,
            with_clause,
        } = s;
        self.start_writing();
        if let Some(w) = with_clause {
            self.visit(NodeRef::WithClause(w), Mode::Structure);
        }
        if let Some(r) = relation {
            self.visit(NodeRef::RangeVar(r), Mode::Structure);
        }
        self.nodes(from_clause, Mode::Structure);
        self.set_list(target_list);
        self.opt_node(where_clause, Mode::Structure);
        self.returning(returning_clause.as_ref(), level)
    }

    fn delete(&mut self, s: &'a protobuf::DeleteStmt, level: Level) -> Option<Vec<Pending<'a>>> {
        let protobuf::DeleteStmt {
            relation,
            using_clause,
            where_clause,
            returning_clause,
            with_clause,
        } = s;
        if let Some(w) = with_clause {
            self.visit(NodeRef::WithClause(w), Mode::Structure);
        }
        if let Some(r) = relation {
            self.visit(NodeRef::RangeVar(r), Mode::Structure);
        }
        self.nodes(using_clause, Mode::Structure);
        self.opt_node(where_clause, Mode::Structure);
        self.returning(returning_clause.as_ref(), level)
    }

    fn merge(&mut self, s: &'a protobuf::MergeStmt, level: Level) -> Option<Vec<Pending<'a>>> {
        let protobuf::MergeStmt {
            relation,
            source_relation,
            join_condition,
            merge_when_clauses,
            returning_clause,
            with_clause,
        } = s;
        self.start_writing();
        if let Some(w) = with_clause {
            self.visit(NodeRef::WithClause(w), Mode::Structure);
        }
        if let Some(r) = relation {
            self.visit(NodeRef::RangeVar(r), Mode::Structure);
        }
        self.opt_node(source_relation, Mode::Structure);
        self.opt_node(join_condition, Mode::Structure);
        for clause in merge_when_clauses {
            match clause.node.as_ref() {
                Some(N::MergeWhenClause(w)) => {
                    self.opt_node(&w.condition, Mode::Structure);
                    self.set_list(&w.target_list);
                    self.nodes(&w.values, Mode::Value);
                }
                _ => self.node(clause, Mode::Value),
            }
        }
        self.returning(returning_clause.as_ref(), level)
    }

    fn copy(&mut self, s: &'a protobuf::CopyStmt) -> Option<Vec<Pending<'a>>> {
        let protobuf::CopyStmt {
            relation,
            query,
            attlist,
            is_from,
            is_program,
            filename,
            options,
            where_clause: _,
        } = s;
        if *is_from {
            // Data comes in from the client or a file; nothing read leaves.
            return None;
        }
        let to_stdout = !*is_program && filename.is_empty();
        if !to_stdout {
            self.start_writing();
        }
        let (source, outputs) = match (query, relation) {
            (Some(q), _) => (CopySource::Query, self.top_node(Some(q))),
            (None, Some(r)) => {
                let columns: Vec<String> = attlist
                    .iter()
                    .filter_map(|n| match n.node.as_ref() {
                        Some(N::String(s)) => Some(s.sval.clone()),
                        _ => None,
                    })
                    .collect();
                if let Some(w) = self.write.as_mut().filter(|_| !to_stdout) {
                    w.names
                        .extend(columns.iter().map(|c| Cow::Owned(c.clone())));
                    w.star |= columns.is_empty();
                }
                self.range_name(Cow::Borrowed(&r.relname));
                let source = CopySource::Relation {
                    schema: (!r.schemaname.is_empty()).then(|| r.schemaname.clone()),
                    name: r.relname.clone(),
                    columns,
                };
                (source, None)
            }
            (None, None) => return None,
        };
        self.copy_to = Some(CopyTo {
            source,
            to_stdout,
            options: copy_options(options),
        });
        outputs
    }
}

/// A function name as (schema, name), borrowed from the tree. A
/// three-part name's leading database name is dropped.
fn function_name(parts: &[protobuf::Node]) -> Option<(Option<&str>, &str)> {
    fn field(n: &protobuf::Node) -> Option<&str> {
        match n.node.as_ref() {
            Some(N::String(s)) => Some(s.sval.as_str()),
            _ => None,
        }
    }
    match parts {
        [name] => Some((None, field(name)?)),
        [schema, name] | [_, schema, name] => Some((Some(field(schema)?), field(name)?)),
        _ => None,
    }
}

/// SELECT ... INTO, also when the INTO sits in the leftmost arm of a set
/// operation (PostgreSQL applies it to the whole result).
fn select_into(s: &protobuf::SelectStmt) -> bool {
    let mut current = s;
    loop {
        if current.into_clause.is_some() {
            return true;
        }
        match current.larg.as_deref() {
            Some(l) => current = l,
            None => return false,
        }
    }
}

/// A WITH clause with INSERT/UPDATE/DELETE/MERGE: any CTE may feed it, so
/// the whole statement is treated as writing.
fn has_modifying_cte(with: Option<&protobuf::WithClause>) -> bool {
    with.is_some_and(|w| {
        w.ctes.iter().any(|cte| match cte.node.as_ref() {
            Some(N::CommonTableExpr(c)) => matches!(
                c.ctequery.as_deref().and_then(|q| q.node.as_ref()),
                Some(N::InsertStmt(_) | N::UpdateStmt(_) | N::DeleteStmt(_) | N::MergeStmt(_))
            ),
            _ => false,
        })
    })
}

/// COPY options. The parser turns the old syntax (`CSV HEADER`, `BINARY`,
/// `DELIMITER 'x'`, `USING DELIMITERS`) into the same DefElems as the
/// parenthesised list.
fn copy_options(options: &[protobuf::Node]) -> CopyOptions {
    let mut out = CopyOptions::default();
    for option in options {
        let Some(N::DefElem(d)) = option.node.as_ref() else {
            continue;
        };
        let arg = d.arg.as_deref();
        match d.defname.as_str() {
            "format" => {
                let value = option_string(arg).unwrap_or_default();
                out.format = match value.as_str() {
                    "text" => CopyFormatKind::Text,
                    "csv" => CopyFormatKind::Csv,
                    "binary" => CopyFormatKind::Binary,
                    _ => CopyFormatKind::Other(value),
                };
            }
            "delimiter" => out.delimiter = option_string(arg),
            "null" => out.null = option_string(arg),
            "quote" => out.quote = option_string(arg),
            "escape" => out.escape = option_string(arg),
            "encoding" => out.encoding = option_string(arg),
            "header" => out.header = header_choice(arg),
            _ => {}
        }
    }
    out
}

/// An option value as the server's defGetString reads it.
fn option_string(arg: Option<&protobuf::Node>) -> Option<String> {
    match arg?.node.as_ref()? {
        N::String(s) => Some(s.sval.clone()),
        N::Integer(i) => Some(i.ival.to_string()),
        N::Float(f) => Some(f.fval.clone()),
        N::Boolean(b) => Some(if b.boolval { "true" } else { "false" }.to_string()),
        _ => None,
    }
}

/// HEADER as the server reads it for COPY TO; values it rejects count as
/// false (the statement fails anyway).
fn header_choice(arg: Option<&protobuf::Node>) -> bool {
    let Some(node) = arg.and_then(|a| a.node.as_ref()) else {
        return true;
    };
    match node {
        N::Integer(i) => i.ival == 1,
        N::Boolean(b) => b.boolval,
        N::String(s) => ["true", "on", "match"]
            .iter()
            .any(|v| s.sval.eq_ignore_ascii_case(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::analyze;

    fn lineage(sql: &str) -> Lineage {
        let mut analysis = analyze(sql).expect("parses");
        assert_eq!(analysis.statements.len(), 1, "{sql}");
        analysis.statements.remove(0).lineage
    }

    fn set(names: &str) -> BTreeSet<String> {
        names.split_whitespace().map(str::to_string).collect()
    }

    /// `id`, `c.id`, `*`, `c.*`, `=a b` (derived from a, b) and `=!a`
    /// (derived, whole row), separated by `;`.
    fn outputs(spec: &str) -> Vec<Output> {
        spec.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| {
                if let Some(rest) = item.strip_prefix('=') {
                    let (whole_row, names) = match rest.strip_prefix('!') {
                        Some(n) => (true, n),
                        None => (false, rest),
                    };
                    return Output::Derived {
                        names: set(names),
                        whole_row,
                    };
                }
                let (qualifier, name) = match item.split_once('.') {
                    Some((q, n)) => (Some(q.to_string()), n),
                    None => (None, item),
                };
                if name == "*" {
                    Output::Star { qualifier }
                } else {
                    Output::Column {
                        qualifier,
                        name: name.to_string(),
                    }
                }
            })
            .collect()
    }

    /// Names, with `!` for a whole-row flow.
    fn flow(spec: &str) -> Flow {
        Flow {
            names: spec
                .split_whitespace()
                .filter(|n| *n != "!")
                .map(str::to_string)
                .collect(),
            whole_row: spec.split_whitespace().any(|n| n == "!"),
        }
    }

    /// (sql, derived, whole_rows, nested_star, outputs, writes_from)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        bool,
        Option<&'static str>,
        Option<&'static str>,
    );

    const CORPUS: &[Case] = &[
        // ----- plain columns: the wire masks them by provenance
        ("SELECT id, name FROM t", "", "", false, Some("id; name"), None),
        ("SELECT ssn FROM customers", "", "", false, Some("ssn"), None),
        ("SELECT c.ssn FROM customers c", "", "", false, Some("c.ssn"), None),
        (
            "SELECT ssn AS x, name FROM customers ORDER BY 1",
            "",
            "",
            false,
            Some("ssn; name"),
            None,
        ),
        ("SELECT * FROM customers", "", "", false, Some("*"), None),
        ("SELECT c.* FROM customers c", "", "", false, Some("c.*"), None),
        ("TABLE customers", "", "", false, Some("*"), None),
        ("SELECT x FROM (SELECT 1 AS x) s", "", "", false, Some("x"), None),
        ("SELECT 1", "", "", false, Some("="), None),
        ("SELECT id FROM customers FOR UPDATE", "", "", false, Some("id"), None),
        // predicates, ordering and grouping are not outputs
        (
            "SELECT count(*) FROM customers WHERE ssn LIKE '1%'",
            "",
            "",
            false,
            Some("="),
            None,
        ),
        (
            "SELECT DISTINCT ON (ssn) id FROM customers ORDER BY ssn, id",
            "",
            "",
            false,
            Some("id"),
            None,
        ),
        (
            "SELECT region, count(*) FROM customers GROUP BY GROUPING SETS ((region), (ssn))",
            "",
            "",
            false,
            Some("region; ="),
            None,
        ),
        (
            "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM customers c WHERE c.ssn = t.x)",
            "",
            "",
            false,
            Some("id"),
            None,
        ),
        (
            "SELECT sum(amount) OVER w FROM orders WINDOW w AS (PARTITION BY ssn)",
            "amount",
            "",
            false,
            Some("=amount"),
            None,
        ),
        // ----- expressions
        ("SELECT upper(ssn) FROM customers", "ssn", "", false, Some("=ssn"), None),
        ("SELECT c.ssn::text FROM customers c", "ssn", "", false, Some("=ssn"), None),
        ("SELECT ssn || '' FROM customers", "ssn", "", false, Some("=ssn"), None),
        (
            "SELECT COALESCE(ssn, 'x'), GREATEST(a, b) FROM customers",
            "a b ssn",
            "",
            false,
            Some("=ssn; =a b"),
            None,
        ),
        ("SELECT ARRAY[ssn] FROM customers", "ssn", "", false, Some("=ssn"), None),
        (
            "SELECT ARRAY(SELECT ssn FROM customers)",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = '1')",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT id, rank() OVER (PARTITION BY ssn ORDER BY name) FROM customers",
            "name ssn",
            "",
            false,
            Some("id; =name ssn"),
            None,
        ),
        (
            "SELECT jsonb_build_object('k', ssn) FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT format('%s', ssn) FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT string_agg(ssn, ',' ORDER BY name) FILTER (WHERE id > 1) FROM customers",
            "id name ssn",
            "",
            false,
            Some("=id name ssn"),
            None,
        ),
        ("SELECT array_agg(ssn) FROM customers", "ssn", "", false, Some("=ssn"), None),
        ("SELECT json_agg(ssn) FROM customers", "ssn", "", false, Some("=ssn"), None),
        (
            "SELECT xmlelement(name x, ssn) FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT json_object('k' VALUE ssn) FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT json_array(ssn, name) FROM customers",
            "name ssn",
            "",
            false,
            Some("=name ssn"),
            None,
        ),
        (
            "SELECT JSON_ARRAYAGG(ssn ORDER BY id) FROM customers",
            "id ssn",
            "",
            false,
            Some("=id ssn"),
            None,
        ),
        (
            "SELECT JSON_OBJECTAGG(id VALUE ssn) FROM customers",
            "id ssn",
            "",
            false,
            Some("=id ssn"),
            None,
        ),
        (
            "SELECT (SELECT ssn FROM customers c2 WHERE c2.id = c.id) FROM customers c",
            "id ssn",
            "",
            false,
            Some("=id ssn"),
            None,
        ),
        // ----- whole rows
        (
            "SELECT (t).ssn FROM customers t",
            "ssn t",
            "t",
            false,
            Some("=!ssn t"),
            None,
        ),
        ("SELECT (c).* FROM customers c", "c", "c", false, Some("=!c"), None),
        ("SELECT ROW(c.*) FROM customers c", "", "c", false, Some("=!"), None),
        (
            "SELECT row_to_json(t) FROM customers t",
            "t",
            "t",
            false,
            Some("=!t"),
            None,
        ),
        ("SELECT to_jsonb(c.*) FROM customers c", "", "c", false, Some("=!"), None),
        ("SELECT t::text FROM customers t", "t", "t", false, Some("=!t"), None),
        (
            "SELECT f(customers.*) FROM customers",
            "",
            "customers",
            false,
            Some("=!"),
            None,
        ),
        ("SELECT t FROM customers t", "", "t", false, Some("=!t"), None),
        (
            "SELECT c.row_to_json FROM customers c",
            "row_to_json",
            "c",
            false,
            Some("=!row_to_json"),
            None,
        ),
        ("SELECT id FROM customers c WHERE c = c", "", "c", false, Some("id"), None),
        ("SELECT f FROM generate_series(1, 3) f", "", "f", false, Some("=!f"), None),
        // a column named like no range variable is just a column
        ("SELECT upper(name) FROM customers c", "name", "", false, Some("=name"), None),
        // ----- nested queries
        (
            "SELECT * FROM (SELECT ssn FROM customers) s",
            "ssn",
            "",
            false,
            Some("*"),
            None,
        ),
        ("SELECT * FROM (SELECT * FROM customers) s", "", "", true, Some("*"), None),
        (
            "SELECT x.s FROM customers c, LATERAL (SELECT c.ssn AS s) x",
            "ssn",
            "",
            false,
            Some("x.s"),
            None,
        ),
        (
            "WITH x AS (SELECT ssn FROM customers UNION ALL SELECT name FROM staff) SELECT * FROM x",
            "name ssn",
            "",
            false,
            Some("*"),
            None,
        ),
        (
            "WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM customers \
             UNION ALL SELECT n + 1, s FROM r WHERE n < 3) SELECT n FROM r",
            "n s ssn",
            "",
            false,
            Some("n"),
            None,
        ),
        (
            "SELECT id FROM customers ORDER BY (SELECT max(ssn) FROM customers)",
            "ssn",
            "",
            false,
            Some("id"),
            None,
        ),
        // ----- set operations: every arm is derived
        (
            "SELECT ssn FROM customers UNION SELECT name FROM staff",
            "name ssn",
            "",
            false,
            None,
            None,
        ),
        (
            "SELECT c.* FROM customers c UNION ALL SELECT s.* FROM staff s",
            "",
            "c s",
            false,
            None,
            None,
        ),
        ("SELECT * FROM a INTERSECT SELECT * FROM b", "", "", true, None, None),
        // ----- VALUES
        (
            "VALUES ((SELECT ssn FROM customers LIMIT 1), 1)",
            "ssn",
            "",
            false,
            Some("=ssn; ="),
            None,
        ),
        ("VALUES (1, 'a'), (2, 'b')", "", "", false, Some("=; ="), None),
        (
            "SELECT * FROM customers c, LATERAL (VALUES (c.ssn)) v(x)",
            "ssn",
            "",
            false,
            Some("*"),
            None,
        ),
        // ----- functions in FROM
        (
            "SELECT * FROM customers c, LATERAL unnest(ARRAY[c.ssn]) u",
            "ssn",
            "",
            false,
            Some("*"),
            None,
        ),
        (
            "SELECT * FROM json_to_recordset('[{\"a\": 1}]') AS x(a int)",
            "",
            "",
            false,
            Some("*"),
            None,
        ),
        (
            "SELECT x.* FROM customers c, jsonb_to_record(to_jsonb(c)) AS x(ssn text)",
            "c",
            "c",
            false,
            Some("x.*"),
            None,
        ),
        (
            "SELECT * FROM customers c, \
             ROWS FROM (unnest(ARRAY[c.ssn]), generate_series(1, c.id)) AS r(a, b)",
            "id ssn",
            "",
            false,
            Some("*"),
            None,
        ),
        (
            "SELECT x.* FROM docs d, XMLTABLE('/r' PASSING d.body COLUMNS v text PATH 'v') AS x",
            "body",
            "",
            false,
            Some("x.*"),
            None,
        ),
        (
            "SELECT jt.* FROM customers c, \
             JSON_TABLE(c.profile, '$' COLUMNS (v text PATH '$.ssn')) AS jt",
            "profile",
            "",
            false,
            Some("jt.*"),
            None,
        ),
        (
            "SELECT u FROM customers c, unnest(ARRAY[c.ssn]) u",
            "ssn",
            "u",
            false,
            Some("=!u"),
            None,
        ),
        (
            "SELECT public.customers.ssn, (SELECT c FROM customers c LIMIT 1) FROM public.customers",
            "c",
            "c",
            false,
            Some("customers.ssn; =!c"),
            None,
        ),
        // ----- renamed columns hide base names
        ("SELECT * FROM customers AS x(a, b)", "", "", true, Some("*"), None),
        (
            "SELECT upper(b) FROM customers AS x(a, b)",
            "b",
            "",
            true,
            Some("=b"),
            None,
        ),
        (
            "SELECT upper(j.b) FROM (customers JOIN orders USING (id)) AS j(a, b)",
            "b",
            "",
            true,
            Some("=b"),
            None,
        ),
        // ----- SQL run by functions
        (
            "SELECT query_to_xml('SELECT ssn FROM customers', true, false, '')",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "SELECT table_to_xml('public.customers', true, false, '')",
            "",
            "customers",
            false,
            Some("=!"),
            None,
        ),
        (
            "SELECT query_to_xml(q, true, false, '') FROM queries",
            "q",
            "",
            true,
            Some("=q"),
            None,
        ),
        // ----- writes
        (
            "INSERT INTO t2 SELECT * FROM customers",
            "",
            "",
            true,
            None,
            Some("!"),
        ),
        (
            "INSERT INTO t2 (a) SELECT ssn FROM customers",
            "ssn",
            "",
            false,
            None,
            Some("ssn"),
        ),
        (
            "INSERT INTO t2 VALUES ((SELECT ssn FROM customers LIMIT 1))",
            "ssn",
            "",
            false,
            None,
            Some("ssn"),
        ),
        ("INSERT INTO t2 VALUES (1, 'x')", "", "", false, None, Some("")),
        (
            "INSERT INTO t2 (a) VALUES (1) RETURNING a, upper(b)",
            "b",
            "",
            false,
            Some("a; =b"),
            Some(""),
        ),
        (
            "INSERT INTO t2 AS x (id) VALUES (1) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            "name",
            "",
            false,
            None,
            Some("name"),
        ),
        (
            "INSERT INTO t2 (c) VALUES ('x') ON CONFLICT (id) DO UPDATE SET c = excluded::text",
            "excluded",
            "excluded",
            false,
            None,
            Some("! excluded"),
        ),
        (
            "UPDATE t SET a = c.ssn FROM customers c WHERE t.id = c.id",
            "ssn",
            "",
            false,
            None,
            Some("ssn"),
        ),
        (
            "UPDATE t SET a = s.x FROM (SELECT upper(ssn) AS x FROM customers) s",
            "ssn x",
            "",
            false,
            None,
            Some("ssn x"),
        ),
        (
            "UPDATE t SET (a, b) = (SELECT ssn, name FROM customers LIMIT 1)",
            "name ssn",
            "",
            false,
            None,
            Some("name ssn"),
        ),
        (
            "UPDATE t SET a = 1 RETURNING ssn, t",
            "",
            "t",
            false,
            Some("ssn; =!t"),
            Some(""),
        ),
        (
            "UPDATE customers SET ssn = 'x' RETURNING old.ssn, old",
            "",
            "old",
            false,
            Some("old.ssn; =!old"),
            Some(""),
        ),
        (
            "DELETE FROM customers WHERE id = 1 RETURNING ssn, upper(name)",
            "name",
            "",
            false,
            Some("ssn; =name"),
            None,
        ),
        ("DELETE FROM t", "", "", false, None, None),
        (
            "MERGE INTO t USING customers c ON t.id = c.id \
             WHEN MATCHED AND c.flag THEN UPDATE SET a = c.ssn \
             WHEN NOT MATCHED THEN INSERT (id, a) VALUES (c.id, c.name)",
            "id name ssn",
            "",
            false,
            None,
            Some("id name ssn"),
        ),
        (
            "CREATE TABLE x AS SELECT ssn FROM customers",
            "",
            "",
            false,
            None,
            Some("ssn"),
        ),
        ("SELECT ssn INTO x FROM customers", "", "", false, None, Some("ssn")),
        ("SELECT * INTO x FROM customers", "", "", false, None, Some("!")),
        (
            "SELECT ssn INTO x FROM customers UNION SELECT name FROM staff",
            "name ssn",
            "",
            false,
            None,
            Some("name ssn"),
        ),
        (
            "CREATE MATERIALIZED VIEW mv AS SELECT upper(ssn) FROM customers WITH NO DATA",
            "ssn",
            "",
            false,
            None,
            Some("ssn"),
        ),
        ("CREATE TABLE x AS EXECUTE p", "", "", false, None, Some("!")),
        (
            "WITH moved AS (DELETE FROM customers RETURNING *) \
             INSERT INTO archive SELECT * FROM moved",
            "",
            "",
            true,
            None,
            Some("!"),
        ),
        (
            "WITH s AS (SELECT upper(ssn) AS u FROM customers), \
             ins AS (INSERT INTO t2 SELECT u FROM s RETURNING 1) SELECT 1",
            "ssn u",
            "",
            false,
            Some("="),
            Some("ssn u"),
        ),
        // ----- COPY
        (
            "COPY (SELECT upper(ssn) FROM customers) TO STDOUT",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "COPY (SELECT ssn FROM customers) TO '/tmp/x'",
            "",
            "",
            false,
            Some("ssn"),
            Some("ssn"),
        ),
        (
            "COPY (DELETE FROM customers RETURNING id, upper(ssn)) TO STDOUT",
            "ssn",
            "",
            false,
            Some("id; =ssn"),
            None,
        ),
        (
            "COPY customers (id, ssn) TO STDOUT WITH (FORMAT csv, HEADER)",
            "",
            "",
            false,
            None,
            None,
        ),
        ("COPY customers TO '/tmp/x'", "", "", false, None, Some("!")),
        (
            "COPY customers (id, ssn) TO PROGRAM 'cat'",
            "",
            "",
            false,
            None,
            Some("id ssn"),
        ),
        ("COPY t FROM STDIN", "", "", false, None, None),
        // ----- inner queries
        (
            "DECLARE cur CURSOR FOR SELECT ssn::text FROM customers",
            "ssn",
            "",
            false,
            Some("=ssn"),
            None,
        ),
        (
            "EXPLAIN ANALYZE SELECT upper(ssn) FROM customers",
            "ssn",
            "",
            false,
            None,
            None,
        ),
        (
            "EXPLAIN ANALYZE INSERT INTO t2 SELECT ssn FROM customers",
            "ssn",
            "",
            false,
            None,
            Some("ssn"),
        ),
        (
            "PREPARE p AS SELECT id, lower(ssn) FROM customers WHERE id = $1",
            "ssn",
            "",
            false,
            Some("id; =ssn"),
            None,
        ),
        (
            "CREATE VIEW v AS SELECT id, upper(ssn) AS u FROM customers",
            "ssn",
            "",
            false,
            Some("id; =ssn"),
            None,
        ),
        // ----- statements without lineage
        (
            "CREATE TABLE t (ssn text DEFAULT upper('x'))",
            "",
            "",
            false,
            None,
            None,
        ),
        ("EXECUTE p(1)", "", "", false, None, None),
        ("SET search_path = public", "", "", false, None, None),
    ];

    #[test]
    fn corpus() {
        assert!(CORPUS.len() >= 60);
        for (sql, derived, whole_rows, nested_star, outs, writes) in CORPUS {
            let got = lineage(sql);
            assert_eq!(got.derived, set(derived), "derived: {sql}");
            assert_eq!(got.whole_rows, set(whole_rows), "whole_rows: {sql}");
            assert_eq!(got.nested_star, *nested_star, "nested_star: {sql}");
            assert_eq!(got.outputs, outs.map(outputs), "outputs: {sql}");
            assert_eq!(got.writes_from, writes.map(flow), "writes_from: {sql}");
            if !sql.starts_with("COPY") {
                assert_eq!(got.copy_to, None, "copy_to: {sql}");
            }
        }
    }

    fn relation(schema: Option<&str>, name: &str, columns: &[&str]) -> CopySource {
        CopySource::Relation {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn copy_to(sql: &str) -> CopyTo {
        lineage(sql).copy_to.expect("COPY TO")
    }

    #[test]
    fn copy_sources_and_destinations() {
        let c = copy_to("COPY customers (id, ssn) TO STDOUT WITH (FORMAT csv, HEADER)");
        assert_eq!(c.source, relation(None, "customers", &["id", "ssn"]));
        assert!(c.to_stdout);
        assert_eq!(c.options.format, CopyFormatKind::Csv);
        assert!(c.options.header);

        let c = copy_to("COPY public.customers TO '/tmp/x'");
        assert_eq!(c.source, relation(Some("public"), "customers", &[]));
        assert!(!c.to_stdout);
        assert_eq!(c.options, CopyOptions::default());

        let c = copy_to("COPY (SELECT 1) TO PROGRAM 'gzip > /tmp/x'");
        assert_eq!(c.source, CopySource::Query);
        assert!(!c.to_stdout);

        let c = copy_to("COPY (SELECT upper(ssn) FROM customers) TO STDOUT");
        assert_eq!(c.source, CopySource::Query);
        assert!(c.to_stdout);

        assert_eq!(
            lineage("COPY customers FROM STDIN WITH (FORMAT csv)").copy_to,
            None
        );
    }

    #[test]
    fn copy_options_new_and_old_syntax() {
        let c = copy_to(
            "COPY customers TO STDOUT (FORMAT 'text', HEADER false, DELIMITER ';', \
             NULL 'NULL', ENCODING 'LATIN1')",
        );
        assert_eq!(
            c.options,
            CopyOptions {
                format: CopyFormatKind::Text,
                delimiter: Some(";".into()),
                null: Some("NULL".into()),
                encoding: Some("LATIN1".into()),
                ..CopyOptions::default()
            }
        );
        let c = copy_to(
            "COPY customers TO STDOUT WITH CSV HEADER DELIMITER '|' NULL 'n' QUOTE '''' ESCAPE '\\'",
        );
        assert_eq!(
            c.options,
            CopyOptions {
                format: CopyFormatKind::Csv,
                delimiter: Some("|".into()),
                null: Some("n".into()),
                quote: Some("'".into()),
                escape: Some("\\".into()),
                encoding: None,
                header: true,
            }
        );
        assert_eq!(
            copy_to("COPY customers TO STDOUT WITH BINARY")
                .options
                .format,
            CopyFormatKind::Binary
        );
        assert_eq!(
            copy_to("COPY BINARY customers TO STDOUT").options.format,
            CopyFormatKind::Binary
        );
        assert_eq!(
            copy_to("COPY customers TO STDOUT USING DELIMITERS '|'")
                .options
                .delimiter
                .as_deref(),
            Some("|")
        );
        assert_eq!(
            copy_to("COPY customers TO STDOUT (FORMAT 'json')")
                .options
                .format,
            CopyFormatKind::Other("json".into())
        );
        for (options, header) in [
            ("(HEADER)", true),
            ("(HEADER on)", true),
            ("(HEADER 1)", true),
            ("(HEADER true)", true),
            ("(HEADER 'MATCH')", true),
            ("(HEADER off)", false),
            ("(HEADER 0)", false),
            ("(HEADER false)", false),
            ("(FORMAT csv)", false),
        ] {
            let sql = format!("COPY customers TO STDOUT {options}");
            assert_eq!(copy_to(&sql).options.header, header, "{sql}");
        }
    }

    #[test]
    fn each_statement_has_its_own_lineage() {
        let analysis = analyze(
            "SELECT upper(ssn) FROM customers; SELECT id FROM customers; \
             INSERT INTO t2 SELECT * FROM customers",
        )
        .expect("parses");
        let l: Vec<&Lineage> = analysis.statements.iter().map(|s| &s.lineage).collect();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].derived, set("ssn"));
        assert_eq!(l[0].writes_from, None);
        assert_eq!(l[1].derived, set(""));
        assert_eq!(l[1].outputs, Some(outputs("id")));
        assert_eq!(l[2].writes_from, Some(flow("!")));
    }

    #[test]
    fn views_from_catalog_text() {
        let v = view_lineage(
            " SELECT c.id,\n    upper(c.ssn) AS upper,\n    c.*\n   FROM customers c;",
        )
        .expect("parses");
        assert_eq!(v.outputs, Some(outputs("c.id; =ssn; c.*")));
        assert_eq!(v.derived, set("ssn"));
        let v = view_lineage(" SELECT row_to_json(c.*) AS row_to_json\n   FROM customers c;")
            .expect("parses");
        assert_eq!(v.outputs, Some(outputs("=!")));
        assert_eq!(v.whole_rows, set("c"));
        let v = view_lineage("SELECT a FROM x UNION SELECT b FROM y").expect("parses");
        assert_eq!(v.outputs, None);
        assert_eq!(v.derived, set("a b"));
        assert!(view_lineage("SELECT 1; SELECT 2").is_err());
        assert!(view_lineage("DELETE FROM t").is_err());
        assert!(view_lineage("").is_err());
        assert!(view_lineage("SELEC 1").is_err());
    }

    #[test]
    fn nested_sql_depth_is_bounded() {
        // Four levels of query_to_xml: the innermost text is not followed.
        let mut sql = "SELECT ssn FROM c".to_string();
        for _ in 0..4 {
            sql = format!(
                "SELECT query_to_xml('{}', true, false, '')",
                sql.replace('\'', "''")
            );
        }
        let l = lineage(&sql);
        assert!(l.nested_star);
        assert!(!l.derived.contains("ssn"));
        // Within the limit the text is followed.
        let l = lineage("SELECT query_to_xml('SELECT query_to_xml(''SELECT ssn FROM c'', true, false, '''')', true, false, '')");
        assert!(!l.nested_star);
        assert_eq!(l.derived, set("ssn"));
    }
}
