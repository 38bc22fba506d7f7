//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs
//! it, for the mode where pgward verifies clients itself against stored
//! verifiers.
//!
//! Follows PostgreSQL's behaviour: the user name inside the SCRAM messages is
//! ignored (the startup packet's user counts), channel binding is never
//! offered (so a client's `y` flag is legitimate and `p` is refused), an
//! authorization identity is refused, and unknown users run a mock exchange
//! that fails exactly like a wrong password.
//!
//! Everything here is a pure state machine: the session code does framing.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The only mechanism pgward offers. `SCRAM-SHA-256-PLUS` is never offered:
/// channel binding would bind to pgward's TLS session, which pgward would have
/// to prove it terminates; it is out of scope.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// PostgreSQL's default `scram_iterations`.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// PostgreSQL's salt length for new verifiers.
const SALT_LEN: usize = 16;

/// Raw server nonce length (PostgreSQL uses 18 bytes, 24 base64 characters).
const SERVER_NONCE_LEN: usize = 18;

const KEY_LEN: usize = 32;

const VERIFIER_PREFIX: &str = "SCRAM-SHA-256$";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("unsupported SCRAM feature: {0}")]
    Unsupported(&'static str),
    #[error("password authentication failed")]
    InvalidProof,
    #[error("SCRAM message received out of order")]
    OutOfOrder,
    #[error("invalid SCRAM verifier: {0}")]
    InvalidVerifier(&'static str),
    #[error("cannot obtain random bytes from the operating system")]
    Random,
    #[error("SCRAM computation failed: {0}")]
    Crypto(&'static str),
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; KEY_LEN], ScramError> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .map_err(|_| ScramError::Crypto("HMAC key rejected"))?;
    for p in parts {
        mac.update(p);
    }
    Ok(mac.finalize().into_bytes().into())
}

fn sha256(parts: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ScramError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| ScramError::Random)?;
    Ok(buf)
}

/// SASLprep the password as PostgreSQL does: if the password is not valid
/// for SASLprep (prohibited characters, bad bidi), the raw bytes are used.
fn normalize_password(password: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(password) {
        Ok(s) => match stringprep::saslprep(s) {
            Ok(p) => p.into_owned().into_bytes(),
            Err(_) => password.to_vec(),
        },
        Err(_) => password.to_vec(),
    }
}

fn decode_key(b64: &str) -> Option<[u8; KEY_LEN]> {
    let bytes = STANDARD.decode(b64).ok()?;
    <[u8; KEY_LEN]>::try_from(bytes.as_slice()).ok()
}

/// A stored SCRAM-SHA-256 verifier (PostgreSQL's `pg_authid.rolpassword`
/// format). It never holds the password.
#[derive(Clone)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{VERIFIER_PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }
}

impl std::str::FromStr for ScramVerifier {
    type Err = ScramError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl ScramVerifier {
    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(s: &str) -> Result<Self, ScramError> {
        let rest = s
            .strip_prefix(VERIFIER_PREFIX)
            .ok_or(ScramError::InvalidVerifier(
                "must start with SCRAM-SHA-256$",
            ))?;
        let (iter_salt, keys) = rest
            .split_once('$')
            .ok_or(ScramError::InvalidVerifier("missing '$' before the keys"))?;
        let (iter, salt) = iter_salt
            .split_once(':')
            .ok_or(ScramError::InvalidVerifier(
                "missing ':' after the iteration count",
            ))?;
        let (stored, server) = keys
            .split_once(':')
            .ok_or(ScramError::InvalidVerifier("missing ':' between the keys"))?;
        if iter.is_empty() || !iter.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScramError::InvalidVerifier(
                "iteration count is not a number",
            ));
        }
        let iterations: u32 = iter
            .parse()
            .map_err(|_| ScramError::InvalidVerifier("iteration count out of range"))?;
        if iterations == 0 {
            return Err(ScramError::InvalidVerifier(
                "iteration count must be positive",
            ));
        }
        let salt = STANDARD
            .decode(salt)
            .map_err(|_| ScramError::InvalidVerifier("salt is not valid base64"))?;
        if salt.is_empty() {
            return Err(ScramError::InvalidVerifier("salt is empty"));
        }
        let stored_key = decode_key(stored).ok_or(ScramError::InvalidVerifier(
            "StoredKey is not 32 bytes of base64",
        ))?;
        let server_key = decode_key(server).ok_or(ScramError::InvalidVerifier(
            "ServerKey is not 32 bytes of base64",
        ))?;
        Ok(ScramVerifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Makes a verifier for `password` with a fresh random 16-byte salt.
    /// The password is SASLprepped as PostgreSQL does.
    pub fn generate(password: &str, iterations: u32) -> Result<ScramVerifier, ScramError> {
        if iterations == 0 {
            return Err(ScramError::InvalidVerifier(
                "iteration count must be positive",
            ));
        }
        let salt = random_bytes::<SALT_LEN>()?;
        Self::derive(password.as_bytes(), &salt, iterations)
    }

    fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Result<ScramVerifier, ScramError> {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, &[b"Client Key"])?;
        let stored_key = sha256(&[&client_key]);
        let server_key = hmac_sha256(&salted, &[b"Server Key"])?;
        Ok(ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key,
            server_key,
        })
    }

    /// Checks a plaintext password against the verifier (for a client that
    /// sent a cleartext password over TLS), in constant time.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        match Self::derive(password, &self.salt, self.iterations) {
            Ok(other) => {
                let ok = other.stored_key.ct_eq(&self.stored_key)
                    & other.server_key.ct_eq(&self.server_key);
                ok.into()
            }
            Err(_) => false,
        }
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn salt(&self) -> &[u8] {
        &self.salt
    }
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; KEY_LEN] {
    let normalized = normalize_password(password);
    pbkdf2::pbkdf2_hmac_array::<Sha256, KEY_LEN>(&normalized, salt, iterations)
}

/// Process-wide secret for mock exchanges with unknown users: the fake salt
/// for a user name is derived from it, so it stays the same for the process
/// lifetime (like PostgreSQL's `mock_auth_nonce`) but cannot be predicted.
#[derive(Clone)]
pub struct MockSecret {
    key: [u8; 32],
    iterations: u32,
}

impl fmt::Debug for MockSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MockSecret(<redacted>)")
    }
}

impl MockSecret {
    /// A fresh random secret; mock exchanges announce `iterations`, which
    /// should match what real verifiers use so the two look alike.
    pub fn random(iterations: u32) -> Result<Self, ScramError> {
        Ok(MockSecret {
            key: random_bytes::<32>()?,
            iterations: iterations.max(1),
        })
    }

    pub fn from_bytes(key: [u8; 32], iterations: u32) -> Self {
        MockSecret {
            key,
            iterations: iterations.max(1),
        }
    }
}

enum State {
    /// Waiting for the SASLInitialResponse.
    Initial,
    /// server-first-message sent; waiting for client-final-message.
    FirstSent {
        gs2_header: Vec<u8>,
        client_first_bare: Vec<u8>,
        server_first: Vec<u8>,
        nonce: Vec<u8>,
    },
    /// The proof verified and server-final-message was produced.
    Authenticated,
    /// An error happened; the exchange is over.
    Failed,
}

/// One SCRAM-SHA-256 exchange, server side.
pub struct ScramServer {
    verifier: ScramVerifier,
    /// Set for mock exchanges: the proof can never verify.
    doomed: bool,
    state: State,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Initial => "initial",
            State::FirstSent { .. } => "first-sent",
            State::Authenticated => "authenticated",
            State::Failed => "failed",
        };
        f.debug_struct("ScramServer")
            .field("state", &state)
            .finish()
    }
}

/// One `x=value` attribute of a SCRAM message.
struct Attr<'a> {
    name: u8,
    value: &'a [u8],
    /// Offset of the attribute's first byte in the message.
    start: usize,
}

/// Splits a message into `x=value` attributes separated by commas.
fn attributes(msg: &[u8]) -> Result<Vec<Attr<'_>>, ScramError> {
    if msg.is_empty() {
        return Err(ScramError::Malformed("empty message"));
    }
    let mut out = Vec::new();
    let mut start = 0usize;
    for part in msg.split(|&b| b == b',') {
        match part {
            [name, b'=', value @ ..] if name.is_ascii_alphabetic() => out.push(Attr {
                name: *name,
                value,
                start,
            }),
            _ => return Err(ScramError::Malformed("expected attribute=value")),
        }
        start += part.len() + 1;
    }
    Ok(out)
}

fn is_printable_nonce(nonce: &[u8]) -> bool {
    !nonce.is_empty()
        && nonce
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b) && b != b',')
}

impl ScramServer {
    pub fn new(verifier: ScramVerifier) -> Self {
        ScramServer {
            verifier,
            doomed: false,
            state: State::Initial,
        }
    }

    /// An exchange for a user that does not exist (or may not log in this
    /// way). It runs to the end and fails with [`ScramError::InvalidProof`],
    /// like a wrong password; the salt is stable per user name.
    pub fn mock(user: &str, secret: &MockSecret) -> Self {
        let salt_full = sha256(&[b"pgward mock salt\0", &secret.key, user.as_bytes()]);
        let salt = salt_full.get(..SALT_LEN).unwrap_or(&salt_full).to_vec();
        let stored_key = sha256(&[b"pgward mock stored\0", &secret.key, user.as_bytes()]);
        let server_key = sha256(&[b"pgward mock server\0", &secret.key, user.as_bytes()]);
        ScramServer {
            verifier: ScramVerifier {
                iterations: secret.iterations,
                salt,
                stored_key,
                server_key,
            },
            doomed: true,
            state: State::Initial,
        }
    }

    /// The mechanisms to list in AuthenticationSASL.
    pub fn mechanisms() -> &'static [&'static str] {
        &[SCRAM_SHA_256]
    }

    /// True once the client's proof has verified.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated)
    }

    /// Handles the SASLInitialResponse (mechanism and client-first-message);
    /// returns the server-first-message to send in AuthenticationSASLContinue.
    pub fn client_first(&mut self, mechanism: &str, data: &[u8]) -> Result<Vec<u8>, ScramError> {
        if !matches!(
            std::mem::replace(&mut self.state, State::Failed),
            State::Initial
        ) {
            return Err(ScramError::OutOfOrder);
        }
        if mechanism != SCRAM_SHA_256 {
            return Err(ScramError::Unsupported("SASL mechanism not offered"));
        }

        // gs2-header = gs2-cbind-flag "," [ authzid ] ","
        match data.first() {
            Some(b'n') | Some(b'y') => {}
            Some(b'p') => {
                return Err(ScramError::Unsupported(
                    "channel binding was not offered (SCRAM-SHA-256 without -PLUS)",
                ))
            }
            Some(_) => return Err(ScramError::Malformed("unexpected channel-binding flag")),
            None => return Err(ScramError::Malformed("empty message")),
        }
        if data.get(1) != Some(&b',') {
            return Err(ScramError::Malformed(
                "expected ',' after channel-binding flag",
            ));
        }
        match data.get(2) {
            Some(b',') => {}
            Some(b'a') if data.get(3) == Some(&b'=') => {
                return Err(ScramError::Unsupported("authorization identity"))
            }
            _ => return Err(ScramError::Malformed("expected ',' after the gs2 header")),
        }
        let (gs2_header, bare) = data.split_at(3);

        let attrs = attributes(bare)?;
        let mut it = attrs.iter();
        match it.next() {
            Some(a) if a.name == b'm' => {
                return Err(ScramError::Unsupported("mandatory extension"))
            }
            // The user name is ignored: the startup packet's user counts.
            Some(a) if a.name == b'n' => {}
            _ => return Err(ScramError::Malformed("expected user name attribute")),
        }
        let client_nonce = match it.next() {
            Some(a) if a.name == b'r' => a.value,
            _ => return Err(ScramError::Malformed("expected nonce attribute")),
        };
        if !is_printable_nonce(client_nonce) {
            return Err(ScramError::Malformed("nonce is empty or not printable"));
        }
        // Any further attributes are extensions, which are ignored.

        let server_nonce = STANDARD.encode(random_bytes::<SERVER_NONCE_LEN>()?);
        let mut nonce = client_nonce.to_vec();
        nonce.extend_from_slice(server_nonce.as_bytes());

        let mut server_first = b"r=".to_vec();
        server_first.extend_from_slice(&nonce);
        server_first.extend_from_slice(b",s=");
        server_first.extend_from_slice(STANDARD.encode(&self.verifier.salt).as_bytes());
        server_first.extend_from_slice(format!(",i={}", self.verifier.iterations).as_bytes());

        self.state = State::FirstSent {
            gs2_header: gs2_header.to_vec(),
            client_first_bare: bare.to_vec(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok(server_first)
    }

    /// Handles the SASLResponse (client-final-message); returns the
    /// server-final-message (`v=...`) for AuthenticationSASLFinal only when
    /// the client's proof verifies.
    pub fn client_final(&mut self, data: &[u8]) -> Result<Vec<u8>, ScramError> {
        let (gs2_header, client_first_bare, server_first, nonce) =
            match std::mem::replace(&mut self.state, State::Failed) {
                State::FirstSent {
                    gs2_header,
                    client_first_bare,
                    server_first,
                    nonce,
                } => (gs2_header, client_first_bare, server_first, nonce),
                _ => return Err(ScramError::OutOfOrder),
            };

        let attrs = attributes(data)?;
        let mut it = attrs.iter();
        let cbind = match it.next() {
            Some(a) if a.name == b'c' => a.value,
            _ => return Err(ScramError::Malformed("expected channel-binding attribute")),
        };
        let cbind = STANDARD
            .decode(cbind)
            .map_err(|_| ScramError::Malformed("channel-binding attribute is not base64"))?;
        if cbind != gs2_header {
            return Err(ScramError::Malformed(
                "channel-binding attribute does not match the gs2 header",
            ));
        }
        match it.next() {
            Some(a) if a.name == b'r' => {
                if a.value != nonce.as_slice() {
                    return Err(ScramError::Malformed("nonce does not match"));
                }
            }
            _ => return Err(ScramError::Malformed("expected nonce attribute")),
        }
        // Extensions may come before the proof, which must be last.
        let proof_attr = loop {
            match it.next() {
                Some(a) if a.name == b'p' => break a,
                Some(_) => continue,
                None => return Err(ScramError::Malformed("missing proof")),
            }
        };
        if it.next().is_some() {
            return Err(ScramError::Malformed("garbage after the proof"));
        }
        let proof = STANDARD
            .decode(proof_attr.value)
            .ok()
            .and_then(|p| <[u8; KEY_LEN]>::try_from(p.as_slice()).ok())
            .ok_or(ScramError::Malformed("invalid proof"))?;
        let without_proof = data
            .get(..proof_attr.start.saturating_sub(1))
            .ok_or(ScramError::Malformed("invalid proof position"))?;

        let client_signature = hmac_sha256(
            &self.verifier.stored_key,
            &[&client_first_bare, b",", &server_first, b",", without_proof],
        )?;
        let mut client_key = proof;
        for (k, s) in client_key.iter_mut().zip(client_signature.iter()) {
            *k ^= s;
        }
        let computed = sha256(&[&client_key]);
        let ok = computed.ct_eq(&self.verifier.stored_key) & Choice::from(u8::from(!self.doomed));
        if !bool::from(ok) {
            return Err(ScramError::InvalidProof);
        }

        let server_signature = hmac_sha256(
            &self.verifier.server_key,
            &[&client_first_bare, b",", &server_first, b",", without_proof],
        )?;
        let mut out = b"v=".to_vec();
        out.extend_from_slice(STANDARD.encode(server_signature).as_bytes());
        self.state = State::Authenticated;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

    /// Captured from PostgreSQL 15 after `create role x password 'secret'`.
    const PG_SECRET: &str = "SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=";
    /// PostgreSQL 15, password U&'I\00ADX\FF21': SASLprep maps it to "IXA".
    const PG_SASLPREP: &str = "SCRAM-SHA-256$4096:JXtKCVEb7LaZQ3z2DJ4wmg==$LKinkC6V7imKs36kghLDjqyAiV1HydKbnSF8W+lmS+Y=:0fPP6/jJSdozrwP2aqR2TCYkwYWJB6eKDRHVGa5fVw0=";
    /// PostgreSQL 15, password E'a\x07b': prohibited by SASLprep, used raw.
    const PG_PROHIBITED: &str = "SCRAM-SHA-256$4096:GqTsfwXdQbqF+B1H3mOklw==$Oj5B25ZFmydvvg0ESkpYpUKCnCGAetxuXayyYf4UxGE=:Gdoqity9oRTClC5KoEfW4kvRn9uOoW2beecKaH9sGyk=";

    /// Runs a full exchange with rust-postgres' client. Returns the server's
    /// result for the final step and whether the client accepted the server.
    fn exchange(
        server: &mut ScramServer,
        password: &str,
        cb: ChannelBinding,
    ) -> (Result<Vec<u8>, ScramError>, bool) {
        let mut client = ScramSha256::new(password.as_bytes(), cb);
        let first = server
            .client_first(SCRAM_SHA_256, client.message())
            .expect("client-first");
        client.update(&first).expect("client accepts server-first");
        let res = server.client_final(client.message());
        let client_ok = match &res {
            Ok(v) => client.finish(v).is_ok(),
            Err(_) => false,
        };
        (res, client_ok)
    }

    #[test]
    fn round_trip_generated_verifier() {
        let v = ScramVerifier::generate("correct horse", 4096).expect("generate");
        let mut server = ScramServer::new(v.clone());
        let (res, client_ok) =
            exchange(&mut server, "correct horse", ChannelBinding::unsupported());
        assert!(res.is_ok());
        assert!(client_ok, "client verifies the server signature");
        assert!(server.is_authenticated());

        let mut server = ScramServer::new(v);
        let (res, client_ok) = exchange(&mut server, "wrong horse", ChannelBinding::unsupported());
        assert_eq!(res, Err(ScramError::InvalidProof));
        assert!(!client_ok);
        assert!(!server.is_authenticated());
    }

    #[test]
    fn client_y_flag_accepted() {
        let v = ScramVerifier::generate("pw", 4096).expect("generate");
        let mut server = ScramServer::new(v);
        // unrequested() makes the client send "y,,".
        let (res, client_ok) = exchange(&mut server, "pw", ChannelBinding::unrequested());
        assert!(res.is_ok());
        assert!(client_ok);
    }

    #[test]
    fn client_p_flag_refused() {
        let v = ScramVerifier::generate("pw", 4096).expect("generate");
        let mut server = ScramServer::new(v);
        let client = ScramSha256::new(b"pw", ChannelBinding::tls_server_end_point(vec![1, 2, 3]));
        assert!(client.message().starts_with(b"p="));
        assert!(matches!(
            server.client_first(SCRAM_SHA_256, client.message()),
            Err(ScramError::Unsupported(_))
        ));
        // The exchange is over.
        assert_eq!(server.client_final(b"c=biws"), Err(ScramError::OutOfOrder));
    }

    #[test]
    fn plus_mechanism_refused() {
        assert_eq!(ScramServer::mechanisms(), &["SCRAM-SHA-256"]);
        let v = ScramVerifier::generate("pw", 4096).expect("generate");
        let mut server = ScramServer::new(v);
        assert!(matches!(
            server.client_first("SCRAM-SHA-256-PLUS", b"n,,n=,r=abc"),
            Err(ScramError::Unsupported(_))
        ));
    }

    #[test]
    fn real_postgres_verifier() {
        let v = ScramVerifier::parse(PG_SECRET).expect("parse");
        assert_eq!(v.iterations(), 4096);
        assert_eq!(v.to_string(), PG_SECRET);
        let mut server = ScramServer::new(v.clone());
        let (res, client_ok) = exchange(&mut server, "secret", ChannelBinding::unsupported());
        assert!(res.is_ok());
        assert!(client_ok);
        let mut server = ScramServer::new(v.clone());
        let (res, _) = exchange(&mut server, "Secret", ChannelBinding::unsupported());
        assert_eq!(res, Err(ScramError::InvalidProof));
        assert!(v.verify_password(b"secret"));
        assert!(!v.verify_password(b"secret "));
    }

    #[test]
    fn saslprep_matches_postgres() {
        let v = ScramVerifier::parse(PG_SASLPREP).expect("parse");
        assert!(v.verify_password("I\u{AD}X\u{FF21}".as_bytes()));
        assert!(v.verify_password(b"IXA"));
        let mut server = ScramServer::new(v);
        let (res, client_ok) = exchange(&mut server, "IXA", ChannelBinding::unsupported());
        assert!(res.is_ok() && client_ok);

        let v = ScramVerifier::parse(PG_PROHIBITED).expect("parse");
        assert!(v.verify_password(b"a\x07b"));
        let mut server = ScramServer::new(v);
        let (res, client_ok) = exchange(&mut server, "a\x07b", ChannelBinding::unsupported());
        assert!(res.is_ok() && client_ok);

        // generate() normalizes the same way.
        let g = ScramVerifier::generate("I\u{AD}X\u{FF21}", 4096).expect("generate");
        assert!(g.verify_password(b"IXA"));
    }

    #[test]
    fn verifier_display_round_trip_and_debug_redacts() {
        let v = ScramVerifier::generate("pw", 10_000).expect("generate");
        let s = v.to_string();
        assert!(s.starts_with("SCRAM-SHA-256$10000:"));
        let back = ScramVerifier::parse(&s).expect("parse");
        assert_eq!(back.to_string(), s);
        assert_eq!(back.salt().len(), 16);
        let dbg = format!("{v:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&STANDARD.encode(v.stored_key)));
    }

    #[test]
    fn bad_verifiers() {
        let cases = [
            "",
            "md5abcdef",
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$x:c2FsdA==$a:b",
            "SCRAM-SHA-256$0:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$-1:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$99999999999:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$4096:$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$4096:!!!$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$c2hvcnQ=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=",
            "SCRAM-SHA-256$4096:Drc0MhvCGQM7Jrey+05NlQ==$hrEHuA199V0YJSV8f/w4rLVal2M0mw4qMQmbUccfqM0=:TBjLj/tyU9bNJd0T/JTrbLE/oAdZzd5kiBPi/X58RtQ=$x",
        ];
        for c in cases {
            assert!(
                matches!(ScramVerifier::parse(c), Err(ScramError::InvalidVerifier(_))),
                "accepted {c:?}"
            );
        }
        assert!(ScramVerifier::generate("pw", 0).is_err());
    }

    #[test]
    fn mock_is_indistinguishable_and_always_fails() {
        let secret = MockSecret::from_bytes([7; 32], 4096);
        let mut a = ScramServer::mock("ghost", &secret);
        let mut b = ScramServer::mock("ghost", &secret);
        let fa = a
            .client_first(SCRAM_SHA_256, b"n,,n=,r=abc")
            .expect("first");
        let fb = b
            .client_first(SCRAM_SHA_256, b"n,,n=,r=abc")
            .expect("first");
        let salt_of = |m: &[u8]| {
            let s = String::from_utf8(m.to_vec()).expect("utf8");
            s.split(',')
                .find_map(|p| p.strip_prefix("s=").map(str::to_owned))
                .expect("salt")
        };
        assert_eq!(salt_of(&fa), salt_of(&fb), "stable salt per user");
        assert!(String::from_utf8_lossy(&fa).ends_with(",i=4096"));
        let mut c = ScramServer::mock("other", &secret);
        let fc = c
            .client_first(SCRAM_SHA_256, b"n,,n=,r=abc")
            .expect("first");
        assert_ne!(salt_of(&fa), salt_of(&fc));
        assert_eq!(
            STANDARD.decode(salt_of(&fa)).expect("b64").len(),
            16,
            "same salt length as real verifiers"
        );

        for pw in ["", "secret", "ghost"] {
            let mut m = ScramServer::mock("ghost", &secret);
            let (res, _) = exchange(&mut m, pw, ChannelBinding::unsupported());
            assert_eq!(res, Err(ScramError::InvalidProof));
        }
    }

    fn first(server: &mut ScramServer) -> (String, String) {
        let client_nonce = "rOprNGfwEbeRWgbNEkqO".to_owned();
        let msg = format!("n,,n=user,r={client_nonce}");
        let sf = server
            .client_first(SCRAM_SHA_256, msg.as_bytes())
            .expect("first");
        let sf = String::from_utf8(sf).expect("utf8");
        let nonce = sf
            .split(',')
            .next()
            .and_then(|r| r.strip_prefix("r="))
            .expect("nonce")
            .to_owned();
        assert!(nonce.starts_with(&client_nonce));
        (sf, nonce)
    }

    fn fresh() -> ScramServer {
        ScramServer::new(ScramVerifier::parse(PG_SECRET).expect("parse"))
    }

    #[test]
    fn malformed_client_first() {
        let cases: &[&[u8]] = &[
            b"",
            b"n",
            b"n,",
            b"n,,",
            b"x,,n=,r=abc",
            b"n,,r=abc",
            b"n,,n=",
            b"n,,n=,",
            b"n,,n=,r=",
            b"n,,n=,r=ab\x01c",
            b"n,,n=,r=ab c",
            b"n,,n=,x=abc",
            b"n,,n=,r=abc,",
            b"n,,n=,r=abc,1=x",
            b"nn,n=,r=abc",
            b"n,x,n=,r=abc",
            b"\xff\xfe",
        ];
        for c in cases {
            let mut s = fresh();
            assert!(
                matches!(
                    s.client_first(SCRAM_SHA_256, c),
                    Err(ScramError::Malformed(_))
                ),
                "accepted {:?}",
                String::from_utf8_lossy(c)
            );
        }
        let mut s = fresh();
        assert_eq!(
            s.client_first(SCRAM_SHA_256, b"n,a=admin,n=,r=abc"),
            Err(ScramError::Unsupported("authorization identity"))
        );
        let mut s = fresh();
        assert_eq!(
            s.client_first(SCRAM_SHA_256, b"n,,m=ext,n=,r=abc"),
            Err(ScramError::Unsupported("mandatory extension"))
        );
        // Extensions after the nonce are ignored, as PostgreSQL does.
        let mut s = fresh();
        assert!(s.client_first(SCRAM_SHA_256, b"n,,n=,r=abc,x=ext").is_ok());
    }

    #[test]
    fn malformed_client_final() {
        let proof = STANDARD.encode([0u8; 32]);
        let cases = |nonce: &str| -> Vec<String> {
            vec![
                String::new(),
                "c=biws".into(),
                format!("c=biws,r={nonce}"),
                format!("r={nonce},c=biws,p={proof}"),
                format!("c=eSws,r={nonce},p={proof}"),
                format!("c=bi!s,r={nonce},p={proof}"),
                format!("c=biws,r={nonce}x,p={proof}"),
                format!("c=biws,r=abc,p={proof}"),
                format!("c=biws,r={nonce},p=AAAA"),
                format!("c=biws,r={nonce},p=!!"),
                format!("c=biws,r={nonce},p={proof},x=1"),
                format!("c=biws,r={nonce},p={proof},"),
            ]
        };
        let count = cases("").len();
        for i in 0..count {
            let mut s = fresh();
            let (_, nonce) = first(&mut s);
            let c = cases(&nonce).swap_remove(i);
            let res = s.client_final(c.as_bytes());
            assert!(matches!(res, Err(ScramError::Malformed(_))), "{c}: {res:?}");
        }
        // A well-formed final with a wrong proof.
        let mut s = fresh();
        let (_, nonce) = first(&mut s);
        assert_eq!(
            s.client_final(format!("c=biws,r={nonce},p={proof}").as_bytes()),
            Err(ScramError::InvalidProof)
        );
        // Extensions before the proof are skipped.
        let mut s = fresh();
        let (_, nonce) = first(&mut s);
        assert_eq!(
            s.client_final(format!("c=biws,r={nonce},x=ext,p={proof}").as_bytes()),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn out_of_order_and_replay() {
        let mut s = fresh();
        assert_eq!(
            s.client_final(b"c=biws,r=x,p=y"),
            Err(ScramError::OutOfOrder)
        );

        // A successful exchange, then its final message replayed.
        let mut client = ScramSha256::new(b"secret", ChannelBinding::unsupported());
        let mut s = fresh();
        let sf = s
            .client_first(SCRAM_SHA_256, client.message())
            .expect("first");
        client.update(&sf).expect("update");
        let final_msg = client.message().to_vec();
        assert!(s.client_final(&final_msg).is_ok());
        assert_eq!(s.client_final(&final_msg), Err(ScramError::OutOfOrder));
        assert_eq!(
            s.client_first(SCRAM_SHA_256, b"n,,n=,r=abc"),
            Err(ScramError::OutOfOrder)
        );

        // Replayed into a new exchange: the server nonce differs.
        let mut s2 = fresh();
        let first_msg = format!(
            "n,,n=,r={}",
            String::from_utf8_lossy(&sf)
                .split(',')
                .next()
                .and_then(|r| r.strip_prefix("r="))
                .map(|n| n.get(..24).unwrap_or(n).to_owned())
                .expect("nonce")
        );
        s2.client_first(SCRAM_SHA_256, first_msg.as_bytes())
            .expect("first");
        assert_eq!(
            s2.client_final(&final_msg),
            Err(ScramError::Malformed("nonce does not match"))
        );
        // Failed exchanges stay failed.
        assert_eq!(s2.client_final(&final_msg), Err(ScramError::OutOfOrder));
    }

    /// Pseudo-random bytes from a fixed seed.
    struct Rng(crate::test_rng::XorShift);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0.next_u64()
        }
        fn bytes(&mut self, max: usize) -> Vec<u8> {
            let len = (self.next() as usize) % (max + 1);
            let alphabet = b"nyp,=rcsiam0123456789abcXYZ+/";
            (0..len)
                .map(|_| {
                    let r = self.next();
                    if r & 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[((r >> 8) as usize) % alphabet.len()]
                    }
                })
                .collect()
        }
    }

    #[test]
    fn fuzz_like_random_input_never_panics() {
        let mut rng = Rng(crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15));
        let v = ScramVerifier::parse(PG_SECRET).expect("parse");
        for i in 0..3000 {
            let mut s = ScramServer::new(v.clone());
            let data = rng.bytes(64);
            let _ = s.client_first(SCRAM_SHA_256, &data);
            let _ = s.client_final(&rng.bytes(96));

            // Random finals after a valid first message.
            let mut s = ScramServer::new(v.clone());
            let (_, nonce) = first(&mut s);
            let mut msg = if i % 2 == 0 {
                format!("c=biws,r={nonce},").into_bytes()
            } else {
                Vec::new()
            };
            msg.extend(rng.bytes(80));
            let res = s.client_final(&msg);
            assert!(res.is_err());

            let text = String::from_utf8_lossy(&rng.bytes(120)).into_owned();
            let _ = ScramVerifier::parse(&text);
            let _ = ScramVerifier::parse(&format!("SCRAM-SHA-256${text}"));
        }
    }
}
