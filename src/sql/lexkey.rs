//! Statements that differ only in their literal values, told apart by
//! PostgreSQL's own scanner (libpg_query's `pg_query_scan_tokens`), not by a
//! second lexer of pgward's: the token stream with every constant's text
//! left out is the key under which one analysis can serve them all, and
//! the same scan gives the literal-free text the audit trail records.
//!
//! The scanner reads string literals with `standard_conforming_strings =
//! on`; text under the other reading is never keyed this way.

use std::ffi::{c_char, c_int, CString};

/// `PgQueryToken` values of the constants (pg_query_scan_tokens.h).
const FCONST: c_int = 260;
const SCONST: c_int = 261;
const USCONST: c_int = 262;
const BCONST: c_int = 263;
const XCONST: c_int = 264;
const ICONST: c_int = 266;
const SQL_COMMENT: c_int = 275;
const C_COMMENT: c_int = 276;

#[repr(C)]
struct ScanToken {
    start: c_int,
    end: c_int,
    token: c_int,
    keyword_kind: c_int,
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
struct ScanTokensResult {
    tokens: *mut ScanToken,
    n_tokens: c_int,
    error: *mut PgQueryError,
}

extern "C" {
    fn pg_query_scan_tokens(input: *const c_char) -> ScanTokensResult;
    fn pg_query_free_scan_tokens_result(result: ScanTokensResult);
}

fn is_constant(token: c_int) -> bool {
    matches!(token, FCONST | SCONST | USCONST | BCONST | XCONST | ICONST)
}

/// A statement text seen through the scanner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexKey {
    /// Every token but the constants' text, length-prefixed (two texts
    /// differ here exactly when they differ in something other than the
    /// values of their constants, whitespace or comments).
    pub key: Vec<u8>,
    /// The text with each constant replaced by `$1`, `$2`, ...
    pub normalized: String,
    /// How many constants there were.
    pub constants: usize,
}

/// Scans `sql`; `None` when the scanner rejects it (the parser will then
/// say why) or it contains a NUL byte.
pub fn lex_key(sql: &str) -> Option<LexKey> {
    let input = CString::new(sql).ok()?;
    // SAFETY: `input` is a valid NUL-terminated string that outlives the
    // call; the token array is read only within its reported length while
    // the result is alive, and the result is freed exactly once.
    unsafe {
        let result = pg_query_scan_tokens(input.as_ptr());
        let out = if result.error.is_null() && (result.n_tokens == 0 || !result.tokens.is_null()) {
            let n = usize::try_from(result.n_tokens).unwrap_or(0);
            let tokens = if n == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(result.tokens, n)
            };
            build(sql, tokens)
        } else {
            None
        };
        pg_query_free_scan_tokens_result(result);
        out
    }
}

fn build(sql: &str, tokens: &[ScanToken]) -> Option<LexKey> {
    let mut key = Vec::with_capacity(sql.len() + 4 * tokens.len());
    let mut normalized = String::with_capacity(sql.len());
    let mut at = 0usize;
    let mut constants = 0usize;
    for t in tokens {
        let start = usize::try_from(t.start).ok()?;
        let end = usize::try_from(t.end).ok()?;
        let text = sql.get(start..end)?;
        if start < at {
            return None;
        }
        normalized.push_str(sql.get(at..start)?);
        at = end;
        if matches!(t.token, SQL_COMMENT | C_COMMENT) {
            // Comments change nothing (the stamp adds one); kept in the
            // audit text, left out of the key.
            normalized.push_str(text);
            continue;
        }
        key.extend_from_slice(&t.token.to_le_bytes());
        if is_constant(t.token) {
            constants += 1;
            normalized.push('$');
            normalized.push_str(&constants.to_string());
        } else {
            key.extend_from_slice(&(text.len() as u32).to_le_bytes());
            key.extend_from_slice(text.as_bytes());
            normalized.push_str(text);
        }
    }
    normalized.push_str(sql.get(at..)?);
    Some(LexKey {
        key,
        normalized,
        constants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_do_not_change_the_key() {
        let a = lex_key("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;").expect("scans");
        let b = lex_key("select abalance from pgbench_accounts where aid = 7  ;").expect("scans");
        let c = lex_key("SELECT abalance FROM pgbench_accounts WHERE aid = 'x';").expect("scans");
        assert_ne!(
            a.key, b.key,
            "keywords keep their spelling: case is part of the key"
        );
        assert_ne!(a.key, c.key, "an integer and a string are different tokens");
        let d = lex_key("SELECT abalance FROM pgbench_accounts WHERE aid = 99;").expect("scans");
        assert_eq!(a.key, d.key);
        assert_eq!(
            a.normalized,
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1;"
        );
        assert_eq!(a.constants, 1);
    }

    #[test]
    fn identifiers_operators_and_structure_do() {
        let base = lex_key("UPDATE t SET v = v + 1 WHERE id = 2")
            .expect("scans")
            .key;
        for other in [
            "UPDATE u SET v = v + 1 WHERE id = 2",
            "UPDATE t SET v = v - 1 WHERE id = 2",
            "UPDATE t SET v = v + 1 WHERE id = 2 OR true",
            "UPDATE \"t\" SET v = v + 1 WHERE id = 2",
            "UPDATE t SET w = v + 1 WHERE id = 2",
        ] {
            assert_ne!(lex_key(other).expect("scans").key, base, "{other}");
        }
        assert_eq!(
            lex_key("UPDATE t SET v = v + 1 /* c */ WHERE id = 3 -- x")
                .expect("scans")
                .key,
            base,
            "comments and whitespace are not part of it"
        );
    }

    #[test]
    fn every_kind_of_constant_is_a_constant() {
        let k = lex_key("SELECT 1, 1.5, 'a', E'b\\'', $$d$$, B'01', X'ff', U&'x', $tag$y$tag$")
            .expect("scans");
        assert_eq!(k.constants, 9, "{}", k.normalized);
        assert_eq!(k.normalized, "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9");
        assert!(lex_key("SELECT 'open").is_none());
        assert!(lex_key("SELECT 1\u{0}").is_none());
    }
}
