//! PostgreSQL's own scanner (libpg_query's `pg_query_scan_tokens`): the
//! reference the shape key answers to, and its fallback for text the
//! faster [`super::lexer`] declines.

use std::ffi::{c_char, c_int, c_void, CString};

/// `PgQueryToken` values (pg_query_scan_tokens.h).
pub const IDENT: i32 = 258;
pub const FCONST: i32 = 260;
pub const SCONST: i32 = 261;
pub const USCONST: i32 = 262;
pub const BCONST: i32 = 263;
pub const XCONST: i32 = 264;
pub const OP: i32 = 265;
pub const ICONST: i32 = 266;
pub const PARAM: i32 = 267;
/// `::`, `..`, `:=`, `=>`, `<=`, `>=`, `!=` (and `<>`).
pub const TYPECAST: i32 = 268;
pub const NOT_EQUALS: i32 = 274;
pub const SQL_COMMENT: i32 = 275;
pub const C_COMMENT: i32 = 276;
/// Keywords are numbered from here on.
pub const FIRST_KEYWORD: i32 = 277;

#[repr(C)]
struct ScanToken {
    start: c_int,
    end: c_int,
    token: c_int,
    keyword_kind: c_int,
}

#[repr(C)]
struct ScanTokensResult {
    tokens: *mut ScanToken,
    n_tokens: c_int,
    /// Only tested for null: the scanner's message is not needed (the
    /// parser reports the error when the text reaches it).
    error: *mut c_void,
}

extern "C" {
    fn pg_query_scan_tokens(input: *const c_char) -> ScanTokensResult;
    fn pg_query_free_scan_tokens_result(result: ScanTokensResult);
}

/// One token as the scanner reports it: byte offsets and its token number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgToken {
    pub start: usize,
    pub end: usize,
    pub token: i32,
}

pub fn is_constant(token: i32) -> bool {
    matches!(token, FCONST | SCONST | USCONST | BCONST | XCONST | ICONST)
}

pub fn is_comment(token: i32) -> bool {
    matches!(token, SQL_COMMENT | C_COMMENT)
}

/// The tokens of `sql`, comments included; `None` when the scanner rejects
/// it, it contains a NUL byte, or an offset is not a boundary of `sql`.
pub fn tokens(sql: &str) -> Option<Vec<PgToken>> {
    let input = CString::new(sql).ok()?;
    // SAFETY: `input` is a valid NUL-terminated string that outlives the
    // call; the token array is read only within its reported length while
    // the result is alive, and the result is freed exactly once.
    let raw = unsafe {
        let result = pg_query_scan_tokens(input.as_ptr());
        let out = if result.error.is_null() && (result.n_tokens == 0 || !result.tokens.is_null()) {
            let n = usize::try_from(result.n_tokens).unwrap_or(0);
            let tokens = if n == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(result.tokens, n)
            };
            Some(
                tokens
                    .iter()
                    .map(|t| (t.start, t.end, t.token))
                    .collect::<Vec<_>>(),
            )
        } else {
            None
        };
        pg_query_free_scan_tokens_result(result);
        out
    }?;
    raw.into_iter()
        .map(|(start, end, token)| {
            let start = usize::try_from(start).ok()?;
            let end = usize::try_from(end).ok()?;
            sql.get(start..end)?;
            Some(PgToken { start, end, token })
        })
        .collect()
}
