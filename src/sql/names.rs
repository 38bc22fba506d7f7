//! Identifier handling: qualified names from parse trees and from string
//! literals (`'schema.seq'::regclass`), folded the way PostgreSQL folds them,
//! and the function arguments they are read from.

use pg_query::protobuf::{self, a_const, node::Node as N};

/// PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated.
pub(crate) const MAX_IDENTIFIER_BYTES: usize = 63;

/// A schema-qualified name: `(schema, name)`.
pub(crate) type QualifiedName = (Option<String>, String);

/// Splits a parse-tree name list (`funcname`, `DropStmt` object names, ...)
/// into schema and name. The parser has already folded unquoted identifiers
/// to lower case and kept quoted ones exact. A three-part name has a leading
/// database name (PostgreSQL accepts it when it names the current database),
/// which is dropped. Returns `None` for anything that is not a list of 1-3
/// plain strings.
pub(crate) fn qualified_from_nodes(parts: &[protobuf::Node]) -> Option<QualifiedName> {
    let mut names = Vec::with_capacity(parts.len());
    for part in parts {
        match part.node.as_ref() {
            Some(N::String(s)) => names.push(s.sval.as_str()),
            _ => return None,
        }
    }
    match names.as_slice() {
        [name] => Some((None, (*name).to_string())),
        [schema, name] | [_, schema, name] => {
            Some((Some((*schema).to_string()), (*name).to_string()))
        }
        _ => None,
    }
}

thread_local! {
    /// Set when the analysis running on this thread read a constant's
    /// value: its result then holds only for these values.
    static LITERAL_READ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the running analysis depends on a constant's value.
pub(crate) fn note_literal_read() {
    LITERAL_READ.with(|c| c.set(true));
}

/// Runs `f`, and says whether it read any constant's value.
pub(crate) fn tracking_literals<T>(f: impl FnOnce() -> T) -> (T, bool) {
    let before = LITERAL_READ.with(|c| c.replace(false));
    let out = f();
    let read = LITERAL_READ.with(|c| c.replace(before));
    (out, read)
}

/// The value of a string literal, looking through type casts
/// (`'x'`, `'x'::text`, `'s'::regclass`, `CAST('x' AS text)`).
pub(crate) fn string_constant(node: &protobuf::Node) -> Option<&str> {
    note_literal_read();
    let mut current = node;
    // Casts can nest ('x'::text::regclass); a handful of levels is plenty.
    for _ in 0..8 {
        match current.node.as_ref()? {
            N::AConst(c) => {
                return match c.val.as_ref()? {
                    a_const::Val::Sval(s) => Some(s.sval.as_str()),
                    _ => None,
                }
            }
            N::TypeCast(cast) => current = cast.arg.as_deref()?,
            _ => return None,
        }
    }
    None
}

/// Truncates an identifier to PostgreSQL's limit, on a character boundary.
pub(crate) fn truncate_identifier(name: &str) -> &str {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let mut end = MAX_IDENTIFIER_BYTES;
    while end > 0 && !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// Parses a possibly qualified relation name the way `regclass` input does
/// (`'"My Schema".seq'`, `'public.S'` -> `("public", "s")`). Unquoted parts
/// are folded to lower case (ASCII only, as in a UTF-8 database), quoted parts
/// kept exact with `""` unescaped. Returns `None` for malformed input and for
/// numeric OIDs (which name no relation textually).
pub(crate) fn parse_qualified_name(text: &str) -> Option<QualifiedName> {
    let trimmed = text.trim_matches(is_pg_space);
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| is_pg_space(*c)) {
            chars.next();
        }
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return None,
                    Some('"') => {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            part.push('"');
                        } else {
                            break;
                        }
                    }
                    Some(c) => part.push(c),
                }
            }
            if part.is_empty() {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' || is_pg_space(c) {
                    break;
                }
                if c == '"' {
                    return None;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
            if part.is_empty() {
                return None;
            }
        }
        parts.push(truncate_identifier(&part).to_string());
        while chars.peek().is_some_and(|c| is_pg_space(*c)) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some('.') => continue,
            Some(_) => return None,
        }
    }
    let mut parts = parts.into_iter();
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(name), None, None, None) => Some((None, name)),
        (Some(schema), Some(name), None, None) | (Some(_), Some(schema), Some(name), None) => {
            Some((Some(schema), name))
        }
        _ => None,
    }
}

/// Run-time parameter names are case-insensitive.
pub(crate) fn setting_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Argument `index` when it is passed positionally.
pub(crate) fn positional_arg(args: &[protobuf::Node], index: usize) -> Option<&protobuf::Node> {
    let arg = args.get(index)?;
    match arg.node.as_ref() {
        Some(N::NamedArgExpr(_)) | None => None,
        Some(_) => Some(arg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> protobuf::Node {
        protobuf::Node {
            node: Some(N::String(protobuf::String { sval: v.into() })),
        }
    }

    #[test]
    fn qualified_lists() {
        assert_eq!(qualified_from_nodes(&[s("f")]), Some((None, "f".into())));
        assert_eq!(
            qualified_from_nodes(&[s("pg_catalog"), s("f")]),
            Some((Some("pg_catalog".into()), "f".into()))
        );
        assert_eq!(
            qualified_from_nodes(&[s("db"), s("pg_catalog"), s("f")]),
            Some((Some("pg_catalog".into()), "f".into()))
        );
        assert_eq!(
            qualified_from_nodes(&[s("a"), s("b"), s("c"), s("d")]),
            None
        );
        assert_eq!(qualified_from_nodes(&[]), None);
    }

    #[test]
    fn regclass_strings() {
        assert_eq!(parse_qualified_name("s"), Some((None, "s".into())));
        assert_eq!(
            parse_qualified_name(" Public . SEQ "),
            Some((Some("public".into()), "seq".into()))
        );
        assert_eq!(
            parse_qualified_name("\"My\"\"Schema\".\"Seq\""),
            Some((Some("My\"Schema".into()), "Seq".into()))
        );
        assert_eq!(
            parse_qualified_name("db.s.t"),
            Some((Some("s".into()), "t".into()))
        );
        assert_eq!(parse_qualified_name("12345"), None);
        assert_eq!(parse_qualified_name(""), None);
        assert_eq!(parse_qualified_name("a..b"), None);
        assert_eq!(parse_qualified_name("\"unterminated"), None);
        assert_eq!(parse_qualified_name("a b"), None);
        assert_eq!(parse_qualified_name("\"\""), None);
    }

    #[test]
    fn truncation_keeps_char_boundaries() {
        let long = "a".repeat(70);
        assert_eq!(truncate_identifier(&long).len(), 63);
        let multi = "é".repeat(40); // 80 bytes
        let t = truncate_identifier(&multi);
        assert!(t.len() <= 63 && t.chars().count() * 2 == t.len());
        assert_eq!(truncate_identifier("short"), "short");
    }

    #[test]
    fn setting_names_fold() {
        assert_eq!(
            setting_name("Default_Transaction_Read_Only"),
            "default_transaction_read_only"
        );
    }
}
