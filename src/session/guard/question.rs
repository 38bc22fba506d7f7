//! Asking the server where the statement's text cannot tell: the session's
//! search path (and, outside a transaction, which of its schemas exist),
//! and what relations the catalog snapshot lacks are (see
//! [`relations_question`]).
//!
//! A question is a Query pgward sends in front of the held request, at a
//! point where the client's previous batch has ended, so the server
//! answers it in order and in the state the held request will meet. Its
//! replies are swallowed. Inside a transaction it is `SHOW search_path`,
//! which takes no snapshot (a SELECT would fix a REPEATABLE READ
//! transaction's snapshot before the client's first statement).

use bytes::Bytes;

use super::Guard;
use crate::session::settings::{self, Known, PathEntries};
use crate::wire::backend::TxnStatus;
use crate::wire::Frame;

const FULL: &str = "SELECT pg_catalog.current_setting('search_path'), \
                    pg_catalog.current_schemas(true)::pg_catalog.text, \
                    pg_catalog.current_schema()";
const SHOW: &str = "SHOW search_path";

/// A question in flight.
pub(super) struct Question {
    /// The batch its replies arrive in.
    pub(super) batch: u64,
    asked: Asked,
    rows: Vec<Vec<Option<String>>>,
    failed: bool,
}

enum Asked {
    /// The search path; `full`: with the schemas that exist.
    Path { full: bool },
    /// What the named relations are, as the session sees them.
    Relations,
}

/// A relation the session's connection placed, and everything it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placed {
    /// Which of the asked names it answers.
    pub(super) index: usize,
    pub(super) schema: String,
    pub(super) name: String,
    pub(super) columns: Vec<String>,
    /// A view or materialized view whose definition calls a user function
    /// (which could read anything).
    pub(super) calls_code: bool,
}

impl Guard {
    /// Can a question go in front of the request being decided?
    pub(super) fn can_ask(&self) -> bool {
        !self.answered && self.at_boundary && self.question.is_none() && self.settings.askable()
    }

    /// Registers a question and returns the message that asks it.
    pub(super) fn ask(&mut self) -> Bytes {
        let full =
            self.settings.status() == TxnStatus::Idle && self.done_batches == self.sent_batches;
        self.question = Some(Question {
            batch: self.sent_batches,
            asked: Asked::Path { full },
            rows: Vec::new(),
            failed: false,
        });
        self.sent_batches += 1;
        self.answered = true;
        super::markers::query(if full { FULL } else { SHOW })
    }

    /// Can the relations a request names be asked about before it goes?
    pub(super) fn can_ask_relations(&self) -> bool {
        !self.relations_asked
            && self.at_boundary
            && self.question.is_none()
            && self.settings.status() != TxnStatus::Failed
    }

    /// Registers a question about relations the snapshot cannot place.
    pub(super) fn ask_relations(&mut self, names: &[(Option<String>, String)]) -> Bytes {
        self.question = Some(Question {
            batch: self.sent_batches,
            asked: Asked::Relations,
            rows: Vec::new(),
            failed: false,
        });
        self.sent_batches += 1;
        self.relations_asked = true;
        self.asked_names = names.to_vec();
        super::markers::query(&relations_question(names))
    }

    /// True while the backend messages arriving are the answer to a question.
    pub fn answering(&self) -> bool {
        self.question
            .as_ref()
            .is_some_and(|q| q.batch == self.done_batches)
    }

    /// One message of the answer; true once it is complete (ReadyForQuery).
    pub fn answer(&mut self, f: &Frame) -> bool {
        let Some(q) = self.question.as_mut() else {
            return true;
        };
        match f.tag() {
            b'D' => {
                // A malformed row fails the answer rather than being skipped.
                match crate::catalog::query::text_fields(f.body()) {
                    Some(row) if q.rows.len() < MAX_ROWS => q.rows.push(row),
                    _ => q.failed = true,
                }
            }
            b'E' => q.failed = true,
            b'Z' => {
                let Some(q) = self.question.take() else {
                    return true;
                };
                let status = TxnStatus::from_ready_body(f.body()).unwrap_or(TxnStatus::Failed);
                if !q.failed {
                    match q.asked {
                        Asked::Path { full } => {
                            if let Some(row) = q.rows.first() {
                                self.path_answer(row, full);
                            }
                        }
                        Asked::Relations => {
                            self.placed = q.rows.iter().filter_map(|r| placed(r)).collect();
                            if status == TxnStatus::Idle && !self.placed.is_empty() {
                                // Committed: the next snapshot has them.
                                self.catalog_changed();
                            }
                        }
                    }
                }
                self.backend_ready(status);
                return true;
            }
            _ => {}
        }
        false
    }

    fn path_answer(&mut self, row: &[Option<String>], full: bool) {
        let setting = row.first().cloned().flatten().unwrap_or_default();
        if full {
            let lookup = row
                .get(1)
                .cloned()
                .flatten()
                .and_then(|a| settings::parse_text_array(&a));
            let create = row.get(2).cloned().flatten();
            self.settings.answered(&setting, lookup, create);
        } else {
            self.settings.answered(&setting, None, None);
        }
    }
}

/// More rows than a question about a few names can honestly produce.
const MAX_ROWS: usize = 4096;

/// One answer row: index, schema, name, columns (a text array), calls code.
fn placed(row: &[Option<String>]) -> Option<Placed> {
    let [Some(index), Some(schema), Some(name), Some(columns), Some(code)] = row else {
        return None;
    };
    Some(Placed {
        index: index.parse().ok()?,
        schema: schema.clone(),
        name: name.clone(),
        columns: settings::parse_text_array(columns)?,
        calls_code: code == "t",
    })
}

/// The text of a name in the question: hex of its UTF-8 bytes, decoded by
/// the server, so neither the session's client encoding nor its
/// `standard_conforming_strings` can change what is asked.
fn name_expr(name: &str) -> String {
    let mut hex = String::with_capacity(name.len() * 2);
    for b in name.bytes() {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("pg_catalog.convert_from(pg_catalog.decode('{hex}', 'hex'), 'UTF8')")
}

/// A query, run on the session's own connection (so it sees what the held
/// statement will: relations created in the open transaction, temporary
/// tables, the session's search path), that resolves each name as the
/// statement will and returns every relation it reads: itself, and for
/// views and materialized views, through their rewrite rules' dependencies,
/// the relations beneath, with their columns and whether a definition
/// calls a user function (an OID past the built-in range).
pub(super) fn relations_question(names: &[(Option<String>, String)]) -> String {
    let values: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, (schema, name))| {
            let target = match schema {
                Some(s) => format!(
                    "pg_catalog.quote_ident({}) || '.' || pg_catalog.quote_ident({})",
                    name_expr(s),
                    name_expr(name)
                ),
                None => format!("pg_catalog.quote_ident({})", name_expr(name)),
            };
            format!("({i}, pg_catalog.to_regclass({target})::pg_catalog.oid)")
        })
        .collect();
    format!(
        "WITH RECURSIVE asked(i, rel) AS (VALUES {}), \
         reach(i, rel) AS ( \
           SELECT i, rel FROM asked WHERE rel IS NOT NULL \
           UNION \
           SELECT reach.i, d.refobjid FROM reach \
             JOIN pg_catalog.pg_rewrite w ON w.ev_class = reach.rel \
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
               AND d.objid = w.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
               AND d.refobjid <> reach.rel) \
         SELECT reach.i, n.nspname, c.relname, \
           ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::pg_catalog.text, \
           EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d \
             ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid \
             AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid >= 16384 \
             WHERE w.ev_class = c.oid) \
         FROM reach JOIN pg_catalog.pg_class c ON c.oid = reach.rel \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
        values.join(", ")
    )
}

/// The `search_path` a session starts with, as the server applies the
/// startup packet: the settings of the (last) `options` parameter first,
/// then the plain parameters in packet order (names are case-insensitive);
/// a setting pgward forces (appended to `options`, with any plain
/// parameter of that name removed) wins over both. Without one the session
/// starts with a role's, database's or the server's default, which only the
/// server knows.
pub fn startup_search_path(
    params: &[(String, String)],
    forced: Option<&str>,
) -> Known<PathEntries> {
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
            None => return Known::Unknown,
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
    match value.as_deref().and_then(settings::parse_search_path) {
        Some(v) => Known::Value(std::sync::Arc::new(v)),
        None => Known::Unknown,
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
            Known::Value(v) => assert_eq!(*v, vec!["hr".to_string(), "Mixed".to_string()]),
            Known::Unknown => panic!("known"),
        }
        assert_eq!(startup_search_path(&[], None), Known::Unknown);
        match startup_search_path(&[], Some("app")) {
            Known::Value(v) => assert_eq!(*v, vec!["app".to_string()]),
            Known::Unknown => panic!("forced"),
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
        let known = |sp: Known<PathEntries>| match sp {
            Known::Value(v) => v.as_ref().clone(),
            Known::Unknown => panic!("known"),
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
}
