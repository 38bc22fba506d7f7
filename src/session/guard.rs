//! The statement guard: every frontend message that can make the server run
//! something (Query, Parse, FunctionCall) is decided here before any byte of
//! it is forwarded.
//!
//! A denied message is not answered by pgward directly: it is replaced by a
//! marker statement that the server rejects at parse time, and the server's
//! error is rewritten into pgward's 42501 on the way back. This keeps every
//! protocol property the server guarantees: replies stay in pipeline order, a
//! denied Parse makes the server skip the following Bind/Execute until Sync,
//! and a denial inside a transaction aborts it exactly as a server error
//! would. Nothing of the denied statement reaches the server.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use tracing::{info, warn};

use crate::catalog::{Catalogs, DbCatalog, Snapshot};
use crate::mask::index::MaskIndex;
use crate::mask::statement::{Evaluation, StatementMasking};
use crate::policy::masks::ProfileMasks;
use crate::policy::store::PolicyStore;
use crate::policy::{decide, Decision, DecisionContext, Denial, Identity, Resolution};
use crate::sql::{Analysis, AnalysisCache, ParseFailure, ParseOptions};
use crate::wire::backend::{ErrorReport, ErrorSummary, SqlState};
use crate::wire::frame::put_frame;
use crate::wire::Frame;

use super::stamping::{self, Attribution};

/// Statements longer than this are analyzed but not cached (they would evict
/// the short, repeated statements the cache exists for).
const MAX_CACHED_STATEMENT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("malformed {0} message")]
    Malformed(&'static str),
}

/// What to send upstream in place of a frontend message.
pub enum Verdict {
    Forward,
    Replace(Bytes),
}

/// How a request was decided, as the audit trail records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    /// Allowed, but the rule would have denied it.
    Observe {
        rule: String,
    },
    Deny {
        rule: String,
    },
}

/// The facts of one decided request, kept for the audit trail only when
/// the session records them (nothing is copied otherwise).
pub struct Decided {
    /// `Q`, `P` or `F`.
    pub kind: u8,
    pub outcome: Outcome,
    pub profile: String,
    /// The statement text as the client sent it (not the stamped text).
    pub sql: Option<String>,
    pub analysis: Option<Shared>,
    pub masking: Option<Arc<StatementMasking>>,
    /// The traceparent pgward put into the stamp.
    pub traceparent: Option<String>,
    /// A valid traceparent the client's own comment carried.
    pub client_traceparent: Option<String>,
}

pub type Shared = Arc<Result<Analysis, ParseFailure>>;

/// A denial whose marker is in flight; its error comes back in `batch`.
struct PendingDenial {
    batch: u64,
    report: ErrorReport,
}

/// The process-wide marker: an identifier no client statement would use, so
/// the server's error for it can be recognised and replaced.
fn marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        format!("pgward_denied_{:016x}", u64::from_be_bytes(b))
    })
}

/// `standard_conforming_strings` as the server will apply it to the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strings {
    Conforming,
    Escaping,
    /// A change was requested and the server has not reported the outcome:
    /// decide under both readings and refuse if either refuses.
    Pending,
}

/// Client encodings in which a byte of a multi-byte character can equal a
/// quote or backslash, so the server and a UTF-8 parser would split the text
/// differently. PostgreSQL accepts them only as client encodings.
const UNSAFE_ENCODINGS: [&str; 7] = [
    "SJIS",
    "SHIFT_JIS_2004",
    "BIG5",
    "GBK",
    "UHC",
    "GB18030",
    "JOHAB",
];

/// Schemas an unqualified name may resolve to.
#[derive(Clone, Debug)]
pub enum SearchPath {
    Known(Vec<String>),
    Unknown,
}

pub struct Guard {
    store: Arc<PolicyStore>,
    cache: Arc<AnalysisCache>,
    identity: Identity,
    resolution: Resolution,
    generation: u64,
    /// SQL-level prepared statements (PREPARE name AS ...), decided again at EXECUTE.
    prepared: HashMap<String, Shared>,
    search_path: SearchPath,
    pending: VecDeque<PendingDenial>,
    /// Which user functions are volatile, for profiles that ask.
    volatility: crate::catalog::Volatility,
    /// How the server will read string literals: pgward must parse the same way.
    strings: Strings,
    /// False while the client encoding could hide quote or backslash bytes
    /// inside multi-byte characters (or is not yet known after a change).
    encoding_safe: bool,
    /// Query/Sync/FunctionCall messages sent upstream (each ends a batch).
    sent_batches: u64,
    /// ReadyForQuery messages received (each closes a batch).
    done_batches: u64,
    /// Catalog and per-profile mask index, for profiles with masks.
    masking: Option<MaskState>,
    /// The masking facts of the last Query/Parse decided, for the relay.
    last_masking: Option<Arc<StatementMasking>>,
    /// A DDL statement was forwarded; its effect is visible once the
    /// transaction it ran in is over.
    ddl_forwarded: bool,
    /// What the stamp says about this session.
    attribution: Attribution,
    /// The analysis of the last Query/Parse decided.
    last_analysis: Option<Shared>,
    /// Keep a [`Decided`] per request (the session is audited or metered).
    record: bool,
    /// Keep the statement text in it too (the audit trail wants it).
    record_text: bool,
    decided: Option<Decided>,
}

/// What masking decisions are taken against: a catalog snapshot and the
/// profile's masks applied to it.
pub struct MaskState {
    pub catalogs: Arc<Catalogs>,
    pub db: Arc<DbCatalog>,
    snapshot: Option<Arc<Snapshot>>,
    index: Option<Arc<MaskIndex>>,
    /// The masks the index was built for (a policy reload replaces them).
    built_for: Option<Arc<ProfileMasks>>,
    /// Why there is no snapshot, for the denial message.
    failure: Option<String>,
}

impl MaskState {
    pub fn new(catalogs: Arc<Catalogs>, db: Arc<DbCatalog>) -> Self {
        MaskState {
            catalogs,
            db,
            snapshot: None,
            index: None,
            built_for: None,
            failure: None,
        }
    }
}

impl Guard {
    pub fn new(
        store: Arc<PolicyStore>,
        cache: Arc<AnalysisCache>,
        identity: Identity,
        resolution: Resolution,
        search_path: SearchPath,
        masking: Option<MaskState>,
        attribution: Attribution,
    ) -> Self {
        let generation = store.current().generation;
        Guard {
            store,
            cache,
            identity,
            resolution,
            generation,
            prepared: HashMap::new(),
            search_path,
            pending: VecDeque::new(),
            volatility: crate::catalog::Volatility::NotNeeded,
            strings: Strings::Conforming,
            encoding_safe: true,
            sent_batches: 0,
            done_batches: 0,
            masking,
            last_masking: None,
            ddl_forwarded: false,
            attribution,
            last_analysis: None,
            record: false,
            record_text: false,
            decided: None,
        }
    }

    /// Keep the facts of every decided request for [`Guard::take_decided`],
    /// with the statement text if `with_text`.
    pub fn record_decisions(&mut self, with_text: bool) {
        self.record = true;
        self.record_text = with_text;
    }

    /// The facts of the Query, Parse or FunctionCall just decided.
    pub fn take_decided(&mut self) -> Option<Decided> {
        self.decided.take()
    }

    pub fn attribution(&self) -> &Attribution {
        &self.attribution
    }

    pub fn profile_name(&self) -> &str {
        &self.resolution.profile.name
    }

    /// True when results of this session must be masked.
    pub fn masks_active(&self) -> bool {
        !self.resolution.profile.masks.is_empty()
    }

    /// Brings the catalog snapshot and mask index up to date before the next
    /// request is decided (a policy reload, reported DDL or the refresh
    /// interval make them stale). A failure is kept: masked requests are then
    /// refused, never passed unmasked.
    pub async fn prepare_masking(&mut self) {
        self.refresh();
        if !self.masks_active() {
            return;
        }
        let masks = Arc::clone(&self.resolution.profile.masks);
        let Some(state) = self.masking.as_mut() else {
            return;
        };
        let fresh = state
            .snapshot
            .as_ref()
            .is_some_and(|s| state.catalogs.is_fresh(s));
        if !fresh {
            match state.db.fresh(&state.catalogs).await {
                Ok(s) => {
                    state.snapshot = Some(s);
                    state.index = None;
                    state.failure = None;
                }
                // Results already in flight keep the old snapshot; new
                // requests are refused until a load succeeds.
                Err(e) => state.failure = Some(e.to_string()),
            }
        }
        let stale_index = state
            .built_for
            .as_ref()
            .is_none_or(|b| !Arc::ptr_eq(b, &masks));
        if let (Some(snap), true) = (&state.snapshot, state.index.is_none() || stale_index) {
            state.index = Some(Arc::new(MaskIndex::build(snap, &masks)));
            state.built_for = Some(masks);
        }
    }

    /// The snapshot and index results are masked against.
    pub fn mask_view(&self) -> Option<(Arc<Snapshot>, Arc<MaskIndex>)> {
        let m = self.masking.as_ref()?;
        Some((
            Arc::clone(m.snapshot.as_ref()?),
            Arc::clone(m.index.as_ref()?),
        ))
    }

    /// The masking facts of the Query or Parse just decided.
    pub fn take_masking(&mut self) -> Option<Arc<StatementMasking>> {
        self.last_masking.take()
    }

    /// Called at ReadyForQuery: true once a transaction that ran DDL is over
    /// (the catalog must then be reloaded).
    pub fn ddl_completed(&mut self, status: crate::wire::backend::TxnStatus) -> bool {
        if self.ddl_forwarded && status == crate::wire::backend::TxnStatus::Idle {
            self.ddl_forwarded = false;
            return true;
        }
        false
    }

    pub fn catalogs(&self) -> Option<&Arc<Catalogs>> {
        self.masking.as_ref().map(|m| &m.catalogs)
    }

    /// Masking decision for an allowed request: refuse it, or record how its
    /// results are masked.
    fn masking_decision(&mut self, analysis: &Shared, cands: Option<&[String]>) -> Option<Denial> {
        let profile = Arc::clone(&self.resolution.profile);
        let deny = |rule: &str, message: String| Denial {
            profile: profile.name.clone(),
            rule: rule.to_owned(),
            statement: 0,
            command: String::new(),
            object: None,
            message,
            hint: None,
        };
        let a = match analysis.as_ref() {
            Ok(a) => a,
            Err(_) => {
                return Some(deny(
                    "masking-unparseable",
                    format!(
                        "permission denied by pgward policy: profile \"{}\" has masked columns, and this statement cannot be analysed",
                        profile.name
                    ),
                ))
            }
        };
        let failure = self.masking.as_ref().and_then(|m| m.failure.clone());
        let view = self.mask_view().filter(|_| failure.is_none());
        let Some((snapshot, index)) = view else {
            let why = failure.unwrap_or_else(|| "no catalog is available".into());
            return Some(deny(
                "masking-catalog",
                format!(
                    "pgward cannot mask results for profile \"{}\": {why}",
                    profile.name
                ),
            ));
        };
        let prepared = |name: &str| self.prepared.get(name).cloned();
        let eval = Evaluation {
            snapshot: &snapshot,
            index: &index,
            masks: &profile.masks,
            profile: &profile.name,
            search_path: cands,
        };
        match eval.evaluate(a, &prepared) {
            Ok(m) => {
                self.last_masking = Some(Arc::new(m));
                None
            }
            Err(d) => Some(*d),
        }
    }

    /// True if the session's profile needs the catalog's function volatility.
    pub fn wants_volatility(&self) -> bool {
        self.resolution.profile.volatile_functions == crate::policy::model::VolatileFunctions::Write
    }

    pub fn set_volatility(&mut self, v: crate::catalog::Volatility) {
        self.volatility = v;
    }

    /// With `volatile_functions: write`: statements that call a volatile user
    /// function (not exempted by `allow_functions`) get the `volatile` effect.
    fn with_volatility(&self, analysis: Shared, candidates: Option<&[String]>) -> Shared {
        let profile = &self.resolution.profile;
        if profile.volatile_functions != crate::policy::model::VolatileFunctions::Write {
            return analysis;
        }
        let Ok(a) = analysis.as_ref() else {
            return analysis;
        };
        let volatility = match &self.volatility {
            // A reload moved the session to a profile that asks: fail closed.
            crate::catalog::Volatility::NotNeeded => &crate::catalog::Volatility::Unknown,
            v => v,
        };
        let hits = |st: &crate::sql::Statement| {
            st.functions.iter().any(|f| {
                volatility.may_be_volatile(f.schema.as_deref(), &f.name, candidates)
                    && !profile
                        .allow_functions
                        .iter()
                        .any(|g| g.is_match(f.schema.as_deref(), &f.name, candidates))
            })
        };
        if !a.statements.iter().any(hits) {
            return analysis;
        }
        let mut marked = a.clone();
        for st in &mut marked.statements {
            if hits(st) {
                st.effects.insert(crate::sql::Effect::Volatile);
            }
        }
        Arc::new(Ok(marked))
    }

    /// Picks up a reloaded policy: the session's profile is resolved again.
    fn refresh(&mut self) {
        let installed = self.store.current();
        if installed.generation != self.generation {
            let before = self.resolution.profile.name.clone();
            self.resolution = installed.policy.resolve(&self.identity);
            self.generation = installed.generation;
            if before != self.resolution.profile.name {
                self.attribution.set_profile(&self.resolution.profile.name);
                info!(
                    from = %before,
                    to = %self.resolution.profile.name,
                    "policy reload changed this session's profile"
                );
            }
        }
    }

    fn analyze_as(&self, sql: &str, conforming: bool) -> Shared {
        let options = ParseOptions {
            standard_conforming_strings: conforming,
        };
        if sql.len() > MAX_CACHED_STATEMENT {
            Arc::new(crate::sql::analyze_with(sql, options))
        } else {
            self.cache.get_or_analyze_with(sql, options)
        }
    }

    /// The server's ParameterStatus messages say how it will read the next
    /// request; pgward follows `standard_conforming_strings` and `client_encoding`.
    pub fn parameter_status(&mut self, body: &[u8]) {
        let mut parts = body.split(|&b| b == 0);
        if let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            self.set_parameter(
                &String::from_utf8_lossy(name),
                &String::from_utf8_lossy(value),
            );
        }
    }

    /// A run-time parameter value the server reported.
    pub fn set_parameter(&mut self, name: &str, value: &str) {
        match name {
            "standard_conforming_strings" => {
                self.strings = if value.eq_ignore_ascii_case("on") {
                    Strings::Conforming
                } else {
                    Strings::Escaping
                }
            }
            "client_encoding" => {
                self.encoding_safe = !UNSAFE_ENCODINGS
                    .iter()
                    .any(|e| value.eq_ignore_ascii_case(e));
            }
            "application_name" => self.attribution.set_application(value),
            _ => {}
        }
    }

    /// Decides a frontend message. Query, Parse, FunctionCall and Sync must be
    /// passed here (Sync only for batch accounting).
    pub fn frontend(&mut self, frame: &Frame) -> Result<Verdict, GuardError> {
        match frame.tag() {
            b'Q' => {
                let sql = query_text(frame.body()).ok_or(GuardError::Malformed("Query"))?;
                let batch = self.sent_batches;
                self.sent_batches += 1;
                let text = std::str::from_utf8(sql);
                let decision = self.decide_sql(text);
                let stamped = self.stamp(&decision, text.ok(), b'Q');
                let verdict = self.apply(decision, batch, marker_query);
                Ok(match (verdict, stamped) {
                    (Verdict::Forward, Some(s)) => Verdict::Replace(stamping::query_frame(&s)),
                    (v, _) => v,
                })
            }
            b'P' => {
                let (name, sql, params) =
                    parse_fields(frame.body()).ok_or(GuardError::Malformed("Parse"))?;
                let batch = self.sent_batches;
                let text = std::str::from_utf8(sql);
                let decision = self.decide_sql(text);
                let stamped = self.stamp(&decision, text.ok(), b'P');
                let verdict = self.apply(decision, batch, || marker_parse(name));
                Ok(match (verdict, stamped) {
                    (Verdict::Forward, Some(s)) => {
                        Verdict::Replace(stamping::parse_frame(name, &s, params))
                    }
                    (v, _) => v,
                })
            }
            b'F' => {
                let call = crate::wire::extended::function_call(frame.body())
                    .ok_or(GuardError::Malformed("FunctionCall"))?;
                let batch = self.sent_batches;
                self.sent_batches += 1;
                self.refresh();
                let profile = Arc::clone(&self.resolution.profile);
                let decision = if matches!(profile.allow, crate::policy::compile::AllowSet::All)
                    && profile.masks.is_empty()
                {
                    Decision::Allow
                } else {
                    let denial = Denial {
                        profile: profile.name.clone(),
                        rule: "function_call".into(),
                        statement: 0,
                        command: "FUNCTION CALL".into(),
                        object: None,
                        message: format!(
                            "permission denied by pgward policy: profile \"{}\" may not use fast-path function calls \
                             (the protocol's FunctionCall message names a function only by OID; this one called OID {})",
                            profile.name, call.function
                        ),
                        hint: Some("call the function in a SQL statement instead, e.g. SELECT lo_get(...)".into()),
                    };
                    match profile.mode {
                        crate::policy::model::Mode::Enforce => Decision::Deny(denial),
                        crate::policy::model::Mode::Observe => Decision::Observe(denial),
                    }
                };
                self.last_analysis = None;
                self.last_masking = None;
                self.note(b'F', &decision, None, None, None);
                Ok(self.apply(decision, batch, marker_query))
            }
            b'S' => {
                self.sent_batches += 1;
                Ok(Verdict::Forward)
            }
            _ => Ok(Verdict::Forward),
        }
    }

    fn decide_sql(&mut self, sql: Result<&str, std::str::Utf8Error>) -> Decision {
        self.refresh();
        let analysis = match sql {
            _ if !self.encoding_safe => Arc::new(Err(ParseFailure {
                message:
                    "the session's client_encoding lets quote and backslash bytes hide inside \
                          multi-byte characters; use UTF8"
                        .into(),
                cursor: None,
            })),
            Ok(sql) => match self.strings {
                Strings::Conforming => self.analyze_as(sql, true),
                Strings::Escaping => self.analyze_as(sql, false),
                Strings::Pending => {
                    // Either reading may be the server's: decide by the stricter.
                    let on = self.analyze_as(sql, true);
                    let off = self.analyze_as(sql, false);
                    let profile = Arc::clone(&self.resolution.profile);
                    let allowed = |a: &Shared| {
                        matches!(
                            decide(&profile, a, DecisionContext::default()),
                            Decision::Allow
                        )
                    };
                    if allowed(&on) && !allowed(&off) {
                        off
                    } else {
                        on
                    }
                }
            },
            Err(_) => Arc::new(Err(ParseFailure {
                message:
                    "the statement text is not valid UTF-8 (pgward analyzes SQL in UTF-8 only)"
                        .into(),
                cursor: None,
            })),
        };
        let profile = Arc::clone(&self.resolution.profile);
        // A request that changes search_path may run later statements under
        // the new one: decide all of it as if the path were unknown.
        let changes_path = analysis.as_ref().as_ref().is_ok_and(|a| {
            a.statements
                .iter()
                .any(|st| st.settings.iter().any(|s| s == "search_path" || s == "all"))
        });
        let cands = if changes_path {
            None
        } else {
            self.candidates()
        };
        let analysis = self.with_volatility(analysis, cands.as_deref());
        let ctx = DecisionContext {
            search_path: cands.as_deref(),
        };
        self.last_analysis = Some(Arc::clone(&analysis));
        let mut decision = decide(&profile, &analysis, ctx);
        if let (Decision::Allow, Ok(a)) = (&decision, analysis.as_ref()) {
            // EXECUTE runs what PREPARE stored: decide that again, under today's policy.
            for st in &a.statements {
                if let Some(prepared) = st.executes.as_ref().and_then(|n| self.prepared.get(n)) {
                    let d = decide(&profile, prepared, ctx);
                    if !matches!(d, Decision::Allow) {
                        decision = d;
                        break;
                    }
                }
            }
        }
        self.last_masking = None;
        if !matches!(decision, Decision::Deny(_)) && self.masks_active() {
            if let Some(d) = self.masking_decision(&analysis, cands.as_deref()) {
                // Masking is never in observe mode: a leak cannot be taken back.
                decision = Decision::Deny(d);
            }
        }
        if !matches!(decision, Decision::Deny(_)) {
            if let Ok(a) = analysis.as_ref() {
                self.track(a);
                if a.statements
                    .iter()
                    .any(|st| st.has(crate::sql::Effect::Ddl))
                {
                    self.ddl_forwarded = true;
                }
            }
        }
        decision
    }

    /// Session state that later decisions depend on.
    fn track(&mut self, a: &Analysis) {
        for st in &a.statements {
            if let Some(name) = &st.prepared_name {
                self.prepared.insert(
                    name.clone(),
                    Arc::new(Ok(Analysis {
                        statements: vec![st.clone()],
                    })),
                );
            }
            if st
                .settings
                .iter()
                .any(|s| s == "standard_conforming_strings" || s == "all")
            {
                self.strings = Strings::Pending;
            }
            if st
                .settings
                .iter()
                .any(|s| s == "client_encoding" || s == "all")
            {
                // Until the server reports the new encoding.
                self.encoding_safe = false;
            }
            if st.settings.iter().any(|s| s == "search_path" || s == "all") {
                // The new value is not tracked: from here on an unqualified
                // name may mean any schema, and deny rules match accordingly.
                self.search_path = SearchPath::Unknown;
            }
        }
    }

    /// The stamped text of an allowed request, or `None` to forward it as
    /// sent. Only text the parser accepted under the server's current string
    /// syntax is stamped: the comment lexer relies on both. Also records the
    /// request for the audit trail.
    fn stamp(&mut self, decision: &Decision, sql: Option<&str>, kind: u8) -> Option<String> {
        let profile = &self.resolution.profile;
        let parsed = self
            .last_analysis
            .as_ref()
            .is_some_and(|a| a.as_ref().is_ok());
        let stampable = profile.stamp
            && parsed
            && self.strings == Strings::Conforming
            && self.encoding_safe
            && !matches!(decision, Decision::Deny(_));
        let wants_trace = stampable && profile.traceparent;
        let client_tp = match sql {
            Some(sql) if self.record_text || wants_trace => crate::attribution::client_comment(sql)
                .and_then(|c| c.traceparent().map(str::to_owned)),
            _ => None,
        };
        let tp = if wants_trace {
            stamping::child_traceparent(client_tp.as_deref())
        } else {
            None
        };
        let stamped = match sql {
            Some(sql) if stampable => self.attribution.apply(sql, tp.as_deref()),
            _ => None,
        };
        let tp = tp.filter(|_| stamped.is_some());
        self.note(kind, decision, sql, tp, client_tp);
        stamped
    }

    fn note(
        &mut self,
        kind: u8,
        decision: &Decision,
        sql: Option<&str>,
        traceparent: Option<String>,
        client_traceparent: Option<String>,
    ) {
        if !self.record {
            return;
        }
        let outcome = match decision {
            Decision::Allow => Outcome::Allow,
            Decision::Observe(d) => Outcome::Observe {
                rule: d.rule.clone(),
            },
            Decision::Deny(d) => Outcome::Deny {
                rule: d.rule.clone(),
            },
        };
        self.decided = Some(Decided {
            kind,
            outcome,
            profile: self.resolution.profile.name.clone(),
            sql: sql.filter(|_| self.record_text).map(str::to_owned),
            analysis: self.last_analysis.clone(),
            masking: self.last_masking.clone(),
            traceparent,
            client_traceparent,
        });
    }

    fn candidates(&self) -> Option<Vec<String>> {
        match &self.search_path {
            SearchPath::Unknown => None,
            SearchPath::Known(list) => {
                let mut c = vec!["pg_catalog".to_string()];
                for s in list {
                    if s == "$user" {
                        c.push(self.identity.user_str().to_owned());
                    } else {
                        c.push(s.clone());
                    }
                }
                Some(c)
            }
        }
    }

    fn apply(
        &mut self,
        decision: Decision,
        batch: u64,
        substitute: impl FnOnce() -> Bytes,
    ) -> Verdict {
        match decision {
            Decision::Allow => Verdict::Forward,
            Decision::Observe(d) => {
                info!(
                    profile = %d.profile,
                    rule = %d.rule,
                    command = %d.command,
                    object = d.object.as_deref().unwrap_or(""),
                    "observe mode: statement would be denied"
                );
                Verdict::Forward
            }
            Decision::Deny(d) => {
                warn!(
                    profile = %d.profile,
                    rule = %d.rule,
                    command = %d.command,
                    object = d.object.as_deref().unwrap_or(""),
                    "statement denied"
                );
                let mut report =
                    ErrorReport::error(SqlState::INSUFFICIENT_PRIVILEGE, d.message.clone())
                        .with_detail(format!(
                            "pgward rule \"{}\" of profile \"{}\" (statement {})",
                            d.rule,
                            d.profile,
                            d.statement + 1
                        ));
                if let Some(h) = &d.hint {
                    report = report.with_hint(h.clone());
                }
                self.pending.push_back(PendingDenial { batch, report });
                Verdict::Replace(substitute())
            }
        }
    }

    /// Called for every backend ErrorResponse: returns pgward's error if this
    /// is the server's answer to a marker.
    pub fn backend_error(&mut self, frame: &Frame) -> Option<Bytes> {
        let front = self.pending.front()?;
        if front.batch != self.done_batches {
            return None;
        }
        let summary = ErrorSummary::parse(frame.body())?;
        if summary.code != "42601" || !summary.message.contains(marker()) {
            return None;
        }
        self.pending.pop_front().map(|p| p.report.to_bytes())
    }

    /// Called for every backend ReadyForQuery: a batch is over, and any marker
    /// the server skipped (after an earlier error in the batch) is forgotten.
    pub fn backend_ready(&mut self) {
        while self
            .pending
            .front()
            .is_some_and(|p| p.batch <= self.done_batches)
        {
            self.pending.pop_front();
        }
        self.done_batches += 1;
    }
}

/// The SQL of a Query body: one NUL-terminated string, nothing after it.
pub(crate) fn query_text(body: &[u8]) -> Option<&[u8]> {
    let (last, text) = body.split_last()?;
    if *last != 0 || text.contains(&0) {
        return None;
    }
    Some(text)
}

/// Statement name, SQL and the parameter-type section (count and OIDs, as
/// sent) of a Parse body.
pub(crate) fn parse_fields(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let n1 = body.iter().position(|&b| b == 0)?;
    let rest = &body[n1 + 1..];
    let n2 = rest.iter().position(|&b| b == 0)?;
    let after = &rest[n2 + 1..];
    if after.len() < 2 {
        return None;
    }
    let count = i16::from_be_bytes([after[0], after[1]]);
    if count < 0 || after.len() != 2 + 4 * count as usize {
        return None;
    }
    Some((&body[..n1], &rest[..n2], after))
}

fn marker_query() -> Bytes {
    let mut body = BytesMut::new();
    body.extend_from_slice(marker().as_bytes());
    body.put_u8(0);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'Q', &body);
    out.freeze()
}

fn marker_parse(name: &[u8]) -> Bytes {
    let mut body = BytesMut::new();
    body.extend_from_slice(name);
    body.put_u8(0);
    body.extend_from_slice(marker().as_bytes());
    body.put_u8(0);
    body.put_i16(0);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'P', &body);
    out.freeze()
}

/// The `search_path` a session starts with, as the server applies the
/// startup packet: the settings of the (last) `options` parameter first,
/// then the plain parameters in packet order (names are case-insensitive);
/// a setting pgward forces (appended to `options`, with any plain
/// parameter of that name removed) wins over both.
pub fn startup_search_path(params: &[(String, String)], forced: Option<&str>) -> SearchPath {
    let mut value: Option<String> = None;
    if let Some((_, options)) = params.iter().rev().find(|(k, _)| k == "options") {
        match crate::wire::startup::options_settings(options) {
            Some(settings) => {
                for (k, v) in settings {
                    if k == "search_path" {
                        value = Some(v);
                    }
                }
            }
            None => return SearchPath::Unknown,
        }
    }
    for (k, v) in params {
        if k.eq_ignore_ascii_case("search_path") {
            value = Some(v.clone());
        }
    }
    if let Some(f) = forced {
        value = Some(f.to_owned());
    }
    let raw = value.unwrap_or_else(|| "\"$user\", public".to_owned());
    parse_search_path(&raw)
        .map(SearchPath::Known)
        .unwrap_or(SearchPath::Unknown)
}

/// `scanner_isspace`: the whitespace the server's identifier lists allow.
fn list_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Splits a search_path value into schema names exactly as the server does
/// (`SplitIdentifierString`): quoted names kept exact with `""` as a quote,
/// unquoted ones ending at a comma or whitespace and folded to lower case
/// (ASCII letters only, as in UTF-8 databases), every name cut to 63 bytes.
/// `None` for a value the server refuses.
fn parse_search_path(raw: &str) -> Option<Vec<String>> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while b.get(i).copied().is_some_and(list_space) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let mut name = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                        name.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            let start = i;
            while b.get(i).is_some_and(|&c| c != b',' && !list_space(c)) {
                i += 1;
            }
            if i == start {
                return None;
            }
            name.extend(b[start..i].iter().map(u8::to_ascii_lowercase));
        }
        while b.get(i).copied().is_some_and(list_space) {
            i += 1;
        }
        let done = match b.get(i) {
            None => true,
            Some(b',') => {
                i += 1;
                while b.get(i).copied().is_some_and(list_space) {
                    i += 1;
                }
                false
            }
            Some(_) => return None,
        };
        let mut name = String::from_utf8(name).ok()?;
        if name.len() > 63 {
            let mut cut = 63;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
        }
        out.push(name);
        if done {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_from_startup() {
        let p = vec![(
            "options".to_string(),
            "-c search_path=HR,\"Mixed\"".to_string(),
        )];
        match startup_search_path(&p, None) {
            SearchPath::Known(v) => assert_eq!(v, vec!["hr".to_string(), "Mixed".to_string()]),
            SearchPath::Unknown => panic!("known"),
        }
        match startup_search_path(&[], None) {
            SearchPath::Known(v) => assert_eq!(v, vec!["$user".to_string(), "public".to_string()]),
            SearchPath::Unknown => panic!("known"),
        }
    }

    /// Found by the `startup_packet` fuzz target: the server applies plain
    /// parameters after `options` and matches names without regard to case;
    /// pgward took the packet's order and an exact name.
    #[test]
    fn search_path_follows_the_servers_order_and_case() {
        let p = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let known = |sp: SearchPath| match sp {
            SearchPath::Known(v) => v,
            SearchPath::Unknown => panic!("known"),
        };
        assert_eq!(
            known(startup_search_path(&p(&[("SEARCH_PATH", "")]), None)),
            Vec::<String>::new()
        );
        assert_eq!(
            known(startup_search_path(
                &p(&[
                    ("search_path", "secret"),
                    ("options", "-c search_path=public")
                ]),
                None
            )),
            vec!["secret".to_string()],
            "the plain parameter is applied last whatever its place"
        );
        assert_eq!(
            known(startup_search_path(
                &p(&[("search_path", "secret")]),
                Some("public")
            )),
            vec!["public".to_string()]
        );
        assert_eq!(
            known(startup_search_path(
                &p(&[("options", "-ec search_path=hr")]),
                None
            )),
            vec!["hr".to_string()]
        );
    }

    #[test]
    fn search_path_values_split_like_the_server() {
        assert_eq!(
            parse_search_path(" A , \"B\"\"c\" ,\"$user\""),
            Some(vec!["a".into(), "B\"c".into(), "$user".into()])
        );
        // Only ASCII letters fold; a space ends an unquoted name.
        assert_eq!(parse_search_path("ÉCOLE"), Some(vec!["École".to_string()]));
        assert_eq!(parse_search_path("a b"), None);
        assert_eq!(parse_search_path("a,,b"), None);
        assert_eq!(parse_search_path("a,"), None);
        assert_eq!(parse_search_path(""), Some(vec![]));
        assert_eq!(
            parse_search_path(&"x".repeat(70)),
            Some(vec!["x".repeat(63)])
        );
    }

    #[test]
    fn parse_fields_are_bounded() {
        let mut body = b"s1\0select 1\0".to_vec();
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&23i32.to_be_bytes());
        assert_eq!(
            parse_fields(&body),
            Some((&b"s1"[..], &b"select 1"[..], &body[12..]))
        );
        body.push(0);
        assert_eq!(parse_fields(&body), None, "trailing bytes are refused");
        assert_eq!(
            parse_fields(b"s1\0select 1\0\xff\xff"),
            None,
            "negative count"
        );
        assert_eq!(query_text(b"select 1\0x\0"), None, "embedded NUL");
    }
}
