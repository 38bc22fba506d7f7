//! Statements that differ only in their literal values, told apart by
//! PostgreSQL's lexical rules: the token stream with every constant's text
//! left out is the key under which one analysis can serve them all, and
//! the same scan gives the literal-free text the audit trail records.
//!
//! The tokens come from [`super::lexer`] where it is certain to split the
//! text exactly as PostgreSQL's scanner does, and from that scanner itself
//! otherwise; [`disagreement`] is the check (tests and the `lexkey` fuzz
//! target) that the two never differ where the first one answers. Keys of
//! the two sources never coincide (a leading byte tells them apart), so a
//! statement keyed by one is at worst analysed again when the other keys it.
//!
//! Both read string literals with `standard_conforming_strings = on`; text
//! under the other reading is never keyed this way.

use super::lexer::{self, ConstKind, TokenKind};
use super::pg_scan::{self, PgToken};
use crate::attribution::{Comments, CommentsFromTokens, TokenRole};

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
    /// Where its comments are, for the stamp, when this scan found them.
    pub comments: Option<Comments>,
}

/// Scans `sql`; `None` when the scanner rejects it (the parser will then
/// say why) or it contains a NUL byte.
pub fn lex_key(sql: &str) -> Option<LexKey> {
    fast(sql).or_else(|| with_postgres(sql))
}

/// What a token adds to the key.
#[derive(Clone, Copy)]
enum Piece {
    /// Comments change nothing (the stamp adds one): kept in the audit
    /// text, left out of the key.
    Comment,
    /// Its tag and its text.
    Plain(u16),
    /// Its tag only; `$n` in the audit text.
    Constant(u16),
}

/// Key sources: the first byte of every key.
const FAST: u8 = 0;
const POSTGRES: u8 = 1;

struct Builder<'a> {
    sql: &'a str,
    key: Vec<u8>,
    normalized: String,
    /// Where the last token ended (tokens come in order).
    last_end: usize,
    /// How much of `sql` is in `normalized`: text is copied only up to the
    /// next constant, in one piece.
    copied: usize,
    constants: usize,
}

impl<'a> Builder<'a> {
    fn new(sql: &'a str, source: u8) -> Self {
        // A tag and a length byte per token: room for one token per two
        // bytes of text before the key has to grow.
        let mut key = Vec::with_capacity(2 * sql.len() + 16);
        key.push(source);
        Builder {
            sql,
            key,
            normalized: String::with_capacity(sql.len() + 8),
            last_end: 0,
            copied: 0,
            constants: 0,
        }
    }

    fn push(&mut self, start: usize, end: usize, piece: Piece) -> Option<()> {
        if start < self.last_end {
            return None;
        }
        // Bytes, not `str::get`: the key is bytes, and checking character
        // boundaries was an eighth of this function's instructions (9 of
        // 93 per token in pgbench's select). Text copied into the
        // normalized form is still taken with `get`, which declines a range
        // off a character boundary.
        let text = self.sql.as_bytes().get(start..end)?;
        self.last_end = end;
        match piece {
            Piece::Comment => {}
            Piece::Plain(tag) => {
                let [t0, t1] = tag.to_le_bytes();
                match u8::try_from(text.len()) {
                    // Tag and length in one append (the common case).
                    Ok(n) if n < u8::MAX => self.key.extend_from_slice(&[t0, t1, n]),
                    _ => {
                        self.key.extend_from_slice(&[t0, t1, u8::MAX]);
                        self.key
                            .extend_from_slice(&(text.len() as u32).to_le_bytes());
                    }
                }
                self.key.extend_from_slice(text);
            }
            Piece::Constant(tag) => {
                self.key.extend_from_slice(&tag.to_le_bytes());
                self.normalized.push_str(self.sql.get(self.copied..start)?);
                self.copied = end;
                self.constants += 1;
                self.normalized.push('$');
                push_decimal(&mut self.normalized, self.constants);
            }
        }
        Some(())
    }

    fn finish(mut self) -> Option<LexKey> {
        self.normalized.push_str(self.sql.get(self.copied..)?);
        Some(LexKey {
            key: self.key,
            normalized: self.normalized,
            constants: self.constants,
            comments: None,
        })
    }
}

/// `n`'s decimal digits, without a temporary string per constant.
fn push_decimal(out: &mut String, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

fn fast_piece(kind: TokenKind) -> Piece {
    match kind {
        TokenKind::Comment => Piece::Comment,
        TokenKind::Word => Piece::Plain(0),
        TokenKind::QuotedIdent => Piece::Plain(1),
        TokenKind::Symbol => Piece::Plain(2),
        TokenKind::Param => Piece::Plain(3),
        // Apart from the plain tags, so a key reads back one way only.
        TokenKind::Constant(k) => Piece::Constant(match k {
            ConstKind::Integer => 16,
            ConstKind::Float => 17,
            ConstKind::String => 18,
            ConstKind::BitString => 19,
            ConstKind::HexString => 20,
        }),
    }
}

/// What a token of [`lexer`] is to the stamp.
fn role(sql: &[u8], t: &lexer::Token) -> TokenRole {
    match t.kind {
        TokenKind::Comment if sql.get(t.start) == Some(&b'/') => TokenRole::BlockComment,
        TokenKind::Comment => TokenRole::LineComment,
        TokenKind::Symbol if sql.get(t.start..t.end) == Some(b";") => TokenRole::Separator,
        _ => TokenRole::Other,
    }
}

fn fast(sql: &str) -> Option<LexKey> {
    let mut b = Builder::new(sql, FAST);
    let mut comments = CommentsFromTokens::new(sql);
    let mut ok = Some(());
    lexer::scan(sql, |t| {
        if ok.is_some() {
            comments.token(t.start, t.end, role(sql.as_bytes(), &t));
            ok = b.push(t.start, t.end, fast_piece(t.kind));
        }
    })
    .ok()?;
    ok?;
    let mut k = b.finish()?;
    k.comments = Some(comments.finish());
    Some(k)
}

fn with_postgres(sql: &str) -> Option<LexKey> {
    let mut b = Builder::new(sql, POSTGRES);
    for t in pg_scan::tokens(sql)? {
        let tag = u16::try_from(t.token).ok()?;
        let piece = if pg_scan::is_comment(t.token) {
            Piece::Comment
        } else if pg_scan::is_constant(t.token) {
            Piece::Constant(tag)
        } else {
            Piece::Plain(tag)
        };
        b.push(t.start, t.end, piece)?;
    }
    b.finish()
}

/// Whether a token of [`lexer`] and one of PostgreSQL's scanner are the
/// same kind of thing: constants of the same kind, comments, or for the
/// rest a kind whose token number the text alone decides.
fn same_kind(kind: TokenKind, pg: i32) -> bool {
    use pg_scan::*;
    match kind {
        TokenKind::Comment => is_comment(pg),
        TokenKind::Word => pg == IDENT || pg >= FIRST_KEYWORD,
        TokenKind::QuotedIdent => pg == IDENT,
        TokenKind::Param => pg == PARAM,
        TokenKind::Symbol => pg < 256 || pg == OP || (TYPECAST..=NOT_EQUALS).contains(&pg),
        TokenKind::Constant(k) => {
            pg == match k {
                ConstKind::Integer => ICONST,
                ConstKind::Float => FCONST,
                ConstKind::String => SCONST,
                ConstKind::BitString => BCONST,
                ConstKind::HexString => XCONST,
            }
        }
    }
}

/// Where [`lexer`] answers for `sql` but not as PostgreSQL's scanner does
/// (a different token, boundary or kind, or an answer where the scanner
/// rejects the text), described; `None` when they agree or it declines.
/// Agreeing on boundaries and kinds makes the keys agree: two texts share
/// a key from one source exactly when they share one from the other.
pub fn disagreement(sql: &str) -> Option<String> {
    let ours = lexer::tokens(sql).ok()?;
    let Some(theirs) = pg_scan::tokens(sql) else {
        return Some(format!(
            "scanned {} tokens; PostgreSQL rejects the text",
            ours.len()
        ));
    };
    for (i, pair) in ours.iter().zip(theirs.iter()).enumerate() {
        let (o, t): (&lexer::Token, &PgToken) = pair;
        if o.start != t.start || o.end != t.end || !same_kind(o.kind, t.token) {
            return Some(format!(
                "token {i}: {:?} {:?} against PostgreSQL's {:?} (token {})",
                o.kind,
                sql.get(o.start..o.end),
                sql.get(t.start..t.end),
                t.token
            ));
        }
    }
    if ours.len() != theirs.len() {
        return Some(format!(
            "{} tokens against PostgreSQL's {}",
            ours.len(),
            theirs.len()
        ));
    }
    let (a, b) = (fast(sql)?, with_postgres(sql)?);
    if a.normalized != b.normalized || a.constants != b.constants {
        return Some(format!(
            "literal-free text {:?} against {:?}",
            a.normalized, b.normalized
        ));
    }
    // The stamp takes the comments from these tokens instead of its own
    // scan: they must be where that scan finds them.
    let scanned = crate::attribution::comments(sql);
    (a.comments != scanned).then(|| {
        format!(
            "comments from the tokens {:?} against the stamp's scan {:?}",
            a.comments, scanned
        )
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

    /// Texts built from the fragments where the two scanners could part:
    /// quotes and their doublings, escapes, dollar tags, comments inside
    /// operators, numbers run into names, casts and parameters.
    #[test]
    fn agrees_with_postgres_on_generated_text() {
        const FRAGMENTS: &[&str] = &[
            "'",
            "''",
            "'a'",
            "E'",
            "e'\\'",
            "E'\\''",
            "\\",
            "\\n",
            "$$",
            "$a$",
            "$1",
            "$12",
            "$",
            "--",
            "/*",
            "*/",
            "\n",
            "\r",
            " ",
            "\t",
            "1",
            "01",
            "1.5",
            ".5",
            "1.",
            "1e5",
            "1e",
            "e",
            "x",
            "B'01'",
            "X'fF'",
            "b'",
            "n'",
            "u&",
            "::",
            ":=",
            ":",
            "+",
            "-",
            "=",
            "<",
            ">",
            "!",
            "?",
            "@",
            "#",
            "%",
            "^",
            "&",
            "|",
            "~",
            "`",
            "*",
            "/",
            "\"",
            "\"\"",
            ".",
            "..",
            "a",
            "ab$c",
            "SELECT",
            "_",
            "0x1",
            "2147483648",
            "(",
            ")",
            "[",
            "]",
            ",",
            ";",
            "é",
            "{",
            "\u{b}",
        ];
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        let mut answered = 0;
        for _ in 0..40_000 {
            let n = 1 + next() % 10;
            let sql: String = (0..n)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if let Some(why) = disagreement(&sql) {
                panic!("{why}: {sql:?}");
            }
            answered += usize::from(lexer::tokens(&sql).is_ok());
        }
        assert!(answered > 4_000, "answered only {answered}");
    }

    /// The stamp takes a scanned text's comments from these tokens: where
    /// a sqlcommenter comment is, and whether the text ends in a line
    /// comment, as its own scan finds them.
    #[test]
    fn the_tokens_place_comments_where_the_stamps_scan_does() {
        for sql in [
            "UPDATE t SET v = 1 WHERE id = 2",
            "SELECT 1 /*traceparent='00-ab-cd-01'*/",
            "SELECT 1 /* a */ ; -- tail",
            "SELECT 1 /* a */ , 2",
            "SELECT 1 -- x\n/* b */;",
            "SELECT 'a /* b */' /* c /* nested */ */ ;;",
            "/* only */ ;",
            "SELECT 1 -- ends here",
            "SELECT 1 -- ends\r",
            "SELECT 1 +/* op */ 2",
        ] {
            let k = lex_key(sql).expect("scans");
            assert!(k.comments.is_some(), "{sql:?}");
            assert_eq!(k.comments, crate::attribution::comments(sql), "{sql:?}");
        }
    }

    #[test]
    fn both_sources_give_the_same_audit_text() {
        for sql in [
            "UPDATE pgbench_accounts SET abalance = abalance + -5 WHERE aid = 77;",
            "SELECT 'a''b', E'c\\'d', $q$x$q$ /* k */ -- t\n, 2147483648, 1.5e3, B'1', X'a'",
        ] {
            let a = fast(sql).expect("the fast scanner answers");
            let b = with_postgres(sql).expect("PostgreSQL's scanner answers");
            assert_eq!(a.normalized, b.normalized);
            assert_eq!(a.constants, b.constants);
            assert_ne!(a.key, b.key, "the sources' keys never coincide");
        }
    }
}
