//! Asking the server where the statement's text cannot tell: the session's
//! search path (and, outside a transaction, which of its schemas exist).
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
    full: bool,
    row: Option<Vec<Option<String>>>,
    failed: bool,
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
            full,
            row: None,
            failed: false,
        });
        self.sent_batches += 1;
        self.answered = true;
        super::markers::query(if full { FULL } else { SHOW })
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
            b'D' => q.row = crate::catalog::query::text_fields(f.body()),
            b'E' => q.failed = true,
            b'Z' => {
                let Some(q) = self.question.take() else {
                    return true;
                };
                let status = TxnStatus::from_ready_body(f.body()).unwrap_or(TxnStatus::Failed);
                if let (false, Some(row)) = (q.failed, q.row) {
                    let setting = row.first().cloned().flatten().unwrap_or_default();
                    if q.full {
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
                self.backend_ready(status);
                return true;
            }
            _ => {}
        }
        false
    }
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
