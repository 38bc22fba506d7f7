//! Statement analysis.
//!
//! Every statement is parsed with PostgreSQL's own grammar (pg_query) and the
//! whole parse tree is walked: each node contributes its effects, so a
//! statement is described by the union of everything anywhere inside it.
//! Anything the walker does not recognise yields [`Effect::Unknown`].

use std::collections::{BTreeSet, HashSet};

use pg_query::protobuf::{self, node::Node as N};
use pg_query::NodeRef;

use super::effects::{self, ArgRule, Effect};
pub use super::error::ParseFailure;
use super::lineage::{self, Lineage};
use super::names::{self, positional_arg};
pub use super::options::ParseOptions;
use super::options::MAX_SQL_NESTING;
use super::walk;

/// How a statement touches a relation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Rows are read (or locked only for share by the planner).
    Read,
    /// Rows are inserted, updated, deleted, locked, truncated or maintained.
    Write,
    /// The object itself is created, altered or dropped.
    Ddl,
}

/// A relation (table, view, sequence, index, ...) named by a statement.
///
/// Names are as PostgreSQL resolves identifiers: unquoted ones folded to lower
/// case, quoted ones kept exact. `schema` is `None` when the statement did not
/// qualify the name (the session's search_path decides).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub schema: Option<String>,
    pub name: String,
    pub access: Access,
    /// Whether an unqualified name is looked up or created: PostgreSQL
    /// creates in the first existing schema of the search path, but looks
    /// names up in pg_catalog and the temporary schema first.
    #[serde(default, skip_serializing_if = "Naming::is_existing")]
    pub naming: Naming,
}

/// How the server finds the schema of an unqualified relation name.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// An existing relation: pg_catalog, then the search path.
    #[default]
    Existing,
    /// A relation this statement creates: the first existing schema of the
    /// search path (the temporary schema for temporary relations).
    Created { temporary: bool },
}

impl Naming {
    pub fn is_existing(&self) -> bool {
        *self == Naming::Existing
    }
}

/// A value a statement gives to one of the session's run-time parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SettingChange {
    /// Lower case; `all` for RESET ALL / DISCARD ALL.
    pub name: String,
    pub value: SettingValue,
    pub scope: SettingScope,
}

/// The new value of a parameter, as far as the text shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SettingValue {
    /// `SET name TO a, b`: the list items, each as the server receives it
    /// (identifiers and strings alike; for list parameters such as
    /// search_path each item is one element, quoted or not).
    Items(Vec<String>),
    /// A whole value string the server parses itself (set_config, SET
    /// SESSION CHARACTERISTICS): `'a, b'` is two search_path elements.
    Text(String),
    /// RESET, SET ... TO DEFAULT: back to the session's default.
    Default,
    /// Computed at run time (set_config with an expression).
    Unknown,
}

/// How long a change lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SettingScope {
    /// Until changed again (or the transaction it ran in rolls back).
    Session,
    /// SET LOCAL, set_config(..., true): until the transaction ends.
    Local,
    /// set_config with a computed is_local.
    Unknown,
}

/// A transaction-control statement, for following how setting changes are
/// kept or undone.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TxnControl {
    Begin,
    /// COMMIT, END, PREPARE TRANSACTION (the session's settings are kept
    /// as on commit).
    Commit,
    /// ROLLBACK, ABORT.
    Rollback,
    Savepoint,
    Release,
    RollbackTo,
}

/// A function called (or referenced as a trigger function) by a statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FunctionRef {
    pub schema: Option<String>,
    pub name: String,
}

/// The statement inside another one that first carried an effect, e.g. the
/// `DELETE` in `WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d`, so a
/// refusal can name what actually does the forbidden thing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EffectSource {
    pub effect: Effect,
    /// Command tag of the inner statement.
    pub command: &'static str,
    /// The relation that statement writes, when it writes one.
    pub target: Option<ObjectRef>,
}

/// One statement of a query string.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Statement {
    /// Every effect anywhere in the statement's tree.
    pub effects: BTreeSet<Effect>,
    /// Effects whose first occurrence is in an inner statement (a CTE's
    /// DML, the query of EXPLAIN ANALYZE or PREPARE, SQL run from a string),
    /// with that statement. Effects of the statement itself are not listed.
    pub sources: Vec<EffectSource>,
    /// pg_query node name of the statement, e.g. `SelectStmt`.
    pub kind: String,
    /// Human command tag, e.g. `SELECT`, `DROP TABLE`, `EXPLAIN` (best effort).
    pub command_tag: &'static str,
    /// Relations named by the statement, de-duplicated, in order of appearance.
    pub objects: Vec<ObjectRef>,
    /// Functions called anywhere in the statement, de-duplicated.
    pub functions: Vec<FunctionRef>,
    /// UPDATE or DELETE (top level or in a CTE) without a WHERE clause.
    pub dml_without_where: bool,
    /// The command tag of that UPDATE or DELETE.
    pub dml_without_where_command: Option<&'static str>,
    /// Run-time parameters the statement sets or resets (lower case);
    /// `all` for RESET ALL / DISCARD ALL.
    pub settings: Vec<String>,
    /// The values it gives them, in order, where the text shows them.
    pub setting_changes: Vec<SettingChange>,
    /// For BEGIN/COMMIT/ROLLBACK/SAVEPOINT/...: which one.
    pub transaction: Option<TxnControl>,
    /// For a CREATE TABLE whose columns are all written out (no LIKE,
    /// INHERITS, PARTITION OF or OF type): their names.
    pub created_columns: Option<Vec<String>>,
    /// Runs code whose body the analysis cannot see: a call (now, not in a
    /// stored definition) of a function outside pg_catalog's built-ins,
    /// DO, CALL.
    pub runs_unseen_code: bool,
    /// For `PREPARE name AS ...`: the name. The prepared statement's own
    /// analysis is merged into this statement.
    pub prepared_name: Option<String>,
    /// For `EXECUTE name` (also under EXPLAIN or CREATE TABLE AS): the
    /// prepared statement name. Its effects are not known here: the session
    /// must resolve the name and apply that statement's analysis.
    pub executes: Option<String>,
    /// Which column names can reach the result or the data written through
    /// expressions, for column masking (see [`Lineage`]).
    pub lineage: Lineage,
    /// Every column name mentioned anywhere in the statement.
    pub referenced_columns: BTreeSet<String>,
}

impl Statement {
    /// True when the statement has the given effect.
    pub fn has(&self, effect: Effect) -> bool {
        self.effects.contains(&effect)
    }

    /// The inner statement that carried `effect`, if it was not the
    /// statement itself.
    pub fn source(&self, effect: Effect) -> Option<&EffectSource> {
        self.sources.iter().find(|s| s.effect == effect)
    }
}

/// The analysis of a query string: one entry per statement, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Analysis {
    pub statements: Vec<Statement>,
}

impl Analysis {
    /// The union of the effects of all statements.
    pub fn effects(&self) -> BTreeSet<Effect> {
        self.statements
            .iter()
            .flat_map(|s| s.effects.iter().copied())
            .collect()
    }
}

/// Analyses every statement in `sql`, assuming `standard_conforming_strings = on`.
pub fn analyze(sql: &str) -> Result<Analysis, ParseFailure> {
    analyze_with(sql, ParseOptions::default())
}

/// Analyses every statement in `sql` under the given lexical settings.
pub fn analyze_with(sql: &str, options: ParseOptions) -> Result<Analysis, ParseFailure> {
    analyze_nested(sql, options, 0)
}

fn analyze_nested(sql: &str, options: ParseOptions, depth: u8) -> Result<Analysis, ParseFailure> {
    // The parser and the tree walk run on untrusted input; a panic anywhere
    // in them must become a refusal, never a crashed connection task.
    std::panic::catch_unwind(|| analyze_unguarded(sql, options, depth))
        .unwrap_or_else(|_| Err(ParseFailure::new("internal error while analysing SQL")))
}

fn analyze_unguarded(
    sql: &str,
    options: ParseOptions,
    depth: u8,
) -> Result<Analysis, ParseFailure> {
    let parsed = match pg_query::parse(sql, options.parser_options()) {
        Ok(p) => p,
        Err(pg_query::Error::Parse(message)) => {
            return Err(ParseFailure::syntax(
                sql,
                message,
                options.parser_options().bits(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let mut statements = Vec::with_capacity(parsed.protobuf.stmts.len());
    for raw in &parsed.protobuf.stmts {
        let statement = match raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            Some(node) => analyze_statement(node.to_ref(), options, depth),
            None => Statement {
                effects: BTreeSet::from([Effect::Unknown]),
                sources: Vec::new(),
                kind: "RawStmt".to_string(),
                command_tag: "UNKNOWN",
                objects: Vec::new(),
                functions: Vec::new(),
                dml_without_where: false,
                dml_without_where_command: None,
                settings: Vec::new(),
                setting_changes: Vec::new(),
                transaction: None,
                created_columns: None,
                runs_unseen_code: false,
                prepared_name: None,
                executes: None,
                referenced_columns: BTreeSet::new(),
                lineage: Lineage::default(),
            },
        };
        statements.push(statement);
    }
    Ok(Analysis { statements })
}

fn analyze_statement(node: NodeRef<'_>, options: ParseOptions, depth: u8) -> Statement {
    let mut w = Walker::new(options, depth);
    let tag = command_tag(node);
    if tag.is_none() {
        w.effects.insert(Effect::Unknown);
    }
    // A DML statement at the top is not an inner one.
    if matches!(
        node,
        NodeRef::InsertStmt(_)
            | NodeRef::UpdateStmt(_)
            | NodeRef::DeleteStmt(_)
            | NodeRef::MergeStmt(_)
    ) {
        w.dml_depth = -1;
    }
    if let NodeRef::SelectStmt(s) = node {
        if s.into_clause.is_none() {
            w.effect(Effect::Read);
        }
    }
    w.visit(node);
    Statement {
        effects: w.effects,
        sources: w.sources,
        kind: walk::node_name(node).to_string(),
        command_tag: tag.unwrap_or("UNKNOWN"),
        objects: w.objects,
        functions: w.functions,
        dml_without_where: w.dml_without_where,
        dml_without_where_command: w.dml_without_where_command,
        settings: w.settings,
        setting_changes: w.setting_changes,
        transaction: w.transaction,
        created_columns: w.created_columns,
        runs_unseen_code: w.runs_unseen_code,
        prepared_name: w.prepared_name,
        executes: w.executes,
        referenced_columns: super::columns::referenced_columns(node),
        // SQL text nested in a function call is followed by the lineage of
        // the statement that contains it; its own lineage would be unused.
        lineage: if depth == 0 {
            lineage::statement_lineage(node, options)
        } else {
            Lineage::default()
        },
    }
}

/// Whether the part of the tree being walked runs now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Runs as part of this statement.
    Executed,
    /// Stored for later (view query, rule action, column default, function
    /// body, policy expression): names and calls are reported, effects are not.
    Deferred,
    /// Only planned (EXPLAIN without ANALYZE): like `Deferred`, and relations
    /// are reported as read.
    PlanOnly,
}

/// Relations whose rows a SELECT locks (FOR UPDATE/SHARE).
#[derive(Clone, Debug)]
enum LockSet<'a> {
    All,
    Names(Vec<&'a str>),
}

impl LockSet<'_> {
    fn covers(&self, alias: Option<&str>, relname: &str) -> bool {
        match self {
            LockSet::All => true,
            LockSet::Names(names) => names.iter().any(|n| *n == relname || Some(*n) == alias),
        }
    }
}

struct Walker<'a> {
    options: ParseOptions,
    depth: u8,
    mode: Mode,
    /// Access recorded for relations met in the current context.
    access: Access,
    /// Row locks applying to FROM items of the SELECT being walked.
    lock: Option<LockSet<'a>>,
    /// A locked subquery in FROM: its SELECT locks all of its relations.
    inherit_lock: bool,
    /// CTE names visible at this point, innermost scope last.
    cte_scopes: Vec<Vec<&'a str>>,
    /// Walking a stored configuration (ALTER ROLE/DATABASE/SYSTEM ... SET,
    /// a function's SET clause): effects count, but the session's own
    /// parameters are not changed.
    stored_config: bool,
    effects: BTreeSet<Effect>,
    sources: Vec<EffectSource>,
    /// The inner statement being walked, if any (see [`EffectSource`]).
    inner: Option<(&'static str, Option<ObjectRef>)>,
    /// DML statements entered; -1 while the top statement is DML itself,
    /// so that only nested ones count as inner.
    dml_depth: i32,
    dml_without_where_command: Option<&'static str>,
    objects: Vec<ObjectRef>,
    seen_objects: HashSet<ObjectRef>,
    functions: Vec<FunctionRef>,
    seen_functions: HashSet<FunctionRef>,
    dml_without_where: bool,
    settings: Vec<String>,
    setting_changes: Vec<SettingChange>,
    transaction: Option<TxnControl>,
    created_columns: Option<Vec<String>>,
    runs_unseen_code: bool,
    /// The next relation recorded is created by the statement.
    creating: Option<Naming>,
    /// Walking the target list of `SELECT ... FROM pg_settings WHERE name =
    /// 'x'`: the `name` column is `x`.
    settings_row: Option<&'a str>,
    prepared_name: Option<String>,
    executes: Option<String>,
}

impl<'a> Walker<'a> {
    fn new(options: ParseOptions, depth: u8) -> Self {
        Walker {
            options,
            depth,
            mode: Mode::Executed,
            access: Access::Read,
            lock: None,
            inherit_lock: false,
            cte_scopes: Vec::new(),
            stored_config: false,
            effects: BTreeSet::new(),
            sources: Vec::new(),
            inner: None,
            dml_depth: 0,
            dml_without_where_command: None,
            objects: Vec::new(),
            seen_objects: HashSet::new(),
            functions: Vec::new(),
            seen_functions: HashSet::new(),
            dml_without_where: false,
            settings: Vec::new(),
            setting_changes: Vec::new(),
            transaction: None,
            created_columns: None,
            runs_unseen_code: false,
            creating: None,
            settings_row: None,
            prepared_name: None,
            executes: None,
        }
    }

    // ---------------------------------------------------------------- records

    fn effect(&mut self, effect: Effect) {
        if (effect == Effect::Unknown || self.mode == Mode::Executed) && self.effects.insert(effect)
        {
            if let Some((command, target)) = &self.inner {
                self.sources.push(EffectSource {
                    effect,
                    command,
                    target: target.clone(),
                });
            }
        }
    }

    /// Walks an inner statement with `f`, so the effects it brings are
    /// attributed to it.
    fn inner(
        &mut self,
        command: &'static str,
        target: Option<ObjectRef>,
        f: impl FnOnce(&mut Self),
    ) {
        let saved = self.inner.replace((command, target));
        f(self);
        self.inner = saved;
    }

    /// Enters a DML statement: inner unless it is the top statement.
    fn dml(
        &mut self,
        command: &'static str,
        rv: &Option<protobuf::RangeVar>,
        f: impl FnOnce(&mut Self),
    ) {
        self.dml_depth += 1;
        if self.dml_depth > 0 {
            let target = rv.as_ref().map(|rv| ObjectRef {
                schema: (!rv.schemaname.is_empty()).then(|| rv.schemaname.clone()),
                name: rv.relname.clone(),
                access: Access::Write,
                naming: Naming::Existing,
            });
            self.inner(command, target.clone(), f);
            // Every inner write is listed with its statement, not only the
            // first, so a rule on any of the written relations can name it.
            if let Some(t) = target.filter(|_| self.mode == Mode::Executed) {
                if !self.sources.iter().any(|s| s.target.as_ref() == Some(&t)) {
                    self.sources.push(EffectSource {
                        effect: Effect::Write,
                        command,
                        target: Some(t),
                    });
                }
            }
        } else {
            f(self);
        }
        self.dml_depth -= 1;
    }

    fn object(&mut self, schema: Option<&str>, name: &str, access: Access) {
        let access = if self.mode == Mode::PlanOnly {
            Access::Read
        } else {
            access
        };
        let naming = self.creating.take().unwrap_or_default();
        let object = ObjectRef {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            access,
            naming,
        };
        if self.seen_objects.insert(object.clone()) {
            self.objects.push(object);
        }
    }

    fn function_ref(&mut self, schema: Option<&str>, name: &str) {
        let function = FunctionRef {
            schema: schema.map(str::to_string),
            name: name.to_string(),
        };
        if self.seen_functions.insert(function.clone()) {
            self.functions.push(function);
        }
    }

    /// A run-time parameter set or reset by this statement, with the value
    /// it is given.
    fn setting_to(&mut self, raw_name: &str, value: SettingValue, scope: SettingScope) {
        // Resetting one of pgward's identity parameters returns it to the
        // value pgward gave at connect; anything else could forge it.
        if value != SettingValue::Default
            && effects::is_identity_setting(&names::setting_name(raw_name))
        {
            self.effect(Effect::IdentitySetting);
        }
        if self.mode == Mode::Executed && !self.stored_config {
            self.setting_changes.push(SettingChange {
                name: names::setting_name(raw_name),
                value,
                scope,
            });
        }
        self.setting(raw_name);
    }

    /// A run-time parameter set or reset by this statement.
    fn setting(&mut self, raw_name: &str) {
        let name = names::setting_name(raw_name);
        let mut found = BTreeSet::new();
        effects::setting_effects(&name, &mut found);
        for e in found {
            self.effect(e);
        }
        self.session_setting(name);
    }

    /// Records a parameter of the current session changed by this statement.
    fn session_setting(&mut self, name: String) {
        if self.mode == Mode::Executed && !self.stored_config && !self.settings.contains(&name) {
            self.settings.push(name);
        }
    }

    /// Code runs now whose body the analysis does not see.
    fn unseen_code(&mut self) {
        if self.mode == Mode::Executed {
            self.runs_unseen_code = true;
        }
    }

    fn with_stored_config(&mut self, f: impl FnOnce(&mut Self)) {
        let saved = std::mem::replace(&mut self.stored_config, true);
        f(self);
        self.stored_config = saved;
    }

    fn dml_without_where(&mut self, command: &'static str) {
        if self.mode == Mode::Executed {
            self.dml_without_where = true;
            self.dml_without_where_command.get_or_insert(command);
        }
    }

    // ------------------------------------------------------------ traversal

    fn children(&mut self, node: NodeRef<'a>) {
        walk::for_each_child(node, &mut |child| self.visit(child));
    }

    fn node(&mut self, node: &'a protobuf::Node) {
        if let Some(inner) = node.node.as_ref() {
            self.visit(inner.to_ref());
        }
    }

    fn opt_node(&mut self, node: &'a Option<Box<protobuf::Node>>) {
        if let Some(n) = node {
            self.node(n);
        }
    }

    fn nodes(&mut self, nodes: &'a [protobuf::Node]) {
        for n in nodes {
            self.node(n);
        }
    }

    /// Walks `f` with another mode; a non-executed context never becomes
    /// executed again further down.
    fn with_mode(&mut self, mode: Mode, f: impl FnOnce(&mut Self)) {
        let saved = self.mode;
        self.mode = match (saved, mode) {
            (Mode::PlanOnly, _) => Mode::PlanOnly,
            (Mode::Deferred, Mode::Executed) => Mode::Deferred,
            (_, m) => m,
        };
        f(self);
        self.mode = saved;
    }

    fn with_access(&mut self, access: Access, f: impl FnOnce(&mut Self)) {
        let saved = std::mem::replace(&mut self.access, access);
        f(self);
        self.access = saved;
    }

    /// A plain statement: fixed effects, relations with the given access.
    fn statement(&mut self, node: NodeRef<'a>, effects: &[Effect], access: Access) {
        for e in effects {
            self.effect(*e);
        }
        self.with_access(access, |w| w.children(node));
    }

    /// A node that only appears in analysed (post parse-analysis) trees.
    /// Never produced by the raw parser; refuse to guess.
    fn foreign(&mut self, node: NodeRef<'a>) {
        self.effects.insert(Effect::Unknown);
        self.children(node);
    }

    /// A statement nested where a whole statement is expected (PREPARE,
    /// EXPLAIN ANALYZE, DECLARE, COPY (query)): a SELECT there is a read.
    fn statement_position(&mut self, node: &'a protobuf::Node) {
        if let Some(N::SelectStmt(s)) = node.node.as_ref() {
            if s.into_clause.is_none() {
                self.effect(Effect::Read);
            }
        }
        self.node(node);
    }

    fn visit(&mut self, node: NodeRef<'a>) {
        use Effect as E;
        match node {
            // ----- statements with their own handling
            NodeRef::SelectStmt(s) => self.select_stmt(s),
            NodeRef::InsertStmt(s) => self.insert_stmt(s),
            NodeRef::UpdateStmt(s) => self.update_stmt(s),
            NodeRef::DeleteStmt(s) => self.delete_stmt(s),
            NodeRef::MergeStmt(s) => self.merge_stmt(s),
            NodeRef::CopyStmt(s) => self.copy_stmt(s),
            NodeRef::ExplainStmt(s) => self.explain_stmt(s),
            NodeRef::PrepareStmt(s) => self.prepare_stmt(s),
            NodeRef::ExecuteStmt(s) => {
                let protobuf::ExecuteStmt { name, params } = s;
                self.executes = Some(name.clone());
                self.nodes(params);
            }
            NodeRef::DeclareCursorStmt(s) => {
                let protobuf::DeclareCursorStmt {
                    portalname: _,
                    options: _,
                    query,
                } = s;
                self.effect(E::Read);
                if let Some(q) = query {
                    self.statement_position(q);
                }
            }
            NodeRef::CreateTableAsStmt(s) => self.create_table_as(s),
            NodeRef::ViewStmt(s) => self.view_stmt(s),
            NodeRef::RuleStmt(s) => self.rule_stmt(s),
            NodeRef::CreateTrigStmt(s) => self.create_trigger(s),
            NodeRef::CreateEventTrigStmt(s) => {
                let protobuf::CreateEventTrigStmt {
                    trigname: _,
                    eventname: _,
                    whenclause,
                    funcname,
                } = s;
                self.effect(E::Ddl);
                self.effect(E::Code);
                self.function_name_ref(funcname);
                self.nodes(whenclause);
            }
            NodeRef::CreatePolicyStmt(s) => {
                let protobuf::CreatePolicyStmt {
                    policy_name: _,
                    table,
                    cmd_name: _,
                    permissive: _,
                    roles,
                    qual,
                    with_check,
                } = s;
                self.policy(table, roles, qual, with_check);
            }
            NodeRef::AlterPolicyStmt(s) => {
                let protobuf::AlterPolicyStmt {
                    policy_name: _,
                    table,
                    roles,
                    qual,
                    with_check,
                } = s;
                self.policy(table, roles, qual, with_check);
            }
            NodeRef::CreateStmt(s) => self.create_stmt(s),
            NodeRef::CreateFunctionStmt(s) => self.create_function(s),
            NodeRef::AlterFunctionStmt(s) => {
                self.effect(E::Ddl);
                if s.actions.iter().any(defines_privileged_code) {
                    self.effect(E::Code);
                }
                self.with_stored_config(|w| w.with_access(Access::Ddl, |w| w.children(node)));
            }
            NodeRef::AlterRoleSetStmt(_) => {
                self.effect(E::Privilege);
                self.with_stored_config(|w| w.with_access(Access::Ddl, |w| w.children(node)));
            }
            NodeRef::AlterDatabaseSetStmt(_) => {
                self.effect(E::Database);
                self.with_stored_config(|w| w.with_access(Access::Ddl, |w| w.children(node)));
            }
            NodeRef::AlterSystemStmt(_) => {
                self.effect(E::Config);
                self.with_stored_config(|w| w.with_access(Access::Ddl, |w| w.children(node)));
            }
            NodeRef::AlterTableStmt(s) => self.alter_table(node, s),
            NodeRef::AlterTableCmd(c) => self.alter_table_cmd(c),
            NodeRef::VariableSetStmt(s) => self.variable_set(s),
            NodeRef::TransactionStmt(s) => self.transaction_stmt(s),
            NodeRef::DiscardStmt(s) => {
                match protobuf::DiscardMode::try_from(s.target) {
                    Ok(protobuf::DiscardMode::DiscardAll) => {
                        self.setting_to("all", SettingValue::Default, SettingScope::Session)
                    }
                    Ok(
                        protobuf::DiscardMode::DiscardPlans
                        | protobuf::DiscardMode::DiscardSequences
                        | protobuf::DiscardMode::DiscardTemp,
                    ) => self.effect(E::Session),
                    Ok(protobuf::DiscardMode::Undefined) | Err(_) => self.effect(E::Unknown),
                }
                self.children(node);
            }
            NodeRef::DropStmt(s) => self.drop_stmt(node, s),
            NodeRef::CommentStmt(s) => self.comment_stmt(node, s),
            NodeRef::GrantStmt(s) => {
                self.effect(E::Privilege);
                if object_type(s.objtype) == Some(protobuf::ObjectType::ObjectLargeobject) {
                    self.effect(E::LargeObject);
                }
                self.with_access(Access::Ddl, |w| w.children(node));
            }
            NodeRef::RenameStmt(s) => {
                let extra = object_type_effect(s.rename_type);
                self.effect(extra.unwrap_or(E::Ddl));
                self.with_access(Access::Ddl, |w| w.children(node));
            }
            NodeRef::AlterOwnerStmt(s) => {
                self.effect(E::Privilege);
                if let Some(extra) = object_type_effect(s.object_type) {
                    self.effect(extra);
                }
                self.with_access(Access::Ddl, |w| w.children(node));
            }
            NodeRef::AlterObjectSchemaStmt(s) => {
                let extra = object_type_effect(s.object_type);
                self.effect(extra.unwrap_or(E::Ddl));
                self.with_access(Access::Ddl, |w| w.children(node));
            }
            NodeRef::IndexStmt(s) => {
                self.effect(E::Ddl);
                if let Some(rel) = &s.relation {
                    if !s.idxname.is_empty() {
                        let schema = non_empty(&rel.schemaname);
                        self.object(schema, &s.idxname, Access::Ddl);
                    }
                }
                self.with_access(Access::Ddl, |w| w.children(node));
            }
            NodeRef::RangeVar(r) => {
                let access = self.access;
                self.relation(r, access, false);
            }
            NodeRef::RangeSubselect(r) => {
                let protobuf::RangeSubselect {
                    lateral: _,
                    subquery,
                    alias,
                } = r;
                let alias_name = alias.as_ref().map(|a| a.aliasname.as_str());
                if self.lock.as_ref().is_some_and(|l| l.covers(alias_name, "")) {
                    self.inherit_lock = true;
                }
                self.opt_node(subquery);
                self.inherit_lock = false;
                if let Some(a) = alias {
                    self.visit(NodeRef::Alias(a));
                }
            }
            NodeRef::FuncCall(f) => self.func_call(f),
            NodeRef::ColumnRef(c) => {
                // `t.f` is PostgreSQL's functional notation for f(t).
                let protobuf::ColumnRef {
                    fields,
                    location: _,
                } = c;
                for field in fields.iter().skip(1) {
                    if let Some(N::String(s)) = field.node.as_ref() {
                        self.function(None, &s.sval, None, true);
                    }
                }
                self.children(node);
            }
            NodeRef::AIndirection(i) => {
                // `(expr).f` calls f(expr), for any type of expr.
                for field in &i.indirection {
                    if let Some(N::String(s)) = field.node.as_ref() {
                        self.function(None, &s.sval, None, true);
                    }
                }
                self.children(node);
            }
            NodeRef::Constraint(_) | NodeRef::TableLikeClause(_) => {
                // FOREIGN KEY ... REFERENCES t and LIKE t only read t.
                self.with_access(Access::Read, |w| w.children(node));
            }
            NodeRef::LockingClause(l) => {
                // FOR UPDATE OF a, b names range-table entries, not tables;
                // the enclosing SELECT handles them.
                let protobuf::LockingClause {
                    locked_rels: _,
                    strength: _,
                    wait_policy: _,
                } = l;
            }
            NodeRef::CallStmt(s) => {
                self.unseen_code();
                self.effect(E::Code);
                if s.funcexpr.is_some() {
                    self.effects.insert(E::Unknown);
                }
                self.children(node);
            }

            NodeRef::CreateSeqStmt(s) => {
                let protobuf::CreateSeqStmt {
                    sequence,
                    options,
                    owner_id: _,
                    for_identity: _,
                    if_not_exists: _,
                } = s;
                self.effect(E::Ddl);
                self.created_target(sequence);
                self.with_access(Access::Ddl, |w| w.nodes(options));
            }

            // ----- statements with fixed effects
            NodeRef::VariableShowStmt(_) | NodeRef::ClosePortalStmt(_) | NodeRef::FetchStmt(_) => {
                self.statement(node, &[E::Read], Access::Read)
            }
            NodeRef::TruncateStmt(_) | NodeRef::RefreshMatViewStmt(_) => {
                self.statement(node, &[E::Write], Access::Write)
            }
            // ACCESS SHARE is the lock every SELECT takes (pg_dump takes it
            // explicitly): a read. Any stronger mode blocks other sessions'
            // reads or writes.
            NodeRef::LockStmt(s) if s.mode == pg_query::LockMode::AccessShareLock as i32 => {
                self.statement(node, &[E::Read], Access::Read)
            }
            NodeRef::LockStmt(_) => self.statement(node, &[E::Lock], Access::Write),
            NodeRef::VacuumStmt(_)
            | NodeRef::ClusterStmt(_)
            | NodeRef::ReindexStmt(_)
            | NodeRef::CheckPointStmt(_) => self.statement(node, &[E::Maintenance], Access::Write),
            NodeRef::CreateSchemaStmt(_)
            | NodeRef::AlterCollationStmt(_)
            | NodeRef::AlterDomainStmt(_)
            | NodeRef::AlterTableMoveAllStmt(_)
            | NodeRef::CreateForeignTableStmt(_)
            | NodeRef::AlterSeqStmt(_)
            | NodeRef::DefineStmt(_)
            | NodeRef::CreateDomainStmt(_)
            | NodeRef::CreateOpClassStmt(_)
            | NodeRef::CreateOpFamilyStmt(_)
            | NodeRef::AlterOpFamilyStmt(_)
            | NodeRef::SecLabelStmt(_)
            | NodeRef::CreateStatsStmt(_)
            | NodeRef::AlterStatsStmt(_)
            | NodeRef::AlterObjectDependsStmt(_)
            | NodeRef::AlterOperatorStmt(_)
            | NodeRef::AlterTypeStmt(_)
            | NodeRef::CompositeTypeStmt(_)
            | NodeRef::CreateEnumStmt(_)
            | NodeRef::CreateRangeStmt(_)
            | NodeRef::AlterEnumStmt(_)
            | NodeRef::CreateConversionStmt(_)
            | NodeRef::CreateCastStmt(_)
            | NodeRef::CreateTransformStmt(_)
            | NodeRef::AlterTsdictionaryStmt(_)
            | NodeRef::AlterTsconfigurationStmt(_)
            | NodeRef::CreatePublicationStmt(_)
            | NodeRef::AlterPublicationStmt(_) => self.statement(node, &[E::Ddl], Access::Ddl),
            NodeRef::AlterEventTrigStmt(_) => self.statement(node, &[E::Ddl, E::Code], Access::Ddl),
            NodeRef::GrantRoleStmt(_)
            | NodeRef::AlterDefaultPrivilegesStmt(_)
            | NodeRef::CreateRoleStmt(_)
            | NodeRef::AlterRoleStmt(_)
            | NodeRef::DropRoleStmt(_)
            | NodeRef::DropOwnedStmt(_)
            | NodeRef::ReassignOwnedStmt(_) => self.statement(node, &[E::Privilege], Access::Ddl),
            NodeRef::CreateTableSpaceStmt(_)
            | NodeRef::DropTableSpaceStmt(_)
            | NodeRef::AlterTableSpaceOptionsStmt(_)
            | NodeRef::CreatedbStmt(_)
            | NodeRef::AlterDatabaseStmt(_)
            | NodeRef::AlterDatabaseRefreshCollStmt(_)
            | NodeRef::DropdbStmt(_) => self.statement(node, &[E::Database], Access::Ddl),
            NodeRef::CreateExtensionStmt(_)
            | NodeRef::AlterExtensionStmt(_)
            | NodeRef::AlterExtensionContentsStmt(_)
            | NodeRef::CreateFdwStmt(_)
            | NodeRef::AlterFdwStmt(_)
            | NodeRef::CreateForeignServerStmt(_)
            | NodeRef::AlterForeignServerStmt(_)
            | NodeRef::CreateUserMappingStmt(_)
            | NodeRef::AlterUserMappingStmt(_)
            | NodeRef::DropUserMappingStmt(_)
            | NodeRef::ImportForeignSchemaStmt(_)
            | NodeRef::CreateAmStmt(_)
            | NodeRef::LoadStmt(_) => self.statement(node, &[E::Extension], Access::Ddl),
            NodeRef::CreateSubscriptionStmt(_)
            | NodeRef::AlterSubscriptionStmt(_)
            | NodeRef::DropSubscriptionStmt(_) => self.statement(node, &[E::Config], Access::Ddl),
            NodeRef::CreatePlangStmt(_) => self.statement(node, &[E::Code], Access::Read),
            NodeRef::DoStmt(_) => {
                self.unseen_code();
                self.statement(node, &[E::Code], Access::Read)
            }
            NodeRef::NotifyStmt(_) => self.statement(node, &[E::Notify], Access::Read),
            NodeRef::ListenStmt(_) | NodeRef::UnlistenStmt(_) | NodeRef::DeallocateStmt(_) => {
                self.statement(node, &[E::Session], Access::Read)
            }
            NodeRef::ConstraintsSetStmt(_) => self.statement(node, &[E::Transaction], Access::Read),

            // ----- parts of raw parse trees: no effect of their own
            NodeRef::Alias(_)
            | NodeRef::IntoClause(_)
            | NodeRef::NamedArgExpr(_)
            | NodeRef::BoolExpr(_)
            | NodeRef::SubLink(_)
            | NodeRef::CaseExpr(_)
            | NodeRef::CaseWhen(_)
            | NodeRef::RowExpr(_)
            | NodeRef::CoalesceExpr(_)
            | NodeRef::MinMaxExpr(_)
            | NodeRef::SqlvalueFunction(_)
            | NodeRef::XmlExpr(_)
            | NodeRef::JsonFormat(_)
            | NodeRef::JsonReturning(_)
            | NodeRef::JsonValueExpr(_)
            | NodeRef::JsonIsPredicate(_)
            | NodeRef::JsonBehavior(_)
            | NodeRef::NullTest(_)
            | NodeRef::BooleanTest(_)
            | NodeRef::SetToDefault(_)
            | NodeRef::CurrentOfExpr(_)
            | NodeRef::GroupingFunc(_)
            | NodeRef::MergeSupportFunc(_)
            | NodeRef::JoinExpr(_)
            | NodeRef::TypeName(_)
            | NodeRef::ParamRef(_)
            | NodeRef::AExpr(_)
            | NodeRef::TypeCast(_)
            | NodeRef::CollateClause(_)
            | NodeRef::RoleSpec(_)
            | NodeRef::AStar(_)
            | NodeRef::AIndices(_)
            | NodeRef::AArrayExpr(_)
            | NodeRef::ResTarget(_)
            | NodeRef::MultiAssignRef(_)
            | NodeRef::SortBy(_)
            | NodeRef::WindowDef(_)
            | NodeRef::RangeFunction(_)
            | NodeRef::RangeTableFunc(_)
            | NodeRef::RangeTableFuncCol(_)
            | NodeRef::RangeTableSample(_)
            | NodeRef::ColumnDef(_)
            | NodeRef::IndexElem(_)
            | NodeRef::DefElem(_)
            | NodeRef::XmlSerialize(_)
            | NodeRef::PartitionElem(_)
            | NodeRef::PartitionSpec(_)
            | NodeRef::PartitionBoundSpec(_)
            | NodeRef::PartitionRangeDatum(_)
            | NodeRef::PartitionCmd(_)
            | NodeRef::GroupingSet(_)
            | NodeRef::WithClause(_)
            | NodeRef::InferClause(_)
            | NodeRef::OnConflictClause(_)
            | NodeRef::CtesearchClause(_)
            | NodeRef::CtecycleClause(_)
            | NodeRef::CommonTableExpr(_)
            | NodeRef::MergeWhenClause(_)
            | NodeRef::ReturningOption(_)
            | NodeRef::ReturningClause(_)
            | NodeRef::TriggerTransition(_)
            | NodeRef::JsonOutput(_)
            | NodeRef::JsonArgument(_)
            | NodeRef::JsonFuncExpr(_)
            | NodeRef::JsonTablePathSpec(_)
            | NodeRef::JsonTable(_)
            | NodeRef::JsonTableColumn(_)
            | NodeRef::JsonKeyValue(_)
            | NodeRef::JsonParseExpr(_)
            | NodeRef::JsonScalarExpr(_)
            | NodeRef::JsonSerializeExpr(_)
            | NodeRef::JsonObjectConstructor(_)
            | NodeRef::JsonArrayConstructor(_)
            | NodeRef::JsonArrayQueryConstructor(_)
            | NodeRef::JsonAggConstructor(_)
            | NodeRef::JsonObjectAgg(_)
            | NodeRef::JsonArrayAgg(_)
            | NodeRef::RawStmt(_)
            | NodeRef::ReturnStmt(_)
            | NodeRef::AtalterConstraint(_)
            | NodeRef::ReplicaIdentityStmt(_)
            | NodeRef::ObjectWithArgs(_)
            | NodeRef::AccessPriv(_)
            | NodeRef::CreateOpClassItem(_)
            | NodeRef::FunctionParameter(_)
            | NodeRef::StatsElem(_)
            | NodeRef::VacuumRelation(_)
            | NodeRef::PublicationTable(_)
            | NodeRef::PublicationObjSpec(_)
            | NodeRef::Integer(_)
            | NodeRef::Float(_)
            | NodeRef::Boolean(_)
            | NodeRef::String(_)
            | NodeRef::BitString(_)
            | NodeRef::List(_)
            | NodeRef::IntList(_)
            | NodeRef::OidList(_)
            | NodeRef::AConst(_) => self.children(node),

            // ----- nodes of analysed trees and PL/pgSQL-only statements:
            // never produced by the raw SQL parser
            NodeRef::TableFunc(_)
            | NodeRef::Var(_)
            | NodeRef::Param(_)
            | NodeRef::Aggref(_)
            | NodeRef::WindowFunc(_)
            | NodeRef::WindowFuncRunCondition(_)
            | NodeRef::SubscriptingRef(_)
            | NodeRef::FuncExpr(_)
            | NodeRef::OpExpr(_)
            | NodeRef::DistinctExpr(_)
            | NodeRef::NullIfExpr(_)
            | NodeRef::ScalarArrayOpExpr(_)
            | NodeRef::SubPlan(_)
            | NodeRef::AlternativeSubPlan(_)
            | NodeRef::FieldSelect(_)
            | NodeRef::FieldStore(_)
            | NodeRef::RelabelType(_)
            | NodeRef::CoerceViaIo(_)
            | NodeRef::ArrayCoerceExpr(_)
            | NodeRef::ConvertRowtypeExpr(_)
            | NodeRef::CollateExpr(_)
            | NodeRef::CaseTestExpr(_)
            | NodeRef::ArrayExpr(_)
            | NodeRef::RowCompareExpr(_)
            | NodeRef::JsonConstructorExpr(_)
            | NodeRef::JsonExpr(_)
            | NodeRef::JsonTablePath(_)
            | NodeRef::JsonTablePathScan(_)
            | NodeRef::JsonTableSiblingJoin(_)
            | NodeRef::MergeAction(_)
            | NodeRef::CoerceToDomain(_)
            | NodeRef::CoerceToDomainValue(_)
            | NodeRef::NextValueExpr(_)
            | NodeRef::InferenceElem(_)
            | NodeRef::ReturningExpr(_)
            | NodeRef::TargetEntry(_)
            | NodeRef::RangeTblRef(_)
            | NodeRef::FromExpr(_)
            | NodeRef::OnConflictExpr(_)
            | NodeRef::Query(_)
            | NodeRef::RangeTblEntry(_)
            | NodeRef::RtepermissionInfo(_)
            | NodeRef::RangeTblFunction(_)
            | NodeRef::TableSampleClause(_)
            | NodeRef::WithCheckOption(_)
            | NodeRef::SortGroupClause(_)
            | NodeRef::WindowClause(_)
            | NodeRef::RowMarkClause(_)
            | NodeRef::SetOperationStmt(_)
            | NodeRef::PlassignStmt(_)
            | NodeRef::InlineCodeBlock(_)
            | NodeRef::CallContext(_) => self.foreign(node),
        }
    }

    // ------------------------------------------------------------- relations

    fn is_cte(&self, name: &str) -> bool {
        self.cte_scopes.iter().any(|scope| scope.contains(&name))
    }

    /// Records a relation. `is_target` marks names that always denote a real
    /// relation (DML targets, DDL targets): a CTE of the same name does not
    /// shadow them.
    fn relation(&mut self, rv: &'a protobuf::RangeVar, access: Access, is_target: bool) {
        let protobuf::RangeVar {
            catalogname: _,
            schemaname,
            relname,
            inh: _,
            relpersistence: _,
            alias,
            location: _,
        } = rv;
        let schema = non_empty(schemaname);
        if !is_target && schema.is_none() && self.is_cte(relname) {
            return;
        }
        self.object(schema, relname, access);
        if !is_target {
            let alias_name = alias.as_ref().map(|a| a.aliasname.as_str());
            if self
                .lock
                .as_ref()
                .is_some_and(|l| l.covers(alias_name, relname))
            {
                self.object(schema, relname, Access::Write);
            }
        }
    }

    fn opt_target(&mut self, rv: &'a Option<protobuf::RangeVar>, access: Access) {
        if let Some(rv) = rv {
            self.relation(rv, access, true);
        }
    }

    /// The relation a CREATE makes: an unqualified name goes to the first
    /// existing schema of the search path, not to wherever lookups look.
    fn created_target(&mut self, rv: &'a Option<protobuf::RangeVar>) {
        if let Some(rv) = rv {
            // 't' is RELPERSISTENCE_TEMP: created in the temporary schema.
            self.creating = Some(Naming::Created {
                temporary: rv.relpersistence == "t",
            });
            self.relation(rv, Access::Ddl, true);
            self.creating = None;
        }
    }

    // ------------------------------------------------------------------ DML

    /// Walks a WITH clause and leaves its scope pushed (the caller pops it).
    fn with_clause(&mut self, with: &'a protobuf::WithClause) {
        let protobuf::WithClause {
            ctes,
            recursive,
            location: _,
        } = with;
        let cte_name = |n: &'a protobuf::Node| match n.node.as_ref() {
            Some(N::CommonTableExpr(c)) => Some(c.ctename.as_str()),
            _ => None,
        };
        if *recursive {
            // WITH RECURSIVE: every name is visible in every CTE body.
            self.cte_scopes
                .push(ctes.iter().filter_map(cte_name).collect());
            self.nodes(ctes);
        } else {
            // A CTE body sees only the CTEs before it (its own name, and later
            // ones, still denote real tables there).
            self.cte_scopes.push(Vec::new());
            for cte in ctes {
                self.node(cte);
                if let (Some(name), Some(scope)) = (cte_name(cte), self.cte_scopes.last_mut()) {
                    scope.push(name);
                }
            }
        }
    }

    fn begin_dml(&mut self, with: &'a Option<protobuf::WithClause>) -> (Access, bool) {
        let saved = std::mem::replace(&mut self.access, Access::Read);
        let pushed = match with {
            Some(w) => {
                self.with_clause(w);
                true
            }
            None => false,
        };
        (saved, pushed)
    }

    fn end_dml(&mut self, (saved, pushed): (Access, bool)) {
        if pushed {
            self.cte_scopes.pop();
        }
        self.access = saved;
    }

    fn select_stmt(&mut self, s: &'a protobuf::SelectStmt) {
        let protobuf::SelectStmt {
            distinct_clause,
            into_clause,
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
        let inherited = std::mem::take(&mut self.inherit_lock);
        let saved_lock = self.lock.take();
        let state = self.begin_dml(with_clause);

        if let Some(into) = into_clause {
            // SELECT ... INTO creates a table.
            self.effect(Effect::Ddl);
            self.visit_into_clause(into);
        }
        let mut lock = inherited.then_some(LockSet::All);
        if !locking_clause.is_empty() {
            self.effect(Effect::Write);
            lock = Some(lock_set(locking_clause, lock));
        }
        self.lock = lock;
        self.nodes(from_clause);
        self.lock = None;

        self.nodes(distinct_clause);
        let outer_row = std::mem::replace(
            &mut self.settings_row,
            pg_settings_row_name(from_clause, where_clause.as_deref()),
        );
        self.nodes(target_list);
        self.settings_row = None;
        self.opt_node(where_clause);
        self.nodes(group_clause);
        self.opt_node(having_clause);
        self.nodes(window_clause);
        self.nodes(values_lists);
        self.nodes(sort_clause);
        self.opt_node(limit_offset);
        self.opt_node(limit_count);
        if let Some(l) = larg {
            self.select_stmt(l);
        }
        if let Some(r) = rarg {
            self.select_stmt(r);
        }

        self.end_dml(state);
        self.lock = saved_lock;
        self.settings_row = outer_row;
    }

    fn visit_into_clause(&mut self, into: &'a protobuf::IntoClause) {
        let protobuf::IntoClause {
            rel,
            col_names,
            access_method: _,
            options,
            on_commit: _,
            table_space_name: _,
            view_query,
            skip_data: _,
        } = into;
        self.created_target(rel);
        self.nodes(col_names);
        self.nodes(options);
        if let Some(q) = view_query {
            self.visit(NodeRef::Query(q));
        }
    }

    fn insert_stmt(&mut self, s: &'a protobuf::InsertStmt) {
        let protobuf::InsertStmt {
            relation,
            cols,
            select_stmt,
            on_conflict_clause,
            returning_clause,
            with_clause,
            r#override: _,
        } = s;
        self.dml("INSERT", relation, |w| {
            w.effect(Effect::Write);
            let state = w.begin_dml(with_clause);
            w.opt_target(relation, Access::Write);
            w.nodes(cols);
            w.opt_node(select_stmt);
            if let Some(c) = on_conflict_clause {
                w.visit(NodeRef::OnConflictClause(c));
            }
            if let Some(r) = returning_clause {
                w.visit(NodeRef::ReturningClause(r));
            }
            w.end_dml(state);
        });
    }

    fn update_stmt(&mut self, s: &'a protobuf::UpdateStmt) {
        let protobuf::UpdateStmt {
            relation,
            target_list,
            where_clause,
            from_clause,
            returning_clause,
            with_clause,
        } = s;
        self.dml("UPDATE", relation, |w| {
            w.effect(Effect::Write);
            if where_clause.is_none() {
                w.dml_without_where("UPDATE");
            }
            let state = w.begin_dml(with_clause);
            w.opt_target(relation, Access::Write);
            w.nodes(from_clause);
            w.nodes(target_list);
            w.opt_node(where_clause);
            if let Some(r) = returning_clause {
                w.visit(NodeRef::ReturningClause(r));
            }
            w.end_dml(state);
        });
    }

    fn delete_stmt(&mut self, s: &'a protobuf::DeleteStmt) {
        let protobuf::DeleteStmt {
            relation,
            using_clause,
            where_clause,
            returning_clause,
            with_clause,
        } = s;
        self.dml("DELETE", relation, |w| {
            w.effect(Effect::Write);
            if where_clause.is_none() {
                w.dml_without_where("DELETE");
            }
            let state = w.begin_dml(with_clause);
            w.opt_target(relation, Access::Write);
            w.nodes(using_clause);
            w.opt_node(where_clause);
            if let Some(r) = returning_clause {
                w.visit(NodeRef::ReturningClause(r));
            }
            w.end_dml(state);
        });
    }

    fn merge_stmt(&mut self, s: &'a protobuf::MergeStmt) {
        let protobuf::MergeStmt {
            relation,
            source_relation,
            join_condition,
            merge_when_clauses,
            returning_clause,
            with_clause,
        } = s;
        self.dml("MERGE", relation, |w| {
            w.effect(Effect::Write);
            let state = w.begin_dml(with_clause);
            w.opt_target(relation, Access::Write);
            w.opt_node(source_relation);
            w.opt_node(join_condition);
            w.nodes(merge_when_clauses);
            if let Some(r) = returning_clause {
                w.visit(NodeRef::ReturningClause(r));
            }
            w.end_dml(state);
        });
    }

    // ------------------------------------------------- statements with parts

    fn copy_stmt(&mut self, s: &'a protobuf::CopyStmt) {
        let protobuf::CopyStmt {
            relation,
            query,
            attlist,
            is_from,
            is_program,
            filename,
            options,
            where_clause,
        } = s;
        if *is_program || !filename.is_empty() {
            self.effect(Effect::ServerFiles);
        }
        let access = if *is_from {
            self.effect(Effect::Write);
            Access::Write
        } else {
            self.effect(Effect::Read);
            Access::Read
        };
        self.opt_target(relation, access);
        if let Some(q) = query {
            self.statement_position(q);
        }
        self.nodes(attlist);
        self.nodes(options);
        self.opt_node(where_clause);
    }

    fn explain_stmt(&mut self, s: &'a protobuf::ExplainStmt) {
        let protobuf::ExplainStmt { query, options } = s;
        self.effect(Effect::Read);
        self.nodes(options);
        if let Some(q) = query {
            if options.iter().any(is_analyze_option) {
                self.statement_position(q);
            } else {
                self.with_mode(Mode::PlanOnly, |w| w.statement_position(q));
            }
        }
    }

    fn prepare_stmt(&mut self, s: &'a protobuf::PrepareStmt) {
        let protobuf::PrepareStmt {
            name,
            argtypes,
            query,
        } = s;
        self.effect(Effect::Session);
        self.prepared_name = Some(name.clone());
        self.nodes(argtypes);
        if let Some(q) = query {
            self.statement_position(q);
        }
    }

    fn create_table_as(&mut self, s: &'a protobuf::CreateTableAsStmt) {
        let protobuf::CreateTableAsStmt {
            query,
            into,
            objtype: _,
            is_select_into: _,
            if_not_exists: _,
        } = s;
        self.effect(Effect::Ddl);
        let skip_data = into.as_ref().is_some_and(|i| i.skip_data);
        if let Some(into) = into {
            self.visit_into_clause(into);
        }
        if let Some(q) = query {
            if skip_data {
                self.with_mode(Mode::Deferred, |w| w.node(q));
            } else {
                self.node(q);
            }
        }
    }

    fn view_stmt(&mut self, s: &'a protobuf::ViewStmt) {
        let protobuf::ViewStmt {
            view,
            aliases,
            query,
            replace: _,
            options,
            with_check_option: _,
        } = s;
        self.effect(Effect::Ddl);
        self.created_target(view);
        self.nodes(aliases);
        self.nodes(options);
        if let Some(q) = query {
            self.with_mode(Mode::Deferred, |w| w.node(q));
        }
    }

    fn rule_stmt(&mut self, s: &'a protobuf::RuleStmt) {
        let protobuf::RuleStmt {
            relation,
            rulename: _,
            where_clause,
            event: _,
            instead: _,
            actions,
            replace: _,
        } = s;
        self.effect(Effect::Ddl);
        self.opt_target(relation, Access::Ddl);
        self.with_mode(Mode::Deferred, |w| {
            w.opt_node(where_clause);
            for action in actions {
                w.statement_position(action);
            }
        });
    }

    fn create_trigger(&mut self, s: &'a protobuf::CreateTrigStmt) {
        let protobuf::CreateTrigStmt {
            replace: _,
            isconstraint: _,
            trigname: _,
            relation,
            funcname,
            args,
            row: _,
            timing: _,
            events: _,
            columns,
            when_clause,
            transition_rels,
            deferrable: _,
            initdeferred: _,
            constrrel,
        } = s;
        self.effect(Effect::Ddl);
        self.opt_target(relation, Access::Ddl);
        self.function_name_ref(funcname);
        self.nodes(args);
        self.nodes(columns);
        self.with_mode(Mode::Deferred, |w| w.opt_node(when_clause));
        self.nodes(transition_rels);
        self.opt_target(constrrel, Access::Read);
    }

    fn policy(
        &mut self,
        table: &'a Option<protobuf::RangeVar>,
        roles: &'a [protobuf::Node],
        qual: &'a Option<Box<protobuf::Node>>,
        with_check: &'a Option<Box<protobuf::Node>>,
    ) {
        self.effect(Effect::Ddl);
        self.opt_target(table, Access::Ddl);
        self.nodes(roles);
        self.with_mode(Mode::Deferred, |w| {
            w.opt_node(qual);
            w.opt_node(with_check);
        });
    }

    fn create_stmt(&mut self, s: &'a protobuf::CreateStmt) {
        let protobuf::CreateStmt {
            relation,
            table_elts,
            inh_relations,
            partbound,
            partspec,
            of_typename,
            constraints,
            nnconstraints,
            options,
            oncommit: _,
            tablespacename: _,
            access_method: _,
            if_not_exists: _,
        } = s;
        self.effect(Effect::Ddl);
        self.created_target(relation);
        let plain = inh_relations.is_empty() && partbound.is_none() && of_typename.is_none();
        if plain && self.mode == Mode::Executed {
            self.created_columns = table_elts
                .iter()
                .map(|e| match e.node.as_ref() {
                    Some(N::ColumnDef(c)) => Some(Some(c.colname.clone())),
                    Some(N::Constraint(_)) => Some(None),
                    _ => None,
                })
                .collect::<Option<Vec<Option<String>>>>()
                .map(|cols| cols.into_iter().flatten().collect());
        }
        self.with_access(Access::Ddl, |w| {
            // INHERITS / PARTITION OF alter the parent too.
            w.nodes(inh_relations);
            if let Some(p) = partbound {
                // Partition bound expressions are evaluated now.
                w.visit(NodeRef::PartitionBoundSpec(p));
            }
            if let Some(p) = partspec {
                w.visit(NodeRef::PartitionSpec(p));
            }
            if let Some(t) = of_typename {
                w.visit(NodeRef::TypeName(t));
            }
            w.nodes(options);
            // Defaults and constraints of a new (empty) table do not run now.
            w.with_mode(Mode::Deferred, |w| {
                w.nodes(table_elts);
                w.nodes(constraints);
                w.nodes(nnconstraints);
            });
        });
    }

    fn create_function(&mut self, s: &'a protobuf::CreateFunctionStmt) {
        let protobuf::CreateFunctionStmt {
            is_procedure: _,
            replace: _,
            funcname,
            parameters,
            return_type,
            options,
            sql_body,
        } = s;
        self.effect(Effect::Ddl);
        if options.iter().any(defines_privileged_code) {
            self.effect(Effect::Code);
        }
        self.nodes(funcname);
        self.with_mode(Mode::Deferred, |w| w.nodes(parameters));
        if let Some(t) = return_type {
            self.visit(NodeRef::TypeName(t));
        }
        // SET clauses (VariableSetStmt) carry the effects of the setting.
        self.with_stored_config(|w| w.nodes(options));
        self.with_mode(Mode::Deferred, |w| w.opt_node(sql_body));
    }

    fn alter_table(&mut self, node: NodeRef<'a>, s: &'a protobuf::AlterTableStmt) {
        let mut owner = false;
        let mut other = s.cmds.is_empty();
        for cmd in &s.cmds {
            match cmd.node.as_ref() {
                Some(N::AlterTableCmd(c))
                    if protobuf::AlterTableType::try_from(c.subtype)
                        == Ok(protobuf::AlterTableType::AtChangeOwner) =>
                {
                    owner = true;
                }
                _ => other = true,
            }
        }
        if owner {
            self.effect(Effect::Privilege);
        }
        if other {
            self.effect(Effect::Ddl);
        }
        self.with_access(Access::Ddl, |w| w.children(node));
    }

    fn alter_table_cmd(&mut self, c: &'a protobuf::AlterTableCmd) {
        let protobuf::AlterTableCmd {
            subtype,
            name: _,
            num: _,
            newowner,
            def,
            behavior: _,
            missing_ok: _,
            recurse: _,
        } = c;
        if let Some(r) = newowner {
            self.visit(NodeRef::RoleSpec(r));
        }
        let subtype = protobuf::AlterTableType::try_from(*subtype);
        if subtype == Ok(protobuf::AlterTableType::AtColumnDefault) {
            // ALTER COLUMN ... SET DEFAULT does not evaluate the default.
            self.with_mode(Mode::Deferred, |w| w.opt_node(def));
        } else {
            self.opt_node(def);
        }
    }

    fn variable_set(&mut self, s: &'a protobuf::VariableSetStmt) {
        use protobuf::VariableSetKind as K;
        let protobuf::VariableSetStmt {
            kind,
            name,
            args,
            jumble_args: _,
            is_local,
            location: _,
        } = s;
        let scope = if *is_local {
            SettingScope::Local
        } else {
            SettingScope::Session
        };
        match K::try_from(*kind) {
            Ok(K::VarSetValue) => self.setting_to(name, set_items(args), scope),
            Ok(K::VarSetDefault | K::VarReset) => {
                self.setting_to(name, SettingValue::Default, scope)
            }
            // SET ... FROM CURRENT: meaningful in a function's SET clause only.
            Ok(K::VarSetCurrent) => self.setting_to(name, SettingValue::Unknown, scope),
            Ok(K::VarResetAll) => self.setting_to("all", SettingValue::Default, scope),
            Ok(K::VarSetMulti) => match name.as_str() {
                "TRANSACTION" => {
                    self.effect(Effect::Transaction);
                    self.transaction_modes(args, false);
                }
                "TRANSACTION SNAPSHOT" => self.effect(Effect::Transaction),
                "SESSION CHARACTERISTICS" => {
                    self.effect(Effect::Session);
                    self.transaction_modes(args, true);
                }
                _ => {
                    self.effects.insert(Effect::Unknown);
                }
            },
            Ok(K::Undefined) | Err(_) => {
                self.effects.insert(Effect::Unknown);
            }
        }
        self.nodes(args);
    }

    /// Transaction modes of BEGIN / START TRANSACTION / SET TRANSACTION /
    /// SET SESSION CHARACTERISTICS.
    fn transaction_modes(&mut self, modes: &'a [protobuf::Node], session_default: bool) {
        for m in modes {
            let Some(N::DefElem(d)) = m.node.as_ref() else {
                self.effects.insert(Effect::Unknown);
                continue;
            };
            let name = names::setting_name(&d.defname);
            if session_default {
                // Changes default_transaction_*: any read-only mode change counts.
                let default_name = format!("default_{name}");
                if effects::is_read_only_setting(&default_name) {
                    if is_true_constant(d.arg.as_deref()) {
                        // SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY
                        // keeps read-only mode on: the guard decides that.
                        self.effect(Effect::Session);
                    } else {
                        self.effect(Effect::ReadOnlyChange);
                    }
                    let value = if is_true_constant(d.arg.as_deref()) {
                        SettingValue::Text("on".into())
                    } else {
                        SettingValue::Unknown
                    };
                    if self.mode == Mode::Executed && !self.stored_config {
                        self.setting_changes.push(SettingChange {
                            name: default_name.clone(),
                            value,
                            scope: SettingScope::Session,
                        });
                    }
                }
                self.session_setting(default_name);
                continue;
            }
            if name == "transaction_read_only" && !is_true_constant(d.arg.as_deref()) {
                // READ WRITE (or anything not plainly READ ONLY)
                self.effect(Effect::ReadOnlyChange);
            }
            self.session_setting(name);
        }
    }

    fn transaction_stmt(&mut self, s: &'a protobuf::TransactionStmt) {
        use protobuf::TransactionStmtKind as K;
        let protobuf::TransactionStmt {
            kind,
            options,
            savepoint_name: _,
            gid: _,
            chain: _,
            location: _,
        } = s;
        let control = match K::try_from(*kind) {
            Ok(K::TransStmtBegin | K::TransStmtStart) => Some(TxnControl::Begin),
            Ok(K::TransStmtCommit | K::TransStmtPrepare) => Some(TxnControl::Commit),
            Ok(K::TransStmtRollback) => Some(TxnControl::Rollback),
            Ok(K::TransStmtSavepoint) => Some(TxnControl::Savepoint),
            Ok(K::TransStmtRelease) => Some(TxnControl::Release),
            Ok(K::TransStmtRollbackTo) => Some(TxnControl::RollbackTo),
            _ => None,
        };
        if self.mode == Mode::Executed && self.transaction.is_none() {
            self.transaction = control;
        }
        match K::try_from(*kind) {
            Ok(K::TransStmtBegin | K::TransStmtStart) => {
                self.effect(Effect::Transaction);
                self.transaction_modes(options, false);
            }
            Ok(
                K::TransStmtCommit
                | K::TransStmtRollback
                | K::TransStmtSavepoint
                | K::TransStmtRelease
                | K::TransStmtRollbackTo
                | K::TransStmtPrepare
                | K::TransStmtCommitPrepared
                | K::TransStmtRollbackPrepared,
            ) => self.effect(Effect::Transaction),
            Ok(K::Undefined) | Err(_) => {
                self.effects.insert(Effect::Unknown);
            }
        }
        self.nodes(options);
    }

    fn drop_stmt(&mut self, node: NodeRef<'a>, s: &'a protobuf::DropStmt) {
        use protobuf::ObjectType as T;
        let kind = object_type(s.remove_type);
        match kind {
            Some(T::ObjectLanguage) => self.effect(Effect::Code),
            Some(T::ObjectEventTrigger) => {
                self.effect(Effect::Ddl);
                self.effect(Effect::Code);
            }
            _ => {
                let extra = object_type_effect(s.remove_type);
                self.effect(extra.unwrap_or(Effect::Ddl));
            }
        }
        for object in &s.objects {
            self.named_object(kind, object);
        }
        self.with_access(Access::Ddl, |w| w.children(node));
    }

    fn comment_stmt(&mut self, node: NodeRef<'a>, s: &'a protobuf::CommentStmt) {
        self.effect(Effect::Ddl);
        let kind = object_type(s.objtype);
        if kind == Some(protobuf::ObjectType::ObjectLargeobject) {
            self.effect(Effect::LargeObject);
        }
        if let Some(object) = &s.object {
            self.named_object(kind, object);
        }
        self.with_access(Access::Ddl, |w| w.children(node));
    }

    /// Relation named by a DROP or COMMENT object name list.
    fn named_object(&mut self, kind: Option<protobuf::ObjectType>, object: &'a protobuf::Node) {
        use protobuf::ObjectType as T;
        let Some(N::List(list)) = object.node.as_ref() else {
            return;
        };
        let parts: &[protobuf::Node] = match kind {
            Some(
                T::ObjectTable
                | T::ObjectView
                | T::ObjectMatview
                | T::ObjectIndex
                | T::ObjectSequence
                | T::ObjectForeignTable,
            ) => &list.items,
            // trigger/policy/rule ON table, and table.column
            Some(T::ObjectTrigger | T::ObjectPolicy | T::ObjectRule | T::ObjectColumn) => {
                match list.items.split_last() {
                    Some((_, table)) => table,
                    None => return,
                }
            }
            _ => return,
        };
        if let Some((schema, name)) = names::qualified_from_nodes(parts) {
            self.object(schema.as_deref(), &name, Access::Ddl);
        }
    }

    // ------------------------------------------------------------ functions

    /// A function named as a reference (trigger function), not called now.
    fn function_name_ref(&mut self, funcname: &'a [protobuf::Node]) {
        if let Some((schema, name)) = names::qualified_from_nodes(funcname) {
            self.function_ref(schema.as_deref(), &name);
        }
    }

    fn func_call(&mut self, f: &'a protobuf::FuncCall) {
        let protobuf::FuncCall {
            funcname,
            args,
            agg_order,
            agg_filter,
            over,
            agg_within_group: _,
            agg_star: _,
            agg_distinct: _,
            func_variadic: _,
            funcformat: _,
            location: _,
        } = f;
        match names::qualified_from_nodes(funcname) {
            Some((schema, name)) => self.function(schema.as_deref(), &name, Some(args), false),
            None => {
                self.effects.insert(Effect::Unknown);
            }
        }
        self.nodes(args);
        self.nodes(agg_order);
        self.opt_node(agg_filter);
        if let Some(w) = over {
            self.visit(NodeRef::WindowDef(w));
        }
    }

    /// A call of `schema.name(args)`. `args` is `None` when the arguments are
    /// not available as a list (attribute notation `(x).f`); `exact_only`
    /// restricts matching to exact built-in names and records nothing for a
    /// name that carries no effect (used for attribute notation, where the
    /// name is usually a column).
    fn function(
        &mut self,
        schema: Option<&str>,
        name: &str,
        args: Option<&'a [protobuf::Node]>,
        exact_only: bool,
    ) {
        let mut found = BTreeSet::new();
        let rule = effects::function_effects(schema, name, exact_only, &mut found);
        if exact_only && found.is_empty() && rule == ArgRule::None {
            return;
        }
        if !matches!(schema, None | Some("pg_catalog"))
            || !super::builtins::is_builtin_function(name)
        {
            self.unseen_code();
        }
        self.function_ref(schema, name);
        for e in found {
            self.effect(e);
        }
        match rule {
            ArgRule::None => {}
            ArgRule::SetConfig => match args.and_then(|a| self.set_config_name(a)) {
                Some(setting) => {
                    let value = args
                        .and_then(|a| positional_arg(a, 1))
                        .and_then(names::string_constant)
                        .map_or(SettingValue::Unknown, |v| SettingValue::Text(v.to_owned()));
                    let scope = match args.and_then(|a| positional_arg(a, 2)) {
                        Some(arg) if is_true_constant(Some(arg)) => SettingScope::Local,
                        Some(arg) if is_false_constant(Some(arg)) => SettingScope::Session,
                        _ => SettingScope::Unknown,
                    };
                    self.setting_to(setting, value, scope)
                }
                None => {
                    // Unknown parameter name: could be any of them.
                    if self.mode == Mode::Executed && !self.stored_config {
                        self.setting_changes.push(SettingChange {
                            name: "all".to_owned(),
                            value: SettingValue::Unknown,
                            scope: SettingScope::Unknown,
                        });
                    }
                    self.effect(Effect::ReadOnlyChange);
                    self.effect(Effect::SetRole);
                    self.effect(Effect::Session);
                }
            },
            ArgRule::Sequence => {
                let named = args
                    .and_then(|a| positional_arg(a, 0))
                    .and_then(names::string_constant)
                    .and_then(names::parse_qualified_name);
                if let Some((seq_schema, seq_name)) = named {
                    let access = if name == "currval" {
                        Access::Read
                    } else {
                        Access::Write
                    };
                    self.object(seq_schema.as_deref(), &seq_name, access);
                }
            }
            // ts_rewrite(query, target, substitute) takes no SQL text.
            ArgRule::ExecutesSql(_)
                if name == "ts_rewrite" && args.is_some_and(|a| a.len() != 2) => {}
            ArgRule::ExecutesSql(index) => {
                match args
                    .and_then(|a| positional_arg(a, index))
                    .and_then(names::string_constant)
                {
                    Some(sql) => self.nested_sql(sql),
                    None => {
                        self.effects.insert(Effect::Unknown);
                    }
                }
            }
            ArgRule::ReadsTable => {
                let named = args
                    .and_then(|a| positional_arg(a, 0))
                    .and_then(names::string_constant)
                    .and_then(names::parse_qualified_name);
                match named {
                    Some((t_schema, t_name)) => {
                        self.object(t_schema.as_deref(), &t_name, Access::Read)
                    }
                    None => {
                        self.effects.insert(Effect::Unknown);
                    }
                }
            }
            ArgRule::ReadsMany => {
                self.effects.insert(Effect::Unknown);
            }
        }
    }

    /// The parameter set_config is asked to change: a constant, or the
    /// `name` column of a `pg_settings` row the enclosing SELECT pins to
    /// one name.
    fn set_config_name(&self, args: &'a [protobuf::Node]) -> Option<&'a str> {
        if let Some(name) = set_config_name(args) {
            return Some(name);
        }
        let row_name = self.settings_row?;
        match positional_arg(args, 0)?.node.as_ref()? {
            N::ColumnRef(c) => match c.fields.as_slice() {
                [f] | [_, f] => match f.node.as_ref()? {
                    N::String(s) if s.sval == "name" => Some(row_name),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// SQL text executed by a function (query_to_xml, ts_stat, ...).
    fn nested_sql(&mut self, sql: &str) {
        if self.depth >= MAX_SQL_NESTING {
            self.effects.insert(Effect::Unknown);
            return;
        }
        match analyze_nested(sql, self.options, self.depth + 1) {
            Ok(analysis) => {
                for st in analysis.statements {
                    let command = st.command_tag;
                    self.inner(command, None, |w| {
                        for e in &st.effects {
                            w.effect(*e);
                        }
                    });
                    for o in st.objects {
                        self.object(o.schema.as_deref(), &o.name, o.access);
                    }
                    for f in st.functions {
                        self.function_ref(f.schema.as_deref(), &f.name);
                    }
                    if st.dml_without_where {
                        self.dml_without_where(st.dml_without_where_command.unwrap_or(command));
                    }
                    if st.runs_unseen_code {
                        self.unseen_code();
                    }
                    for s in st.settings {
                        self.session_setting(s);
                    }
                    if st.executes.is_some() {
                        self.executes = st.executes;
                    }
                }
            }
            Err(_) => {
                self.effects.insert(Effect::Unknown);
            }
        }
    }
}

// ------------------------------------------------------------------ helpers

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn object_type(raw: i32) -> Option<protobuf::ObjectType> {
    protobuf::ObjectType::try_from(raw).ok()
}

/// The effect that replaces plain `Ddl` for some object types.
fn object_type_effect(raw: i32) -> Option<Effect> {
    use protobuf::ObjectType as T;
    match object_type(raw)? {
        T::ObjectDatabase | T::ObjectTablespace => Some(Effect::Database),
        T::ObjectRole => Some(Effect::Privilege),
        T::ObjectExtension
        | T::ObjectFdw
        | T::ObjectForeignServer
        | T::ObjectUserMapping
        | T::ObjectAccessMethod => Some(Effect::Extension),
        T::ObjectSubscription => Some(Effect::Config),
        T::ObjectLargeobject => Some(Effect::LargeObject),
        T::ObjectLanguage => Some(Effect::Code),
        _ => None,
    }
}

fn lock_set<'a>(clauses: &'a [protobuf::Node], inherited: Option<LockSet<'a>>) -> LockSet<'a> {
    let mut names = match inherited {
        Some(LockSet::All) => return LockSet::All,
        Some(LockSet::Names(n)) => n,
        None => Vec::new(),
    };
    for clause in clauses {
        let Some(N::LockingClause(lc)) = clause.node.as_ref() else {
            return LockSet::All;
        };
        if lc.locked_rels.is_empty() {
            return LockSet::All;
        }
        for rel in &lc.locked_rels {
            match rel.node.as_ref() {
                Some(N::RangeVar(rv)) => names.push(rv.relname.as_str()),
                _ => return LockSet::All,
            }
        }
    }
    if names.is_empty() {
        LockSet::All
    } else {
        LockSet::Names(names)
    }
}

/// The items of `SET name TO a, b, ...` as the server receives them, or
/// `Unknown` for forms that are not plain constants (SET TIME ZONE INTERVAL).
fn set_items(args: &[protobuf::Node]) -> SettingValue {
    use protobuf::a_const::Val;
    names::note_literal_read();
    let mut items = Vec::with_capacity(args.len());
    for a in args {
        let item = match a.node.as_ref() {
            Some(N::AConst(c)) => match c.val.as_ref() {
                Some(Val::Sval(s)) => s.sval.clone(),
                Some(Val::Ival(i)) => i.ival.to_string(),
                Some(Val::Fval(f)) => f.fval.clone(),
                Some(Val::Boolval(b)) => if b.boolval { "on" } else { "off" }.to_owned(),
                _ => return SettingValue::Unknown,
            },
            _ => return SettingValue::Unknown,
        };
        items.push(item);
    }
    SettingValue::Items(items)
}

/// `SELECT ... FROM pg_settings WHERE name = 'x'`: the one parameter name
/// the rows of this SELECT carry in their `name` column (pg_dump calls
/// `set_config(name, ...)` this way).
fn pg_settings_row_name<'a>(
    from: &'a [protobuf::Node],
    where_clause: Option<&'a protobuf::Node>,
) -> Option<&'a str> {
    let [item] = from else { return None };
    let Some(N::RangeVar(rv)) = item.node.as_ref() else {
        return None;
    };
    if rv.relname != "pg_settings" || !matches!(rv.schemaname.as_str(), "" | "pg_catalog") {
        return None;
    }
    fn name_equals(node: &protobuf::Node) -> Option<&str> {
        match node.node.as_ref()? {
            N::AExpr(e) => {
                let op = names::qualified_from_nodes(&e.name)?;
                if op.1 != "="
                    || protobuf::AExprKind::try_from(e.kind).ok()? != protobuf::AExprKind::AexprOp
                {
                    return None;
                }
                let (l, r) = (e.lexpr.as_deref()?, e.rexpr.as_deref()?);
                let is_name = |n: &protobuf::Node| match n.node.as_ref() {
                    Some(N::ColumnRef(c)) => matches!(
                        c.fields.last().and_then(|f| f.node.as_ref()),
                        Some(N::String(s)) if s.sval == "name"
                    ),
                    _ => false,
                };
                if is_name(l) {
                    names::string_constant(r)
                } else if is_name(r) {
                    names::string_constant(l)
                } else {
                    None
                }
            }
            N::BoolExpr(b)
                if protobuf::BoolExprType::try_from(b.boolop).ok()?
                    == protobuf::BoolExprType::AndExpr =>
            {
                b.args.iter().find_map(name_equals)
            }
            _ => None,
        }
    }
    name_equals(where_clause?)
}

/// The parameter name given to set_config, when it is a constant.
fn set_config_name(args: &[protobuf::Node]) -> Option<&str> {
    if let Some(arg) = positional_arg(args, 0) {
        return names::string_constant(arg);
    }
    args.iter().find_map(|a| match a.node.as_ref() {
        Some(N::NamedArgExpr(n)) if n.name == "setting_name" => {
            n.arg.as_deref().and_then(names::string_constant)
        }
        _ => None,
    })
}

/// A constant that PostgreSQL's boolean option parsing reads as true. Only
/// plainly true values count; anything else is treated as possibly false.
fn is_true_constant(arg: Option<&protobuf::Node>) -> bool {
    use protobuf::a_const::Val;
    names::note_literal_read();
    let Some(node) = arg.and_then(|a| a.node.as_ref()) else {
        return false;
    };
    match node {
        N::Integer(i) => i.ival == 1,
        N::Boolean(b) => b.boolval,
        N::String(s) => matches!(s.sval.to_ascii_lowercase().as_str(), "true" | "on"),
        N::AConst(c) => match c.val.as_ref() {
            Some(Val::Ival(i)) => i.ival == 1,
            Some(Val::Boolval(b)) => b.boolval,
            Some(Val::Sval(s)) => {
                matches!(s.sval.to_ascii_lowercase().as_str(), "true" | "on")
            }
            _ => false,
        },
        _ => false,
    }
}

/// A constant that PostgreSQL's boolean option parsing reads as false.
fn is_false_constant(arg: Option<&protobuf::Node>) -> bool {
    use protobuf::a_const::Val;
    names::note_literal_read();
    let Some(node) = arg.and_then(|a| a.node.as_ref()) else {
        // A bare option name means true.
        return false;
    };
    match node {
        N::Integer(i) => i.ival == 0,
        N::Boolean(b) => !b.boolval,
        N::String(s) => matches!(s.sval.to_ascii_lowercase().as_str(), "false" | "off"),
        N::AConst(c) => match c.val.as_ref() {
            Some(Val::Ival(i)) => i.ival == 0,
            Some(Val::Boolval(b)) => !b.boolval,
            Some(Val::Sval(s)) => {
                matches!(s.sval.to_ascii_lowercase().as_str(), "false" | "off")
            }
            _ => false,
        },
        _ => false,
    }
}

/// EXPLAIN option that makes the statement run: ANALYZE (or ANALYSE) unless
/// explicitly false.
fn is_analyze_option(option: &protobuf::Node) -> bool {
    match option.node.as_ref() {
        Some(N::DefElem(d)) => {
            (d.defname.eq_ignore_ascii_case("analyze") || d.defname.eq_ignore_ascii_case("analyse"))
                && !is_false_constant(d.arg.as_deref())
        }
        _ => false,
    }
}

/// CREATE/ALTER FUNCTION option that runs code with elevated rights:
/// SECURITY DEFINER, or a C / internal language function.
fn defines_privileged_code(option: &protobuf::Node) -> bool {
    let Some(N::DefElem(d)) = option.node.as_ref() else {
        return false;
    };
    match d.defname.as_str() {
        "security" => !is_false_constant(d.arg.as_deref()),
        "language" => match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
            Some(N::String(s)) => {
                s.sval.eq_ignore_ascii_case("c") || s.sval.eq_ignore_ascii_case("internal")
            }
            _ => false,
        },
        _ => false,
    }
}

/// Human command tag for a statement node; `None` for nodes that are not
/// statements.
fn command_tag(node: NodeRef<'_>) -> Option<&'static str> {
    use protobuf::ObjectType as T;
    let tag = match node {
        NodeRef::SelectStmt(s) => {
            if s.into_clause.is_some() {
                "SELECT INTO"
            } else {
                "SELECT"
            }
        }
        NodeRef::InsertStmt(_) => "INSERT",
        NodeRef::UpdateStmt(_) => "UPDATE",
        NodeRef::DeleteStmt(_) => "DELETE",
        NodeRef::MergeStmt(_) => "MERGE",
        NodeRef::CopyStmt(_) => "COPY",
        NodeRef::ExplainStmt(_) => "EXPLAIN",
        NodeRef::PrepareStmt(_) => "PREPARE",
        NodeRef::ExecuteStmt(_) => "EXECUTE",
        NodeRef::DeallocateStmt(_) => "DEALLOCATE",
        NodeRef::DeclareCursorStmt(_) => "DECLARE CURSOR",
        NodeRef::ClosePortalStmt(_) => "CLOSE CURSOR",
        NodeRef::FetchStmt(s) => {
            if s.ismove {
                "MOVE"
            } else {
                "FETCH"
            }
        }
        NodeRef::CreateTableAsStmt(s) => {
            if s.is_select_into {
                "SELECT INTO"
            } else if object_type(s.objtype) == Some(T::ObjectMatview) {
                "CREATE MATERIALIZED VIEW"
            } else {
                "CREATE TABLE AS"
            }
        }
        NodeRef::RefreshMatViewStmt(_) => "REFRESH MATERIALIZED VIEW",
        NodeRef::ViewStmt(_) => "CREATE VIEW",
        NodeRef::RuleStmt(_) => "CREATE RULE",
        NodeRef::CreateTrigStmt(_) => "CREATE TRIGGER",
        NodeRef::CreateEventTrigStmt(_) => "CREATE EVENT TRIGGER",
        NodeRef::AlterEventTrigStmt(_) => "ALTER EVENT TRIGGER",
        NodeRef::CreatePolicyStmt(_) => "CREATE POLICY",
        NodeRef::AlterPolicyStmt(_) => "ALTER POLICY",
        NodeRef::CreateStmt(_) => "CREATE TABLE",
        NodeRef::CreateForeignTableStmt(_) => "CREATE FOREIGN TABLE",
        NodeRef::CreateFunctionStmt(s) => {
            if s.is_procedure {
                "CREATE PROCEDURE"
            } else {
                "CREATE FUNCTION"
            }
        }
        NodeRef::AlterFunctionStmt(_) => "ALTER FUNCTION",
        NodeRef::DoStmt(_) => "DO",
        NodeRef::CallStmt(_) => "CALL",
        NodeRef::AlterTableStmt(s) => match object_type(s.objtype) {
            Some(T::ObjectIndex) => "ALTER INDEX",
            Some(T::ObjectSequence) => "ALTER SEQUENCE",
            Some(T::ObjectView) => "ALTER VIEW",
            Some(T::ObjectMatview) => "ALTER MATERIALIZED VIEW",
            Some(T::ObjectForeignTable) => "ALTER FOREIGN TABLE",
            Some(T::ObjectType) => "ALTER TYPE",
            _ => "ALTER TABLE",
        },
        NodeRef::AlterTableMoveAllStmt(_) => "ALTER TABLE",
        NodeRef::VariableSetStmt(s) => {
            use protobuf::VariableSetKind as K;
            match K::try_from(s.kind) {
                Ok(K::VarReset | K::VarResetAll) => "RESET",
                _ => "SET",
            }
        }
        NodeRef::VariableShowStmt(_) => "SHOW",
        NodeRef::TransactionStmt(s) => {
            use protobuf::TransactionStmtKind as K;
            match K::try_from(s.kind) {
                Ok(K::TransStmtBegin) => "BEGIN",
                Ok(K::TransStmtStart) => "START TRANSACTION",
                Ok(K::TransStmtCommit) => "COMMIT",
                Ok(K::TransStmtRollback | K::TransStmtRollbackTo) => "ROLLBACK",
                Ok(K::TransStmtSavepoint) => "SAVEPOINT",
                Ok(K::TransStmtRelease) => "RELEASE",
                Ok(K::TransStmtPrepare) => "PREPARE TRANSACTION",
                Ok(K::TransStmtCommitPrepared) => "COMMIT PREPARED",
                Ok(K::TransStmtRollbackPrepared) => "ROLLBACK PREPARED",
                Ok(K::Undefined) | Err(_) => "TRANSACTION",
            }
        }
        NodeRef::ConstraintsSetStmt(_) => "SET CONSTRAINTS",
        NodeRef::DiscardStmt(s) => match protobuf::DiscardMode::try_from(s.target) {
            Ok(protobuf::DiscardMode::DiscardAll) => "DISCARD ALL",
            Ok(protobuf::DiscardMode::DiscardPlans) => "DISCARD PLANS",
            Ok(protobuf::DiscardMode::DiscardSequences) => "DISCARD SEQUENCES",
            Ok(protobuf::DiscardMode::DiscardTemp) => "DISCARD TEMP",
            _ => "DISCARD",
        },
        NodeRef::DropStmt(s) => drop_tag(object_type(s.remove_type)),
        NodeRef::TruncateStmt(_) => "TRUNCATE TABLE",
        NodeRef::CommentStmt(_) => "COMMENT",
        NodeRef::SecLabelStmt(_) => "SECURITY LABEL",
        NodeRef::GrantStmt(s) => {
            if s.is_grant {
                "GRANT"
            } else {
                "REVOKE"
            }
        }
        NodeRef::GrantRoleStmt(s) => {
            if s.is_grant {
                "GRANT ROLE"
            } else {
                "REVOKE ROLE"
            }
        }
        NodeRef::AlterDefaultPrivilegesStmt(_) => "ALTER DEFAULT PRIVILEGES",
        NodeRef::RenameStmt(s) => alter_tag(object_type(s.rename_type)),
        NodeRef::AlterOwnerStmt(s) => alter_tag(object_type(s.object_type)),
        NodeRef::AlterObjectSchemaStmt(s) => alter_tag(object_type(s.object_type)),
        NodeRef::AlterObjectDependsStmt(s) => alter_tag(object_type(s.object_type)),
        NodeRef::IndexStmt(_) => "CREATE INDEX",
        NodeRef::ReindexStmt(_) => "REINDEX",
        NodeRef::ClusterStmt(_) => "CLUSTER",
        NodeRef::VacuumStmt(s) => {
            if s.is_vacuumcmd {
                "VACUUM"
            } else {
                "ANALYZE"
            }
        }
        NodeRef::CheckPointStmt(_) => "CHECKPOINT",
        NodeRef::LockStmt(_) => "LOCK TABLE",
        NodeRef::NotifyStmt(_) => "NOTIFY",
        NodeRef::ListenStmt(_) => "LISTEN",
        NodeRef::UnlistenStmt(_) => "UNLISTEN",
        NodeRef::LoadStmt(_) => "LOAD",
        NodeRef::CreateSchemaStmt(_) => "CREATE SCHEMA",
        NodeRef::AlterCollationStmt(_) => "ALTER COLLATION",
        NodeRef::AlterDomainStmt(_) => "ALTER DOMAIN",
        NodeRef::CreateSeqStmt(_) => "CREATE SEQUENCE",
        NodeRef::AlterSeqStmt(_) => "ALTER SEQUENCE",
        NodeRef::DefineStmt(s) => match object_type(s.kind) {
            Some(T::ObjectAggregate) => "CREATE AGGREGATE",
            Some(T::ObjectOperator) => "CREATE OPERATOR",
            Some(T::ObjectType) => "CREATE TYPE",
            Some(T::ObjectCollation) => "CREATE COLLATION",
            Some(T::ObjectTsconfiguration) => "CREATE TEXT SEARCH CONFIGURATION",
            Some(T::ObjectTsdictionary) => "CREATE TEXT SEARCH DICTIONARY",
            Some(T::ObjectTsparser) => "CREATE TEXT SEARCH PARSER",
            Some(T::ObjectTstemplate) => "CREATE TEXT SEARCH TEMPLATE",
            _ => "CREATE",
        },
        NodeRef::CreateDomainStmt(_) => "CREATE DOMAIN",
        NodeRef::CreateOpClassStmt(_) => "CREATE OPERATOR CLASS",
        NodeRef::CreateOpFamilyStmt(_) => "CREATE OPERATOR FAMILY",
        NodeRef::AlterOpFamilyStmt(_) => "ALTER OPERATOR FAMILY",
        NodeRef::CreateStatsStmt(_) => "CREATE STATISTICS",
        NodeRef::AlterStatsStmt(_) => "ALTER STATISTICS",
        NodeRef::AlterOperatorStmt(_) => "ALTER OPERATOR",
        NodeRef::AlterTypeStmt(_) => "ALTER TYPE",
        NodeRef::CompositeTypeStmt(_)
        | NodeRef::CreateEnumStmt(_)
        | NodeRef::CreateRangeStmt(_) => "CREATE TYPE",
        NodeRef::AlterEnumStmt(_) => "ALTER TYPE",
        NodeRef::CreateConversionStmt(_) => "CREATE CONVERSION",
        NodeRef::CreateCastStmt(_) => "CREATE CAST",
        NodeRef::CreateTransformStmt(_) => "CREATE TRANSFORM",
        NodeRef::AlterTsdictionaryStmt(_) => "ALTER TEXT SEARCH DICTIONARY",
        NodeRef::AlterTsconfigurationStmt(_) => "ALTER TEXT SEARCH CONFIGURATION",
        NodeRef::CreatePublicationStmt(_) => "CREATE PUBLICATION",
        NodeRef::AlterPublicationStmt(_) => "ALTER PUBLICATION",
        NodeRef::CreateSubscriptionStmt(_) => "CREATE SUBSCRIPTION",
        NodeRef::AlterSubscriptionStmt(_) => "ALTER SUBSCRIPTION",
        NodeRef::DropSubscriptionStmt(_) => "DROP SUBSCRIPTION",
        NodeRef::CreateRoleStmt(_) => "CREATE ROLE",
        NodeRef::AlterRoleStmt(_) | NodeRef::AlterRoleSetStmt(_) => "ALTER ROLE",
        NodeRef::DropRoleStmt(_) => "DROP ROLE",
        NodeRef::DropOwnedStmt(_) => "DROP OWNED",
        NodeRef::ReassignOwnedStmt(_) => "REASSIGN OWNED",
        NodeRef::CreateTableSpaceStmt(_) => "CREATE TABLESPACE",
        NodeRef::DropTableSpaceStmt(_) => "DROP TABLESPACE",
        NodeRef::AlterTableSpaceOptionsStmt(_) => "ALTER TABLESPACE",
        NodeRef::CreatedbStmt(_) => "CREATE DATABASE",
        NodeRef::AlterDatabaseStmt(_)
        | NodeRef::AlterDatabaseRefreshCollStmt(_)
        | NodeRef::AlterDatabaseSetStmt(_) => "ALTER DATABASE",
        NodeRef::DropdbStmt(_) => "DROP DATABASE",
        NodeRef::AlterSystemStmt(_) => "ALTER SYSTEM",
        NodeRef::CreateExtensionStmt(_) => "CREATE EXTENSION",
        NodeRef::AlterExtensionStmt(_) | NodeRef::AlterExtensionContentsStmt(_) => {
            "ALTER EXTENSION"
        }
        NodeRef::CreateFdwStmt(_) => "CREATE FOREIGN DATA WRAPPER",
        NodeRef::AlterFdwStmt(_) => "ALTER FOREIGN DATA WRAPPER",
        NodeRef::CreateForeignServerStmt(_) => "CREATE SERVER",
        NodeRef::AlterForeignServerStmt(_) => "ALTER SERVER",
        NodeRef::CreateUserMappingStmt(_) => "CREATE USER MAPPING",
        NodeRef::AlterUserMappingStmt(_) => "ALTER USER MAPPING",
        NodeRef::DropUserMappingStmt(_) => "DROP USER MAPPING",
        NodeRef::ImportForeignSchemaStmt(_) => "IMPORT FOREIGN SCHEMA",
        NodeRef::CreateAmStmt(_) => "CREATE ACCESS METHOD",
        NodeRef::CreatePlangStmt(_) => "CREATE LANGUAGE",

        NodeRef::Alias(_)
        | NodeRef::RangeVar(_)
        | NodeRef::TableFunc(_)
        | NodeRef::IntoClause(_)
        | NodeRef::Var(_)
        | NodeRef::Param(_)
        | NodeRef::Aggref(_)
        | NodeRef::GroupingFunc(_)
        | NodeRef::WindowFunc(_)
        | NodeRef::WindowFuncRunCondition(_)
        | NodeRef::MergeSupportFunc(_)
        | NodeRef::SubscriptingRef(_)
        | NodeRef::FuncExpr(_)
        | NodeRef::NamedArgExpr(_)
        | NodeRef::OpExpr(_)
        | NodeRef::DistinctExpr(_)
        | NodeRef::NullIfExpr(_)
        | NodeRef::ScalarArrayOpExpr(_)
        | NodeRef::BoolExpr(_)
        | NodeRef::SubLink(_)
        | NodeRef::SubPlan(_)
        | NodeRef::AlternativeSubPlan(_)
        | NodeRef::FieldSelect(_)
        | NodeRef::FieldStore(_)
        | NodeRef::RelabelType(_)
        | NodeRef::CoerceViaIo(_)
        | NodeRef::ArrayCoerceExpr(_)
        | NodeRef::ConvertRowtypeExpr(_)
        | NodeRef::CollateExpr(_)
        | NodeRef::CaseExpr(_)
        | NodeRef::CaseWhen(_)
        | NodeRef::CaseTestExpr(_)
        | NodeRef::ArrayExpr(_)
        | NodeRef::RowExpr(_)
        | NodeRef::RowCompareExpr(_)
        | NodeRef::CoalesceExpr(_)
        | NodeRef::MinMaxExpr(_)
        | NodeRef::SqlvalueFunction(_)
        | NodeRef::XmlExpr(_)
        | NodeRef::JsonFormat(_)
        | NodeRef::JsonReturning(_)
        | NodeRef::JsonValueExpr(_)
        | NodeRef::JsonConstructorExpr(_)
        | NodeRef::JsonIsPredicate(_)
        | NodeRef::JsonBehavior(_)
        | NodeRef::JsonExpr(_)
        | NodeRef::JsonTablePath(_)
        | NodeRef::JsonTablePathScan(_)
        | NodeRef::JsonTableSiblingJoin(_)
        | NodeRef::NullTest(_)
        | NodeRef::BooleanTest(_)
        | NodeRef::MergeAction(_)
        | NodeRef::CoerceToDomain(_)
        | NodeRef::CoerceToDomainValue(_)
        | NodeRef::SetToDefault(_)
        | NodeRef::CurrentOfExpr(_)
        | NodeRef::NextValueExpr(_)
        | NodeRef::InferenceElem(_)
        | NodeRef::ReturningExpr(_)
        | NodeRef::TargetEntry(_)
        | NodeRef::RangeTblRef(_)
        | NodeRef::JoinExpr(_)
        | NodeRef::FromExpr(_)
        | NodeRef::OnConflictExpr(_)
        | NodeRef::Query(_)
        | NodeRef::TypeName(_)
        | NodeRef::ColumnRef(_)
        | NodeRef::ParamRef(_)
        | NodeRef::AExpr(_)
        | NodeRef::TypeCast(_)
        | NodeRef::CollateClause(_)
        | NodeRef::RoleSpec(_)
        | NodeRef::FuncCall(_)
        | NodeRef::AStar(_)
        | NodeRef::AIndices(_)
        | NodeRef::AIndirection(_)
        | NodeRef::AArrayExpr(_)
        | NodeRef::ResTarget(_)
        | NodeRef::MultiAssignRef(_)
        | NodeRef::SortBy(_)
        | NodeRef::WindowDef(_)
        | NodeRef::RangeSubselect(_)
        | NodeRef::RangeFunction(_)
        | NodeRef::RangeTableFunc(_)
        | NodeRef::RangeTableFuncCol(_)
        | NodeRef::RangeTableSample(_)
        | NodeRef::ColumnDef(_)
        | NodeRef::TableLikeClause(_)
        | NodeRef::IndexElem(_)
        | NodeRef::DefElem(_)
        | NodeRef::LockingClause(_)
        | NodeRef::XmlSerialize(_)
        | NodeRef::PartitionElem(_)
        | NodeRef::PartitionSpec(_)
        | NodeRef::PartitionBoundSpec(_)
        | NodeRef::PartitionRangeDatum(_)
        | NodeRef::PartitionCmd(_)
        | NodeRef::RangeTblEntry(_)
        | NodeRef::RtepermissionInfo(_)
        | NodeRef::RangeTblFunction(_)
        | NodeRef::TableSampleClause(_)
        | NodeRef::WithCheckOption(_)
        | NodeRef::SortGroupClause(_)
        | NodeRef::GroupingSet(_)
        | NodeRef::WindowClause(_)
        | NodeRef::RowMarkClause(_)
        | NodeRef::WithClause(_)
        | NodeRef::InferClause(_)
        | NodeRef::OnConflictClause(_)
        | NodeRef::CtesearchClause(_)
        | NodeRef::CtecycleClause(_)
        | NodeRef::CommonTableExpr(_)
        | NodeRef::MergeWhenClause(_)
        | NodeRef::ReturningOption(_)
        | NodeRef::ReturningClause(_)
        | NodeRef::TriggerTransition(_)
        | NodeRef::JsonOutput(_)
        | NodeRef::JsonArgument(_)
        | NodeRef::JsonFuncExpr(_)
        | NodeRef::JsonTablePathSpec(_)
        | NodeRef::JsonTable(_)
        | NodeRef::JsonTableColumn(_)
        | NodeRef::JsonKeyValue(_)
        | NodeRef::JsonParseExpr(_)
        | NodeRef::JsonScalarExpr(_)
        | NodeRef::JsonSerializeExpr(_)
        | NodeRef::JsonObjectConstructor(_)
        | NodeRef::JsonArrayConstructor(_)
        | NodeRef::JsonArrayQueryConstructor(_)
        | NodeRef::JsonAggConstructor(_)
        | NodeRef::JsonObjectAgg(_)
        | NodeRef::JsonArrayAgg(_)
        | NodeRef::RawStmt(_)
        | NodeRef::SetOperationStmt(_)
        | NodeRef::ReturnStmt(_)
        | NodeRef::PlassignStmt(_)
        | NodeRef::AlterTableCmd(_)
        | NodeRef::AtalterConstraint(_)
        | NodeRef::ReplicaIdentityStmt(_)
        | NodeRef::ObjectWithArgs(_)
        | NodeRef::AccessPriv(_)
        | NodeRef::Constraint(_)
        | NodeRef::CreateOpClassItem(_)
        | NodeRef::FunctionParameter(_)
        | NodeRef::InlineCodeBlock(_)
        | NodeRef::CallContext(_)
        | NodeRef::StatsElem(_)
        | NodeRef::VacuumRelation(_)
        | NodeRef::PublicationTable(_)
        | NodeRef::PublicationObjSpec(_)
        | NodeRef::Integer(_)
        | NodeRef::Float(_)
        | NodeRef::Boolean(_)
        | NodeRef::String(_)
        | NodeRef::BitString(_)
        | NodeRef::List(_)
        | NodeRef::IntList(_)
        | NodeRef::OidList(_)
        | NodeRef::AConst(_) => return None,
    };
    Some(tag)
}

fn drop_tag(kind: Option<protobuf::ObjectType>) -> &'static str {
    use protobuf::ObjectType as T;
    match kind {
        Some(T::ObjectTable) => "DROP TABLE",
        Some(T::ObjectView) => "DROP VIEW",
        Some(T::ObjectMatview) => "DROP MATERIALIZED VIEW",
        Some(T::ObjectIndex) => "DROP INDEX",
        Some(T::ObjectSequence) => "DROP SEQUENCE",
        Some(T::ObjectForeignTable) => "DROP FOREIGN TABLE",
        Some(T::ObjectType) => "DROP TYPE",
        Some(T::ObjectDomain) => "DROP DOMAIN",
        Some(T::ObjectSchema) => "DROP SCHEMA",
        Some(T::ObjectFunction) => "DROP FUNCTION",
        Some(T::ObjectProcedure) => "DROP PROCEDURE",
        Some(T::ObjectRoutine) => "DROP ROUTINE",
        Some(T::ObjectAggregate) => "DROP AGGREGATE",
        Some(T::ObjectOperator) => "DROP OPERATOR",
        Some(T::ObjectTrigger) => "DROP TRIGGER",
        Some(T::ObjectRule) => "DROP RULE",
        Some(T::ObjectPolicy) => "DROP POLICY",
        Some(T::ObjectExtension) => "DROP EXTENSION",
        Some(T::ObjectFdw) => "DROP FOREIGN DATA WRAPPER",
        Some(T::ObjectForeignServer) => "DROP SERVER",
        Some(T::ObjectLanguage) => "DROP LANGUAGE",
        Some(T::ObjectEventTrigger) => "DROP EVENT TRIGGER",
        Some(T::ObjectCollation) => "DROP COLLATION",
        Some(T::ObjectConversion) => "DROP CONVERSION",
        Some(T::ObjectCast) => "DROP CAST",
        Some(T::ObjectStatisticExt) => "DROP STATISTICS",
        Some(T::ObjectPublication) => "DROP PUBLICATION",
        Some(T::ObjectAccessMethod) => "DROP ACCESS METHOD",
        Some(T::ObjectOpclass) => "DROP OPERATOR CLASS",
        Some(T::ObjectOpfamily) => "DROP OPERATOR FAMILY",
        Some(T::ObjectTransform) => "DROP TRANSFORM",
        Some(T::ObjectTsconfiguration) => "DROP TEXT SEARCH CONFIGURATION",
        Some(T::ObjectTsdictionary) => "DROP TEXT SEARCH DICTIONARY",
        Some(T::ObjectTsparser) => "DROP TEXT SEARCH PARSER",
        Some(T::ObjectTstemplate) => "DROP TEXT SEARCH TEMPLATE",
        _ => "DROP",
    }
}

fn alter_tag(kind: Option<protobuf::ObjectType>) -> &'static str {
    use protobuf::ObjectType as T;
    match kind {
        Some(T::ObjectTable | T::ObjectColumn | T::ObjectTabconstraint) => "ALTER TABLE",
        Some(T::ObjectView) => "ALTER VIEW",
        Some(T::ObjectMatview) => "ALTER MATERIALIZED VIEW",
        Some(T::ObjectIndex) => "ALTER INDEX",
        Some(T::ObjectSequence) => "ALTER SEQUENCE",
        Some(T::ObjectForeignTable) => "ALTER FOREIGN TABLE",
        Some(T::ObjectType | T::ObjectAttribute) => "ALTER TYPE",
        Some(T::ObjectDomain | T::ObjectDomconstraint) => "ALTER DOMAIN",
        Some(T::ObjectSchema) => "ALTER SCHEMA",
        Some(T::ObjectFunction) => "ALTER FUNCTION",
        Some(T::ObjectProcedure) => "ALTER PROCEDURE",
        Some(T::ObjectRoutine) => "ALTER ROUTINE",
        Some(T::ObjectAggregate) => "ALTER AGGREGATE",
        Some(T::ObjectOperator) => "ALTER OPERATOR",
        Some(T::ObjectTrigger) => "ALTER TRIGGER",
        Some(T::ObjectRule) => "ALTER RULE",
        Some(T::ObjectPolicy) => "ALTER POLICY",
        Some(T::ObjectDatabase) => "ALTER DATABASE",
        Some(T::ObjectTablespace) => "ALTER TABLESPACE",
        Some(T::ObjectRole) => "ALTER ROLE",
        Some(T::ObjectExtension) => "ALTER EXTENSION",
        Some(T::ObjectFdw) => "ALTER FOREIGN DATA WRAPPER",
        Some(T::ObjectForeignServer) => "ALTER SERVER",
        Some(T::ObjectLanguage) => "ALTER LANGUAGE",
        Some(T::ObjectLargeobject) => "ALTER LARGE OBJECT",
        Some(T::ObjectEventTrigger) => "ALTER EVENT TRIGGER",
        Some(T::ObjectCollation) => "ALTER COLLATION",
        Some(T::ObjectConversion) => "ALTER CONVERSION",
        Some(T::ObjectStatisticExt) => "ALTER STATISTICS",
        Some(T::ObjectPublication) => "ALTER PUBLICATION",
        Some(T::ObjectSubscription) => "ALTER SUBSCRIPTION",
        Some(T::ObjectOpclass) => "ALTER OPERATOR CLASS",
        Some(T::ObjectOpfamily) => "ALTER OPERATOR FAMILY",
        Some(T::ObjectTsconfiguration) => "ALTER TEXT SEARCH CONFIGURATION",
        Some(T::ObjectTsdictionary) => "ALTER TEXT SEARCH DICTIONARY",
        Some(T::ObjectTsparser) => "ALTER TEXT SEARCH PARSER",
        Some(T::ObjectTstemplate) => "ALTER TEXT SEARCH TEMPLATE",
        _ => "ALTER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> Statement {
        let mut a = analyze(sql).expect("parses");
        assert_eq!(a.statements.len(), 1, "{sql}");
        a.statements.remove(0)
    }

    fn calls(st: &Statement, name: &str) -> bool {
        st.functions.iter().any(|f| f.name == name)
    }

    fn obj(schema: Option<&str>, name: &str, access: Access) -> ObjectRef {
        ObjectRef {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            access,
            naming: Naming::Existing,
        }
    }

    fn created(schema: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            naming: Naming::Created { temporary: false },
            ..obj(schema, name, Access::Ddl)
        }
    }

    #[test]
    fn empty_and_comment_only_input() {
        for sql in [
            "",
            "   \n\t",
            "-- nothing",
            "/* a /* nested */ b */",
            ";",
            ";;  ;",
        ] {
            assert_eq!(analyze(sql).expect("parses").statements, vec![], "{sql:?}");
        }
    }

    #[test]
    fn syntax_errors_fail() {
        let err = analyze("SELEC 1").expect_err("syntax error");
        assert!(err.message.contains("syntax error"), "{}", err.message);
        assert!(analyze("SELECT 'unterminated").is_err());
        assert!(analyze("SELECT 1; DROP TABLE").is_err());
        assert!(analyze("SELECT 1\0; DROP TABLE t").is_err());
    }

    #[test]
    fn deep_nesting_fails_closed() {
        let mut sql = "SELECT 1".to_string();
        for i in 0..40 {
            sql = format!("SELECT * FROM ({sql}) s{i} WHERE (SELECT 1) = 1");
        }
        assert!(analyze(&sql).is_err());
        let mut scalar = "SELECT 1".to_string();
        for _ in 0..40 {
            scalar = format!("SELECT ({scalar})");
        }
        assert!(analyze(&scalar).is_err());
    }

    #[test]
    fn identifiers_are_folded_like_postgres() {
        let quoted = one("SELECT * FROM \"Users\"");
        assert_eq!(quoted.objects, vec![obj(None, "Users", Access::Read)]);
        let unquoted = one("SELECT * FROM USERS");
        assert_eq!(unquoted.objects, vec![obj(None, "users", Access::Read)]);
        let qualified = one("SELECT * FROM App.\"Orders\" o JOIN app.items i ON true");
        assert_eq!(
            qualified.objects,
            vec![
                obj(Some("app"), "Orders", Access::Read),
                obj(Some("app"), "items", Access::Read)
            ]
        );
        // Identifiers longer than 63 bytes are truncated by the server.
        let long = format!("SELECT * FROM {}", "t".repeat(80));
        assert_eq!(one(&long).objects[0].name.len(), 63);
    }

    #[test]
    fn statements_follow_the_text() {
        let sql = "SELECT 1; /* c */ UPDATE t SET a = 1;\n  DELETE FROM u WHERE id = 2";
        let a = analyze(sql).expect("parses");
        let kinds: Vec<&str> = a.statements.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, vec!["SelectStmt", "UpdateStmt", "DeleteStmt"]);
        let tags: Vec<&str> = a.statements.iter().map(|s| s.command_tag).collect();
        assert_eq!(tags, vec!["SELECT", "UPDATE", "DELETE"]);
        assert!(a.statements[1].dml_without_where);
        assert!(!a.statements[2].dml_without_where);
        assert_eq!(a.effects(), BTreeSet::from([Effect::Read, Effect::Write]));
    }

    /// A side-effect function hidden anywhere in a statement is found.
    #[test]
    fn buried_signal_is_found_everywhere() {
        const X: &str = "pg_terminate_backend(1)";
        let executed = [
            format!("WITH c AS (SELECT {X}) SELECT * FROM c"),
            format!("WITH c AS MATERIALIZED (SELECT 1) SELECT {X} FROM c"),
            format!("SELECT * FROM t WHERE a IN (SELECT {X})"),
            format!("SELECT (SELECT {X})"),
            format!("SELECT EXISTS (SELECT 1 WHERE {X})"),
            format!("SELECT * FROM {X}"),
            format!("SELECT * FROM ROWS FROM ({X}) AS r"),
            format!("SELECT * FROM t ORDER BY {X}"),
            format!("SELECT a FROM t GROUP BY a HAVING {X}"),
            format!("SELECT a FROM t GROUP BY {X}"),
            format!("SELECT * FROM t, LATERAL (SELECT {X}) l"),
            format!("SELECT * FROM t JOIN u ON {X}"),
            format!("SELECT CASE WHEN false THEN {X} ELSE false END"),
            format!("SELECT ARRAY[{X}]"),
            format!("SELECT ROW({X}, 2)"),
            format!("SELECT count(*) OVER (PARTITION BY {X}) FROM t"),
            format!("SELECT count(*) FILTER (WHERE {X}) FROM t"),
            format!("SELECT string_agg(a, ',' ORDER BY {X}) FROM t"),
            format!("SELECT {X}::text"),
            format!("SELECT CAST({X} AS text)"),
            format!("SELECT coalesce(NULL, {X})"),
            format!("SELECT 1 LIMIT {X}::int"),
            format!("SELECT 1 UNION SELECT 2 WHERE {X}"),
            format!("VALUES ({X})"),
            format!("SELECT json_build_object('k', {X})"),
            format!("SELECT 1 IN ({X}::int)"),
            format!("SELECT * FROM t TABLESAMPLE bernoulli ({X}::int)"),
            format!("INSERT INTO t VALUES ({X})"),
            format!("INSERT INTO t SELECT {X}"),
            format!("INSERT INTO t VALUES (1) RETURNING {X}"),
            format!("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = {X}"),
            format!("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 1 WHERE {X}"),
            format!("UPDATE t SET a = {X} WHERE id = 1"),
            format!("UPDATE t SET a = 1 FROM u WHERE {X}"),
            format!("DELETE FROM t USING u WHERE {X}"),
            format!("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED AND {X} THEN DELETE"),
            format!("MERGE INTO t USING (SELECT {X}) u ON true WHEN NOT MATCHED THEN DO NOTHING"),
            format!("EXPLAIN ANALYZE SELECT {X}"),
            format!("PREPARE p AS SELECT {X}"),
            format!("EXECUTE p({X})"),
            format!("DECLARE c CURSOR FOR SELECT {X}"),
            format!("COPY (SELECT {X}) TO STDOUT"),
            format!("COPY t FROM STDIN WHERE {X}"),
            format!("CREATE TABLE t2 AS SELECT {X}"),
            format!("CREATE MATERIALIZED VIEW mv AS SELECT {X}"),
            format!("SELECT {X} INTO t2"),
            format!("CALL p({X})"),
            format!("ALTER TABLE t ADD COLUMN c boolean DEFAULT {X}"),
            format!("ALTER TABLE t ADD CONSTRAINT c CHECK ({X})"),
            format!("ALTER TABLE t ALTER COLUMN c TYPE int USING {X}::int"),
            format!("CREATE INDEX ON t (({X}))"),
            format!("CREATE TABLE p1 PARTITION OF p FOR VALUES IN ({X})"),
            format!("SELECT query_to_xml('SELECT {X}', true, true, '')"),
            "SELECT (1).pg_terminate_backend".to_string(),
            "SELECT (a).pg_terminate_backend FROM t".to_string(),
            format!("SELECT * FROM (SELECT {X}) s"),
            format!("SELECT xmlelement(name x, {X})"),
            format!("SELECT {X} IS DISTINCT FROM true"),
            format!("SELECT nullif({X}, true)"),
            format!("SELECT greatest({X}, false)"),
            format!("SELECT 1 = ANY(ARRAY[{X}::int])"),
            format!("SELECT DISTINCT ON ({X}) 1"),
            format!("SELECT 1 FROM t WINDOW w AS (PARTITION BY {X})"),
        ];
        for sql in &executed {
            let st = one(sql);
            assert!(st.has(Effect::Signal), "{sql}: {:?}", st.effects);
            assert!(
                calls(&st, "pg_terminate_backend"),
                "{sql}: {:?}",
                st.functions
            );
        }
        // Stored but not run by this statement: reported, no effect.
        let deferred = [
            format!("CREATE TABLE t (a boolean DEFAULT {X})"),
            format!("CREATE TABLE t (a boolean CHECK ({X}))"),
            format!("CREATE VIEW v AS SELECT {X}"),
            format!("CREATE RULE r AS ON INSERT TO t DO ALSO SELECT {X}"),
            format!("CREATE RULE r AS ON INSERT TO t WHERE {X} DO INSTEAD NOTHING"),
            format!("CREATE FUNCTION f() RETURNS boolean LANGUAGE sql RETURN {X}"),
            format!(
                "CREATE FUNCTION f() RETURNS boolean LANGUAGE sql BEGIN ATOMIC SELECT {X}; END"
            ),
            format!(
                "CREATE FUNCTION f(a boolean DEFAULT {X}) RETURNS int LANGUAGE sql AS 'select 1'"
            ),
            format!(
                "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW WHEN ({X}) EXECUTE FUNCTION f()"
            ),
            format!("CREATE POLICY p ON t USING ({X})"),
            format!("ALTER POLICY p ON t WITH CHECK ({X})"),
            format!("ALTER TABLE t ALTER COLUMN c SET DEFAULT {X}"),
            format!("EXPLAIN SELECT {X}"),
            format!("EXPLAIN (ANALYZE false) SELECT {X}"),
            format!("CREATE MATERIALIZED VIEW mv AS SELECT {X} WITH NO DATA"),
        ];
        for sql in &deferred {
            let st = one(sql);
            assert!(!st.has(Effect::Signal), "{sql}: {:?}", st.effects);
            assert!(
                calls(&st, "pg_terminate_backend"),
                "{sql}: {:?}",
                st.functions
            );
        }
        // Function bodies given as strings are not parsed.
        let st = one(
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$SELECT pg_terminate_backend(1)$$",
        );
        assert_eq!(st.effects, BTreeSet::from([Effect::Ddl]));
        assert!(st.functions.is_empty());
        let st = one("DO $$BEGIN PERFORM pg_terminate_backend(1); END$$");
        assert_eq!(st.effects, BTreeSet::from([Effect::Code]));
    }

    #[test]
    fn cte_names_are_not_tables() {
        let st = one("WITH x AS (SELECT * FROM real_t) SELECT * FROM x");
        assert_eq!(st.objects, vec![obj(None, "real_t", Access::Read)]);
        // A CTE's own body sees the real table of the same name.
        let st = one("WITH users AS (SELECT * FROM users) SELECT * FROM users");
        assert_eq!(st.objects, vec![obj(None, "users", Access::Read)]);
        // Later CTEs see earlier ones; earlier ones do not see later ones.
        let st = one("WITH a AS (SELECT * FROM b), b AS (SELECT * FROM a) SELECT * FROM b");
        assert_eq!(st.objects, vec![obj(None, "b", Access::Read)]);
        // WITH RECURSIVE: every name is visible everywhere.
        let st = one("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r");
        assert!(st.objects.is_empty());
        // DML targets are never CTE references.
        let st = one("WITH t AS (SELECT 1) DELETE FROM t");
        assert_eq!(st.objects, vec![obj(None, "t", Access::Write)]);
        assert!(st.dml_without_where);
        let st = one("WITH t AS (SELECT 1) INSERT INTO t SELECT * FROM t");
        assert_eq!(st.objects, vec![obj(None, "t", Access::Write)]);
        // A qualified name is never a CTE.
        let st = one("WITH t AS (SELECT 1) SELECT * FROM public.t");
        assert_eq!(st.objects, vec![obj(Some("public"), "t", Access::Read)]);
        // CTE scope ends with its statement.
        let st = one("SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x");
        assert_eq!(st.objects, vec![obj(None, "x", Access::Read)]);
    }

    #[test]
    fn row_locks() {
        let st = one("SELECT * FROM a JOIN b ON a.id = b.id FOR UPDATE OF a");
        assert_eq!(st.effects, BTreeSet::from([Effect::Read, Effect::Write]));
        assert!(st.objects.contains(&obj(None, "a", Access::Write)));
        assert!(!st.objects.contains(&obj(None, "b", Access::Write)));
        let st = one("SELECT * FROM a x JOIN b y ON true FOR SHARE OF y");
        assert!(st.objects.contains(&obj(None, "b", Access::Write)));
        assert!(!st.objects.contains(&obj(None, "a", Access::Write)));
        let st = one("SELECT * FROM (SELECT * FROM inner_t) s FOR UPDATE");
        assert!(st.objects.contains(&obj(None, "inner_t", Access::Write)));
        let st = one("SELECT * FROM a WHERE id IN (SELECT id FROM b) FOR UPDATE");
        assert!(st.objects.contains(&obj(None, "a", Access::Write)));
        assert!(!st.objects.contains(&obj(None, "b", Access::Write)));
        let st = one("EXPLAIN SELECT * FROM a FOR UPDATE");
        assert_eq!(st.effects, BTreeSet::from([Effect::Read]));
        assert_eq!(st.objects, vec![obj(None, "a", Access::Read)]);
    }

    #[test]
    fn explain_analyze_forms() {
        for sql in [
            "EXPLAIN ANALYZE DELETE FROM t",
            "EXPLAIN ANALYSE DELETE FROM t",
            "EXPLAIN ANALYZE VERBOSE DELETE FROM t",
            "EXPLAIN (ANALYZE) DELETE FROM t",
            "EXPLAIN (ANALYZE true) DELETE FROM t",
            "EXPLAIN (ANALYZE TRUE, BUFFERS) DELETE FROM t",
            "EXPLAIN (analyze on, costs off) DELETE FROM t",
            "EXPLAIN (ANALYZE 1) DELETE FROM t",
            "EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM t",
            "EXPLAIN (\"analyze\") DELETE FROM t",
        ] {
            let st = one(sql);
            assert_eq!(
                st.effects,
                BTreeSet::from([Effect::Read, Effect::Write]),
                "{sql}"
            );
            assert_eq!(st.objects, vec![obj(None, "t", Access::Write)], "{sql}");
            assert!(st.dml_without_where, "{sql}");
            assert_eq!(st.kind, "ExplainStmt");
            assert_eq!(st.command_tag, "EXPLAIN");
        }
        for sql in [
            "EXPLAIN DELETE FROM t",
            "EXPLAIN VERBOSE DELETE FROM t",
            "EXPLAIN (ANALYZE false) DELETE FROM t",
            "EXPLAIN (ANALYZE off) DELETE FROM t",
            "EXPLAIN (ANALYZE 0) DELETE FROM t",
            "EXPLAIN (COSTS false) DELETE FROM t",
        ] {
            let st = one(sql);
            assert_eq!(st.effects, BTreeSet::from([Effect::Read]), "{sql}");
            assert_eq!(st.objects, vec![obj(None, "t", Access::Read)], "{sql}");
            assert!(!st.dml_without_where, "{sql}");
        }
        let st = one("EXPLAIN ANALYZE EXECUTE p(1)");
        assert_eq!(st.executes.as_deref(), Some("p"));
    }

    #[test]
    fn prepare_and_execute() {
        let st = one("PREPARE p AS DELETE FROM t");
        assert_eq!(st.prepared_name.as_deref(), Some("p"));
        assert_eq!(st.effects, BTreeSet::from([Effect::Session, Effect::Write]));
        assert!(st.dml_without_where);
        let st = one("PREPARE q (int) AS SELECT * FROM t WHERE id = $1");
        assert_eq!(st.effects, BTreeSet::from([Effect::Session, Effect::Read]));
        let st = one("EXECUTE p");
        assert_eq!(st.executes.as_deref(), Some("p"));
        assert!(st.effects.is_empty());
        let st = one("CREATE TABLE x AS EXECUTE p");
        assert_eq!(st.executes.as_deref(), Some("p"));
        assert_eq!(st.effects, BTreeSet::from([Effect::Ddl]));
    }

    #[test]
    fn settings_are_reported() {
        assert_eq!(one("SET search_path TO a, b").settings, vec!["search_path"]);
        assert_eq!(
            one("SET SESSION AUTHORIZATION DEFAULT").settings,
            vec!["session_authorization"]
        );
        assert_eq!(one("RESET ALL").settings, vec!["all"]);
        assert_eq!(one("DISCARD ALL").settings, vec!["all"]);
        assert_eq!(one("SET \"Work_Mem\" = '1MB'").settings, vec!["work_mem"]);
        assert_eq!(
            one("SELECT set_config('Search_Path', '', false)").settings,
            vec!["search_path"]
        );
        assert_eq!(
            one("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").settings,
            vec!["default_transaction_read_only"]
        );
        assert_eq!(
            one("ALTER ROLE r SET default_transaction_read_only = off").effects,
            BTreeSet::from([Effect::Privilege, Effect::ReadOnlyChange])
        );
        assert_eq!(
            one("SET standard_conforming_strings = off").settings,
            vec!["standard_conforming_strings"]
        );
    }

    #[test]
    fn stored_settings_are_not_session_settings() {
        for (sql, effect) in [
            ("ALTER ROLE r SET standard_conforming_strings = off", Effect::Privilege),
            ("ALTER DATABASE d SET standard_conforming_strings = off", Effect::Database),
            ("ALTER SYSTEM SET standard_conforming_strings = off", Effect::Config),
            ("ALTER FUNCTION f() SET standard_conforming_strings = off", Effect::Ddl),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'select 1'",
                Effect::Ddl,
            ),
        ] {
            let st = one(sql);
            assert!(st.settings.is_empty(), "{sql}: {:?}", st.settings);
            assert_eq!(st.effects, BTreeSet::from([effect, Effect::Session]), "{sql}");
        }
        let st = one("ALTER FUNCTION f() SET role = admin");
        assert_eq!(st.effects, BTreeSet::from([Effect::Ddl, Effect::SetRole]));
    }

    /// Every expression form of the raw grammar is understood (none of them
    /// yields Unknown), and calls inside them are found.
    #[test]
    fn expression_syntax_is_understood() {
        let forms = [
            "SELECT DISTINCT ON (pg_sleep(1)) a FROM t",
            "SELECT greatest(1, pg_sleep(1)::int), least(1, 2)",
            "SELECT pg_sleep(1) IS NULL, pg_sleep(1) IS NOT TRUE",
            "SELECT json_object('a': pg_sleep(1)::text)",
            "SELECT json_array(pg_sleep(1)::text)",
            "SELECT json_objectagg(k: pg_sleep(1)::text) FROM t",
            "SELECT json_arrayagg(pg_sleep(1)::text) FROM t",
            "SELECT JSON_VALUE(jsonb '{}', '$.a' PASSING pg_sleep(1) AS x)",
            "SELECT JSON_QUERY(jsonb '{}', '$' DEFAULT pg_sleep(1)::text ON EMPTY)",
            "SELECT JSON_EXISTS(jsonb '{}', '$.a' PASSING pg_sleep(1) AS x)",
            "SELECT JSON(pg_sleep(1)::text), JSON_SCALAR(1), JSON_SERIALIZE(json '1')",
            "SELECT * FROM JSON_TABLE(jsonb '[]', '$[*]' PASSING pg_sleep(1) AS p COLUMNS (a int PATH '$.a'))",
            "SELECT * FROM XMLTABLE('/r' PASSING xml '<r/>' COLUMNS a int PATH 'a' DEFAULT pg_sleep(1)::int)",
            "SELECT xmlserialize(content xmlelement(name a, pg_sleep(1)) AS text)",
            "SELECT xmlforest(pg_sleep(1) AS a), xmlconcat(xml '<a/>'), xmlpi(name p)",
            "SELECT a COLLATE \"C\", pg_sleep(1)::text COLLATE \"C\" FROM t",
            "SELECT CURRENT_DATE, CURRENT_USER, LOCALTIMESTAMP(2), SESSION_USER, pg_sleep(1)",
            "SELECT a FROM t GROUP BY GROUPING SETS ((a), ROLLUP (pg_sleep(1)), CUBE (a))",
            "SELECT GROUPING(a), pg_sleep(1) FROM t GROUP BY a",
            "MERGE INTO t USING u ON true WHEN MATCHED THEN UPDATE SET a = 1 RETURNING merge_action(), pg_sleep(1)",
            "SELECT (ARRAY[1, 2])[pg_sleep(1)::int : 2]",
            "SELECT (row(1, 2)).f1, pg_sleep(1)",
            "SELECT ARRAY(SELECT pg_sleep(1))",
            "SELECT 1 WHERE pg_sleep(1) IS DISTINCT FROM NULL AND 1 = ANY('{1}') AND 1 BETWEEN 0 AND 2",
            "SELECT 1 WHERE 'a' LIKE 'b' ESCAPE '!' OR 'a' SIMILAR TO 'b' OR pg_sleep(1) IS NULL",
            "SELECT nullif(1, 2), coalesce(pg_sleep(1), NULL)",
            "SELECT EXTRACT(year FROM now()), substring('x' FROM 1 FOR pg_sleep(1)::int), trim(both 'x' FROM 'y')",
            "SELECT overlay('abc' PLACING 'x' FROM 2), position('a' IN 'b'), pg_sleep(1)",
            "SELECT now() AT TIME ZONE 'utc', pg_sleep(1)",
            "SELECT count(*) FILTER (WHERE a > 0) OVER w, pg_sleep(1) FROM t WINDOW w AS (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY pg_sleep(1)) FROM t",
            "SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (pg_sleep(1)::int)",
            "SELECT * FROM ROWS FROM (generate_series(1, 2), pg_sleep(1)) WITH ORDINALITY AS r(a, b, n)",
            "INSERT INTO t (a) OVERRIDING SYSTEM VALUE VALUES (DEFAULT), (pg_sleep(1))",
            "UPDATE t SET (a, b) = (SELECT 1, pg_sleep(1)) WHERE true",
            "UPDATE t SET a.b[1] = pg_sleep(1) WHERE true",
            "SELECT 1 WHERE EXISTS (SELECT 1) AND NOT pg_sleep(1) IS NULL",
            "WITH RECURSIVE r AS (SELECT 1 AS n UNION SELECT n + 1 FROM r) SEARCH DEPTH FIRST BY n SET o CYCLE n SET c USING p SELECT pg_sleep(1) FROM r",
            "SELECT 1 FROM t ORDER BY a FETCH FIRST (pg_sleep(1)::int) ROWS WITH TIES",
            "SELECT $1::int, pg_sleep(1)",
            "SELECT B'101', X'FF', 1.5e3, TRUE, NULL, pg_sleep(1)",
            "SELECT '{1}'::int[], pg_sleep(1)::float8 OPERATOR(pg_catalog.+) 1",
            "SELECT * FROM t WHERE (a, b) > (1, pg_sleep(1)::int)",
            "SELECT CASE a WHEN 1 THEN pg_sleep(1) END FROM t",
            "SELECT 1 IS JSON, '{}' IS JSON OBJECT WITH UNIQUE KEYS, pg_sleep(1)",
            "SELECT pg_sleep(1) IS NORMALIZED, normalize('a', NFC)",
            "DELETE FROM t WHERE id = 1 RETURNING OLD.*, NEW.*, pg_sleep(1)",
        ];
        for sql in forms {
            let st = one(sql);
            assert!(!st.has(Effect::Unknown), "{sql}: {:?}", st.effects);
            assert!(st.has(Effect::Sleep), "{sql}: {:?}", st.effects);
        }
    }

    #[test]
    fn lexical_settings_are_flagged() {
        for sql in [
            "SET standard_conforming_strings = off",
            "SET NAMES 'SJIS'",
            "SET client_encoding TO 'BIG5'",
            "RESET ALL",
            "SELECT set_config('Standard_Conforming_Strings', 'off', false)",
        ] {
            let st = one(sql);
            assert!(
                st.settings
                    .iter()
                    .any(|s| ParseOptions::is_lexical_setting(s)),
                "{sql}: {:?}",
                st.settings
            );
        }
        assert!(!ParseOptions::is_lexical_setting("work_mem"));
    }

    #[test]
    fn standard_conforming_strings_changes_statement_boundaries() {
        // With the server's default (on) this is one harmless SELECT; a server
        // running with standard_conforming_strings = off reads a DROP.
        let sql = r"SELECT 'x\'' ; DROP TABLE t; -- '";
        let on = analyze(sql).expect("parses");
        assert_eq!(on.statements.len(), 1);
        assert_eq!(on.effects(), BTreeSet::from([Effect::Read]));
        let off = analyze_with(
            sql,
            ParseOptions {
                standard_conforming_strings: false,
            },
        )
        .expect("parses");
        assert_eq!(off.statements.len(), 2);
        assert!(off.effects().contains(&Effect::Ddl));
    }

    #[test]
    fn sequences_from_regclass_strings() {
        let st =
            one("SELECT nextval('\"My\".Seq'), currval('other'::regclass), setval('12345', 1)");
        assert_eq!(
            st.objects,
            vec![
                obj(Some("My"), "seq", Access::Write),
                obj(None, "other", Access::Read)
            ]
        );
        assert_eq!(st.effects, BTreeSet::from([Effect::Read, Effect::Write]));
    }

    #[test]
    fn sql_executed_from_strings() {
        let st = one("SELECT query_to_xml('DELETE FROM secret', true, true, '')");
        assert!(st.has(Effect::Write));
        assert!(st.objects.contains(&obj(None, "secret", Access::Write)));
        let st = one("SELECT query_to_xml(q, true, true, '') FROM queries");
        assert!(st.has(Effect::Unknown));
        let st = one("SELECT query_to_xml('SELEC', true, true, '')");
        assert!(st.has(Effect::Unknown));
        let st = one("SELECT ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)");
        assert_eq!(st.effects, BTreeSet::from([Effect::Read]));
        let st = one("SELECT ts_rewrite('a & b'::tsquery, 'SELECT pg_sleep(1)::text::tsquery, ''c''::tsquery')");
        assert!(st.has(Effect::Sleep));
        let st = one("SELECT schema_to_xml('public', true, true, '')");
        assert!(st.has(Effect::Unknown));
        let st = one("SELECT table_to_xml('app.secret', true, true, '')");
        assert_eq!(st.effects, BTreeSet::from([Effect::Read]));
        assert_eq!(st.objects, vec![obj(Some("app"), "secret", Access::Read)]);
        // Nesting is followed a few levels, then refused.
        let mut sql = "SELECT pg_sleep(1)".to_string();
        for _ in 0..2 {
            sql = format!(
                "SELECT query_to_xml('{}', true, true, '')",
                sql.replace('\'', "''")
            );
        }
        assert!(one(&sql).has(Effect::Sleep));
        for _ in 0..3 {
            sql = format!(
                "SELECT query_to_xml('{}', true, true, '')",
                sql.replace('\'', "''")
            );
        }
        assert!(one(&sql).has(Effect::Unknown));
    }

    #[test]
    fn attribute_notation_calls() {
        assert!(one("SELECT ('/etc/passwd'::text).pg_read_file").has(Effect::ServerFiles));
        assert!(one("SELECT t.pg_sleep FROM t").has(Effect::Sleep));
        assert!(one("SELECT ('select 1'::text).ts_stat").has(Effect::Unknown));
        // Ordinary columns are not reported as functions.
        let st = one("SELECT t.id, (c).field FROM t");
        assert!(st.functions.is_empty());
        assert_eq!(st.effects, BTreeSet::from([Effect::Read]));
    }

    #[test]
    fn ddl_objects() {
        let st = one("DROP TABLE a, s.b");
        assert_eq!(
            st.objects,
            vec![
                obj(None, "a", Access::Ddl),
                obj(Some("s"), "b", Access::Ddl)
            ]
        );
        assert_eq!(st.command_tag, "DROP TABLE");
        let st = one("DROP TRIGGER tr ON s.t");
        assert_eq!(st.objects, vec![obj(Some("s"), "t", Access::Ddl)]);
        let st = one("CREATE INDEX idx ON s.t (a)");
        assert_eq!(
            st.objects,
            vec![
                obj(Some("s"), "idx", Access::Ddl),
                obj(Some("s"), "t", Access::Ddl)
            ]
        );
        let st = one("CREATE TABLE c (id int REFERENCES p(id), LIKE tmpl) INHERITS (base)");
        assert!(st.objects.contains(&created(None, "c")));
        assert!(st.objects.contains(&obj(None, "p", Access::Read)));
        assert!(st.objects.contains(&obj(None, "tmpl", Access::Read)));
        assert!(st.objects.contains(&obj(None, "base", Access::Ddl)));
        let st = one("COMMENT ON COLUMN s.t.c IS 'x'");
        assert_eq!(st.objects, vec![obj(Some("s"), "t", Access::Ddl)]);
        let st = one("CREATE VIEW v AS SELECT * FROM t");
        assert_eq!(
            st.objects,
            vec![created(None, "v"), obj(None, "t", Access::Read)]
        );
        let st = one("CREATE TEMP TABLE tt AS SELECT 1; ");
        assert_eq!(st.objects[0].naming, Naming::Created { temporary: true });
        let st = one("CREATE SEQUENCE sq");
        assert_eq!(st.objects, vec![created(None, "sq")]);
        let st = one("INSERT INTO t VALUES (1)");
        assert_eq!(st.objects[0].naming, Naming::Existing);
        let st = one("GRANT SELECT, UPDATE ON TABLE s.t, u TO bob");
        assert_eq!(
            st.objects,
            vec![
                obj(Some("s"), "t", Access::Ddl),
                obj(None, "u", Access::Ddl)
            ]
        );
    }

    #[test]
    fn unknown_for_unanalysable_statements() {
        // A raw parse never yields analysed-tree nodes; if one appears the
        // walker refuses to classify it.
        let mut w = Walker::new(ParseOptions::default(), 0);
        let q = protobuf::Query::default();
        w.visit(NodeRef::Query(&q));
        assert!(w.effects.contains(&Effect::Unknown));
        let var = protobuf::Var::default();
        assert_eq!(command_tag(NodeRef::Var(&var)), None);
        let st = analyze_statement(NodeRef::Var(&var), ParseOptions::default(), 0);
        assert_eq!(st.effects, BTreeSet::from([Effect::Unknown]));
        assert_eq!(st.command_tag, "UNKNOWN");
    }

    #[test]
    fn access_names() {
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        for (name, access) in [
            ("read", Access::Read),
            ("write", Access::Write),
            ("ddl", Access::Ddl),
        ] {
            let d: StrDeserializer<'_, Error> = name.into_deserializer();
            assert_eq!(Access::deserialize(d).expect("known"), access);
        }
    }

    #[test]
    fn serializes_for_policy_files() {
        let st = one("SET ROLE admin");
        let a = Analysis {
            statements: vec![st],
        };
        let effects: Vec<&str> = a.effects().iter().map(|e| e.as_str()).collect();
        assert_eq!(effects, vec!["set_role"]);
    }
}
