//! The packets a client may send before it has a session: SSLRequest,
//! GSSENCRequest, CancelRequest and StartupMessage. They have no type byte,
//! only a length, so they are read with their own bounded reader.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;
use tokio::io::{AsyncRead, AsyncReadExt};

/// PostgreSQL's own bound on a startup packet (MAX_STARTUP_PACKET_LENGTH).
pub const MAX_STARTUP_LEN: usize = 10_000;
pub const SSL_REQUEST_CODE: u32 = 80_877_103;
pub const GSSENC_REQUEST_CODE: u32 = 80_877_104;
pub const CANCEL_REQUEST_CODE: u32 = 80_877_102;
/// Cancel keys of protocol 3.2 may be up to 256 bytes.
pub const MAX_CANCEL_SECRET_LEN: usize = 256;

/// A protocol version as the client sent it (major in the high 16 bits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProtocolVersion(pub u32);

impl ProtocolVersion {
    pub const V3_0: ProtocolVersion = ProtocolVersion(3 << 16);
    pub fn major(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub fn minor(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.minor())
    }
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A backend's cancel key: process id and secret (4 bytes in 3.0, longer in 3.2).
#[derive(Clone, PartialEq, Eq)]
pub struct CancelKey {
    pub pid: i32,
    pub secret: Bytes,
}

impl fmt::Debug for CancelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is a credential: never print it.
        write!(
            f,
            "CancelKey {{ pid: {}, secret: <{} bytes> }}",
            self.pid,
            self.secret.len()
        )
    }
}

impl CancelKey {
    /// The CancelRequest packet that presents this key.
    pub fn cancel_request(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(12 + self.secret.len());
        b.put_i32((12 + self.secret.len()) as i32);
        b.put_u32(CANCEL_REQUEST_CODE);
        b.put_i32(self.pid);
        b.extend_from_slice(&self.secret);
        b.freeze()
    }
}

/// A StartupMessage, kept as the exact bytes that arrived plus its parsed parameters.
#[derive(Clone, Debug)]
pub struct StartupMessage {
    raw: Bytes,
    pub version: ProtocolVersion,
    params: Vec<(String, String)>,
}

impl StartupMessage {
    /// The packet exactly as the client sent it, for forwarding.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn user(&self) -> Option<&str> {
        self.param("user")
    }

    /// The same packet with run-time settings appended to `options` (`-c k=v`,
    /// escaped as the server expects). Later settings win on the server, so
    /// these override anything the client asked for.
    pub fn with_settings(&self, settings: &[(String, String)]) -> Result<Bytes, StartupError> {
        self.rewrite(None, settings)
    }

    /// As [`with_settings`](Self::with_settings), also replacing the user
    /// (pgward logging in upstream as its service account).
    ///
    /// Refused (only when there are settings to add) if the client's
    /// options end in a lone backslash that makes an empty last argument:
    /// the server would read that empty argument, and no way of writing the
    /// options keeps it once more follows.
    pub fn rewrite(
        &self,
        user: Option<&str>,
        settings: &[(String, String)],
    ) -> Result<Bytes, StartupError> {
        self.rewrite_with_params(user, settings, &[])
    }

    /// As [`rewrite`](Self::rewrite), also adding `params` as startup
    /// parameters of their own (after every client parameter, and replacing
    /// any of the same name): the server applies them last, and a value
    /// there needs no escaping, so no value can be read as another setting.
    pub fn rewrite_with_params(
        &self,
        user: Option<&str>,
        settings: &[(String, String)],
        params_added: &[(String, String)],
    ) -> Result<Bytes, StartupError> {
        let ours: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("-c {}={}", escape_option(k), escape_option(v)))
            .collect();
        let ours = ours.join(" ");
        let mut params: Vec<(&str, String)> = Vec::with_capacity(self.params.len() + 1);
        let mut had_options = false;
        for (k, v) in &self.params {
            if k == "user" {
                if let Some(u) = user {
                    params.push((k, u.to_owned()));
                    continue;
                }
            }
            // The server applies plain parameters after `options`: one
            // naming a setting of ours (in any case) would override it.
            if !is_packet_field(k)
                && settings
                    .iter()
                    .chain(params_added)
                    .any(|(name, _)| name.eq_ignore_ascii_case(k))
            {
                continue;
            }
            if k == "options" {
                had_options = true;
                // A trailing lone backslash would escape the space before
                // ours; the server drops it anyway, so drop it here.
                let trailing = v.chars().rev().take_while(|&c| c == '\\').count();
                let v = if trailing % 2 == 1 && !ours.is_empty() {
                    let before = &v[..v.len() - 1];
                    if trailing == 1 && before.chars().next_back().is_none_or(is_option_space) {
                        return Err(StartupError::Layout(
                            "the startup options end in a lone backslash (an empty argument), \
                             which cannot be kept once pgward adds its settings",
                        ));
                    }
                    before
                } else {
                    v.as_str()
                };
                let tokens = option_tokens(v);
                params.push((
                    k,
                    if ours.is_empty() {
                        v.to_owned()
                    } else if ends_options(&tokens) {
                        // A final "--" ends the options: ours would follow
                        // it as arguments the server refuses. With nothing
                        // after it, it means nothing, so it goes.
                        let kept: Vec<&str> = tokens[..tokens.len() - 1]
                            .iter()
                            .map(|t| t.0.as_str())
                            .collect();
                        kept.into_iter()
                            .chain(std::iter::once(ours.as_str()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    } else if tokens.is_empty() {
                        ours.clone()
                    } else {
                        format!("{v} {ours}")
                    },
                ));
            } else {
                params.push((k, v.clone()));
            }
        }
        if !had_options && !ours.is_empty() {
            params.push(("options", ours));
        }
        for (k, v) in params_added {
            params.push((k.as_str(), v.clone()));
        }
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(build_startup(self.version, &borrowed))
    }

    /// The same message with other parameters (pgward's own options removed).
    pub fn with_params(&self, params: Vec<(String, String)>) -> StartupMessage {
        let borrowed: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        StartupMessage {
            raw: build_startup(self.version, &borrowed),
            version: self.version,
            params,
        }
    }

    /// The database name, which defaults to the user name as in PostgreSQL.
    pub fn database(&self) -> Option<&str> {
        self.param("database").or_else(|| self.user())
    }
}

#[derive(Debug)]
pub enum StartupPacket {
    SslRequest,
    GssEncRequest,
    Cancel(CancelKey),
    Startup(StartupMessage),
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid length of startup packet ({0})")]
    InvalidLength(i64),
    #[error("unsupported frontend protocol {0}: pgward speaks protocol 3.0 to 3.2")]
    UnsupportedProtocol(ProtocolVersion),
    #[error("invalid startup packet layout: {0}")]
    Layout(&'static str),
    #[error("startup parameters must be valid UTF-8 ({0})")]
    Encoding(&'static str),
    #[error("client closed the connection before completing startup")]
    Eof,
    #[error("i/o error during startup: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads exactly one startup-phase packet. Reads no byte beyond it, which matters
/// after an SSLRequest: whatever follows belongs to the TLS handshake.
pub async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<StartupPacket, StartupError> {
    let mut len_buf = [0u8; 4];
    match r.read_exact(&mut len_buf).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(StartupError::Eof),
        Err(e) => return Err(e.into()),
    }
    let len = i32::from_be_bytes(len_buf);
    if len < 8 || len as usize > MAX_STARTUP_LEN {
        return Err(StartupError::InvalidLength(len as i64));
    }
    let mut body = vec![0u8; len as usize - 4];
    match r.read_exact(&mut body).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(StartupError::Eof),
        Err(e) => return Err(e.into()),
    }
    let mut raw = BytesMut::with_capacity(len as usize);
    raw.extend_from_slice(&len_buf);
    raw.extend_from_slice(&body);
    parse_packet(raw.freeze())
}

/// Parses a complete startup-phase packet (length word included).
pub fn parse_packet(raw: Bytes) -> Result<StartupPacket, StartupError> {
    if raw.len() < 8 {
        return Err(StartupError::InvalidLength(raw.len() as i64));
    }
    // The packet is forwarded as received: its length word must be its size.
    let len = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if usize::try_from(len).ok() != Some(raw.len()) {
        return Err(StartupError::InvalidLength(i64::from(len)));
    }
    let code = u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
    let rest = &raw[8..];
    match code {
        SSL_REQUEST_CODE if rest.is_empty() => Ok(StartupPacket::SslRequest),
        GSSENC_REQUEST_CODE if rest.is_empty() => Ok(StartupPacket::GssEncRequest),
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE => {
            Err(StartupError::Layout("encryption request with a body"))
        }
        CANCEL_REQUEST_CODE => {
            if rest.len() < 8 || rest.len() > 4 + MAX_CANCEL_SECRET_LEN {
                return Err(StartupError::Layout("cancel request of the wrong size"));
            }
            let pid = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            Ok(StartupPacket::Cancel(CancelKey {
                pid,
                secret: raw.slice(12..),
            }))
        }
        _ => {
            let version = ProtocolVersion(code);
            if version.major() != 3 || version.minor() > 2 {
                return Err(StartupError::UnsupportedProtocol(version));
            }
            let params = parse_params(rest)?;
            if !params.iter().any(|(k, _)| k == "user") {
                return Err(StartupError::Layout(
                    "no PostgreSQL user name specified in startup packet",
                ));
            }
            Ok(StartupPacket::Startup(StartupMessage {
                raw,
                version,
                params,
            }))
        }
    }
}

fn parse_params(mut rest: &[u8]) -> Result<Vec<(String, String)>, StartupError> {
    let mut params = Vec::new();
    loop {
        match rest {
            [0] => return Ok(params),
            [] => return Err(StartupError::Layout("expected terminator as last byte")),
            _ => {}
        }
        let (key, after) = take_cstr(rest)?;
        let (value, after) = take_cstr(after)?;
        if key.is_empty() {
            return Err(StartupError::Layout("empty parameter name"));
        }
        let key = std::str::from_utf8(key).map_err(|_| StartupError::Encoding("parameter name"))?;
        let value =
            std::str::from_utf8(value).map_err(|_| StartupError::Encoding("parameter value"))?;
        params.push((key.to_owned(), value.to_owned()));
        rest = after;
    }
}

fn take_cstr(b: &[u8]) -> Result<(&[u8], &[u8]), StartupError> {
    let nul = b
        .iter()
        .position(|&c| c == 0)
        .ok_or(StartupError::Layout("parameter is not NUL-terminated"))?;
    Ok((&b[..nul], &b[nul + 1..]))
}

/// Builds a StartupMessage packet (used when pgward logs in upstream on its own).
pub fn build_startup(version: ProtocolVersion, params: &[(&str, &str)]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(0);
    b.put_u32(version.0);
    for (k, v) in params {
        b.extend_from_slice(k.as_bytes());
        b.put_u8(0);
        b.extend_from_slice(v.as_bytes());
        b.put_u8(0);
    }
    b.put_u8(0);
    let len = b.len() as i32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    b.freeze()
}

/// `isspace()` in the C locale: what the server's `pg_split_opts` splits
/// an `options` string on (not Unicode whitespace).
fn is_option_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// The tokens of a startup `options` string as the server splits them
/// (`pg_split_opts`): C-locale whitespace separates, a backslash takes the
/// next character literally, a trailing lone backslash is dropped. Each
/// token comes as written (escapes kept) and as the server reads it.
pub fn option_tokens(options: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut plain = String::new();
    let mut in_token = false;
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    raw.push('\\');
                    raw.push(n);
                    plain.push(n);
                }
                in_token = true;
            }
            c if is_option_space(c) => {
                if in_token {
                    out.push((std::mem::take(&mut raw), std::mem::take(&mut plain)));
                    in_token = false;
                }
            }
            c => {
                raw.push(c);
                plain.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push((raw, plain));
    }
    out
}

/// The option letters of the server's `process_postgres_switches` and
/// whether each takes an argument; `None` for a letter it refuses.
fn option_takes_argument(c: char) -> Option<bool> {
    const OPTS: &str = "B:bC:c:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:";
    let i = OPTS.find(c).filter(|_| c != ':')?;
    Some(OPTS[i + c.len_utf8()..].starts_with(':'))
}

/// Is the last token a `--` the server's getopt reads as the end of the
/// options (not the argument of the option before it, as in `-p --`)?
fn ends_options(tokens: &[(String, String)]) -> bool {
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i].1;
        i += 1;
        if tok == "--" {
            return i == tokens.len();
        }
        let Some(letters) = tok.strip_prefix('-').filter(|l| !l.is_empty()) else {
            return false;
        };
        for (at, c) in letters.char_indices() {
            match option_takes_argument(c) {
                None => return false,
                Some(false) => continue,
                Some(true) => {
                    if letters[at + c.len_utf8()..].is_empty() {
                        i += 1;
                    }
                    break;
                }
            }
        }
    }
    false
}

/// The `-c name=value` (and `--name=value`) settings of a startup `options`
/// string, in the order the server applies them, read the way the server
/// reads them: `pg_split_opts`, then getopt over the server's option
/// letters (clusters like `-ec name=value` included), names folded to
/// lower case with `-` as `_`. `None` when the server would refuse the
/// options (the connection then fails anyway) or pgward cannot be sure how
/// the server splits them: bytes 0x85 and 0xA0 are spaces in some
/// single-byte server locales.
pub fn options_settings(options: &str) -> Option<Vec<(String, String)>> {
    if options.bytes().any(|b| b == 0x85 || b == 0xa0) {
        return None;
    }
    let tokens: Vec<String> = option_tokens(options).into_iter().map(|t| t.1).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        i += 1;
        if tok == "--" {
            // End of options; anything after it is an invalid argument.
            return (i == tokens.len()).then_some(out);
        }
        let letters = tok.strip_prefix('-').filter(|l| !l.is_empty())?;
        for (at, c) in letters.char_indices() {
            if !option_takes_argument(c)? {
                continue;
            }
            let rest = &letters[at + c.len_utf8()..];
            let arg = if rest.is_empty() {
                let a = tokens.get(i)?;
                i += 1;
                a.as_str()
            } else {
                rest
            };
            if c == 'c' || c == '-' {
                let (k, v) = arg.split_once('=')?;
                out.push((k.replace('-', "_").to_lowercase(), v.to_owned()));
            }
            break;
        }
    }
    Some(out)
}

/// The startup parameters that are not settings.
fn is_packet_field(key: &str) -> bool {
    matches!(key, "user" | "database" | "options" | "replication") || key.starts_with("_pq_.")
}

/// Escapes a token for a startup `options` string.
pub fn escape_option(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The setting a read-only profile adds.
    fn read_only() -> Vec<(String, String)> {
        vec![("default_transaction_read_only".into(), "on".into())]
    }

    /// The Startup message a packet holds.
    fn parsed(raw: Bytes) -> StartupMessage {
        let StartupPacket::Startup(m) = parse_packet(raw).expect("parse") else {
            panic!("startup")
        };
        m
    }

    /// The Startup message of a v3.0 packet holding `params`.
    fn startup(params: &[(&str, &str)]) -> StartupMessage {
        parsed(build_startup(ProtocolVersion::V3_0, params))
    }

    /// The client's `options` once pgward adds `read_only()`, which the
    /// server must read as the last setting.
    fn options_with_read_only(options: &str) -> String {
        let settings = read_only();
        let m = startup(&[("user", "app"), ("options", options)]);
        let m2 = parsed(m.with_settings(&settings).expect("rewrite"));
        let rewritten = m2.param("options").unwrap_or_default().to_string();
        assert_eq!(
            options_settings(&rewritten).and_then(|s| s.last().cloned()),
            Some(settings[0].clone()),
            "{options:?} -> {rewritten:?}"
        );
        rewritten
    }

    #[test]
    fn options_are_read_like_the_server_reads_them() {
        let s =
            options_settings("-c search_path=a,b --statement-timeout=5s -cwork_mem=4MB -c x=a\\ b")
                .expect("ok");
        assert_eq!(
            s,
            vec![
                ("search_path".into(), "a,b".into()),
                ("statement_timeout".into(), "5s".into()),
                ("work_mem".into(), "4MB".into()),
                ("x".into(), "a b".into())
            ]
        );
        assert_eq!(options_settings("-c"), None);
        let escaped = format!(
            "-c {}={}",
            escape_option("application_name"),
            escape_option("a b\\c")
        );
        assert_eq!(options_settings(&escaped).expect("ok")[0].1, "a b\\c");
    }

    /// Found by the `startup_packet` fuzz target (server model in
    /// fuzz/src/server_options.rs): pgward read `options` differently from
    /// the server, so the search path it decided with was not the server's.
    #[test]
    fn options_are_split_and_read_exactly_as_the_server_does() {
        // getopt clusters: -e (datestyle) then -c with the next token.
        assert_eq!(
            options_settings("-ec search_path=secret"),
            Some(vec![("search_path".into(), "secret".into())])
        );
        // Only C-locale whitespace separates: an em space is part of the token.
        assert_eq!(
            options_settings("-c search_path=secret,x\u{2003}-c\u{2003}search_path=public"),
            Some(vec![(
                "search_path".into(),
                "secret,x\u{2003}-c\u{2003}search_path=public".into()
            )])
        );
        // A trailing lone backslash is dropped, as pg_split_opts does.
        assert_eq!(
            options_settings("-c a=b\\"),
            Some(vec![("a".into(), "b".into())])
        );
        // What the server refuses (the connection fails) is not read.
        for refused in ["x -c a=b", "-c a", "-Z", "-c", "-- -c a=b", "-"] {
            assert_eq!(options_settings(refused), None, "{refused:?}");
        }
        // Bytes that are spaces in some single-byte server locales.
        assert_eq!(options_settings("-c search_path=a\u{a0}b"), None);
    }

    /// Found by the `startup_packet` fuzz target: a plain startup parameter
    /// is applied after `options`, so it overrode the settings pgward adds
    /// there (default_transaction_read_only among them); and a trailing
    /// backslash in the client's options swallowed the space before them.
    #[test]
    fn settings_pgward_adds_cannot_be_overridden_by_the_packet() {
        let m = startup(&[
            ("user", "app"),
            ("DEFAULT_TRANSACTION_READ_ONLY", "off"),
            ("options", "-c work_mem=4MB\\"),
            ("application_name", "x"),
        ]);
        let m2 = parsed(m.with_settings(&read_only()).expect("rewrite"));
        assert_eq!(
            m2.params(),
            &[
                ("user".to_string(), "app".to_string()),
                (
                    "options".to_string(),
                    "-c work_mem=4MB -c default_transaction_read_only=on".to_string()
                ),
                ("application_name".to_string(), "x".to_string()),
            ]
        );
        assert_eq!(
            options_settings(m2.param("options").unwrap_or_default()),
            Some(vec![
                ("work_mem".into(), "4MB".into()),
                ("default_transaction_read_only".into(), "on".into())
            ])
        );
    }

    /// Found by the `startup_packet` fuzz target: options ending in a
    /// backslash alone (`-d \`) give the server an empty last argument;
    /// dropping the backslash to append pgward's settings made `-d` take
    /// pgward's `-c` as its argument, and the connection failed.
    #[test]
    fn an_empty_last_option_argument_is_refused_rather_than_changed() {
        let settings = read_only();
        for (options, ok) in [
            ("-d \\", false),
            ("\\", false),
            ("-c a=b\\", true),
            ("-d \\\\\\", true),
        ] {
            let m = startup(&[("user", "app"), ("options", options)]);
            assert_eq!(m.with_settings(&settings).is_ok(), ok, "{options:?}");
            assert!(m.with_settings(&[]).is_ok(), "nothing to add: {options:?}");
        }
    }

    /// Found by the `startup_packet` fuzz target: client options ending in
    /// `--` (end of options) turned pgward's appended settings into
    /// arguments the server refuses.
    #[test]
    fn a_final_end_of_options_marker_does_not_swallow_pgwards_settings() {
        for options in ["--", "-c a=b --", "-c a=b -\\-"] {
            options_with_read_only(options);
        }
    }

    /// Found by the `startup_packet` fuzz target (long run): a final `--`
    /// that is the argument of the option before it (`-ep --`: `-p` takes
    /// one, and form feeds split arguments as spaces do) was dropped as if
    /// it ended the options, so `-p` took pgward's `-c` and the server
    /// refused the rest. Only a `--` getopt reads as the end of the options
    /// goes.
    #[test]
    fn a_final_dash_dash_that_is_an_options_argument_is_kept() {
        for options in ["-ep\u{c}\u{c}--", "-p --", "-e -p --", "-c a=b -p --"] {
            let rewritten = options_with_read_only(options);
            assert!(rewritten.contains("--"), "{options:?} -> {rewritten:?}");
        }
    }

    #[test]
    fn parses_startup_with_options_untouched() {
        let raw = build_startup(
            ProtocolVersion::V3_0,
            &[
                ("user", "app"),
                ("database", "db"),
                ("options", "-c intervalstyle=iso_8601"),
            ],
        );
        match parse_packet(raw.clone()).expect("parse") {
            StartupPacket::Startup(m) => {
                assert_eq!(m.user(), Some("app"));
                assert_eq!(m.database(), Some("db"));
                assert_eq!(m.param("options"), Some("-c intervalstyle=iso_8601"));
                assert_eq!(m.raw(), &raw);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn settings_are_appended_to_options() {
        let m = startup(&[("user", "app"), ("options", "-c work_mem=4MB")]);
        let m2 = parsed(
            m.with_settings(&[
                ("default_transaction_read_only".into(), "on".into()),
                ("x.y".into(), "a b".into()),
            ])
            .expect("rewrite"),
        );
        assert_eq!(
            m2.param("options"),
            Some("-c work_mem=4MB -c default_transaction_read_only=on -c x.y=a\\ b")
        );
        assert_eq!(m2.user(), Some("app"));
    }

    #[test]
    fn a_client_parameter_cannot_override_a_setting() {
        let m = startup(&[
            ("user", "app"),
            ("Default_Transaction_Read_Only", "off"),
            ("application_name", "x"),
        ]);
        let m2 = parsed(m.with_settings(&read_only()).expect("rewrite"));
        assert_eq!(m2.param("Default_Transaction_Read_Only"), None);
        assert_eq!(m2.param("application_name"), Some("x"));
        assert_eq!(
            m2.param("options"),
            Some("-c default_transaction_read_only=on")
        );
    }

    #[test]
    fn added_parameters_stand_alone_and_replace_the_clients() {
        let m = startup(&[
            ("user", "app"),
            ("PGWARD.USER", "mallory"),
            ("options", "-c work_mem=4MB"),
        ]);
        let odd = "a b\\c 'd' -c pgward.profile=admin\u{7f}\u{e9}".to_string();
        let m2 = parsed(
            m.rewrite_with_params(
                Some("svc"),
                &read_only(),
                &[("pgward.user".into(), odd.clone())],
            )
            .expect("rewrite"),
        );
        assert_eq!(m2.user(), Some("svc"));
        assert_eq!(m2.param("PGWARD.USER"), None);
        assert_eq!(m2.param("pgward.user"), Some(odd.as_str()));
        assert_eq!(
            m2.param("options"),
            Some("-c work_mem=4MB -c default_transaction_read_only=on")
        );
    }

    #[test]
    fn rejects_malformed_startup() {
        let mut raw = build_startup(ProtocolVersion::V3_0, &[("user", "app")]).to_vec();
        raw.pop(); // drop the final terminator
        raw[3] -= 1;
        assert!(matches!(
            parse_packet(Bytes::from(raw)),
            Err(StartupError::Layout(_))
        ));
        let raw = build_startup(ProtocolVersion(2 << 16), &[("user", "app")]);
        assert!(matches!(
            parse_packet(raw),
            Err(StartupError::UnsupportedProtocol(_))
        ));
        let raw = build_startup(ProtocolVersion::V3_0, &[("database", "x")]);
        assert!(matches!(parse_packet(raw), Err(StartupError::Layout(_))));
    }

    /// Found by the `startup_packet` fuzz target: a packet whose length
    /// word disagreed with its size parsed, and `raw()` (what is forwarded)
    /// then carried the wrong length.
    #[test]
    fn length_word_must_match_the_packet() {
        let good = build_startup(ProtocolVersion::V3_0, &[("user", "app")]).to_vec();
        assert!(parse_packet(Bytes::from(good.clone())).is_ok());
        for delta in [-1i32, 1, 16] {
            let mut bad = good.clone();
            let len = good.len() as i32 + delta;
            bad[..4].copy_from_slice(&len.to_be_bytes());
            assert!(
                matches!(
                    parse_packet(Bytes::from(bad)),
                    Err(StartupError::InvalidLength(_))
                ),
                "length off by {delta}"
            );
        }
    }

    #[test]
    fn parses_cancel_keys_of_both_sizes() {
        for secret_len in [4usize, 32] {
            let key = CancelKey {
                pid: 42,
                secret: Bytes::from(vec![9u8; secret_len]),
            };
            match parse_packet(key.cancel_request()).expect("parse") {
                StartupPacket::Cancel(k) => assert_eq!(k, key),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn bounded_reader_refuses_absurd_lengths() {
        let mut r: &[u8] = &[0x7f, 0, 0, 0, 1, 2, 3];
        assert!(matches!(
            read_packet(&mut r).await,
            Err(StartupError::InvalidLength(_))
        ));
        let mut r: &[u8] = &[0, 0, 0, 8, 4, 210];
        assert!(matches!(read_packet(&mut r).await, Err(StartupError::Eof)));
    }
}
