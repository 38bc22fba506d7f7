//! Backend messages pgward writes itself (errors, its own cancel key) or reads
//! to follow the session (authentication requests, ReadyForQuery, errors).
//! Decoders take the body of a frame the scanner has already bounded.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

use super::frame::put_frame;

/// A five-character SQLSTATE code.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState(&'static str);

impl SqlState {
    /// A code the server itself would send (five characters).
    pub const fn from_code(code: &'static str) -> SqlState {
        SqlState(code)
    }

    pub const PROTOCOL_VIOLATION: SqlState = SqlState("08P01");
    pub const CONNECTION_FAILURE: SqlState = SqlState("08006");
    pub const UNABLE_TO_CONNECT: SqlState = SqlState("08001");
    pub const ADMIN_SHUTDOWN: SqlState = SqlState("57P01");
    pub const CANNOT_CONNECT_NOW: SqlState = SqlState("57P03");
    pub const IDLE_SESSION_TIMEOUT: SqlState = SqlState("57P05");
    pub const IDLE_IN_TRANSACTION_TIMEOUT: SqlState = SqlState("25P03");
    pub const TOO_MANY_CONNECTIONS: SqlState = SqlState("53300");
    pub const PROGRAM_LIMIT_EXCEEDED: SqlState = SqlState("54000");
    pub const FEATURE_NOT_SUPPORTED: SqlState = SqlState("0A000");
    pub const INSUFFICIENT_PRIVILEGE: SqlState = SqlState("42501");
    pub const INVALID_AUTHORIZATION: SqlState = SqlState("28000");
    pub const INVALID_PASSWORD: SqlState = SqlState("28P01");
    pub const INTERNAL_ERROR: SqlState = SqlState("XX000");
    pub const INVALID_CATALOG_NAME: SqlState = SqlState("3D000");
    pub const INVALID_PARAMETER_VALUE: SqlState = SqlState("22023");
    pub const SYSTEM_ERROR: SqlState = SqlState("58000");

    pub fn code(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// An error pgward itself reports to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReport {
    pub severity: Severity,
    pub code: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text.
    pub position: Option<u32>,
    /// Where in the server's source the error was raised (file, routine),
    /// for errors pgward answers as the server would.
    pub file: Option<String>,
    pub routine: Option<String>,
}

impl ErrorReport {
    pub fn fatal(code: SqlState, message: impl Into<String>) -> Self {
        ErrorReport {
            severity: Severity::Fatal,
            code,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
            file: None,
            routine: None,
        }
    }

    pub fn error(code: SqlState, message: impl Into<String>) -> Self {
        ErrorReport {
            severity: Severity::Error,
            ..ErrorReport::fatal(code, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_position(mut self, position: u32) -> Self {
        self.position = Some(position);
        self
    }

    /// Appends the ErrorResponse ('E') frame.
    pub fn encode(&self, out: &mut BytesMut) {
        let mut body = BytesMut::with_capacity(64 + self.message.len());
        let mut field = |code: u8, value: &str| {
            body.put_u8(code);
            // A NUL inside a field would end it early and desynchronise the client.
            body.extend(value.bytes().filter(|&b| b != 0));
            body.put_u8(0);
        };
        field(b'S', self.severity.as_str());
        field(b'V', self.severity.as_str());
        field(b'C', self.code.code());
        field(b'M', &self.message);
        if let Some(d) = &self.detail {
            field(b'D', d);
        }
        if let Some(h) = &self.hint {
            field(b'H', h);
        }
        if let Some(p) = self.position {
            field(b'P', &p.to_string());
        }
        if let Some(f) = &self.file {
            field(b'F', f);
        }
        if let Some(r) = &self.routine {
            field(b'R', r);
        }
        body.put_u8(0);
        put_frame(out, b'E', &body);
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

/// Transaction status from ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    Idle,
    InTransaction,
    Failed,
}

impl TxnStatus {
    pub fn from_ready_body(body: &[u8]) -> Option<TxnStatus> {
        match body {
            [b'I'] => Some(TxnStatus::Idle),
            [b'T'] => Some(TxnStatus::InTransaction),
            [b'E'] => Some(TxnStatus::Failed),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            TxnStatus::Idle => b'I',
            TxnStatus::InTransaction => b'T',
            TxnStatus::Failed => b'E',
        }
    }
}

/// The fields of an ErrorResponse/NoticeResponse pgward looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorSummary {
    pub severity: String,
    pub code: String,
    pub message: String,
    /// The server function that raised it (`R`), which, unlike the
    /// message, is never translated.
    pub routine: String,
}

impl ErrorSummary {
    /// Reads the fields of an ErrorResponse body; `None` if it is malformed.
    pub fn parse(body: &[u8]) -> Option<ErrorSummary> {
        let mut s = ErrorSummary::default();
        let mut rest = body;
        loop {
            let (&code, after) = rest.split_first()?;
            if code == 0 {
                return after.is_empty().then_some(s);
            }
            let nul = after.iter().position(|&b| b == 0)?;
            let value = String::from_utf8_lossy(&after[..nul]);
            match code {
                b'V' => s.severity = value.into_owned(),
                b'S' if s.severity.is_empty() => s.severity = value.into_owned(),
                b'C' => s.code = value.into_owned(),
                b'M' => s.message = value.into_owned(),
                b'R' => s.routine = value.into_owned(),
                _ => {}
            }
            rest = &after[nul + 1..];
        }
    }

    pub fn is_fatal(&self) -> bool {
        self.severity == "FATAL" || self.severity == "PANIC"
    }
}

/// Authentication request codes ('R' messages).
pub mod auth_code {
    pub const OK: i32 = 0;
    pub const KERBEROS_V5: i32 = 2;
    pub const CLEARTEXT: i32 = 3;
    pub const MD5: i32 = 5;
    pub const GSS: i32 = 7;
    pub const GSS_CONTINUE: i32 = 8;
    pub const SSPI: i32 = 9;
    pub const SASL: i32 = 10;
    pub const SASL_CONTINUE: i32 = 11;
    pub const SASL_FINAL: i32 = 12;
}

/// The SASL mechanism that needs channel binding to the client's own TLS
/// connection, which a proxy terminating TLS cannot provide.
pub const SCRAM_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// Parses the mechanism list of an AuthenticationSASL body (after the code).
pub fn sasl_mechanisms(list: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        let nul = rest.iter().position(|&b| b == 0)?;
        if nul == 0 {
            return (rest.len() == 1).then_some(out);
        }
        out.push(&rest[..nul]);
        rest = &rest[nul + 1..];
    }
}

/// Builds an AuthenticationSASL frame offering exactly `mechanisms`.
pub fn auth_sasl(mechanisms: &[&[u8]]) -> Bytes {
    let mut body = BytesMut::new();
    body.put_i32(auth_code::SASL);
    for m in mechanisms {
        body.extend_from_slice(m);
        body.put_u8(0);
    }
    body.put_u8(0);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'R', &body);
    out.freeze()
}

/// BackendKeyData ('K') frame.
pub fn backend_key_data(pid: i32, secret: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(4 + secret.len());
    body.put_i32(pid);
    body.extend_from_slice(secret);
    let mut out = BytesMut::new();
    put_frame(&mut out, b'K', &body);
    out.freeze()
}

/// Terminate ('X') frame.
pub fn terminate() -> Bytes {
    Bytes::from_static(&[b'X', 0, 0, 0, 4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_report_round_trips_and_strips_nul() {
        let r = ErrorReport::fatal(SqlState::ADMIN_SHUTDOWN, "bye\0now").with_hint("retry");
        let b = r.to_bytes();
        assert_eq!(b[0], b'E');
        let s = ErrorSummary::parse(&b[5..]).expect("parse");
        assert_eq!(s.code, "57P01");
        assert_eq!(s.message, "byenow");
        assert!(s.is_fatal());
    }

    #[test]
    fn sasl_list_parsing() {
        let list = b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
        let m = sasl_mechanisms(list).expect("parse");
        assert_eq!(m, vec![&b"SCRAM-SHA-256-PLUS"[..], &b"SCRAM-SHA-256"[..]]);
        assert!(sasl_mechanisms(b"SCRAM").is_none());
        assert!(sasl_mechanisms(b"A\0\0junk").is_none());
    }

    #[test]
    fn malformed_error_bodies_are_refused() {
        assert!(ErrorSummary::parse(b"Sxx").is_none());
        assert!(ErrorSummary::parse(b"").is_none());
        assert_eq!(ErrorSummary::parse(b"\0"), Some(ErrorSummary::default()));
    }
}
