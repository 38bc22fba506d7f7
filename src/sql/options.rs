//! How SQL text is to be parsed: the session's lexical settings, and how
//! deep SQL nested in string arguments is followed.

/// Lexical settings of the session that change how SQL text is tokenised.
///
/// With `standard_conforming_strings = off` the server treats backslashes in
/// ordinary string literals as escapes, so the same bytes can split into
/// different statements. Analyse with the value the server will use
/// (it is reported in ParameterStatus and can be changed with SET).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseOptions {
    pub standard_conforming_strings: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            standard_conforming_strings: true,
        }
    }
}

impl ParseOptions {
    pub(crate) fn parser_options(self) -> pg_query::ParserOptions {
        if self.standard_conforming_strings {
            pg_query::ParserOptions::DEFAULT
        } else {
            pg_query::ParserOptions::DISABLE_STANDARD_CONFORMING_STRINGS
        }
    }

    /// True for parameters whose change can alter how later SQL text is
    /// tokenised, so the caller must update its [`ParseOptions`] (or refuse):
    /// `standard_conforming_strings`, `client_encoding` (also `SET NAMES`),
    /// `backslash_quote`, and `all` (RESET ALL / DISCARD ALL).
    pub fn is_lexical_setting(name: &str) -> bool {
        matches!(
            name.to_ascii_lowercase().as_str(),
            "standard_conforming_strings" | "client_encoding" | "backslash_quote" | "all"
        )
    }

    pub(crate) fn bits(self) -> u8 {
        u8::from(self.standard_conforming_strings)
    }
}

/// How deep SQL executed from string arguments (query_to_xml, ts_stat) is
/// followed before giving up with [`Effect::Unknown`].
pub(crate) const MAX_SQL_NESTING: u8 = 3;
