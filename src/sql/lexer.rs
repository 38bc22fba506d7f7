//! A scanner for the statement shapes clients send most, splitting text into
//! the tokens PostgreSQL's own scanner would, at a fraction of its cost
//! (PostgreSQL's runs in a fresh memory context per call, and was an eighth
//! of a governed TPC-B run's instructions).
//!
//! It never has to understand everything: on anything it is not certain to
//! split exactly as PostgreSQL does — non-decimal or underscored numbers,
//! Unicode escapes, `N'...'`, string continuation across lines, numeric or
//! parameter junk, characters PostgreSQL returns as bare tokens — it
//! declines, and the caller falls back to PostgreSQL's scanner. Where it
//! does answer, its token boundaries and constant kinds are PostgreSQL's:
//! tests and the `lexkey` fuzz target compare the two on every input.
//! Rules follow PostgreSQL's `scan.l` with `standard_conforming_strings = on`.

/// The kinds of constant PostgreSQL's scanner tells apart. An integer that
/// does not fit in 32 bits is a `Float` there (ICONST/FCONST), so the kind
/// depends on the value, and so does the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstKind {
    Integer,
    Float,
    String,
    BitString,
    HexString,
}

/// What a token is, as far as a statement's shape is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or an unquoted identifier (the text tells which).
    Word,
    /// A double-quoted identifier.
    QuotedIdent,
    /// An operator or punctuation.
    Symbol,
    /// `$n`.
    Param,
    Constant(ConstKind),
    Comment,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: TokenKind,
}

/// The text holds something this scanner does not split with certainty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declined;

/// PostgreSQL's NAMEDATALEN: a longer operator is an error there.
const NAMEDATALEN: usize = 64;

/// Byte classes, one table lookup per byte instead of a chain of
/// comparisons: the scan runs over every simple-protocol statement's text.
const SPACE: u8 = 1;
const IDENT_START: u8 = 2;
const IDENT_CONT: u8 = 4;
const OP: u8 = 8;

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = 0;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') {
            k |= SPACE;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            k |= IDENT_START | IDENT_CONT;
        }
        if c.is_ascii_digit() || c == b'$' {
            k |= IDENT_CONT;
        }
        // PostgreSQL's `op_chars`.
        if matches!(
            c,
            b'~' | b'!'
                | b'@'
                | b'#'
                | b'^'
                | b'&'
                | b'|'
                | b'`'
                | b'?'
                | b'+'
                | b'-'
                | b'*'
                | b'/'
                | b'%'
                | b'<'
                | b'>'
                | b'='
        ) {
            k |= OP;
        }
        table[i] = k;
        i += 1;
    }
    table
}

fn is(c: u8, class: u8) -> bool {
    CLASSES[usize::from(c)] & class != 0
}

fn is_space(c: u8) -> bool {
    is(c, SPACE)
}

fn is_ident_start(c: u8) -> bool {
    is(c, IDENT_START)
}

fn is_ident_cont(c: u8) -> bool {
    is(c, IDENT_CONT)
}

fn is_op_char(c: u8) -> bool {
    is(c, OP)
}

/// Operator characters that let an operator end in `+` or `-`.
fn is_non_sql_op_char(c: u8) -> bool {
    matches!(
        c,
        b'~' | b'!' | b'@' | b'#' | b'^' | b'&' | b'|' | b'`' | b'?' | b'%'
    )
}

/// Calls `emit` with every token of `sql` in order, comments included;
/// whitespace is not a token.
pub fn scan(sql: &str, mut emit: impl FnMut(Token)) -> Result<(), Declined> {
    let b = sql.as_bytes();
    // PostgreSQL reads text up to a NUL byte, so text holding one is never
    // what it sees (the protocol cannot carry it either).
    if b.contains(&0) {
        return Err(Declined);
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if is_space(c) {
            i += 1;
            while i < b.len() && is_space(b[i]) {
                i += 1;
            }
            continue;
        }
        let start = i;
        let at = |k: usize| b.get(k).copied();
        let (end, kind) = match c {
            b'-' if at(i + 1) == Some(b'-') => (line_comment_end(b, i), TokenKind::Comment),
            b'/' if at(i + 1) == Some(b'*') => (block_comment_end(b, i)?, TokenKind::Comment),
            b'\'' => quoted_end(b, i + 1, Quote::Standard)?,
            b'e' | b'E' if at(i + 1) == Some(b'\'') => quoted_end(b, i + 2, Quote::Escape)?,
            b'b' | b'B' if at(i + 1) == Some(b'\'') => quoted_end(b, i + 2, Quote::Bits)?,
            b'x' | b'X' if at(i + 1) == Some(b'\'') => quoted_end(b, i + 2, Quote::Hex)?,
            // National strings and Unicode escapes: rare, and not plain
            // tokens in PostgreSQL's scanner.
            b'n' | b'N' if at(i + 1) == Some(b'\'') => return Err(Declined),
            b'u' | b'U' if at(i + 1) == Some(b'&') => return Err(Declined),
            c if is_ident_start(c) => {
                let mut j = i + 1;
                while j < b.len() && is_ident_cont(b[j]) {
                    j += 1;
                }
                (j, TokenKind::Word)
            }
            b'0'..=b'9' => number_end(b, i)?,
            b'.' if at(i + 1).is_some_and(|d| d.is_ascii_digit()) => number_end(b, i)?,
            b'.' if at(i + 1) == Some(b'.') => return Err(Declined),
            b'"' => (quoted_ident_end(b, i)?, TokenKind::QuotedIdent),
            b'$' => dollar(b, i)?,
            b':' => match at(i + 1) {
                Some(b':') | Some(b'=') => (i + 2, TokenKind::Symbol),
                _ => (i + 1, TokenKind::Symbol),
            },
            b',' | b'(' | b')' | b'[' | b']' | b'.' | b';' => (i + 1, TokenKind::Symbol),
            c if is_op_char(c) => (operator_end(b, i)?, TokenKind::Symbol),
            _ => return Err(Declined),
        };
        emit(Token { start, end, kind });
        i = end;
    }
    Ok(())
}

/// The tokens of `sql`, or `Declined`.
pub fn tokens(sql: &str) -> Result<Vec<Token>, Declined> {
    let mut out = Vec::new();
    scan(sql, |t| out.push(t))?;
    Ok(out)
}

fn line_comment_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |p| i + p)
}

/// Block comments nest; an unterminated one is an error there.
fn block_comment_end(b: &[u8], i: usize) -> Result<usize, Declined> {
    let mut depth = 1usize;
    let mut j = i + 2;
    while j < b.len() {
        if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Ok(j);
            }
        } else {
            j += 1;
        }
    }
    Err(Declined)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Standard,
    Escape,
    Bits,
    Hex,
}

/// The end of a quoted constant whose body starts at `j`.
fn quoted_end(b: &[u8], mut j: usize, quote: Quote) -> Result<(usize, TokenKind), Declined> {
    loop {
        let c = *b.get(j).ok_or(Declined)?;
        match (c, quote) {
            (b'\'', Quote::Standard | Quote::Escape) if b.get(j + 1) == Some(&b'\'') => j += 2,
            (b'\'', _) => break,
            (b'\\', Quote::Escape) => {
                // Octal, hex and Unicode escapes can make bytes that are
                // not valid text, which is an error there: decline them.
                let e = *b.get(j + 1).ok_or(Declined)?;
                if !(e.is_ascii_graphic() || e == b' ')
                    || matches!(e, b'0'..=b'7' | b'u' | b'U' | b'x')
                {
                    return Err(Declined);
                }
                j += 2;
            }
            (b'0' | b'1', Quote::Bits) => j += 1,
            (c, Quote::Hex) if c.is_ascii_hexdigit() => j += 1,
            (_, Quote::Bits | Quote::Hex) => return Err(Declined),
            _ => j += 1,
        }
    }
    let end = j + 1;
    // A quote after whitespace with a newline continues the literal; one
    // after plain whitespace is a syntax error. Either way: not for us.
    let mut k = end;
    while k < b.len() {
        if is_space(b[k]) {
            k += 1;
        } else if b[k] == b'-' && b.get(k + 1) == Some(&b'-') {
            k = line_comment_end(b, k);
        } else {
            break;
        }
    }
    if b.get(k) == Some(&b'\'') {
        return Err(Declined);
    }
    let kind = match quote {
        Quote::Standard | Quote::Escape => ConstKind::String,
        Quote::Bits => ConstKind::BitString,
        Quote::Hex => ConstKind::HexString,
    };
    Ok((end, TokenKind::Constant(kind)))
}

/// `"..."` with `""` for a quote; an empty one is an error there.
fn quoted_ident_end(b: &[u8], i: usize) -> Result<usize, Declined> {
    let mut j = i + 1;
    loop {
        match b.get(j) {
            None => return Err(Declined),
            Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
            Some(b'"') if j == i + 1 => return Err(Declined),
            Some(b'"') => return Ok(j + 1),
            Some(_) => j += 1,
        }
    }
}

fn digits_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// Decimal numbers only; PostgreSQL 16's `0x`, `0o`, `0b` and `_` forms,
/// `1..2`, and a number run into a name (an error there) are declined.
fn number_end(b: &[u8], i: usize) -> Result<(usize, TokenKind), Declined> {
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')) {
        return Err(Declined);
    }
    let int_end = digits_end(b, i);
    let mut j = int_end;
    let mut float = false;
    if b.get(j) == Some(&b'.') {
        if b.get(j + 1) == Some(&b'.') {
            return Err(Declined);
        }
        j = digits_end(b, j + 1);
        float = true;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(b.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if !b.get(k).is_some_and(|d| d.is_ascii_digit()) {
            return Err(Declined);
        }
        j = digits_end(b, k);
        float = true;
    }
    if b.get(j)
        .is_some_and(|&c| is_ident_cont(c) || c == b'.' || c == b'\'' || c == b'"')
    {
        return Err(Declined);
    }
    let kind = if float || !fits_int4(&b[i..int_end]) {
        ConstKind::Float
    } else {
        ConstKind::Integer
    };
    Ok((j, TokenKind::Constant(kind)))
}

/// Whether decimal digits are at most `i32::MAX` (leading zeros allowed).
fn fits_int4(digits: &[u8]) -> bool {
    let mut v: u64 = 0;
    for &d in digits {
        v = v * 10 + u64::from(d - b'0');
        if v > i32::MAX as u64 {
            return false;
        }
    }
    true
}

/// `$n`, or a dollar-quoted string.
fn dollar(b: &[u8], i: usize) -> Result<(usize, TokenKind), Declined> {
    if b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
        let j = digits_end(b, i + 1);
        // A parameter number beyond 32 bits is an error there.
        if j - i > 10 || b.get(j).is_some_and(|&c| is_ident_cont(c)) {
            return Err(Declined);
        }
        return Ok((j, TokenKind::Param));
    }
    let mut j = i + 1;
    if b.get(j)
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
    {
        while b
            .get(j)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        {
            j += 1;
        }
    }
    if b.get(j) != Some(&b'$') {
        return Err(Declined);
    }
    let tag = &b[i..=j];
    let body = j + 1;
    let close = b[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .ok_or(Declined)?;
    Ok((
        body + close + tag.len(),
        TokenKind::Constant(ConstKind::String),
    ))
}

/// PostgreSQL's operator rule: the longest run of operator characters,
/// cut before an embedded `/*` or `--`, and without trailing `+`/`-` unless
/// a character no SQL operator has comes before them (so `=-` is two).
fn operator_end(b: &[u8], i: usize) -> Result<usize, Declined> {
    let mut run = i;
    while run < b.len() && is_op_char(b[run]) {
        run += 1;
    }
    let text = &b[i..run];
    let mut n = text.len();
    if let Some(p) = text.windows(2).position(|w| w == b"/*" || w == b"--") {
        n = p;
    }
    if n > 1
        && matches!(text[n - 1], b'+' | b'-')
        && !text[..n - 1].iter().any(|&c| is_non_sql_op_char(c))
    {
        while n > 1 && matches!(text[n - 1], b'+' | b'-') {
            n -= 1;
        }
    }
    if n >= NAMEDATALEN {
        return Err(Declined);
    }
    Ok(i + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table says what the character classes of `scan.l` say, for
    /// every byte.
    #[test]
    fn byte_classes_are_the_scanners() {
        for c in 0..=255u8 {
            let space = b" \t\n\r\x0c".contains(&c);
            let start = c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
            let cont = start || c.is_ascii_digit() || c == b'$';
            let op = b"~!@#^&|`?+-*/%<>=".contains(&c);
            assert_eq!(
                (
                    is_space(c),
                    is_ident_start(c),
                    is_ident_cont(c),
                    is_op_char(c)
                ),
                (space, start, cont, op),
                "byte {c:#04x}"
            );
        }
    }

    fn texts(sql: &str) -> Vec<&str> {
        tokens(sql)
            .expect("scans")
            .iter()
            .map(|t| &sql[t.start..t.end])
            .collect()
    }

    #[test]
    fn operators_split_as_postgres_does() {
        assert_eq!(texts("a+-1"), ["a", "+", "-", "1"]);
        assert_eq!(texts("a=-1"), ["a", "=", "-", "1"]);
        assert_eq!(texts("a?-1"), ["a", "?-", "1"]);
        assert_eq!(texts("a<=b"), ["a", "<=", "b"]);
        assert_eq!(texts("a+/*c*/b"), ["a", "+", "/*c*/", "b"]);
        assert_eq!(texts("a*--c\nb"), ["a", "*", "--c", "b"]);
        assert_eq!(texts("x::int := 1"), ["x", "::", "int", ":=", "1"]);
        assert_eq!(texts("@-@ 1"), ["@-@", "1"]);
    }

    #[test]
    fn constants_and_their_kinds() {
        let kinds = |sql: &str| -> Vec<TokenKind> {
            tokens(sql).expect("scans").iter().map(|t| t.kind).collect()
        };
        use ConstKind::*;
        use TokenKind::Constant as C;
        assert_eq!(
            kinds(
                "1 2147483647 2147483648 1.5 .5 1e3 1.e-3 'a''b' E'\\'' $$x$$ $q$a$$q$ B'01' X'fF'"
            ),
            [
                C(Integer),
                C(Integer),
                C(Float),
                C(Float),
                C(Float),
                C(Float),
                C(Float),
                C(String),
                C(String),
                C(String),
                C(String),
                C(BitString),
                C(HexString)
            ]
        );
        assert_eq!(texts("$q$a$$q$"), ["$q$a$$q$"]);
        assert_eq!(texts("a$1 $2"), ["a$1", "$2"]);
        assert_eq!(texts("\"a\"\"b\".c"), ["\"a\"\"b\"", ".", "c"]);
        assert_eq!(texts("/* a /* b */ c */ d"), ["/* a /* b */ c */", "d"]);
    }

    #[test]
    fn what_it_is_not_sure_of_it_declines() {
        for sql in [
            "SELECT 0x1F",
            "SELECT 1_000",
            "SELECT 1..2",
            "SELECT 123abc",
            "SELECT $1abc",
            "SELECT 'a'\n'b'",
            "SELECT 'a' 'b'",
            "SELECT 'a' -- c\n 'b'",
            "SELECT N'x'",
            "SELECT U&'x'",
            "SELECT u&\"x\"",
            "SELECT E'\\101'",
            "SELECT E'\\x41'",
            "SELECT E'\\u0041'",
            "SELECT B'012'",
            "SELECT X'zz'",
            "SELECT 'open",
            "SELECT \"\"",
            "SELECT \"open",
            "SELECT $a$ open",
            "SELECT $",
            "SELECT /* open",
            "SELECT {1}",
            "SELECT 1\u{0}",
            "SELECT 1e",
            "SELECT '\u{0}'",
            "SELECT 1 -- \u{0}",
        ] {
            assert_eq!(tokens(sql), Err(Declined), "{sql:?}");
        }
    }
}
