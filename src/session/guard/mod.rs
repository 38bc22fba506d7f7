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
//!
//! Parts: deciding SQL (`decision`), the session's followed settings and
//! the questions pgward asks the server about them (`question`), prepared
//! statements and portals whose execution changes settings (`portals`),
//! fast-path calls (`fastpath`), the catalog masking works from
//! (`catalog`), the stamp and the audit facts (`record`), the marker
//! messages (`markers`), and what a refused request becomes and how the
//! server's answer to its marker turns back into pgward's error
//! (`refusal`).

mod catalog;
mod ddl;
mod decision;
mod fastpath;
mod identity;
mod markers;
mod memo;
mod portals;
mod question;
mod record;
mod refusal;

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tracing::info;

use crate::catalog::Snapshot;
use crate::mask::statement::StatementMasking;
use crate::policy::store::PolicyStore;
use crate::policy::{Decision, Identity, Resolution};
use crate::sql::{AnalysisCache, ParseFailure};
use crate::wire::backend::TxnStatus;
use crate::wire::Frame;

pub use catalog::MaskState;
pub use question::startup_search_path;

use super::settings::SessionSettings;
use super::stamping::Attribution;
pub(crate) use markers::{parse_fields, query_text};
use refusal::{PendingDenial, Refusal, Substitute};

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("malformed {0} message")]
    Malformed(&'static str),
}

/// What to send upstream in place of a frontend message.
pub enum Verdict {
    Forward,
    Replace(Bytes),
    /// Hold the message: send this question to the server first, and decide
    /// again once [`Guard::answer`] has its answer.
    Ask(Bytes),
    /// Hold the message until the task is done; hand its result to
    /// [`Guard::loaded`], then decide again.
    Load(GuardTask),
}

/// Something the guard needs loaded before it can decide.
pub type GuardTask = Pin<Box<dyn Future<Output = Loaded> + Send>>;

/// What a [`GuardTask`] loaded.
pub enum Loaded {
    Snapshot(Result<Arc<Snapshot>, String>),
    Function {
        oid: u32,
        result: Result<Option<crate::catalog::FunctionName>, String>,
    },
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
    /// Row filters of the profile that apply to the tables the request names.
    pub row_filters: Vec<String>,
    /// `sql` with its constants replaced by `$n`, when the analysis lookup
    /// scanned it: the audit trail's text without a second scan.
    pub normalized: Option<String>,
}

pub type Shared = Arc<Result<crate::sql::Analysis, ParseFailure>>;

pub struct Guard {
    store: Arc<PolicyStore>,
    cache: Arc<AnalysisCache>,
    identity: Identity,
    resolution: Resolution,
    generation: u64,
    /// SQL-level prepared statements (PREPARE name AS ...), decided again at EXECUTE.
    prepared: HashMap<String, Shared>,
    /// The server's values of the settings decisions depend on.
    settings: SessionSettings,
    pending: VecDeque<PendingDenial>,
    /// Which user functions are volatile, for profiles that ask.
    volatility: crate::catalog::Volatility,
    /// Query/Sync/FunctionCall messages sent upstream (each ends a batch).
    sent_batches: u64,
    /// ReadyForQuery messages received (each closes a batch).
    done_batches: u64,
    /// The last message forwarded ended a batch: a question can go next.
    at_boundary: bool,
    /// The question in flight, and its batch.
    question: Option<question::Question>,
    /// The held message was decided once with the server's answer: it is
    /// not asked about again.
    answered: bool,
    /// The held message waited for a newer catalog snapshot once.
    reloaded: bool,
    /// The relations the held message names were asked about once.
    relations_asked: bool,
    /// The names asked about, in the order the answer's indexes refer to.
    asked_names: Vec<(Option<String>, String)>,
    /// The answer: what the session's connection placed.
    placed: Vec<question::Placed>,

    /// Prepared statements and portals whose execution changes settings.
    portals: portals::Portals,
    /// Fast-path function OIDs resolved through the catalog.
    functions: fastpath::Resolved,
    /// Catalog and per-profile mask index, for profiles with masks.
    masking: Option<MaskState>,
    /// The masking facts of the last Query/Parse decided, for the relay.
    last_masking: Option<Arc<StatementMasking>>,
    /// A DDL statement was forwarded; its effect is visible once the
    /// transaction it ran in is over.
    ddl_forwarded: bool,
    /// Tables created in the open transaction, which pgward's catalog
    /// connection cannot see yet.
    new_tables: Vec<crate::mask::statement::NewTable>,
    /// What the stamp says about this session.
    attribution: Attribution,
    /// The analysis of the last Query/Parse decided.
    last_analysis: Option<Shared>,
    /// The decided text with its constants replaced, when the analysis
    /// lookup scanned it (set with `last_analysis`).
    last_normalized: Option<String>,
    /// Where the comments of the text just analysed are, when the analysis
    /// cache kept them: its stamp then needs no scan of its own.
    last_comments: Option<crate::attribution::Comments>,
    /// Keep a [`Decided`] per request (the session is audited or metered).
    record: bool,
    /// Keep the statement text in it too (the audit trail wants it).
    record_text: bool,
    /// What of the text the audit trail keeps: the client's text is copied
    /// only when the trail shows it, or must derive its literal-free form.
    text_kept: crate::audit::StatementText,
    decided: Option<Decided>,
    /// The row filters of the profile the session started with: the
    /// server's view of it (`pgward.profile`) cannot change afterwards.
    identity_filters: Arc<crate::policy::row_filters::ProfileRowFilters>,
    /// The identity settings the session was given.
    identity_settings: Arc<crate::policy::identity_settings::IdentitySettings>,
    /// A reload moved the session to a profile with other row filters.
    stale_identity: Option<String>,
    /// Decisions of recent requests, by what they were decided from.
    memo: memo::Memo,
    /// The last path value expanded into schemas, and its schemas.
    expanded_path: Option<(crate::session::settings::PathEntries, decision::Paths)>,
}

impl Guard {
    pub fn new(
        store: Arc<PolicyStore>,
        cache: Arc<AnalysisCache>,
        identity: Identity,
        resolution: Resolution,
        settings: SessionSettings,
        masking: Option<MaskState>,
        attribution: Attribution,
    ) -> Self {
        let installed = store.current();
        let generation = installed.generation;
        let identity_settings = Arc::clone(&installed.policy.identity);
        let identity_filters = Arc::clone(&resolution.profile.row_filters);
        Guard {
            store,
            cache,
            identity,
            resolution,
            generation,
            prepared: HashMap::new(),
            settings,
            pending: VecDeque::new(),
            volatility: crate::catalog::Volatility::NotNeeded,
            sent_batches: 0,
            done_batches: 0,
            at_boundary: true,
            question: None,
            answered: false,
            relations_asked: false,
            asked_names: Vec::new(),
            placed: Vec::new(),
            reloaded: false,
            portals: portals::Portals::default(),
            functions: fastpath::Resolved::default(),
            masking,
            last_masking: None,
            ddl_forwarded: false,
            new_tables: Vec::new(),
            attribution,
            last_analysis: None,
            last_normalized: None,
            last_comments: None,
            record: false,
            record_text: false,
            text_kept: crate::audit::StatementText::None,
            decided: None,
            identity_filters,
            identity_settings,
            stale_identity: None,
            memo: memo::Memo::default(),
            expanded_path: None,
        }
    }

    /// Keep the facts of every decided request for [`Guard::take_decided`],
    /// for the audit trail (keeping `text`) or, with `None`, for metrics.
    pub fn record_decisions(&mut self, text: Option<crate::audit::StatementText>) {
        self.record = true;
        self.record_text = text.is_some();
        self.text_kept = text.unwrap_or(crate::audit::StatementText::None);
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

    /// True if the session's profile needs the catalog's function volatility.
    pub fn wants_volatility(&self) -> bool {
        self.resolution.profile.volatile_functions == crate::policy::model::VolatileFunctions::Write
    }

    pub fn set_volatility(&mut self, v: crate::catalog::Volatility) {
        self.volatility = v;
    }

    /// The masking facts of the Query or Parse just decided.
    pub fn take_masking(&mut self) -> Option<Arc<StatementMasking>> {
        self.last_masking.take()
    }

    /// Picks up a reloaded policy: the session's profile is resolved again.
    fn refresh(&mut self) {
        let installed = self.store.current();
        if installed.generation != self.generation {
            self.memo.clear();
            let before = self.resolution.profile.name.clone();
            self.resolution = installed.policy.resolve(&self.identity);
            self.generation = installed.generation;
            self.check_identity(&before, &installed.policy.identity);
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

    /// A ParameterStatus message: how the server will read the next request.
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
        if name == "application_name" {
            self.attribution.set_application(value);
        }
        self.settings.reported(name, value);
    }

    /// Decides a frontend message. Query, Parse, FunctionCall and Sync must
    /// be passed here, and Bind, Execute and Close while
    /// [`Guard::follows_portals`].
    pub fn frontend(&mut self, frame: &Frame) -> Result<Verdict, GuardError> {
        let verdict = match frame.tag() {
            b'Q' => {
                let sql = query_text(frame.body()).ok_or(GuardError::Malformed("Query"))?;
                let batch = self.sent_batches;
                let text = std::str::from_utf8(sql);
                let (decision, events) = match self.decide_sql(text, batch, b'Q') {
                    decision::Step::Decided(d, e) => (d, e),
                    decision::Step::Ask(q) => return Ok(Verdict::Ask(q)),
                    decision::Step::Load(t) => return Ok(Verdict::Load(t)),
                };
                self.sent_batches += 1;
                let stamped = self.stamp(&decision, text.ok(), b'Q');
                let allowed = !matches!(decision, Decision::Deny(_));
                let verdict = self.apply(decision, batch, |r| match r {
                    Refusal::Syntax => Substitute::Probe(markers::probe_query(sql), b"1"),
                    Refusal::Policy => Substitute::Marker(markers::marker_query()),
                });
                if allowed {
                    self.settings.forwarded(batch, events);
                }
                match (verdict, stamped) {
                    (Verdict::Forward, Some(s)) => {
                        Verdict::Replace(super::stamping::query_frame(&s))
                    }
                    (v, _) => v,
                }
            }
            b'P' => {
                let (name, sql, params) =
                    parse_fields(frame.body()).ok_or(GuardError::Malformed("Parse"))?;
                let batch = self.sent_batches;
                let text = std::str::from_utf8(sql);
                let (decision, events) = match self.decide_sql(text, batch, b'P') {
                    decision::Step::Decided(d, e) => (d, e),
                    decision::Step::Ask(q) => return Ok(Verdict::Ask(q)),
                    decision::Step::Load(t) => return Ok(Verdict::Load(t)),
                };
                let stamped = self.stamp(&decision, text.ok(), b'P');
                let allowed = !matches!(decision, Decision::Deny(_));
                self.portals
                    .parsed(name, if allowed { events } else { Vec::new() });
                // The probe's replies can be told from those of the
                // client's other messages only when the Parse starts its
                // batch; elsewhere a Parse pgward's parser rejects gets that
                // parser's report.
                let first_in_batch = self.at_boundary;
                let verdict = self.apply(decision, batch, |r| match r {
                    Refusal::Syntax if first_in_batch => {
                        let swallow: &'static [u8] = if name.is_empty() { b"1" } else { b"13" };
                        Substitute::Probe(markers::probe_parse(name, sql, params), swallow)
                    }
                    _ => Substitute::Marker(markers::marker_parse(name)),
                });
                match (verdict, stamped) {
                    (Verdict::Forward, Some(s)) => {
                        Verdict::Replace(super::stamping::parse_frame(name, &s, params))
                    }
                    (v, _) => v,
                }
            }
            b'F' => match self.fast_path(frame)? {
                fastpath::Step::Decided(v) => v,
                fastpath::Step::Load(task) => return Ok(Verdict::Load(task)),
            },
            b'S' => {
                self.sent_batches += 1;
                Verdict::Forward
            }
            b'B' | b'E' | b'C' => {
                self.portals
                    .follow(frame, self.sent_batches, &mut self.settings)?;
                self.at_boundary = false;
                return Ok(Verdict::Forward);
            }
            _ => {
                self.at_boundary = false;
                return Ok(Verdict::Forward);
            }
        };
        self.answered = false;
        self.reloaded = false;
        self.relations_asked = false;
        if !self.placed.is_empty() || !self.asked_names.is_empty() {
            self.placed.clear();
            self.asked_names.clear();
        }
        self.at_boundary = matches!(frame.tag(), b'Q' | b'S' | b'F');
        Ok(verdict)
    }

    /// Bytes that pass through without being seen whole went to the server
    /// (a Bind, Execute, Describe, ...): the next message is inside a batch.
    pub fn passed(&mut self) {
        self.at_boundary = false;
    }

    /// Called for every backend ReadyForQuery: a batch is over, and any marker
    /// the server skipped (after an earlier error in the batch) is forgotten.
    pub fn backend_ready(&mut self, status: TxnStatus) {
        while self
            .pending
            .front()
            .is_some_and(|p| p.batch <= self.done_batches)
        {
            self.pending.pop_front();
        }
        self.settings.ready(self.done_batches, status);
        if status == TxnStatus::Idle {
            self.portals.transaction_ended();
            // Committed ones are in the next catalog snapshot (DDL makes
            // it stale); rolled back ones are gone.
            self.new_tables.clear();
        }
        self.done_batches += 1;
    }
}
