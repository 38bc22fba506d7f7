//! Raw PostgreSQL wire-protocol socket for hostile-input tests.
//!
//! Blocking `std::net::TcpStream` with read timeouts: usable from sync tests
//! and (briefly blocking a worker) from multi-thread tokio tests.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Protocol 3.0 version code used in StartupMessage.
pub const PROTOCOL_3_0: i32 = 196_608;
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// Default per-read timeout.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A backend message: tag byte and body (without the length word).
pub type Message = (u8, Vec<u8>);

/// `tag` + int32 length (4 + body) + body.
pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + body.len());
    v.push(tag);
    v.extend_from_slice(&((body.len() as u32 + 4).to_be_bytes()));
    v.extend_from_slice(body);
    v
}

/// An untagged frame (startup-phase packet): int32 length (4 + body) + body.
pub fn untagged_frame(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(&((body.len() as u32 + 4).to_be_bytes()));
    v.extend_from_slice(body);
    v
}

/// StartupMessage (protocol 3.0) with the given parameters, e.g.
/// `&[("user", "trustuser"), ("database", "app")]`.
pub fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    startup_message_with_version(PROTOCOL_3_0, params)
}

/// StartupMessage with an arbitrary protocol version code.
pub fn startup_message_with_version(version: i32, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    untagged_frame(&body)
}

pub fn ssl_request() -> Vec<u8> {
    untagged_frame(&SSL_REQUEST_CODE.to_be_bytes())
}

pub fn gssenc_request() -> Vec<u8> {
    untagged_frame(&GSSENC_REQUEST_CODE.to_be_bytes())
}

pub fn cancel_request(pid: i32, secret_key: i32) -> Vec<u8> {
    let mut body = CANCEL_REQUEST_CODE.to_be_bytes().to_vec();
    body.extend_from_slice(&pid.to_be_bytes());
    body.extend_from_slice(&secret_key.to_be_bytes());
    untagged_frame(&body)
}

/// Simple Query ('Q').
pub fn query(sql: &str) -> Vec<u8> {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    frame(b'Q', &body)
}

/// PasswordMessage ('p') carrying a cleartext password.
pub fn password_message(password: &str) -> Vec<u8> {
    let mut body = password.as_bytes().to_vec();
    body.push(0);
    frame(b'p', &body)
}

/// Terminate ('X').
pub fn terminate() -> Vec<u8> {
    frame(b'X', &[])
}

/// Sync ('S').
pub fn sync() -> Vec<u8> {
    frame(b'S', &[])
}

/// Fields of an ErrorResponse/NoticeResponse body: (field code, value).
pub fn error_fields(body: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        out.push((code, String::from_utf8_lossy(&tail[..end]).into_owned()));
        rest = tail.get(end + 1..).unwrap_or(&[]);
    }
    out
}

/// One field ('C' = SQLSTATE, 'M' = message, 'S' = severity) of an ErrorResponse body.
pub fn error_field(body: &[u8], code: u8) -> Option<String> {
    error_fields(body)
        .into_iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v)
}

/// The int32 authentication request code of an 'R' message body.
pub fn auth_code(body: &[u8]) -> Option<i32> {
    body.get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A raw client connection.
pub struct RawConn {
    pub stream: TcpStream,
    read_timeout: Duration,
}

impl RawConn {
    /// Connect to 127.0.0.1:port; panics on failure.
    pub fn connect(port: u16) -> RawConn {
        Self::try_connect(port).unwrap_or_else(|e| panic!("raw connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_connect(port: u16) -> io::Result<RawConn> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(DEFAULT_READ_TIMEOUT))?;
        stream.set_write_timeout(Some(DEFAULT_READ_TIMEOUT))?;
        Ok(RawConn {
            stream,
            read_timeout: DEFAULT_READ_TIMEOUT,
        })
    }

    /// Per-read timeout used by the `read_*` methods.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set_read_timeout");
    }

    /// Write all bytes; panics on error.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("raw send of {} bytes: {e}", bytes.len()));
    }

    /// Write all bytes (errors such as EPIPE/ECONNRESET are returned, not panicked).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Exactly `n` bytes (e.g. the single 'S'/'N' answer to SSLRequest).
    pub fn read_exact_bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// One byte; panics on timeout/EOF.
    pub fn read_byte(&mut self) -> u8 {
        self.read_exact_bytes(1)
            .unwrap_or_else(|e| panic!("raw read of one byte: {e}"))[0]
    }

    /// Next backend message. `Ok(None)` on clean EOF before a tag byte;
    /// `Err` on timeout (WouldBlock/TimedOut), reset, or EOF mid-message.
    pub fn try_read_message(&mut self) -> io::Result<Option<Message>> {
        let mut tag = [0u8; 1];
        loop {
            match self.stream.read(&mut tag) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = i32::from_be_bytes(len);
        if !(4..=1 << 30).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad message length {len} for tag {:?}", tag[0] as char),
            ));
        }
        let mut body = vec![0u8; len as usize - 4];
        self.stream.read_exact(&mut body)?;
        Ok(Some((tag[0], body)))
    }

    /// Next backend message; panics on EOF, timeout or error.
    pub fn read_message(&mut self) -> Message {
        match self.try_read_message() {
            Ok(Some(m)) => m,
            Ok(None) => panic!("raw read_message: connection closed"),
            Err(e) => panic!(
                "raw read_message: {e} (read timeout {:?})",
                self.read_timeout
            ),
        }
    }

    /// Read messages until one with `tag` arrives (inclusive); also stops
    /// after an ErrorResponse ('E') when `tag` is 'Z' and the connection ends.
    pub fn read_until(&mut self, tag: u8) -> Vec<Message> {
        let mut msgs = Vec::new();
        loop {
            match self.try_read_message() {
                Ok(Some(m)) => {
                    let done = m.0 == tag;
                    msgs.push(m);
                    if done {
                        return msgs;
                    }
                }
                Ok(None) => panic!(
                    "connection closed while waiting for {:?}; got tags {:?}",
                    tag as char,
                    tags(&msgs)
                ),
                Err(e) => panic!(
                    "error waiting for {:?}: {e}; got tags {:?}",
                    tag as char,
                    tags(&msgs)
                ),
            }
        }
    }

    /// Read until the peer closes. Ok(bytes) on EOF or reset (both count
    /// as "closed"); Err(TimedOut) if still open after `timeout`.
    pub fn read_until_closed(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut all = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "peer still open after {timeout:?}; read {} bytes",
                        all.len()
                    ),
                ));
            }
            self.stream.set_read_timeout(Some(deadline - now))?;
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    break
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    self.stream.set_read_timeout(Some(self.read_timeout))?;
                    return Err(e);
                }
            }
        }
        self.stream.set_read_timeout(Some(self.read_timeout))?;
        Ok(all)
    }

    /// Assert the peer closes within `timeout`; returns whatever it sent.
    #[track_caller]
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<u8> {
        self.read_until_closed(timeout)
            .unwrap_or_else(|e| panic!("expected the peer to close the connection: {e}"))
    }

    /// Send a StartupMessage and read until ReadyForQuery ('Z') or
    /// ErrorResponse ('E'). Answers AuthenticationCleartextPassword (3)
    /// with `password` if given. Other auth methods (MD5, SASL) are not
    /// handled: the messages so far are returned with the 'R' request last.
    pub fn startup(&mut self, params: &[(&str, &str)], password: Option<&str>) -> Vec<Message> {
        self.send(&startup_message(params));
        let mut msgs = Vec::new();
        loop {
            let m = self.read_message();
            let tag = m.0;
            if tag == b'R' {
                match (auth_code(&m.1), password) {
                    (Some(0), _) => {}
                    (Some(3), Some(pw)) => self.send(&password_message(pw)),
                    _ => {
                        msgs.push(m);
                        return msgs;
                    }
                }
            }
            msgs.push(m);
            if tag == b'Z' || tag == b'E' {
                return msgs;
            }
        }
    }

    /// Half-close the write side.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Tags of a message list, as chars (for assertions/messages).
pub fn tags(msgs: &[Message]) -> Vec<char> {
    msgs.iter().map(|(t, _)| *t as char).collect()
}
