//! FunctionCall ('F'): the fast-path protocol names a function only by OID
//! (libpq's large-object functions use it, and so psql's `\lo_import`).
//! pgward resolves the OID (built-in large-object functions from their
//! fixed OIDs, anything else through the catalog) and decides the call as
//! it would decide the same call written in SQL.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Guard, GuardError, GuardTask, Loaded, Verdict};
use crate::catalog::FunctionName;
use crate::policy::compile::AllowSet;
use crate::policy::model::Mode;
use crate::policy::{decide, Decision, DecisionContext, Denial};

/// Built-in functions clients call through the fast path. OIDs below
/// 10000 are assigned in PostgreSQL's catalog sources and never reused.
const BUILTIN: &[(u32, &str)] = &[
    (715, "lo_create"),
    (764, "lo_import"),
    (765, "lo_export"),
    (767, "lo_import"),
    (952, "lo_open"),
    (953, "lo_close"),
    (954, "loread"),
    (955, "lowrite"),
    (956, "lo_lseek"),
    (957, "lo_creat"),
    (958, "lo_tell"),
    (964, "lo_unlink"),
    (1004, "lo_truncate"),
    (3170, "lo_lseek64"),
    (3171, "lo_tell64"),
    (3172, "lo_truncate64"),
    (3457, "lo_from_bytea"),
    (3458, "lo_get"),
    (3459, "lo_get"),
    (3460, "lo_put"),
];

pub(super) enum Step {
    Decided(Verdict),
    Load(GuardTask),
}

/// OIDs resolved through the catalog in this session.
#[derive(Default)]
pub(super) struct Resolved {
    names: HashMap<u32, Result<Option<FunctionName>, String>>,
}

impl Resolved {
    pub(super) fn loaded(&mut self, oid: u32, result: Result<Option<FunctionName>, String>) {
        self.names.insert(oid, result);
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Guard {
    pub(super) fn fast_path(&mut self, frame: &crate::wire::Frame) -> Result<Step, GuardError> {
        let body = frame.body();
        let oid = body
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
            .ok_or(GuardError::Malformed("FunctionCall"))?;
        self.refresh();
        let profile = Arc::clone(&self.resolution.profile);
        let batch = self.sent_batches;
        let masked_here = self.masked_data_here();
        let unrestricted = matches!(profile.allow, AllowSet::All) && !masked_here;
        let name = match BUILTIN.iter().find(|(o, _)| *o == oid) {
            Some((_, n)) => Ok(Some(FunctionName {
                schema: "pg_catalog".into(),
                name: (*n).into(),
            })),
            None if unrestricted => Ok(None),
            None => match (self.functions.names.get(&oid), self.masking.as_ref()) {
                (Some(r), _) => r.clone(),
                (None, Some(m)) if m.catalogs.is_configured() => {
                    let db = Arc::clone(&m.db);
                    let catalogs = Arc::clone(&m.catalogs);
                    // Spawned: see `MaskState::load`.
                    let lookup =
                        tokio::spawn(async move { db.function_name(&catalogs, oid).await });
                    return Ok(Step::Load(Box::pin(async move {
                        Loaded::Function {
                            oid,
                            result: match lookup.await {
                                Ok(r) => r.map_err(|e| e.to_string()),
                                Err(e) => Err(format!("lookup did not finish: {e}")),
                            },
                        }
                    })));
                }
                (None, _) => Err("no catalog login is configured to resolve it".to_owned()),
            },
        };
        self.sent_batches += 1;
        let decision = match (&name, unrestricted) {
            (_, true) => Decision::Allow,
            (Ok(Some(f)), false) if !masked_here || f.schema == "pg_catalog" => {
                let sql = format!(
                    "SELECT {}.{}()",
                    quote_ident(&f.schema),
                    quote_ident(&f.name)
                );
                let analysis = self.cache.get_or_analyze_with(&sql, Default::default());
                self.last_analysis = Some(Arc::clone(&analysis));
                self.last_normalized = None;
                self.last_comments = None;
                let mut d = decide(&profile, &analysis, DecisionContext::default());
                if let Decision::Deny(den) | Decision::Observe(den) = &mut d {
                    den.message = format!(
                        "{} (fast-path call of {}.{}())",
                        den.message, f.schema, f.name
                    );
                }
                d
            }
            _ => {
                let why = match &name {
                    Ok(Some(f)) => format!(
                        "profile \"{}\" has masked columns, and a fast-path call of {}.{}() returns what it reads unmasked",
                        profile.name, f.schema, f.name
                    ),
                    Ok(None) => format!("function OID {oid} does not exist"),
                    Err(e) => format!("function OID {oid} cannot be resolved: {e}"),
                };
                let denial = Denial {
                    profile: profile.name.clone(),
                    rule: "function_call".into(),
                    statement: 0,
                    command: "FUNCTION CALL".into(),
                    object: None,
                    message: format!(
                        "permission denied by pgward policy: fast-path function call refused ({why})"
                    ),
                    hint: Some(
                        "call the function in a SQL statement instead, e.g. SELECT lo_get(...)"
                            .into(),
                    ),
                    unqualified: false,
                };
                match profile.mode {
                    Mode::Enforce => Decision::Deny(denial),
                    Mode::Observe => Decision::Observe(denial),
                }
            }
        };
        if !matches!(name, Ok(Some(_))) || unrestricted {
            self.last_analysis = None;
            self.last_normalized = None;
            self.last_comments = None;
        }
        self.last_masking = None;
        self.note(b'F', &decision, None, None, None);
        Ok(Step::Decided(self.apply(decision, batch, |_| {
            super::Substitute::Marker(super::markers::marker_query())
        })))
    }
}
