//! Parse failures, and the server's answer to a syntax error.

use std::ffi::{c_char, c_int, CStr, CString};

/// The SQL could not be analysed. The policy must treat this as "deny /
/// unknown"; a syntax error is answered as the server would answer it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize)]
#[error("{message}")]
pub struct ParseFailure {
    /// The parser's message, e.g. `syntax error at or near "FORM"`.
    pub message: String,
    /// Why: the text is not valid SQL, or pgward refuses to read it.
    pub kind: FailureKind,
}

/// Why a text was not analysed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum FailureKind {
    /// PostgreSQL's grammar rejects the text: the server would answer with
    /// this SQLSTATE and message, at this 1-based character position.
    Syntax {
        sqlstate: &'static str,
        position: Option<u32>,
        /// The parser routine and source file that raised it, as the
        /// server reports them (`scanner_yyerror`, `scan.l`).
        routine: Option<String>,
        file: Option<String>,
    },
    /// pgward cannot read the text safely (encoding, nesting, an internal
    /// failure): not a property of the SQL.
    Refused,
}

impl ParseFailure {
    /// A refusal that is pgward's, not the grammar's.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ParseFailure {
            message: message.into(),
            kind: FailureKind::Refused,
        }
    }

    /// The parser's own failure for `sql`, with the server's SQLSTATE and
    /// the error position.
    pub(crate) fn syntax(sql: &str, message: String, options: i32) -> Self {
        let at = error_location(sql, options);
        ParseFailure {
            kind: FailureKind::Syntax {
                sqlstate: sqlstate_for(&message),
                position: at.position,
                routine: at.routine,
                file: at.file,
            },
            message,
        }
    }

    /// True when the server would reject the text at parse time.
    pub fn is_syntax_error(&self) -> bool {
        matches!(self.kind, FailureKind::Syntax { .. })
    }
}

impl From<pg_query::Error> for ParseFailure {
    fn from(err: pg_query::Error) -> Self {
        let message = match err {
            pg_query::Error::Parse(msg) => msg,
            pg_query::Error::Decode(e) => format!("parse tree could not be decoded: {e}"),
            pg_query::Error::Conversion(_) => "SQL text contains a NUL byte".to_string(),
            other => other.to_string(),
        };
        ParseFailure::new(message)
    }
}

/// Raw-parser errors whose SQLSTATE is not 42601 (syntax_error), by the
/// fixed start of their message (PostgreSQL's gram.y and scan.l).
const NOT_SYNTAX: &[(&str, &str)] = &[
    ("UNENCRYPTED PASSWORD is no longer supported", "0A000"),
    (
        "CREATE SCHEMA IF NOT EXISTS cannot include schema elements",
        "0A000",
    ),
    ("current database cannot be changed", "0A000"),
    ("column number must be in range", "22023"),
    ("constraints cannot be altered to be NOT VALID", "0A000"),
    (
        "modulus for hash partition provided more than once",
        "42710",
    ),
    (
        "remainder for hash partition provided more than once",
        "42710",
    ),
    ("MATCH PARTIAL not yet implemented", "0A000"),
    ("a column list with", "0A000"),
    ("CREATE EXTENSION ... FROM is no longer supported", "0A000"),
    (
        "CREATE OR REPLACE CONSTRAINT TRIGGER is not supported",
        "0A000",
    ),
    ("CREATE ASSERTION is not yet implemented", "0A000"),
    ("dropping an enum value is not implemented", "0A000"),
    ("aggregates cannot have output arguments", "0A000"),
    (
        "WITH CHECK OPTION not supported on recursive views",
        "0A000",
    ),
    ("only string constants are supported in JSON_TABLE", "0A000"),
    ("precision for type float must be", "22023"),
    ("UNIQUE predicate is not yet implemented", "0A000"),
    ("frame start cannot be", "42P20"),
    ("frame end cannot be", "42P20"),
    ("frame starting from", "42P20"),
    ("unrecognized JSON encoding", "22023"),
    ("role name \"", "42939"),
    ("an ordered-set aggregate with a VARIADIC", "0A000"),
    ("unrecognized partitioning strategy", "22023"),
    (
        "unsafe use of string constant with Unicode escapes",
        "0A000",
    ),
    ("invalid Unicode escape", "22025"),
    ("stack depth limit exceeded", "54001"),
];

fn sqlstate_for(message: &str) -> &'static str {
    if message.ends_with("cannot be used as a role name here") {
        return "42939";
    }
    NOT_SYNTAX
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map_or("42601", |(_, code)| code)
}

#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

#[repr(C)]
struct PgQueryParseResult {
    parse_tree: *mut c_char,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

extern "C" {
    // libpg_query, linked by the pg_query crate, whose binding does not
    // pass on the error position.
    fn pg_query_parse_opts(input: *const c_char, parser_options: c_int) -> PgQueryParseResult;
    fn pg_query_free_parse_result(result: PgQueryParseResult);
}

/// Where the parser raised its error.
#[derive(Default)]
struct Location {
    position: Option<u32>,
    routine: Option<String>,
    file: Option<String>,
}

/// The parser's error position for text it rejects (1-based, in
/// characters, as the server reports it) and the routine that raised it;
/// empty if it accepts the text.
fn error_location(sql: &str, options: i32) -> Location {
    let Ok(input) = CString::new(sql) else {
        return Location::default();
    };
    let text = |p: *mut c_char| {
        // SAFETY: non-null pointers in the error are NUL-terminated strings
        // owned by the result, which is alive while this runs.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    // SAFETY: `input` is a valid NUL-terminated string that outlives the
    // call; the result is read only while it is alive and freed exactly once
    // with the library's own function.
    unsafe {
        let result = pg_query_parse_opts(input.as_ptr(), options);
        let at = if result.error.is_null() {
            Location::default()
        } else {
            let e = &*result.error;
            Location {
                position: u32::try_from(e.cursorpos).ok().filter(|p| *p > 0),
                routine: text(e.funcname),
                file: text(e.filename),
            }
        };
        pg_query_free_parse_result(result);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_pg_query_errors() {
        let f = ParseFailure::from(pg_query::Error::Parse(
            "syntax error at end of input".into(),
        ));
        assert_eq!(f.message, "syntax error at end of input");
        assert_eq!(f.to_string(), "syntax error at end of input");
        let nul = std::ffi::CString::new("a\0b").expect_err("interior NUL");
        let f = ParseFailure::from(pg_query::Error::Conversion(nul));
        assert!(f.message.contains("NUL"));
        assert!(!f.is_syntax_error());
    }

    #[test]
    fn syntax_errors_carry_the_servers_sqlstate_and_position() {
        let f = ParseFailure::syntax("selec 1", "syntax error at or near \"selec\"".into(), 0);
        assert_eq!(
            f.kind,
            FailureKind::Syntax {
                sqlstate: "42601",
                position: Some(1),
                routine: Some("scanner_yyerror".into()),
                file: Some("scan.l".into()),
            }
        );
        let f = ParseFailure::syntax("SELECT 1 FORM t", "x".into(), 0);
        assert!(matches!(
            f.kind,
            FailureKind::Syntax {
                position: Some(15),
                ..
            }
        ));
        // Characters, not bytes.
        let f = ParseFailure::syntax("SELECT 'é' FORM t", "x".into(), 0);
        assert!(matches!(
            f.kind,
            FailureKind::Syntax {
                position: Some(17),
                ..
            }
        ));
        assert_eq!(sqlstate_for("invalid Unicode escape"), "22025");
        assert_eq!(
            sqlstate_for("CURRENT_USER cannot be used as a role name here"),
            "42939"
        );
        assert_eq!(error_location("SELECT 1", 0).position, None);
    }
}
