//! The attribution stamp: a sqlcommenter comment (`/*key='value',...*/`)
//! appended to every statement pgward forwards, so whatever the server shows
//! (pg_stat_activity, the server log, auto_explain, query-insight tools) names
//! the person, profile, branch and session behind a statement, not just the
//! shared service account pgward connects as.
//!
//! Safety of the comment rests on one property: every value and key is
//! percent-encoded down to `[A-Za-z0-9-._~%]`, so no `'`, `*` or `/` from a
//! client-controlled fact (application_name, user name, branch, a client's own
//! comment) can ever close the comment, open a nested one (PostgreSQL block
//! comments nest, so a stray `/*` would swallow the rest of the statement), or
//! reach the SQL.
//!
//! Placement: the stamp goes at the END of the text, so error positions the
//! server reports for the client's own tokens do not move. When the client
//! already ended its statement with a sqlcommenter comment, that comment is
//! replaced in place by one merged comment, so consumers that read "the last
//! comment" see exactly one, and it is pgward's.
//!
//! Precondition: callers only stamp text the SQL parser accepted. The scanner
//! here is a lexer for comments, quoted strings, quoted identifiers and
//! dollar quotes only; it assumes `standard_conforming_strings = on` (the
//! default, and what the parser assumes). If the text ends inside an open
//! string, identifier or comment anyway, the statement is forwarded unchanged:
//! the server rejects it, and a stamp appended inside an open comment would be
//! swallowed or, worse, close it.

use std::collections::BTreeMap;
use std::ops::Range;

/// Longest encoded value kept; longer values are cut on a character boundary
/// of the encoding. Bounds the per-statement overhead a client can cause
/// through application_name or its own comment.
pub const MAX_VALUE_BYTES: usize = 256;
/// Longest encoded key kept.
pub const MAX_KEY_BYTES: usize = 64;
/// At most this many of the client's own keys survive the merge, for the same
/// reason as [`MAX_VALUE_BYTES`].
pub const MAX_CLIENT_KEYS: usize = 16;
/// Keys in this namespace are pgward's alone, whether or not this session
/// sets them.
pub const OWNED_PREFIX: &str = "pgward_";
/// A client key that collides with one pgward owns is kept under this prefix
/// instead of being trusted: the attempt stays visible to whoever reads the
/// comment, but can never be mistaken for pgward's fact.
pub const CLIENT_PREFIX: &str = "client_";
/// The W3C trace-context key.
pub const TRACEPARENT: &str = "traceparent";

/// The comment for one session, rendered once.
///
/// Stable for the whole session: a comment that changed per statement would
/// make every statement text unique and defeat the server's and drivers'
/// statement caches (prepared statement names keyed by text, pgbouncer-style
/// caches, pg_stat_statements text slots).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The rendered comment; its encoded (key, value) pairs, sorted by key
    /// and unique, are read back from it (see [`Stamp::pairs`]) rather than
    /// kept twice: every session holds a stamp for its whole life.
    comment: String,
}

impl Stamp {
    /// Builds a stamp from raw facts. Keys and values are encoded here;
    /// a repeated key keeps its last value. Empty values are kept so that a
    /// fact that is known to be empty is distinguishable from one not set.
    pub fn new(facts: &[(&str, &str)]) -> Stamp {
        let mut map = BTreeMap::new();
        for (k, v) in facts {
            let key = encode_capped(k.as_bytes(), MAX_KEY_BYTES);
            if key.is_empty() {
                continue;
            }
            map.insert(key, encode_capped(v.as_bytes(), MAX_VALUE_BYTES));
        }
        let mut comment = render(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        comment.shrink_to_fit();
        Stamp { comment }
    }

    /// The encoded pairs, in key order. Encoded keys and values hold only
    /// unreserved characters and `%XX` escapes, so the comment's `,`, `='`
    /// and `'` separate them unambiguously.
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.comment
            .strip_prefix("/*")
            .and_then(|c| c.strip_suffix("*/"))
            .unwrap_or("")
            .split(',')
            .filter_map(|pair| {
                let (k, v) = pair.split_once("='")?;
                Some((k, v.strip_suffix('\'')?))
            })
    }

    /// The rendered comment, `/*k='v',...*/`, or empty if there are no facts.
    pub fn comment(&self) -> &str {
        &self.comment
    }

    fn owns(&self, encoded_key: &str) -> bool {
        encoded_key.starts_with(OWNED_PREFIX) || self.pairs().any(|(k, _)| k == encoded_key)
    }
}

/// The client's own trailing sqlcommenter comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientComment {
    /// Decoded (key, value) pairs in the client's order; non-UTF-8 bytes are
    /// replaced, since these are only ever re-encoded or displayed.
    pub pairs: Vec<(String, String)>,
    /// Byte range of the whole comment, `/*` through `*/`, in the statement.
    pub span: Range<usize>,
}

impl ClientComment {
    /// The client's traceparent, only if it is well-formed W3C trace context
    /// (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero), so a malformed
    /// value can never become the parent of pgward's own spans.
    pub fn traceparent(&self) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == TRACEPARENT)
            .map(|(_, v)| v.as_str())
            .filter(|v| valid_traceparent(v))
    }
}

/// Returns the statement text with the stamp applied, or `None` when it must
/// be forwarded unchanged: nothing but whitespace, semicolons and comments
/// (the server answers those with EmptyQueryResponse whatever they contain),
/// an empty stamp, or text that ends inside an open quote or comment (see the
/// module precondition).
///
/// `traceparent`, when given, is pgward's own and wins over the client's; the
/// client's is then kept as `client_traceparent`. When not given, a client
/// traceparent passes through untouched.
pub fn apply(sql: &str, stamp: &Stamp, traceparent: Option<&str>) -> Option<String> {
    scanned(sql)?.apply(stamp, traceparent)
}

/// A statement text with its comments located, so that finding the
/// client's comment and stamping the text scan it once between them.
pub struct Scanned<'a> {
    sql: &'a str,
    scan: Scan,
}

/// Locates the comments of `sql`; `None` when it ends inside an open quote
/// or comment (such text is never stamped).
pub fn scanned(sql: &str) -> Option<Scanned<'_>> {
    Some(Scanned {
        sql,
        scan: scan(sql).ok()?,
    })
}

/// Where a text's comments are, as [`scanned`] finds them, kept apart from
/// the text: a cached analysis holds them, so a text seen before is not
/// scanned again to be stamped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comments {
    scan: Scan,
    /// The text they were found in, hashed: comments are used only with
    /// the text they belong to.
    text: u64,
}

/// A hash of the text comments were found in; a hash rather than the text
/// so that handing comments around shares and copies nothing.
fn text_hash(sql: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7067_7761_7264).hash_one(sql.as_bytes())
}

/// The comments of `sql`; `None` where [`scanned`] gives none.
pub fn comments(sql: &str) -> Option<Comments> {
    Some(Comments {
        scan: scan(sql).ok()?,
        text: text_hash(sql),
    })
}

/// What a token of a scanner that split a whole text is to the stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRole {
    /// `;`, which separates statements and is passed over like whitespace.
    Separator,
    /// `/* ... */`.
    BlockComment,
    /// `-- ...`, to the end of its line.
    LineComment,
    /// Anything else.
    Other,
}

/// [`Comments`] from the tokens of a scanner that split the whole text
/// (the shape key's): a statement that differs from one seen before only
/// in its constants then is not scanned a second time to be stamped. A
/// text the scanner declines is scanned here as before.
pub struct CommentsFromTokens<'a> {
    sql: &'a str,
    scan: Scan,
}

impl<'a> CommentsFromTokens<'a> {
    /// For the tokens of `sql`, in order.
    pub fn new(sql: &'a str) -> Self {
        CommentsFromTokens {
            sql,
            scan: Scan::default(),
        }
    }

    /// The next token, `start..end` of the text.
    pub fn token(&mut self, start: usize, end: usize, role: TokenRole) {
        match role {
            TokenRole::Separator => {}
            TokenRole::BlockComment => self.scan.tail_comment = Some(start..end),
            TokenRole::LineComment => self.scan.ends_in_line_comment = end == self.sql.len(),
            TokenRole::Other => token(&mut self.scan),
        }
    }

    pub fn finish(self) -> Comments {
        Comments {
            scan: self.scan,
            text: text_hash(self.sql),
        }
    }
}

impl<'a> Scanned<'a> {
    /// `sql` with comments found before in the same text. Comments of
    /// another text are never used: one that hashes differently, or whose
    /// span does not fall on `sql`'s character boundaries, is scanned
    /// afresh.
    pub fn with(sql: &'a str, found: Comments) -> Option<Scanned<'a>> {
        let fits = found.text == text_hash(sql)
            && found
                .scan
                .tail_comment
                .as_ref()
                .is_none_or(|r| sql.get(r.clone()).is_some());
        if !fits {
            return scanned(sql);
        }
        Some(Scanned {
            sql,
            scan: found.scan,
        })
    }
}

impl Scanned<'_> {
    /// See [`client_comment`].
    pub fn client_comment(&self) -> Option<ClientComment> {
        parse_client_comment(self.sql, self.scan.tail_comment.clone()?)
    }

    /// See [`apply`].
    pub fn apply(&self, stamp: &Stamp, traceparent: Option<&str>) -> Option<String> {
        stamp_scanned(self.sql, &self.scan, stamp, traceparent)
    }
}

fn stamp_scanned(
    sql: &str,
    scan: &Scan,
    stamp: &Stamp,
    traceparent: Option<&str>,
) -> Option<String> {
    if !scan.has_token {
        return None;
    }
    let client = scan
        .tail_comment
        .clone()
        .and_then(|span| parse_client_comment(sql, span));
    let tp = traceparent.map(|t| encode_capped(t.as_bytes(), MAX_VALUE_BYTES));
    if client.is_none() && tp.is_none() {
        if stamp.comment.is_empty() {
            return None;
        }
        return Some(append(sql, scan, &stamp.comment));
    }

    let mut merged: BTreeMap<String, String> = stamp
        .pairs()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Some(tp) = &tp {
        merged.insert(TRACEPARENT.to_string(), tp.clone());
    }
    let owned = |k: &str| stamp.owns(k) || (tp.is_some() && k == TRACEPARENT);
    let mut renamed = Vec::new();
    if let Some(client) = &client {
        for (k, v) in client.pairs.iter().take(MAX_CLIENT_KEYS) {
            let key = encode_capped(k.as_bytes(), MAX_KEY_BYTES);
            let value = encode_capped(v.as_bytes(), MAX_VALUE_BYTES);
            if key.is_empty() {
                continue;
            }
            if owned(&key) {
                renamed.push((format!("{CLIENT_PREFIX}{key}"), value));
            } else {
                merged.entry(key).or_insert(value);
            }
        }
    }
    // A key the client wrote literally as `client_x` wins over the renamed
    // forgery of `x`: both are the client's, and the literal one is what it
    // actually asked for.
    for (k, v) in renamed {
        merged.entry(k).or_insert(v);
    }
    let comment = render(merged.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    match client {
        Some(c) => {
            let mut out = String::with_capacity(sql.len() + comment.len());
            out.push_str(&sql[..c.span.start]);
            out.push_str(&comment);
            out.push_str(&sql[c.span.end..]);
            Some(out)
        }
        None => Some(append(sql, scan, &comment)),
    }
}

/// Parses the client's own trailing sqlcommenter comment, if any: the last
/// top-level block comment followed only by whitespace, semicolons and line
/// comments, whose body is a `key='value'` list. Comments elsewhere (optimizer
/// hints at the start, for instance) are not the client's stamp and are left
/// alone.
pub fn client_comment(sql: &str) -> Option<ClientComment> {
    scanned(sql)?.client_comment()
}

fn append(sql: &str, scan: &Scan, comment: &str) -> String {
    let mut out = String::with_capacity(sql.len() + comment.len() + 1);
    out.push_str(sql);
    if scan.ends_in_line_comment {
        // Without the newline the stamp would be part of the line comment.
        out.push('\n');
    } else if !sql.ends_with(|c: char| c.is_ascii_whitespace()) {
        out.push(' ');
    }
    out.push_str(comment);
    out
}

fn render<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(if out.is_empty() { "/*" } else { "," });
        out.push_str(k);
        out.push_str("='");
        out.push_str(v);
        out.push('\'');
    }
    if !out.is_empty() {
        out.push_str("*/");
    }
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes everything but RFC 3986 unreserved characters, stopping
/// before the output would exceed `cap` bytes (never splitting an escape).
fn encode_capped(raw: &[u8], cap: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(raw.len().min(cap));
    for &b in raw {
        let need = if is_unreserved(b) { 1 } else { 3 };
        if out.len() + need > cap {
            break;
        }
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xf)] as char);
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hi = (b[i + 1] as char).to_digit(16);
            let lo = (b[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn valid_traceparent(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    parts.len() == 4
        && parts[0] == "00"
        && hex(parts[1], 32)
        && nonzero(parts[1])
        && hex(parts[2], 16)
        && nonzero(parts[2])
        && hex(parts[3], 2)
}

/// Splits a comment body into sqlcommenter pairs; `None` if any part is not
/// `key='value'`, so an ordinary prose comment is never mistaken for one.
fn parse_client_comment(sql: &str, span: Range<usize>) -> Option<ClientComment> {
    let body = sql.get(span.start + 2..span.end - 2)?.trim();
    if body.is_empty() {
        return None;
    }
    let b = body.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        let eq = i + body[i..].find('=')?;
        let key = body[i..eq].trim();
        if key.is_empty() || !key.bytes().all(|c| c.is_ascii_graphic() && c != b'\'') {
            return None;
        }
        let mut j = eq + 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) != Some(&b'\'') {
            return None;
        }
        j += 1;
        let start = j;
        // The spec escapes a quote inside a value as \'; encoders that follow
        // it percent-encode anyway, so this only matters for leniency.
        while j < b.len() && b[j] != b'\'' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        if j >= b.len() {
            return None;
        }
        let raw = body[start..j].replace("\\'", "'");
        pairs.push((percent_decode(key), percent_decode(&raw)));
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        match b.get(j) {
            None => break,
            Some(b',') => i = j + 1,
            Some(_) => return None,
        }
    }
    Some(ClientComment { pairs, span })
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Scan {
    /// Anything but whitespace, semicolons and comments was seen.
    has_token: bool,
    /// The last block comment, if only whitespace, semicolons and line
    /// comments follow it.
    tail_comment: Option<Range<usize>>,
    /// The text ends inside a `--` comment (no newline after it).
    ends_in_line_comment: bool,
}

#[derive(Debug)]
struct Unterminated;

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn is_tag_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Lexes just enough of PostgreSQL's grammar to know where comments are:
/// strings (standard and `E''`), quoted identifiers, dollar quotes, and
/// nested block comments. `--` and `/*` start comments even in the middle of
/// an operator, as in the server's lexer.
fn scan(sql: &str) -> Result<Scan, Unterminated> {
    match scan_plain(sql.as_bytes()) {
        Some(s) => Ok(s),
        None => scan_full(sql),
    }
}

fn scan_full(sql: &str) -> Result<Scan, Unterminated> {
    let b = sql.as_bytes();
    let mut s = Scan::default();
    let mut i = 0;
    // Start of the identifier-like run the previous byte belongs to.
    let mut ident_start: Option<usize> = None;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b';' => {
                ident_start = None;
                i += 1;
            }
            b'-' if next == Some(b'-') => {
                ident_start = None;
                match b[i..].iter().position(|&x| x == b'\n' || x == b'\r') {
                    Some(p) => i += p,
                    None => {
                        s.ends_in_line_comment = true;
                        i = b.len();
                    }
                }
            }
            b'/' if next == Some(b'*') => {
                ident_start = None;
                let start = i;
                let mut depth = 0usize;
                loop {
                    match (b.get(i), b.get(i + 1)) {
                        (Some(b'/'), Some(b'*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some(b'*'), Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => return Err(Unterminated),
                    }
                }
                s.tail_comment = Some(start..i);
            }
            b'\'' => {
                let escapes =
                    matches!(ident_start, Some(st) if i - st == 1 && (b[st] | 0x20) == b'e');
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(Unterminated),
                        Some(b'\\') if escapes => i += 2,
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                token(&mut s);
                ident_start = None;
            }
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(Unterminated),
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                token(&mut s);
                ident_start = None;
            }
            b'$' if ident_start.is_none() && dollar_tag_len(&b[i..]).is_some() => {
                let tag_len = dollar_tag_len(&b[i..]).ok_or(Unterminated)?;
                let tag = &b[i..i + tag_len];
                let body = i + tag_len;
                let end = b[body..]
                    .windows(tag_len)
                    .position(|w| w == tag)
                    .ok_or(Unterminated)?;
                i = body + end + tag_len;
                token(&mut s);
            }
            _ => {
                if is_ident_byte(c) {
                    // Most of a statement is words: take the run at once.
                    ident_start.get_or_insert(i);
                    i += 1;
                    while b.get(i).copied().is_some_and(is_ident_byte) {
                        i += 1;
                    }
                } else {
                    ident_start = None;
                    i += 1;
                }
                token(&mut s);
            }
        }
    }
    Ok(s)
}

/// [`scan`] of a text in which nothing can open a quote or a comment (no
/// quote or dollar sign, no `--` or `/*`), which is most statements a
/// program sends with its values inline: there every other byte is a
/// token or a separator. Three passes without a branch per byte (pgbench's
/// TPC-B statements: about 690 instructions a text, against 1,600 for the
/// full scan); `None` sends the text through the full scan.
fn scan_plain(b: &[u8]) -> Option<Scan> {
    let quote = b.iter().fold(0u8, |any, &c| {
        any | u8::from(matches!(c, b'\'' | b'"' | b'$'))
    });
    let pairs = b.get(1..).unwrap_or_default();
    let opener = b.iter().zip(pairs).fold(0u8, |any, (&x, &y)| {
        any | (u8::from(x == b'-' && y == b'-') | u8::from(x == b'/' && y == b'*'))
    });
    if quote | opener != 0 {
        return None;
    }
    let has_token = b.iter().fold(0u8, |any, &c| {
        any | u8::from(!matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b';'))
    }) != 0;
    Some(Scan {
        has_token,
        tail_comment: None,
        ends_in_line_comment: false,
    })
}

fn token(s: &mut Scan) {
    s.has_token = true;
    s.tail_comment = None;
}

/// Length of `$tag$` at the start of `b`, if it is a dollar-quote opener.
fn dollar_tag_len(b: &[u8]) -> Option<usize> {
    let mut j = 1;
    if b.get(j).is_some_and(|&c| is_tag_start(c)) {
        j += 1;
        while b.get(j).is_some_and(|&c| is_tag_byte(c)) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut agrees with the full scan wherever it answers, on
    /// texts made of the bytes that matter to either (quotes, dollar
    /// signs, comment openers and closers, separators, words, `E`).
    #[test]
    fn the_plain_scan_agrees_with_the_full_scan() {
        const SPECIAL: &[u8] = b"'\"$-/*\\";
        const PLAIN: &[u8] = b"; \n\tEe1a_+-/";
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        let mut answered = 0;
        for _ in 0..200_000 {
            let len = (next() % 50) as usize;
            let rare = 1 + next() % 64;
            let text: String = (0..len)
                .map(|_| {
                    let r = next();
                    let from = if r % rare == 0 { SPECIAL } else { PLAIN };
                    char::from(from[((r >> 8) % from.len() as u64) as usize])
                })
                .collect();
            if let Some(plain) = scan_plain(text.as_bytes()) {
                answered += 1;
                assert_eq!(scan_full(&text).ok(), Some(plain), "{text:?}");
            }
        }
        assert!(answered > 10_000, "the shortcut answered {answered} times");
        for text in [
            "UPDATE pgbench_accounts SET abalance = abalance + -4139 WHERE aid = 61430;",
            "SELECT a / b, c - -d FROM t",
            "  ;  ",
            "",
        ] {
            assert_eq!(
                scan_plain(text.as_bytes()),
                scan_full(text).ok(),
                "{text:?}"
            );
        }
        for text in [
            "SELECT 1 -- x",
            "SELECT /* x */ 1",
            "SELECT 'a'",
            "SELECT $1",
            "SELECT \"a\"",
        ] {
            assert_eq!(scan_plain(text.as_bytes()), None, "{text:?}");
        }
    }

    fn stamp() -> Stamp {
        Stamp::new(&[
            ("pgward_user", "alice@example.com"),
            ("pgward_session", "s-1"),
            ("application", "psql"),
            ("pgward_profile", "analyst"),
            ("pgward_branch", "main"),
        ])
    }

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn renders_sorted_encoded_keys() {
        assert_eq!(
            stamp().comment(),
            "/*application='psql',pgward_branch='main',pgward_profile='analyst',\
             pgward_session='s-1',pgward_user='alice%40example.com'*/"
        );
    }

    #[test]
    fn appends_after_everything_with_one_separator() {
        let s = Stamp::new(&[("pgward_user", "a")]);
        let c = "/*pgward_user='a'*/";
        assert_eq!(
            apply("SELECT 1", &s, None).as_deref(),
            Some(&*format!("SELECT 1 {c}"))
        );
        assert_eq!(
            apply("SELECT 1;", &s, None).as_deref(),
            Some(&*format!("SELECT 1; {c}"))
        );
        assert_eq!(
            apply("SELECT 1;\n", &s, None).as_deref(),
            Some(&*format!("SELECT 1;\n{c}"))
        );
        assert_eq!(
            apply("SELECT 1 -- why", &s, None).as_deref(),
            Some(&*format!("SELECT 1 -- why\n{c}"))
        );
        assert_eq!(
            apply("SELECT 1 -- why\n", &s, None).as_deref(),
            Some(&*format!("SELECT 1 -- why\n{c}"))
        );
        // `--` inside a string is not a comment.
        assert_eq!(
            apply("SELECT '--'", &s, None).as_deref(),
            Some(&*format!("SELECT '--' {c}"))
        );
        // `--` inside an operator starts a comment, as on the server.
        assert_eq!(
            apply("SELECT 1 +--x", &s, None).as_deref(),
            Some(&*format!("SELECT 1 +--x\n{c}"))
        );
    }

    #[test]
    fn nothing_to_stamp() {
        let s = stamp();
        for sql in [
            "",
            "   ",
            "\n\t",
            ";",
            " ; ;",
            "/* only */",
            "-- only",
            "/* a */ -- b\n;",
        ] {
            assert_eq!(apply(sql, &s, None), None, "{sql:?}");
        }
        assert_eq!(apply("SELECT 1", &Stamp::new(&[]), None), None);
    }

    #[test]
    fn unterminated_text_is_left_alone() {
        let s = stamp();
        for sql in [
            "SELECT 'abc",
            "SELECT \"abc",
            "SELECT 1 /* open",
            "SELECT 1 /* a /* nested */",
            "SELECT $$abc",
            "SELECT $q$abc$$",
            "SELECT E'a\\'",
        ] {
            assert_eq!(apply(sql, &s, None), None, "{sql:?}");
        }
    }

    #[test]
    fn lexer_respects_quotes_and_dollar_quotes() {
        let s = Stamp::new(&[("k", "v")]);
        for sql in [
            "SELECT 'a /* b'",
            "SELECT E'it\\'s /*'",
            "SELECT 'it''s /*'",
            "SELECT \"we\"\"ird /*\"",
            "SELECT $$ /* $$",
            "SELECT $fn$ a $$ /* $fn$",
            "SELECT $1 /**/",
            "SELECT a$b$c FROM t",
            "SELECT 1 /* a /* b */ c */",
        ] {
            let out = apply(sql, &s, None).unwrap_or_default();
            assert!(out.starts_with(sql), "{sql:?} -> {out:?}");
            assert!(out.ends_with(" /*k='v'*/"), "{sql:?} -> {out:?}");
        }
    }

    #[test]
    fn values_cannot_escape_the_comment() {
        let hostile = [
            "*/ DROP TABLE t; /*",
            "/* nested",
            "it's",
            "back\\slash",
            "new\nline\r",
            "nul\0byte",
            "-- dash",
            "$$dollar$$",
            "\u{FFFD} lossy",
            "ünïcode 雪",
        ];
        for v in hostile {
            let s = Stamp::new(&[("pgward_user", v), (v, "key-too")]);
            let body = s
                .comment()
                .strip_prefix("/*")
                .and_then(|c| c.strip_suffix("*/"))
                .unwrap_or_else(|| panic!("not a comment: {:?}", s.comment()));
            for part in body.split(',') {
                let (k, val) = part.split_once('=').unwrap_or_else(|| panic!("{part}"));
                let val = val
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .unwrap_or_else(|| panic!("{val}"));
                for text in [k, val] {
                    assert!(
                        text.bytes().all(|b| is_unreserved(b) || b == b'%'),
                        "{v:?} leaked {text:?}"
                    );
                }
            }
            let out = apply("SELECT 1", &s, None).unwrap_or_default();
            let scanned = scan(&out).expect("stamped text must stay terminated");
            assert_eq!(scanned.tail_comment.map(|r| &out[r]), Some(s.comment()));
        }
    }

    #[test]
    fn kept_comments_stamp_as_a_fresh_scan_does() {
        let stamp = Stamp::new(&[("pgward_user", "ann")]);
        let texts = [
            "SELECT 1",
            "SELECT 1 /*app='x'*/",
            "SELECT 1 -- trailing",
            "/* only a comment */",
            "SELECT '/*' || $$--$$ /*a='b',traceparent='00-1-2-01'*/;",
        ];
        for sql in texts {
            let fresh = scanned(sql).and_then(|s| s.apply(&stamp, None));
            let kept = comments(sql)
                .and_then(|c| Scanned::with(sql, c))
                .and_then(|s| s.apply(&stamp, None));
            assert_eq!(kept, fresh, "{sql}");
        }
        // Another text's comments are not used: its own are found, also
        // for a text of the same length.
        let other = comments("SELECT 2 /*a='b'*/").expect("terminated");
        let sql = "SELECT 22 /*c='d'*/ -- x";
        assert_eq!(
            Scanned::with(sql, other).and_then(|s| s.apply(&stamp, None)),
            apply(sql, &stamp, None)
        );
        let same_length = "SELECT 1 -- line..";
        let sql = "SELECT 1 /*a='b'*/";
        assert_eq!(same_length.len(), sql.len());
        let other = comments(same_length).expect("terminated");
        assert_eq!(
            Scanned::with(sql, other).and_then(|s| s.apply(&stamp, None)),
            apply(sql, &stamp, None)
        );
        let other = comments("SELECT 1 /*a='b'*/").expect("terminated");
        let sql = "SELECT 'é' /*c='d'";
        assert!(
            Scanned::with(sql, other).is_none(),
            "unterminated: never stamped"
        );
    }

    #[test]
    fn pairs_read_back_from_the_comment() {
        let s = Stamp::new(&[("b", "x y,='*/"), ("a", ""), ("c", "it's")]);
        let pairs: Vec<_> = s.pairs().collect();
        assert_eq!(
            pairs,
            [("a", ""), ("b", "x%20y%2C%3D%27%2A%2F"), ("c", "it%27s")]
        );
        assert!(s.owns("b") && s.owns("a") && s.owns("pgward_anything"));
        assert!(!s.owns("x%20y") && !s.owns(""));
        assert_eq!(Stamp::new(&[]).pairs().count(), 0);
    }

    #[test]
    fn long_values_are_capped_without_splitting_escapes() {
        let long = "é".repeat(1000);
        let s = Stamp::new(&[("pgward_user", &long)]);
        let v = s.pairs().next().expect("one pair").1;
        assert!(v.len() <= MAX_VALUE_BYTES);
        assert_eq!(v.len() % 3, 0);
        assert!(v.starts_with("%C3%A9"));
        let plain = "a".repeat(1000);
        let s = Stamp::new(&[("pgward_user", &plain)]);
        assert_eq!(s.pairs().next().expect("one pair").1.len(), MAX_VALUE_BYTES);
    }

    #[test]
    fn client_keys_are_kept_and_forged_ones_renamed() {
        let s = Stamp::new(&[("pgward_user", "alice"), ("application", "psql")]);
        let sql = "SELECT 1 /*route='%2Fhome',pgward_user='root',application='evil',pgward_profile='admin'*/;";
        let out = apply(sql, &s, None);
        assert_eq!(
            out.as_deref(),
            Some(
                "SELECT 1 /*application='psql',client_application='evil',\
                 client_pgward_profile='admin',client_pgward_user='root',\
                 pgward_user='alice',route='%2Fhome'*/;"
            )
        );
    }

    #[test]
    fn literal_client_prefixed_key_wins_over_renamed_forgery() {
        let s = Stamp::new(&[("pgward_user", "alice")]);
        let sql = "SELECT 1 /*pgward_user='x',client_pgward_user='y'*/";
        assert_eq!(
            apply(sql, &s, None).as_deref(),
            Some("SELECT 1 /*client_pgward_user='y',pgward_user='alice'*/")
        );
    }

    #[test]
    fn client_values_are_reencoded() {
        let s = Stamp::new(&[("pgward_user", "a")]);
        // A client comment whose value holds a nested comment and a quote.
        let sql = "SELECT 1 /*x='/* y */',z='it\\'s'*/";
        assert_eq!(
            apply(sql, &s, None).as_deref(),
            Some("SELECT 1 /*pgward_user='a',x='%2F%2A%20y%20%2A%2F',z='it%27s'*/")
        );
    }

    #[test]
    fn traceparent_ownership() {
        let s = Stamp::new(&[("pgward_user", "a")]);
        let theirs = "00-11111111111111111111111111111111-2222222222222222-01";
        let sql = format!("SELECT 1 /*traceparent='{theirs}'*/");
        // Without pgward's own, the client's passes through.
        assert_eq!(
            apply(&sql, &s, None),
            Some(format!(
                "SELECT 1 /*pgward_user='a',traceparent='{theirs}'*/"
            ))
        );
        // With pgward's own, the client's is renamed.
        assert_eq!(
            apply(&sql, &s, Some(TP)),
            Some(format!(
                "SELECT 1 /*client_traceparent='{theirs}',pgward_user='a',traceparent='{TP}'*/"
            ))
        );
        assert_eq!(
            apply("SELECT 1", &s, Some(TP)),
            Some(format!("SELECT 1 /*pgward_user='a',traceparent='{TP}'*/"))
        );
        assert_eq!(
            client_comment(&sql).as_ref().and_then(|c| c.traceparent()),
            Some(theirs)
        );
    }

    #[test]
    fn malformed_client_traceparent_is_not_offered() {
        for bad in [
            "01-11111111111111111111111111111111-2222222222222222-01",
            "00-00000000000000000000000000000000-2222222222222222-01",
            "00-11111111111111111111111111111111-0000000000000000-01",
            "00-1111111111111111111111111111111G-2222222222222222-01",
            "00-11111111111111111111111111111111-2222222222222222",
        ] {
            let sql = format!("SELECT 1 /*traceparent='{bad}'*/");
            let c = client_comment(&sql).unwrap_or_else(|| panic!("{sql}"));
            assert_eq!(c.traceparent(), None, "{bad}");
        }
    }

    #[test]
    fn only_a_trailing_sqlcommenter_comment_is_the_clients() {
        let s = Stamp::new(&[("k", "v")]);
        // A hint at the start is not touched.
        assert_eq!(
            apply("/*+ SeqScan(t) */ SELECT 1", &s, None).as_deref(),
            Some("/*+ SeqScan(t) */ SELECT 1 /*k='v'*/")
        );
        // Prose at the end is not a sqlcommenter comment: ours goes after it.
        assert_eq!(
            apply("SELECT 1 /* hello */", &s, None).as_deref(),
            Some("SELECT 1 /* hello */ /*k='v'*/")
        );
        // A sqlcommenter comment followed by a line comment is still trailing.
        assert_eq!(
            apply("SELECT 1 /*a='b'*/ -- end", &s, None).as_deref(),
            Some("SELECT 1 /*a='b',k='v'*/ -- end")
        );
        // Not trailing: a token follows it.
        assert_eq!(
            apply("SELECT /*a='b'*/ 1", &s, None).as_deref(),
            Some("SELECT /*a='b'*/ 1 /*k='v'*/")
        );
        assert_eq!(client_comment("SELECT /*a='b'*/ 1"), None);
        let c = client_comment("SELECT 1 /*a='b%20c', d = 'e' */ ;");
        assert_eq!(
            c.map(|c| (c.pairs, c.span)),
            Some((
                vec![("a".into(), "b c".into()), ("d".into(), "e".into())],
                9..32
            ))
        );
    }

    #[test]
    fn client_key_count_is_bounded() {
        let s = Stamp::new(&[("k", "v")]);
        let many: Vec<String> = (0..100).map(|i| format!("c{i:03}='x'")).collect();
        let sql = format!("SELECT 1 /*{}*/", many.join(","));
        let out = apply(&sql, &s, None).unwrap_or_default();
        assert_eq!(out.matches("='").count(), MAX_CLIENT_KEYS + 1);
    }

    #[test]
    fn stamp_is_stable() {
        let a = apply("SELECT $1", &stamp(), None);
        let b = apply("SELECT $1", &stamp(), None);
        assert_eq!(a, b);
    }
}
