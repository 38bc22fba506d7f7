//! Deciding the SQL of a Query or Parse: analysis under every reading the
//! server may apply, the policy decision with the session's search path,
//! SQL-level EXECUTE, volatility and masking.

use bytes::Bytes;
use std::sync::Arc;

use super::{memo, Guard, Shared};
use crate::mask::statement::{Evaluation, NewTable, Placement};
use crate::policy::{decide, Decision, DecisionContext, Denial};
use crate::session::settings::{self, Event, Known};
use crate::sql::cache::Analyzed;
use crate::sql::{Analysis, ParseFailure, ParseOptions, Statement};

/// Statements longer than this are analyzed but not cached (they would evict
/// the short, repeated statements the cache exists for).
const MAX_CACHED_STATEMENT: usize = 64 * 1024;

/// What deciding a request came to.
pub(super) enum Step {
    /// The decision, and for an allowed request the changes it makes to
    /// the session's followed settings.
    Decided(Decision, Vec<Event>),
    /// The decision depends on the search path, which only the server can
    /// tell: send this question first.
    Ask(Bytes),
    /// Other sessions changed the catalog in a way this request could see:
    /// load a newer snapshot, then decide again.
    Load(super::GuardTask),
}

/// Schemas unqualified names may mean, for one decision.
#[derive(Clone)]
pub(super) struct Paths {
    /// Lookups: pg_catalog (and the temporary schema), then the path.
    lookup: Option<Arc<[String]>>,
    /// Creation: the first existing schema of the path.
    create: Option<Arc<[String]>>,
}

impl Guard {
    pub(super) fn decide_sql(
        &mut self,
        sql: Result<&str, std::str::Utf8Error>,
        _batch: u64,
        _kind: u8,
    ) -> Step {
        self.refresh();
        let Analyzed {
            analysis,
            normalized,
            comments,
        } = self.analysis(sql);
        self.last_normalized = normalized;
        self.last_comments = comments;
        if let Some(d) = self.stale_identity_denial() {
            self.last_analysis = Some(analysis);
            return Step::Decided(Decision::Deny(d), Vec::new());
        }
        let profile = Arc::clone(&self.resolution.profile);
        let (request_events, before_last) = self.request_events(&analysis);
        // A statement's own effects cannot change how its names resolve
        // (they are looked up before it runs): the last statement's
        // events matter to none of the request's statements.
        let paths = self.paths(&request_events[..before_last]);
        let memo_applies = self.memo_applies(&analysis, &request_events);
        if memo_applies {
            if let Some(taken) = self.memo.get(&self.memo_inputs(&analysis, &paths)) {
                return self.decided_as_before(taken, &paths);
            }
        }
        let input = Arc::clone(&analysis);
        let analysis = self.with_volatility(analysis, paths.lookup.as_deref());
        let ctx = DecisionContext {
            search_path: paths.lookup.as_deref(),
            create_path: paths.create.as_deref(),
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
        if !matches!(decision, Decision::Deny(_))
            && (self.masks_active() || self.volatility_from_catalog())
            && !self.reloaded
        {
            if let Some(task) = self.reload_for_request(&analysis, paths.lookup.as_deref()) {
                self.reloaded = true;
                return Step::Load(task);
            }
        }
        if !matches!(decision, Decision::Deny(_)) && self.masks_active() {
            if let Some(mut d) = self.masking_decision(&analysis, paths.lookup.as_deref()) {
                d.unqualified = has_unqualified(&analysis);
                // Masking is never in observe mode: a leak cannot be taken back.
                decision = Decision::Deny(d);
            } else if let Some(names) = self
                .last_masking
                .as_ref()
                .filter(|m| !m.unplaced.is_empty())
                .map(|m| m.unplaced.clone())
            {
                // Relations the snapshot cannot place would be masked
                // whole: the session's own connection can say what they are.
                if self.can_ask_relations() {
                    return Step::Ask(self.ask_relations(&names));
                }
            }
        }
        if let Decision::Deny(d) = &decision {
            if d.unqualified && self.can_ask() {
                return Step::Ask(self.ask());
            }
        }

        let mut events = Vec::new();
        if !matches!(decision, Decision::Deny(_)) {
            if let Ok(a) = analysis.as_ref() {
                self.track(a);
                if a.statements
                    .iter()
                    .any(|st| st.has(crate::sql::Effect::Ddl))
                {
                    self.settings.schemas_changed();
                    if self.ddl_matters(a, sql.unwrap_or_default(), paths.create.as_deref()) {
                        self.ddl_forwarded = true;
                    }
                }
                events = request_events;
            }
        }
        if memo_applies && self.memo_may_keep(&decision) {
            let taken = memo::Taken {
                decision: decision.clone(),
                masking: self.last_masking.clone(),
                analysis: Arc::clone(&analysis),
            };
            let mut memo = std::mem::take(&mut self.memo);
            memo.put(&self.memo_inputs(&input, &paths), taken);
            self.memo = memo;
        }
        Step::Decided(decision, events)
    }

    /// Could the request's decision be taken from a recent one with the
    /// same inputs? (See `memo` for why these conditions; the other half
    /// is [`Guard::memo_may_keep`].) `request_events`: the settings the
    /// request changes.
    fn memo_applies(&self, analysis: &Shared, request_events: &[Event]) -> bool {
        let Ok(a) = analysis.as_ref() else {
            return false;
        };
        request_events.is_empty()
            && (!self.wants_volatility()
                || self.volatility_from_catalog() && self.snapshot().is_some())
            && self.new_tables.is_empty()
            && self.placed.is_empty()
            && a.statements.iter().all(|st| {
                st.executes.is_none()
                    && st.prepared_name.is_none()
                    && st.created_columns.is_none()
                    && !st.has(crate::sql::Effect::Ddl)
            })
            && (!self.masks_active() || self.masking.as_ref().is_some_and(|m| m.failure.is_none()))
    }

    /// May a decision just taken for a request [`Guard::memo_applies`] to
    /// be remembered? Not a denial (it goes its own way: questions,
    /// probes), and not when masking placed a relation by anything but the
    /// catalog snapshot (an answer of the session's own connection).
    fn memo_may_keep(&self, decision: &Decision) -> bool {
        !matches!(decision, Decision::Deny(_))
            && self
                .last_masking
                .as_ref()
                .is_none_or(|m| m.placement == Placement::Snapshot && m.unplaced.is_empty())
    }

    fn memo_inputs<'a>(&'a self, analysis: &'a Shared, paths: &'a Paths) -> memo::Inputs<'a> {
        let masks = self.masks_active();
        let reads_snapshot = masks || self.volatility_from_catalog();
        memo::Inputs {
            analysis,
            profile: &self.resolution.profile,
            generation: self.generation,
            lookup: paths.lookup.as_ref(),
            create: paths.create.as_ref(),
            snapshot: self.snapshot().filter(|_| reads_snapshot),
            index: self
                .masking
                .as_ref()
                .and_then(|m| m.index.as_ref())
                .filter(|_| masks),
        }
    }

    fn snapshot(&self) -> Option<&Arc<crate::catalog::Snapshot>> {
        self.masking.as_ref()?.snapshot.as_ref()
    }

    /// A request decided as a recent one with the same inputs was: only a
    /// newer catalog snapshot the request could see is waited for first.
    fn decided_as_before(&mut self, taken: memo::Taken, paths: &Paths) -> Step {
        if (self.masks_active() || self.volatility_from_catalog()) && !self.reloaded {
            let reload = self.reload_for_request(&taken.analysis, paths.lookup.as_deref());
            if let Some(task) = reload {
                self.reloaded = true;
                return Step::Load(task);
            }
        }
        self.last_analysis = Some(taken.analysis);
        self.last_masking = taken.masking;
        Step::Decided(taken.decision, Vec::new())
    }

    /// The analysis of the text under the reading the server will apply;
    /// when either reading of string literals is possible, the stricter.
    ///
    /// Also the text with its constants replaced by `$n`, where the cache
    /// lookup scanned it (under the standard reading of literals, the one
    /// the audit trail's text uses), and where its comments are, where the
    /// cache kept them or its scan found them.
    fn analysis(&self, sql: Result<&str, std::str::Utf8Error>) -> Analyzed {
        let refused = |why: &str| Analyzed {
            analysis: Arc::new(Err(ParseFailure::new(why))),
            normalized: None,
            comments: None,
        };
        // Multi-byte characters of these encodings start with a byte of at
        // least 0x81: text of ASCII bytes alone reads the same in all.
        if !sql.is_ok_and(str::is_ascii) && !self.settings.encoding_safe() {
            return refused(
                "the session's client_encoding lets quote and backslash bytes hide inside \
                 multi-byte characters; use UTF8",
            );
        }
        let Ok(sql) = sql else {
            return refused(
                "the statement text is not valid UTF-8 (pgward analyzes SQL in UTF-8 only)",
            );
        };
        match self.settings.strings_certain() {
            Some(conforming) => self.analyze_as(sql, conforming),
            _ => {
                // Either reading may be the server's: decide by the stricter.
                // Uncertain text is never stamped: no comments kept.
                let on = self.analyze_as(sql, true);
                let off = self.analyze_as(sql, false).analysis;
                let profile = &self.resolution.profile;
                let allowed = |a: &Shared| {
                    matches!(
                        decide(profile, a, DecisionContext::default()),
                        Decision::Allow
                    )
                };
                let analysis = if allowed(&on.analysis) && !allowed(&off) {
                    off
                } else {
                    on.analysis
                };
                Analyzed {
                    analysis,
                    normalized: on.normalized,
                    comments: None,
                }
            }
        }
    }

    fn analyze_as(&self, sql: &str, conforming: bool) -> Analyzed {
        let options = ParseOptions {
            standard_conforming_strings: conforming,
        };
        if sql.len() > MAX_CACHED_STATEMENT {
            Analyzed {
                analysis: Arc::new(crate::sql::analyze_with(sql, options)),
                normalized: None,
                comments: None,
            }
        } else {
            self.cache.get_or_analyze_normalized(sql, options)
        }
    }

    /// The setting changes an analysed request makes, in order.
    /// The setting changes of a request's statements, and how many of them
    /// its statements before the last make.
    fn request_events(&self, analysis: &Shared) -> (Vec<Event>, usize) {
        let Ok(a) = analysis.as_ref() else {
            return (Vec::new(), 0);
        };
        let mut out = Vec::new();
        let mut before_last = 0;
        for st in &a.statements {
            before_last = out.len();
            let opaque = self.is_opaque(st);
            if st.setting_changes.is_empty() && st.transaction.is_none() && !opaque {
                continue;
            }
            out.extend(settings::statement_events(st, opaque));
        }
        (out, before_last)
    }

    /// Could the statement change settings where its text does not show it?
    fn is_opaque(&self, st: &Statement) -> bool {
        st.runs_unseen_code
            || st.executes.as_ref().is_some_and(|n| {
                self.prepared.get(n).is_none_or(|p| match p.as_ref() {
                    Ok(a) => a.statements.iter().any(|s| self.is_opaque(s)),
                    Err(_) => true,
                })
            })
    }

    /// The schemas unqualified names may mean for a request making
    /// `events`: the session's path, joined with what the request itself
    /// sets for its later statements.
    fn paths(&mut self, events: &[Event]) -> Paths {
        let touches = events
            .iter()
            .any(|e| matches!(e, Event::Path { .. } | Event::PathReset | Event::Opaque));
        if !touches {
            if let Some(r) = self.settings.resolved() {
                return Paths {
                    lookup: Some(Arc::clone(&r.lookup)),
                    create: Some(Arc::clone(&r.create)),
                };
            }
            // The same path value as the last request's: the same schemas.
            let settled = self.settings.settled_path().filter(|_| events.is_empty());
            if let Some(entries) = settled {
                match &self.expanded_path {
                    Some((e, p)) if Arc::ptr_eq(e, entries) => return p.clone(),
                    _ => {
                        let entries = Arc::clone(entries);
                        let p = self.expand_path(&entries);
                        self.expanded_path = Some((entries, p.clone()));
                        return p;
                    }
                }
            }
        }
        let entries = match self.settings.path_with(events) {
            Known::Value(v) => v,
            Known::Unknown => {
                return Paths {
                    lookup: None,
                    create: None,
                }
            }
        };
        self.expand_path(&entries)
    }

    /// The schemas of a path's entries, `$user` replaced by the session's
    /// user (which never changes).
    fn expand_path(&self, entries: &[String]) -> Paths {
        let user = self.identity.user_str();
        let expanded: Vec<String> = entries
            .iter()
            .map(|s| {
                if s == "$user" {
                    user.to_owned()
                } else {
                    s.clone()
                }
            })
            .collect();
        let mut lookup = vec!["pg_catalog".to_string()];
        lookup.extend(expanded.iter().cloned());
        Paths {
            lookup: Some(lookup.into()),
            create: Some(expanded.into()),
        }
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
            unqualified: false,
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
        let placed = self.placed_clear(&profile.masks);
        let new_tables = if placed.is_empty() {
            std::borrow::Cow::Borrowed(&self.new_tables)
        } else {
            let mut all = self.new_tables.clone();
            all.extend(placed);
            std::borrow::Cow::Owned(all)
        };
        let eval = Evaluation {
            snapshot: &snapshot,
            index: &index,
            masks: &profile.masks,
            profile: &profile.name,
            search_path: cands,
            new_tables: &new_tables,
            clear_names: self.masking.as_ref().map(|m| &m.db.clear_names),
        };
        match eval.evaluate(a, &prepared) {
            Ok(m) => {
                self.last_masking = Some(Arc::new(m));
                None
            }
            Err(d) => Some(*d),
        }
    }

    /// The asked names the session's connection placed as relations that
    /// read nothing the profile masks: each relation it reads (itself, and
    /// beneath a view the relations it is defined over) has no column a
    /// mask of the profile matches, and no definition calls a user
    /// function. As tables with no columns, they read clear.
    fn placed_clear(&self, masks: &crate::policy::masks::ProfileMasks) -> Vec<NewTable> {
        let mut out = Vec::new();
        for (i, (schema, name)) in self.asked_names.iter().enumerate() {
            let mut rows = self.placed.iter().filter(|p| p.index == i).peekable();
            if rows.peek().is_none() {
                continue;
            }
            let clear = rows.all(|p| {
                !p.calls_code
                    && !p
                        .columns
                        .iter()
                        .any(|c| masks.rule_for(&p.schema, &p.name, c).is_some())
            });
            if clear {
                out.push(NewTable {
                    schema: schema.clone(),
                    name: name.clone(),
                    columns: Vec::new(),
                });
            }
        }
        out
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
        let from_snapshot = self
            .masking
            .as_ref()
            .filter(|m| m.catalogs.is_configured())
            .and_then(|m| m.snapshot.as_ref())
            .map(|s| s.volatility());
        let volatility = match (&from_snapshot, &self.volatility) {
            (Some(v), _) => v,
            // A reload moved the session to a profile that asks: fail closed.
            (None, crate::catalog::Volatility::NotNeeded) => &crate::catalog::Volatility::Unknown,
            (None, v) => v,
        };
        let hits = |st: &Statement| {
            st.functions.iter().any(|f| {
                volatility.may_be_volatile(f.schema.as_deref(), &f.name, candidates)
                    && !profile
                        .allow_functions
                        .iter()
                        .any(|g| g.is_match_routine(f.schema.as_deref(), &f.name, candidates))
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

    /// Session state that later decisions depend on.
    fn track(&mut self, a: &Analysis) {
        for st in &a.statements {
            if let (Some(cols), Some(o)) = (&st.created_columns, st.objects.first()) {
                self.new_tables.push(crate::mask::statement::NewTable {
                    schema: o.schema.clone(),
                    name: o.name.clone(),
                    columns: cols.clone(),
                });
            }
            if let Some(name) = &st.prepared_name {
                self.prepared.insert(
                    name.clone(),
                    Arc::new(Ok(Analysis {
                        statements: vec![st.clone()],
                    })),
                );
            }
        }
    }
}

/// Does the request name a relation without its schema?
fn has_unqualified(analysis: &Shared) -> bool {
    analysis.as_ref().as_ref().is_ok_and(|a| {
        a.statements
            .iter()
            .any(|st| st.objects.iter().any(|o| o.schema.is_none()))
    })
}
