//! SQL analysis for the policy engine.
//!
//! [`analyze`] parses a query string with PostgreSQL's own parser (through
//! pg_query) and describes, for each statement, everything it could do: the
//! union of the [`Effect`]s found anywhere in its parse tree, the relations it
//! names with how it touches them, the functions it calls, the run-time
//! parameters it changes and the prepared statement it defines or runs, and
//! the column [`Lineage`] that column masking needs. The module decides
//! nothing; the policy engine checks every reported effect.
//!
//! The analysis fails closed: a tree node it does not recognise yields
//! [`Effect::Unknown`], and text that does not parse is a [`ParseFailure`].
//!
//! Callers must analyse the SQL exactly as the server will read it:
//! * as UTF-8 text in the server's reading: a session whose
//!   `client_encoding` is not UTF8 must be refused or have its bytes
//!   converted first. In SJIS, BIG5, GBK, UHC and GB18030 the second byte of
//!   a character can be 0x5C, so bytes that are valid UTF-8 with an escaped
//!   quote (`E'\u{81}\'; ...`) can end the literal early for the server;
//!   and
//! * with the session's `standard_conforming_strings` value
//!   ([`classify::analyze_with`], [`ParseOptions`]), which `SET` can change
//!   (watch [`Statement::settings`] and ParameterStatus messages).

pub mod builtins;
pub mod cache;
pub mod classify;
mod columns;
pub mod effects;
pub mod error;
mod lexer;
pub mod lexkey;
pub mod lineage;
mod names;
pub mod options;
mod pg_scan;
mod walk;

#[cfg(test)]
mod corpus_tests;

pub use cache::AnalysisCache;
pub use classify::{
    analyze, analyze_with, Access, Analysis, FunctionRef, Naming, ObjectRef, ParseFailure,
    ParseOptions, SettingChange, SettingScope, SettingValue, Statement, TxnControl,
};
pub use effects::Effect;
pub use error::FailureKind;
pub use lineage::{
    view_lineage, CopyFormatKind, CopyOptions, CopySource, CopyTo, Flow, Lineage, Output,
};

/// pg_query's fingerprint of the query (hex), identical for queries that differ
/// only in constants. `None` if the text does not parse.
pub fn fingerprint(sql: &str) -> Option<String> {
    std::panic::catch_unwind(|| pg_query::fingerprint(sql, 0, 0))
        .ok()?
        .ok()
        .map(|f| f.hex)
}

/// The query with constants replaced by `$n` parameters. `None` if the text
/// does not parse.
pub fn normalize(sql: &str) -> Option<String> {
    std::panic::catch_unwind(|| pg_query::normalize(sql))
        .ok()?
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_constants() {
        let a = fingerprint("SELECT * FROM t WHERE id = 1").expect("parses");
        let b = fingerprint("select * from t where id = 42").expect("parses");
        assert_eq!(a, b);
        assert_eq!(a.len(), 16);
        assert_ne!(
            a,
            fingerprint("SELECT * FROM t WHERE other = 1").expect("parses")
        );
        assert_eq!(fingerprint("SELEC 1"), None);
    }

    #[test]
    fn normalize_replaces_constants() {
        assert_eq!(
            normalize("SELECT * FROM t WHERE id = 1 AND name = 'x'").as_deref(),
            Some("SELECT * FROM t WHERE id = $1 AND name = $2")
        );
        assert_eq!(normalize("SELEC 1"), None);
    }

    #[test]
    fn analysis_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Analysis>();
        check::<Statement>();
        check::<ParseFailure>();
        check::<AnalysisCache>();
    }
}
