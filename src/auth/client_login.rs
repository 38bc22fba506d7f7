//! pgward's side of the login to the upstream server with a service
//! credential, for the mode where pgward verified the client itself.
//!
//! A pure state machine: feed it the body of each 'R' message (4-byte code
//! and data); it says what to put in the next 'p' message.

use std::fmt;
use std::path::Path;

use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};

/// Authentication request codes of the 'R' message.
pub mod code {
    pub const OK: i32 = 0;
    pub const KERBEROS_V5: i32 = 2;
    pub const CLEARTEXT_PASSWORD: i32 = 3;
    pub const MD5_PASSWORD: i32 = 5;
    pub const GSS: i32 = 7;
    pub const GSS_CONTINUE: i32 = 8;
    pub const SSPI: i32 = 9;
    pub const SASL: i32 = 10;
    pub const SASL_CONTINUE: i32 = 11;
    pub const SASL_FINAL: i32 = 12;
}

/// A password held in memory; never printed.
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("secret file {0} is not valid UTF-8")]
    NotUtf8(String),
    #[error("environment variable {0} is not set or not valid UTF-8")]
    Env(String),
    #[error("the secret is empty")]
    Empty,
    #[error("the secret contains a NUL character")]
    Nul,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Result<Self, SecretError> {
        let value = value.into();
        if value.is_empty() {
            return Err(SecretError::Empty);
        }
        if value.contains('\0') {
            return Err(SecretError::Nul);
        }
        Ok(Secret(value))
    }

    /// Reads the file, dropping one trailing newline (`\n` or `\r\n`).
    pub fn from_file(path: &Path) -> Result<Self, SecretError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| SecretError::Read {
            path: name.clone(),
            source,
        })?;
        let mut text = String::from_utf8(bytes).map_err(|_| SecretError::NotUtf8(name))?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Self::new(text)
    }

    pub fn from_env(var: &str) -> Result<Self, SecretError> {
        let value = std::env::var(var).map_err(|_| SecretError::Env(var.to_owned()))?;
        Self::new(value)
    }

    /// The password itself, for the login exchange only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What to do after one authentication request.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginStep {
    /// Send a 'p' message with this body.
    Send(Vec<u8>),
    /// Nothing to send; wait for the next 'R' message.
    Continue,
    /// AuthenticationOk: the login is complete.
    Done,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    #[error("malformed authentication request from the server: {0}")]
    Malformed(&'static str),
    #[error("the server asked for authentication method {0}, which pgward does not support")]
    Unsupported(i32),
    #[error(
        "the server offered {0} authentication, but this upstream login requires SCRAM-SHA-256"
    )]
    MethodRefused(&'static str),
    #[error("the server offers no SASL mechanism pgward can use (SCRAM-SHA-256 without channel binding)")]
    NoUsableMechanism,
    #[error("the server sent authentication request {0} out of order")]
    UnexpectedRequest(i32),
    #[error("the server reported success before proving it knows the password")]
    IncompleteSasl,
    #[error("SCRAM exchange with the server failed: {0}")]
    Scram(String),
    #[error("the server's SCRAM signature is invalid: it does not know the password")]
    ServerSignatureInvalid,
}

enum State {
    Start,
    /// A cleartext or md5 password was sent.
    PasswordSent,
    /// SASLInitialResponse sent; waiting for SASLContinue.
    SaslStarted(Box<ScramSha256>),
    /// SASLResponse sent; waiting for SASLFinal.
    SaslResponded(Box<ScramSha256>),
    /// The server proved it knows the password; waiting for Ok.
    SaslVerified,
    Done,
    Failed,
}

/// The login of pgward to the upstream server as a service user.
pub struct UpstreamLogin {
    user: String,
    password: Secret,
    scram_only: bool,
    state: State,
}

impl fmt::Debug for UpstreamLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamLogin")
            .field("user", &self.user)
            .field("password", &self.password)
            .field("scram_only", &self.scram_only)
            .finish()
    }
}

fn password_message(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.extend_from_slice(bytes);
    out.push(0);
    out
}

/// Parses the NUL-terminated mechanism list of AuthenticationSASL.
fn mechanisms(data: &[u8]) -> Result<Vec<&[u8]>, LoginError> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(LoginError::Malformed("unterminated SASL mechanism list"))?;
        let (name, tail) = rest.split_at(end);
        rest = tail.get(1..).unwrap_or_default();
        if name.is_empty() {
            break;
        }
        out.push(name);
    }
    if !rest.is_empty() {
        return Err(LoginError::Malformed("data after the SASL mechanism list"));
    }
    Ok(out)
}

impl UpstreamLogin {
    pub fn new(user: impl Into<String>, password: Secret) -> Self {
        UpstreamLogin {
            user: user.into(),
            password,
            scram_only: false,
            state: State::Start,
        }
    }

    /// Refuse cleartext and md5 (and a login without any authentication):
    /// the server must prove it knows the password with SCRAM-SHA-256.
    pub fn scram_only(mut self, yes: bool) -> Self {
        self.scram_only = yes;
        self
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Handles the body of one 'R' message (4-byte code, then data).
    pub fn respond(&mut self, auth_request_body: &[u8]) -> Result<LoginStep, LoginError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let (code_bytes, data) = match auth_request_body.split_first_chunk::<4>() {
            Some((c, d)) => (*c, d),
            None => return Err(LoginError::Malformed("authentication request too short")),
        };
        let request = i32::from_be_bytes(code_bytes);
        let (step, next) = self.step(state, request, data)?;
        self.state = next;
        Ok(step)
    }

    fn step(
        &self,
        state: State,
        request: i32,
        data: &[u8],
    ) -> Result<(LoginStep, State), LoginError> {
        let no_data = |what: &'static str| {
            if data.is_empty() {
                Ok(())
            } else {
                Err(LoginError::Malformed(what))
            }
        };
        match (request, state) {
            (code::OK, State::SaslVerified) | (code::OK, State::PasswordSent) => {
                no_data("data after AuthenticationOk")?;
                Ok((LoginStep::Done, State::Done))
            }
            (code::OK, State::Start) => {
                no_data("data after AuthenticationOk")?;
                if self.scram_only {
                    return Err(LoginError::MethodRefused("trust (no password)"));
                }
                Ok((LoginStep::Done, State::Done))
            }
            (code::OK, State::SaslStarted(_)) | (code::OK, State::SaslResponded(_)) => {
                Err(LoginError::IncompleteSasl)
            }
            (code::CLEARTEXT_PASSWORD, State::Start) => {
                no_data("data after AuthenticationCleartextPassword")?;
                if self.scram_only {
                    return Err(LoginError::MethodRefused("cleartext password"));
                }
                Ok((
                    LoginStep::Send(password_message(self.password.expose().as_bytes())),
                    State::PasswordSent,
                ))
            }
            (code::MD5_PASSWORD, State::Start) => {
                let salt: [u8; 4] = data
                    .try_into()
                    .map_err(|_| LoginError::Malformed("md5 salt must be 4 bytes"))?;
                if self.scram_only {
                    return Err(LoginError::MethodRefused("md5 password"));
                }
                let hash = md5_hash(
                    self.user.as_bytes(),
                    self.password.expose().as_bytes(),
                    salt,
                );
                Ok((
                    LoginStep::Send(password_message(hash.as_bytes())),
                    State::PasswordSent,
                ))
            }
            (code::SASL, State::Start) => {
                let offered = mechanisms(data)?;
                if !offered.contains(&SCRAM_SHA_256.as_bytes()) {
                    return Err(LoginError::NoUsableMechanism);
                }
                // pgward does no channel binding upstream: "n,," tells the
                // server so, which is right whether or not it offers -PLUS.
                let scram = ScramSha256::new(
                    self.password.expose().as_bytes(),
                    ChannelBinding::unsupported(),
                );
                let message = scram.message();
                let len = i32::try_from(message.len())
                    .map_err(|_| LoginError::Scram("initial response too long".into()))?;
                let mut body = Vec::with_capacity(SCRAM_SHA_256.len() + 5 + message.len());
                body.extend_from_slice(SCRAM_SHA_256.as_bytes());
                body.push(0);
                body.extend_from_slice(&len.to_be_bytes());
                body.extend_from_slice(message);
                Ok((LoginStep::Send(body), State::SaslStarted(Box::new(scram))))
            }
            (code::SASL_CONTINUE, State::SaslStarted(mut scram)) => {
                scram
                    .update(data)
                    .map_err(|e| LoginError::Scram(e.to_string()))?;
                let body = scram.message().to_vec();
                Ok((LoginStep::Send(body), State::SaslResponded(scram)))
            }
            (code::SASL_FINAL, State::SaslResponded(mut scram)) => {
                if data.starts_with(b"e=") {
                    let reason = String::from_utf8_lossy(data.get(2..).unwrap_or_default())
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect();
                    return Err(LoginError::Scram(reason));
                }
                scram
                    .finish(data)
                    .map_err(|_| LoginError::ServerSignatureInvalid)?;
                Ok((LoginStep::Continue, State::SaslVerified))
            }
            (code::KERBEROS_V5 | code::GSS | code::GSS_CONTINUE | code::SSPI, State::Start) => {
                Err(LoginError::Unsupported(request))
            }
            (
                code::OK
                | code::CLEARTEXT_PASSWORD
                | code::MD5_PASSWORD
                | code::SASL
                | code::SASL_CONTINUE
                | code::SASL_FINAL,
                _,
            ) => Err(LoginError::UnexpectedRequest(request)),
            (other, _) => Err(LoginError::Unsupported(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::scram::{ScramError, ScramServer, ScramVerifier};

    fn req(code: i32, data: &[u8]) -> Vec<u8> {
        let mut v = code.to_be_bytes().to_vec();
        v.extend_from_slice(data);
        v
    }

    fn secret(s: &str) -> Secret {
        Secret::new(s).expect("secret")
    }

    fn sasl_offer(mechs: &[&str]) -> Vec<u8> {
        let mut data = Vec::new();
        for m in mechs {
            data.extend_from_slice(m.as_bytes());
            data.push(0);
        }
        data.push(0);
        req(code::SASL, &data)
    }

    /// Splits a SASLInitialResponse body into mechanism and data.
    fn initial_response(body: &[u8]) -> (String, Vec<u8>) {
        let nul = body.iter().position(|&b| b == 0).expect("nul");
        let mech = String::from_utf8(body[..nul].to_vec()).expect("utf8");
        let len = i32::from_be_bytes(body[nul + 1..nul + 5].try_into().expect("len"));
        let data = body[nul + 5..].to_vec();
        assert_eq!(len as usize, data.len());
        (mech, data)
    }

    fn send(step: LoginStep) -> Vec<u8> {
        match step {
            LoginStep::Send(b) => b,
            other => panic!("expected Send, got {other:?}"),
        }
    }

    /// Runs the login against pgward's own SCRAM server.
    fn scram_login(client_pw: &str, verifier: &ScramVerifier) -> Result<(), String> {
        let mut login = UpstreamLogin::new("svc", secret(client_pw)).scram_only(true);
        let mut server = ScramServer::new(verifier.clone());
        let offer = sasl_offer(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
        let (mech, data) = initial_response(&send(login.respond(&offer).expect("offer")));
        assert_eq!(mech, "SCRAM-SHA-256");
        assert!(data.starts_with(b"n,,"));
        let sf = server
            .client_first(&mech, &data)
            .map_err(|e| e.to_string())?;
        let cf = send(
            login
                .respond(&req(code::SASL_CONTINUE, &sf))
                .map_err(|e| e.to_string())?,
        );
        let fin = server.client_final(&cf).map_err(|e| e.to_string())?;
        assert_eq!(
            login.respond(&req(code::SASL_FINAL, &fin)),
            Ok(LoginStep::Continue)
        );
        assert!(!login.is_done());
        assert_eq!(login.respond(&req(code::OK, b"")), Ok(LoginStep::Done));
        assert!(login.is_done());
        Ok(())
    }

    #[test]
    fn scram_round_trip_with_own_server() {
        let v = ScramVerifier::generate("service pw", 4096).expect("generate");
        scram_login("service pw", &v).expect("login");
        let err = scram_login("wrong", &v).expect_err("must fail");
        assert_eq!(err, ScramError::InvalidProof.to_string());
    }

    #[test]
    fn server_that_does_not_know_the_password_is_caught() {
        // A server with a verifier for another password, which skips the
        // proof check and signs with its own ServerKey.
        let mut login = UpstreamLogin::new("svc", secret("real pw"));
        let fake = ScramVerifier::generate("other pw", 4096).expect("generate");
        let (_, data) = initial_response(&send(
            login
                .respond(&sasl_offer(&["SCRAM-SHA-256"]))
                .expect("offer"),
        ));
        let mut server = ScramServer::new(fake);
        let sf = server.client_first("SCRAM-SHA-256", &data).expect("first");
        let cf = send(login.respond(&req(code::SASL_CONTINUE, &sf)).expect("cont"));
        let nonce_end = cf.iter().rposition(|&b| b == b',').expect("comma");
        let without_proof = String::from_utf8(cf[..nonce_end].to_vec()).expect("utf8");
        let bogus = format!("v={}", "A".repeat(43) + "=");
        assert!(without_proof.starts_with("c=biws,r="));
        assert_eq!(
            login.respond(&req(code::SASL_FINAL, bogus.as_bytes())),
            Err(LoginError::ServerSignatureInvalid)
        );
        // And the failed login stays failed.
        assert_eq!(
            login.respond(&req(code::OK, b"")),
            Err(LoginError::UnexpectedRequest(0))
        );
    }

    #[test]
    fn ok_before_sasl_final_is_refused() {
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        send(
            login
                .respond(&sasl_offer(&["SCRAM-SHA-256"]))
                .expect("offer"),
        );
        assert_eq!(
            login.respond(&req(code::OK, b"")),
            Err(LoginError::IncompleteSasl)
        );
    }

    #[test]
    fn sasl_error_and_mechanisms() {
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        assert_eq!(
            login.respond(&sasl_offer(&["SCRAM-SHA-256-PLUS"])),
            Err(LoginError::NoUsableMechanism)
        );
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        assert!(matches!(
            login.respond(&req(code::SASL, b"SCRAM-SHA-256")),
            Err(LoginError::Malformed(_))
        ));
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        assert!(matches!(
            login.respond(&req(code::SASL, b"SCRAM-SHA-256\0\0junk")),
            Err(LoginError::Malformed(_))
        ));
        // A server-final error is reported, not mistaken for success.
        let v = ScramVerifier::generate("pw", 4096).expect("generate");
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        let (_, data) = initial_response(&send(
            login
                .respond(&sasl_offer(&["SCRAM-SHA-256"]))
                .expect("offer"),
        ));
        let mut server = ScramServer::new(v);
        let sf = server.client_first("SCRAM-SHA-256", &data).expect("first");
        send(login.respond(&req(code::SASL_CONTINUE, &sf)).expect("cont"));
        assert_eq!(
            login.respond(&req(code::SASL_FINAL, b"e=invalid-proof")),
            Err(LoginError::Scram("invalid-proof".into()))
        );
    }

    #[test]
    fn bad_server_first_is_an_error() {
        let mut login = UpstreamLogin::new("svc", secret("pw"));
        send(
            login
                .respond(&sasl_offer(&["SCRAM-SHA-256"]))
                .expect("offer"),
        );
        // Nonce that does not extend the client's.
        assert!(matches!(
            login.respond(&req(code::SASL_CONTINUE, b"r=zzz,s=c2FsdA==,i=4096")),
            Err(LoginError::Scram(_))
        ));
    }

    #[test]
    fn md5_known_vector() {
        // Vector from rust-postgres' own md5 test.
        let mut login = UpstreamLogin::new("md5_user", secret("password"));
        let body = send(
            login
                .respond(&req(code::MD5_PASSWORD, &[0x2a, 0x3d, 0x8f, 0xe0]))
                .expect("md5"),
        );
        assert_eq!(body, b"md562af4dd09bbb41884907a838a3233294\0");
        assert_eq!(login.respond(&req(code::OK, b"")), Ok(LoginStep::Done));

        // The inner hash matches what PostgreSQL 15 stored for role "m" with
        // password 'md5pass' (password_encryption = md5).
        assert_eq!(
            postgres_protocol::password::md5(b"md5pass", "m"),
            "md58bf187870e425b25b4d2679aa8b2e1b2"
        );

        let mut login = UpstreamLogin::new("u", secret("pw"));
        assert!(matches!(
            login.respond(&req(code::MD5_PASSWORD, &[1, 2, 3])),
            Err(LoginError::Malformed(_))
        ));
    }

    #[test]
    fn cleartext_and_trust() {
        let mut login = UpstreamLogin::new("u", secret("pw"));
        assert_eq!(
            login.respond(&req(code::CLEARTEXT_PASSWORD, b"")),
            Ok(LoginStep::Send(b"pw\0".to_vec()))
        );
        assert_eq!(login.respond(&req(code::OK, b"")), Ok(LoginStep::Done));
        // Requests after Done are out of order.
        assert_eq!(
            login.respond(&req(code::CLEARTEXT_PASSWORD, b"")),
            Err(LoginError::UnexpectedRequest(3))
        );

        let mut login = UpstreamLogin::new("u", secret("pw"));
        assert_eq!(login.respond(&req(code::OK, b"")), Ok(LoginStep::Done));
    }

    #[test]
    fn scram_only_refuses_weaker_methods() {
        for (code, data) in [
            (code::CLEARTEXT_PASSWORD, &b""[..]),
            (code::MD5_PASSWORD, &[1, 2, 3, 4][..]),
            (code::OK, &b""[..]),
        ] {
            let mut login = UpstreamLogin::new("u", secret("pw")).scram_only(true);
            assert!(matches!(
                login.respond(&req(code, data)),
                Err(LoginError::MethodRefused(_))
            ));
        }
    }

    #[test]
    fn unsupported_and_out_of_order_requests() {
        for c in [2, 6, 7, 9, 99, -1] {
            let mut login = UpstreamLogin::new("u", secret("pw"));
            assert_eq!(login.respond(&req(c, b"")), Err(LoginError::Unsupported(c)));
        }
        for c in [code::SASL_CONTINUE, code::SASL_FINAL] {
            let mut login = UpstreamLogin::new("u", secret("pw"));
            assert_eq!(
                login.respond(&req(c, b"x")),
                Err(LoginError::UnexpectedRequest(c))
            );
        }
        let mut login = UpstreamLogin::new("u", secret("pw"));
        assert!(matches!(
            login.respond(&[0, 0]),
            Err(LoginError::Malformed(_))
        ));
        assert!(matches!(
            login.respond(&[]),
            Err(LoginError::UnexpectedRequest(_)) | Err(LoginError::Malformed(_))
        ));
    }

    #[test]
    fn random_requests_never_panic() {
        let mut rng = crate::test_rng::XorShift::new(0x853c_49e6_748f_ea9b);
        let mut next = move || rng.next_u64();
        for _ in 0..2000 {
            let mut login = UpstreamLogin::new("u", secret("pw"));
            for _ in 0..4 {
                let code = [0, 3, 5, 10, 11, 12][(next() % 6) as usize];
                let len = (next() % 40) as usize;
                let data: Vec<u8> = (0..len)
                    .map(|_| b"r=s,i\0SCRAM-SHA-256v=e=A1"[(next() % 24) as usize])
                    .collect();
                let _ = login.respond(&req(code, &data));
            }
        }
    }

    #[test]
    fn secret_loading_and_redaction() {
        let s = secret("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        let login = UpstreamLogin::new("svc", s);
        assert!(!format!("{login:?}").contains("hunter2"));

        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").expect("write");
        assert_eq!(Secret::from_file(&p).expect("read").expose(), "s3cret");
        std::fs::write(&p, "s3cret\r\n").expect("write");
        assert_eq!(Secret::from_file(&p).expect("read").expose(), "s3cret");
        std::fs::write(&p, "s3cret\n\n").expect("write");
        assert_eq!(Secret::from_file(&p).expect("read").expose(), "s3cret\n");
        std::fs::write(&p, " s3cret ").expect("write");
        assert_eq!(Secret::from_file(&p).expect("read").expose(), " s3cret ");
        std::fs::write(&p, "\n").expect("write");
        assert!(matches!(Secret::from_file(&p), Err(SecretError::Empty)));
        std::fs::write(&p, [0xffu8, 0xfe]).expect("write");
        assert!(matches!(
            Secret::from_file(&p),
            Err(SecretError::NotUtf8(_))
        ));
        assert!(matches!(
            Secret::from_file(&dir.path().join("missing")),
            Err(SecretError::Read { .. })
        ));
        assert!(matches!(Secret::new("a\0b"), Err(SecretError::Nul)));

        assert!(matches!(
            Secret::from_env("PGWARD_TEST_SURELY_UNSET_VARIABLE"),
            Err(SecretError::Env(_))
        ));
        // PATH is set in any test environment; read it without changing the
        // process environment.
        if std::env::var("PATH").is_ok_and(|p| !p.is_empty()) {
            assert!(Secret::from_env("PATH").is_ok());
        }
    }

    /// Logs in to a real PostgreSQL when PGWARD_TEST_UPSTREAM=host:port is
    /// set, with roles made by:
    ///   create role x login password 'secret';              -- SCRAM
    ///   set password_encryption = md5;
    ///   create role m login password 'md5pass';             -- md5 in pg_hba
    /// Skipped otherwise.
    #[test]
    fn real_server_login() {
        let Ok(addr) = std::env::var("PGWARD_TEST_UPSTREAM") else {
            eprintln!("PGWARD_TEST_UPSTREAM not set; skipping");
            return;
        };
        for (user, pw, expect_method) in [
            ("x", "secret", code::SASL),
            ("m", "md5pass", code::MD5_PASSWORD),
        ] {
            let first = real::login(&addr, user, pw).expect("login");
            assert_eq!(first, expect_method, "{user}");
        }
        let err = real::login(&addr, "x", "wrong").expect_err("wrong password");
        assert!(err.contains("28P01"), "{err}");
    }

    mod real {
        use super::super::*;
        use std::io::{Read, Write};
        use std::net::TcpStream;

        fn read_msg(s: &mut TcpStream) -> Result<(u8, Vec<u8>), String> {
            let mut head = [0u8; 5];
            s.read_exact(&mut head).map_err(|e| e.to_string())?;
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            let mut body = vec![0u8; len.saturating_sub(4)];
            s.read_exact(&mut body).map_err(|e| e.to_string())?;
            Ok((head[0], body))
        }

        /// Returns the first authentication request code on success.
        pub fn login(addr: &str, user: &str, pw: &str) -> Result<i32, String> {
            let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            let mut params = Vec::new();
            params.extend_from_slice(&196608i32.to_be_bytes());
            for (k, v) in [("user", user), ("database", "postgres")] {
                params.extend_from_slice(k.as_bytes());
                params.push(0);
                params.extend_from_slice(v.as_bytes());
                params.push(0);
            }
            params.push(0);
            let mut startup = ((params.len() + 4) as i32).to_be_bytes().to_vec();
            startup.extend_from_slice(&params);
            s.write_all(&startup).map_err(|e| e.to_string())?;

            let mut login = UpstreamLogin::new(user, Secret::new(pw).map_err(|e| e.to_string())?)
                .scram_only(false);
            let mut first = None;
            loop {
                let (tag, body) = read_msg(&mut s)?;
                match tag {
                    b'R' => {
                        if first.is_none() {
                            first = Some(i32::from_be_bytes(
                                body[..4].try_into().map_err(|_| "short")?,
                            ));
                        }
                        match login.respond(&body).map_err(|e| e.to_string())? {
                            LoginStep::Send(p) => {
                                let mut m = vec![b'p'];
                                m.extend_from_slice(&((p.len() + 4) as i32).to_be_bytes());
                                m.extend_from_slice(&p);
                                s.write_all(&m).map_err(|e| e.to_string())?;
                            }
                            LoginStep::Continue => {}
                            LoginStep::Done => {}
                        }
                    }
                    b'E' => return Err(String::from_utf8_lossy(&body).into_owned()),
                    b'Z' => {
                        return if login.is_done() {
                            Ok(first.unwrap_or(0))
                        } else {
                            Err("ready without login".into())
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
