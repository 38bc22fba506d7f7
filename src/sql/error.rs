//! Parse failures.

/// The SQL could not be parsed (syntax error, nesting too deep, or an input
/// the parser refuses). The policy must treat this as "deny / unknown".
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize)]
#[error("{message}")]
pub struct ParseFailure {
    /// The parser's message, e.g. `syntax error at or near "FORM"`.
    pub message: String,
    /// Byte offset of the error in the SQL text, when known. pg_query's Rust
    /// binding does not expose the parser's cursor position, so this is
    /// currently always `None`.
    pub cursor: Option<usize>,
}

impl ParseFailure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ParseFailure {
            message: message.into(),
            cursor: None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_pg_query_errors() {
        let f = ParseFailure::from(pg_query::Error::Parse(
            "syntax error at end of input".into(),
        ));
        assert_eq!(f.message, "syntax error at end of input");
        assert_eq!(f.cursor, None);
        assert_eq!(f.to_string(), "syntax error at end of input");
        let nul = std::ffi::CString::new("a\0b").expect_err("interior NUL");
        let f = ParseFailure::from(pg_query::Error::Conversion(nul));
        assert!(f.message.contains("NUL"));
    }
}
