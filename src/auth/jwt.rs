//! Bearer tokens (JWTs) sent as the password, as managed PostgreSQL services
//! accept OAuth access tokens. Keys come from a JWKS; only asymmetric
//! algorithms are accepted (never `none`, never HMAC).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Longest token accepted; access tokens are far smaller.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Smallest RSA modulus accepted in a key set, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum JwtError {
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was not issued for this audience")]
    WrongAudience,
    #[error("token was not issued by the trusted issuer")]
    WrongIssuer,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("no key in the key set matches the token")]
    UnknownKey,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("token lacks the claim {0:?}")]
    MissingClaim(String),
    #[error("token signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("invalid key set: {0}")]
    Jwks(String),
    #[error("invalid token validation settings: {0}")]
    Config(&'static str),
}

/// The signing algorithms pgward can accept. HMAC and `none` are absent on
/// purpose: they cannot be selected at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum JwtAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl JwtAlgorithm {
    pub const ALL: [JwtAlgorithm; 9] = [
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    fn to_jsonwebtoken(self) -> Algorithm {
        match self {
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::RS384 => Algorithm::RS384,
            JwtAlgorithm::RS512 => Algorithm::RS512,
            JwtAlgorithm::PS256 => Algorithm::PS256,
            JwtAlgorithm::PS384 => Algorithm::PS384,
            JwtAlgorithm::PS512 => Algorithm::PS512,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::ES384 => Algorithm::ES384,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }

    fn from_key_algorithm(alg: KeyAlgorithm) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| KeyAlgorithm::from(a.to_jsonwebtoken()) == alg)
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwtAlgorithm {
    type Err = JwtError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(JwtError::AlgorithmNotAllowed)
    }
}

fn default_user_claim() -> String {
    "sub".to_owned()
}
fn default_groups_claim() -> String {
    "groups".to_owned()
}
fn default_leeway() -> u64 {
    30
}
fn default_algorithms() -> Vec<JwtAlgorithm> {
    vec![
        JwtAlgorithm::RS256,
        JwtAlgorithm::ES256,
        JwtAlgorithm::PS256,
        JwtAlgorithm::EdDSA,
    ]
}

/// What a token must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Exact `iss` value.
    pub issuer: String,
    /// A value the `aud` claim must contain.
    pub audience: String,
    /// The claim naming the PostgreSQL user, e.g. `sub`, `email`,
    /// `preferred_username`.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Clock skew tolerated for `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<JwtAlgorithm>,
}

impl JwtConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        JwtConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            user_claim: default_user_claim(),
            groups_claim: default_groups_claim(),
            leeway_secs: default_leeway(),
            algorithms: default_algorithms(),
        }
    }

    fn check(&self) -> Result<(), JwtError> {
        if self.issuer.is_empty() {
            return Err(JwtError::Config("issuer must be set"));
        }
        if self.audience.is_empty() {
            return Err(JwtError::Config("audience must be set"));
        }
        if self.user_claim.is_empty() {
            return Err(JwtError::Config("user_claim must be set"));
        }
        if self.algorithms.is_empty() {
            return Err(JwtError::Config("at least one algorithm must be allowed"));
        }
        Ok(())
    }
}

/// The identity a valid token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// From the configured user claim.
    pub user: String,
    /// From the configured groups claim (an array of strings or one string).
    pub groups: Vec<String>,
    /// Every string claim, and the string elements of array claims.
    pub claims: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: JwtAlgorithm) -> bool {
        use JwtAlgorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::P256 => alg == ES256,
            KeyKind::P384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

struct VerifyKey {
    kid: Option<String>,
    kind: KeyKind,
    /// The JWK's own `alg`, when it names one.
    alg: Option<JwtAlgorithm>,
    key: DecodingKey,
}

impl VerifyKey {
    fn fits(&self, alg: JwtAlgorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// Checks bearer tokens against a key set and a [`JwtConfig`].
pub struct JwtValidator {
    config: JwtConfig,
    keys: Vec<VerifyKey>,
}

impl fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap_or("<no kid>"))
            .collect();
        f.debug_struct("JwtValidator")
            .field("config", &self.config)
            .field("keys", &kids)
            .finish()
    }
}

fn b64url_len(s: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(s).ok().map(|b| b.len())
}

/// Turns one JWK into a verification key, or says why it is skipped.
fn usable_key(jwk: &Jwk) -> Result<VerifyKey, &'static str> {
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("not a signature key"),
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.contains(&KeyOperations::Verify) {
            return Err("key_ops lacks verify");
        }
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(JwtAlgorithm::from_key_algorithm(a).ok_or("unsupported alg")?),
    };
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = URL_SAFE_NO_PAD
                .decode(&p.n)
                .map_err(|_| "bad RSA modulus")?;
            let significant = n.iter().skip_while(|&&b| b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err("RSA key shorter than 2048 bits");
            }
            KeyKind::Rsa
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (kind, len) = match p.curve {
                EllipticCurve::P256 => (KeyKind::P256, 32),
                EllipticCurve::P384 => (KeyKind::P384, 48),
                _ => return Err("unsupported curve"),
            };
            if b64url_len(&p.x) != Some(len) || b64url_len(&p.y) != Some(len) {
                return Err("bad EC coordinates");
            }
            kind
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 || b64url_len(&p.x) != Some(32) {
                return Err("unsupported OKP key");
            }
            KeyKind::Ed25519
        }
        // Symmetric keys are never used.
        _ => return Err("unsupported key type"),
    };
    if let Some(a) = alg {
        if !kind.fits(a) {
            return Err("alg does not fit the key type");
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "unreadable key")?;
    Ok(VerifyKey {
        kid: jwk.common.key_id.clone(),
        kind,
        alg,
        key,
    })
}

fn decode_json_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed("segment is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed("segment is not a JSON object")),
    }
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or(JwtError::Malformed("time claim is not a number")),
    }
}

impl JwtValidator {
    pub fn from_jwks_file(path: &Path, config: JwtConfig) -> Result<Self, JwtError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| JwtError::Jwks(format!("cannot read {}: {e}", path.display())))?;
        Self::from_jwks_json(&text, config)
    }

    /// Loads a JWKS document (`{"keys": [...]}`). Keys that cannot verify
    /// any allowed algorithm (encryption keys, symmetric keys, unsupported
    /// curves, RSA under 2048 bits) are skipped; at least one must remain.
    pub fn from_jwks_json(json: &str, config: JwtConfig) -> Result<Self, JwtError> {
        config.check()?;
        let doc: Value =
            serde_json::from_str(json).map_err(|e| JwtError::Jwks(format!("not JSON: {e}")))?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwtError::Jwks("no \"keys\" array".to_owned()))?;
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let result = serde_json::from_value::<Jwk>(entry.clone())
                .map_err(|_| "not a JWK")
                .and_then(|jwk| usable_key(&jwk));
            match result {
                Ok(k) if config.algorithms.iter().any(|&a| k.fits(a)) => keys.push(k),
                Ok(_) => skipped.push(format!("key {i}: no allowed algorithm fits it")),
                Err(why) => skipped.push(format!("key {i}: {why}")),
            }
        }
        if keys.is_empty() {
            let why = if skipped.is_empty() {
                "the key set is empty".to_owned()
            } else {
                skipped.join("; ")
            };
            return Err(JwtError::Jwks(format!("no usable signing key ({why})")));
        }
        Ok(JwtValidator { config, keys })
    }

    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// How many keys of the set can verify tokens.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Validates `token` (optionally prefixed with "Bearer ") at `now`.
    pub fn validate(&self, token: &str, now: SystemTime) -> Result<VerifiedToken, JwtError> {
        let token = token.trim();
        let token = match token.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("bearer ") => token.get(7..).unwrap_or("").trim(),
            _ => token,
        };
        if token.is_empty() {
            return Err(JwtError::Malformed("empty token"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed("token too long"));
        }
        let mut parts = token.split('.');
        let (header_b64, payload_b64, signature_b64) =
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(h), Some(p), Some(s), None) => (h, p, s),
                _ => return Err(JwtError::Malformed("a JWT has three segments")),
            };
        // header "." payload, exactly as signed.
        let signed = token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or(JwtError::Malformed("bad segment boundaries"))?;

        let header = decode_json_object(header_b64)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JwtError::Malformed("header has no alg"))?;
        let alg = JwtAlgorithm::from_str(alg)?;
        if !self.config.algorithms.contains(&alg) {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        if header.contains_key("crit") {
            return Err(JwtError::Malformed(
                "critical header extensions are not supported",
            ));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(JwtError::Malformed("kid is not a string")),
        };
        if signature_b64.is_empty() {
            return Err(JwtError::BadSignature);
        }

        let candidates: Vec<&VerifyKey> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid) && k.fits(alg))
                .collect(),
            None => {
                let fitting: Vec<&VerifyKey> = self.keys.iter().filter(|k| k.fits(alg)).collect();
                if fitting.len() == 1 {
                    fitting
                } else {
                    Vec::new()
                }
            }
        };
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey);
        }
        let verified = candidates.iter().any(|k| {
            matches!(
                jsonwebtoken::crypto::verify(
                    signature_b64,
                    signed.as_bytes(),
                    &k.key,
                    alg.to_jsonwebtoken()
                ),
                Ok(true)
            )
        });
        if !verified {
            return Err(JwtError::BadSignature);
        }

        let claims = decode_json_object(payload_b64)?;
        self.check_claims(&claims, now)?;
        self.identity(&claims)
    }

    /// [`validate`](Self::validate) at the current time.
    pub fn validate_now(&self, token: &str) -> Result<VerifiedToken, JwtError> {
        self.validate(token, SystemTime::now())
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: SystemTime) -> Result<(), JwtError> {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let leeway = self.config.leeway_secs as f64;

        let exp = numeric_date(claims, "exp")?.ok_or(JwtError::MissingClaim("exp".into()))?;
        if now >= exp + leeway {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if now + leeway < nbf {
                return Err(JwtError::NotYetValid);
            }
        }

        match claims.get("iss") {
            None => return Err(JwtError::MissingClaim("iss".into())),
            Some(Value::String(iss)) if *iss == self.config.issuer => {}
            Some(_) => return Err(JwtError::WrongIssuer),
        }

        let audience = self.config.audience.as_str();
        let aud_ok = match claims.get("aud") {
            None => return Err(JwtError::MissingClaim("aud".into())),
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
            Some(_) => false,
        };
        if !aud_ok {
            return Err(JwtError::WrongAudience);
        }
        Ok(())
    }

    fn identity(&self, claims: &Map<String, Value>) -> Result<VerifiedToken, JwtError> {
        let user = match claims.get(&self.config.user_claim) {
            Some(Value::String(u)) if !u.is_empty() => u.clone(),
            _ => return Err(JwtError::MissingClaim(self.config.user_claim.clone())),
        };
        if user.contains('\0') {
            return Err(JwtError::Malformed("user claim contains a NUL character"));
        }
        let groups = match claims.get(&self.config.groups_claim) {
            Some(Value::String(g)) if !g.is_empty() => vec![g.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let mut all = BTreeMap::new();
        for (name, value) in claims {
            let strings: Vec<String> = match value {
                Value::String(s) => vec![s.clone()],
                Value::Array(list) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => continue,
            };
            all.insert(name.clone(), strings);
        }
        Ok(VerifiedToken {
            user,
            groups,
            claims: all,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    use std::time::Duration;

    /// A fixed 2048-bit test key (made with `openssl genrsa -traditional`).
    const RSA_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAuPsJ2p5Xyf3MOk1wYR/e2mgcozxabtmgM16OBu9YuXqkcgxP
fK6TldbCIXkuqmO2sflX8Ngj8b8ffov+CmIvwGNFNZDJ1tGwBO6gHxaVGF/wrhwQ
AZDO520/pKPv7XuOZS5KlowOBxm/6OCKMHSvVrU8w0M8DR8w3PQHsAE+DbRlKat/
hYbJ4RxWBCLP9N9lGl4Prny89xF0ucmo24Zj4r3+s+aLEenmKb3Lv7HnznEHYNRx
lVAUKgrk8uzWmghDyr8Cn1RUnC5bHZ8HXikuNXf2VF1JeQzG+0JZXIWBKioLkH8y
5HmwMMnAE3WM5LDvO2UHO5bPz8wiYIAxqwtmVwIDAQABAoIBABTIR4QjVBOiiwZl
2uFelkgNeGIyjqpzktcSoXxP+bTk/YK+tVN5vaUQ+sCN/9su1sDKFcI+VlN7uIsc
KU97VogT3xu0h6i16EO1l5HGlLunU8AL8RRr84L2uDbEIFmbDxV5DPI7C/xqPTBp
wbzN70EbnZcGf8Gtpmy8kfyJNzKMx94r4y+nJupqMu3UmWGMIrtPqnqgCeP9Cf1l
fyjPJpvLxihI2w5gmGnGRRR+igPE3eRDHHm+LJhUxQohCv4g40mqdUUHhVhWep1l
YziJYJSUma8z/rHGjv0eCF0qaMQCycxKzptUtTmiE6X6mJw58nv8Pi/mS+rXzpMb
TZqEcIkCgYEA6+uv7il0GRePv6wdIk26+0vV7xMhVtvz3rrP7Symr/tjByEkOm8g
dSsTsF7NzL8Hq/xI//xf2bLEWi3SUwY66orgOi0nwa1PnRvH13DXwhOE0iOwFyLR
Y/lRA8a2zQZyQPAAm4Z1mqnieSj3r9rMtbnASnaWKsRJgZot3+raWjMCgYEAyLl0
M6y5WcbnHMHxeHO8jN9hb/kcCGdvSuGLZMBaAOrsVeXj0eWW02lPb5iIpaLwKoD8
NPdhs2hhyaKBkDojdKC1jMQzPInW0RCMK5VnFD1OZjjknv8GITPD4A+b8bMnOyKB
5dW2divegW3oaIBCNrovvFAGUX3WphjmneZdp00CgYBxjWeIgntW+HhAEV+Ue0Vc
XwwBnnuVixi+Q7yAs9UnLyBi9hix53r/6lP3uCnmOqw+o5efXqHj7p+DqDprq7v/
2AhE+CcCmaCQRibSE4ZF648qdfLzr9aJAB92adbiqA+mId6o/PbuEobnOki9Y9rU
PSvIq3tr6j5XGxapiCjA8QKBgFnEPoiBnV7eCiudPJ1OvSsPF2dZM8U6ZNZLKejD
8Txp04nSxuDu2VXwydqxj6LrzJZlmuUhISt36gufxmu25HZbDPZIJFXVmyFiUh2H
slKl3DLxDKVijd45ZUcGFAqywT+7/fXIbtJIajjd60sY2QPanlCMRVcafO1JQ5Go
HYgdAoGBAMTR4TYwnWWRfSteFq8Iyt+FVSCpN2kprcwE9bNXoDtjjGcit6TsgMgo
YC4XGtsm/lROhRNMht0KFaU7Wqgkx1NMfR7mXDQ5ELdSt6T6GlAwlfeRsnhaT6ZI
qoWOVPCXgGQ3AkD7Jf+swXR/9+8RZe/tbIp8pc1l2ILfXftHMmHQ
-----END RSA PRIVATE KEY-----";

    const ISS: &str = "https://idp.example.com/";
    const AUD: &str = "pgward";
    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn rsa_key() -> EncodingKey {
        let body: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        EncodingKey::from_rsa_der(&STANDARD.decode(body).expect("pem body"))
    }

    struct Ec {
        enc: EncodingKey,
        jwk: Value,
    }

    fn ec_key(kid: &str) -> Ec {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("keygen");
        let raw = kp.public_key_raw();
        assert_eq!(raw.len(), 65);
        Ec {
            enc: EncodingKey::from_ec_der(&kp.serialize_der()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
            }),
        }
    }

    fn ed_key(kid: &str) -> Ec {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("keygen");
        Ec {
            enc: EncodingKey::from_ed_der(&kp.serialize_der()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA",
                "x": URL_SAFE_NO_PAD.encode(kp.public_key_raw()),
            }),
        }
    }

    fn rsa_jwk(kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&rsa_key(), Algorithm::RS256).expect("jwk");
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.key_algorithm = None; // usable for RS* and PS*
        serde_json::to_value(jwk).expect("json")
    }

    struct Fixture {
        ec: Ec,
        ed: Ec,
        validator: JwtValidator,
        jwks: String,
    }

    fn fixture(config: JwtConfig) -> Fixture {
        let ec = ec_key("ec1");
        let ed = ed_key("ed1");
        let jwks = json!({"keys": [
            rsa_jwk("rsa1"),
            ec.jwk.clone(),
            ed.jwk.clone(),
            // Skipped: an encryption key and a symmetric key.
            {"kty": "EC", "crv": "P-256", "kid": "enc1", "use": "enc",
             "x": ec.jwk["x"], "y": ec.jwk["y"]},
            {"kty": "oct", "kid": "hmac1", "k": URL_SAFE_NO_PAD.encode(b"shared secret")},
        ]})
        .to_string();
        let validator = JwtValidator::from_jwks_json(&jwks, config).expect("validator");
        Fixture {
            ec,
            ed,
            validator,
            jwks,
        }
    }

    fn config() -> JwtConfig {
        JwtConfig::new(ISS, AUD)
    }

    fn claims() -> Value {
        json!({
            "iss": ISS,
            "aud": [AUD, "other"],
            "sub": "alice",
            "email": "alice@example.com",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "groups": ["analysts", "oncall", 7],
        })
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, key).expect("sign")
    }

    fn with(mut c: Value, key: &str, v: Value) -> Value {
        c[key] = v;
        c
    }

    #[test]
    fn good_tokens_for_each_algorithm() {
        let f = fixture(config());
        assert_eq!(f.validator.key_count(), 3);
        let tokens = [
            sign(Algorithm::RS256, Some("rsa1"), &claims(), &rsa_key()),
            sign(Algorithm::PS256, Some("rsa1"), &claims(), &rsa_key()),
            sign(Algorithm::ES256, Some("ec1"), &claims(), &f.ec.enc),
            sign(Algorithm::EdDSA, Some("ed1"), &claims(), &f.ed.enc),
        ];
        for t in &tokens {
            let v = f.validator.validate(t, now()).expect("valid");
            assert_eq!(v.user, "alice");
            assert_eq!(v.groups, vec!["analysts", "oncall"]);
            assert_eq!(v.claims["email"], vec!["alice@example.com"]);
            assert_eq!(v.claims["aud"], vec![AUD, "other"]);
            assert!(!v.claims.contains_key("exp"));
        }
        let bearer = format!("Bearer {}", tokens[0]);
        assert!(f.validator.validate(&bearer, now()).is_ok());
        let bearer = format!("bearer  {}\n", tokens[2]);
        assert!(f.validator.validate(&bearer, now()).is_ok());
    }

    #[test]
    fn kid_optional_when_one_key_fits() {
        let f = fixture(config());
        let t = sign(Algorithm::ES256, None, &claims(), &f.ec.enc);
        assert!(f.validator.validate(&t, now()).is_ok());

        // Two EC keys: without a kid the choice is ambiguous.
        let other = ec_key("ec2");
        let jwks = json!({"keys": [f.ec.jwk, other.jwk]}).to_string();
        let v = JwtValidator::from_jwks_json(&jwks, config()).expect("validator");
        assert_eq!(v.validate(&t, now()), Err(JwtError::UnknownKey));
        let t2 = sign(Algorithm::ES256, Some("ec2"), &claims(), &other.enc);
        assert!(v.validate(&t2, now()).is_ok());
    }

    #[test]
    fn expiry_and_not_before() {
        let f = fixture(config());
        let k = &f.ec.enc;
        let t = |c: Value| sign(Algorithm::ES256, Some("ec1"), &c, k);
        let check = |c: Value| f.validator.validate(&t(c), now());

        assert_eq!(
            check(with(claims(), "exp", json!(NOW - 100))),
            Err(JwtError::Expired)
        );
        // Within the 30 s leeway.
        assert!(check(with(claims(), "exp", json!(NOW - 10))).is_ok());
        assert_eq!(
            check(with(claims(), "exp", json!(NOW - 30))),
            Err(JwtError::Expired)
        );

        let mut c = claims();
        if let Some(m) = c.as_object_mut() {
            m.remove("exp");
        }
        assert_eq!(check(c), Err(JwtError::MissingClaim("exp".into())));
        assert!(matches!(
            check(with(claims(), "exp", json!("tomorrow"))),
            Err(JwtError::Malformed(_))
        ));

        assert_eq!(
            check(with(claims(), "nbf", json!(NOW + 100))),
            Err(JwtError::NotYetValid)
        );
        assert!(check(with(claims(), "nbf", json!(NOW + 10))).is_ok());
        assert!(check(with(claims(), "nbf", json!(NOW - 10))).is_ok());
    }

    #[test]
    fn audience_and_issuer() {
        let f = fixture(config());
        let k = &f.ec.enc;
        let check = |c: Value| {
            f.validator
                .validate(&sign(Algorithm::ES256, Some("ec1"), &c, k), now())
        };
        assert!(check(with(claims(), "aud", json!(AUD))).is_ok());
        assert_eq!(
            check(with(claims(), "aud", json!("someone-else"))),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(with(claims(), "aud", json!(["a", "b"]))),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(with(claims(), "iss", json!("https://evil.example.com/"))),
            Err(JwtError::WrongIssuer)
        );
        // Exact match: no trailing-slash or case games.
        assert_eq!(
            check(with(claims(), "iss", json!("https://idp.example.com"))),
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            check(with(claims(), "iss", json!([ISS]))),
            Err(JwtError::WrongIssuer)
        );
        let mut c = claims();
        if let Some(m) = c.as_object_mut() {
            m.remove("aud");
        }
        assert_eq!(check(c), Err(JwtError::MissingClaim("aud".into())));
    }

    #[test]
    fn bad_signatures() {
        let f = fixture(config());
        // Signed by another key that claims the same kid.
        let impostor = ec_key("ec1");
        let t = sign(Algorithm::ES256, Some("ec1"), &claims(), &impostor.enc);
        assert_eq!(f.validator.validate(&t, now()), Err(JwtError::BadSignature));

        // Payload swapped after signing.
        let good = sign(Algorithm::RS256, Some("rsa1"), &claims(), &rsa_key());
        let evil_payload =
            URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("postgres")).to_string());
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = &evil_payload;
        assert_eq!(
            f.validator.validate(&parts.join("."), now()),
            Err(JwtError::BadSignature)
        );
        // Empty and garbage signatures.
        let stripped = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(
            f.validator.validate(&stripped, now()),
            Err(JwtError::BadSignature)
        );
        let garbage = format!("{}.{}.!!!", parts[0], parts[1]);
        assert_eq!(
            f.validator.validate(&garbage, now()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn unknown_kid_and_key_confusion() {
        let f = fixture(config());
        let t = sign(Algorithm::ES256, Some("nope"), &claims(), &f.ec.enc);
        assert_eq!(f.validator.validate(&t, now()), Err(JwtError::UnknownKey));
        // ES256 naming the RSA key: the key cannot verify that algorithm.
        let t = sign(Algorithm::ES256, Some("rsa1"), &claims(), &f.ec.enc);
        assert_eq!(f.validator.validate(&t, now()), Err(JwtError::UnknownKey));
        // The encryption key was skipped.
        let t = sign(Algorithm::ES256, Some("enc1"), &claims(), &f.ec.enc);
        assert_eq!(f.validator.validate(&t, now()), Err(JwtError::UnknownKey));
    }

    #[test]
    fn alg_none_and_hmac_refused() {
        let f = fixture(config());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        for t in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.c2ln"),
        ] {
            assert_eq!(
                f.validator.validate(&t, now()),
                Err(JwtError::AlgorithmNotAllowed)
            );
        }
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"None"}"#);
        assert_eq!(
            f.validator.validate(&format!("{header}.{payload}."), now()),
            Err(JwtError::AlgorithmNotAllowed)
        );

        // HS256 with the key set's own symmetric key, and with the RSA
        // public key as the HMAC secret (the classic confusion attack).
        let hs = sign(
            Algorithm::HS256,
            Some("hmac1"),
            &claims(),
            &EncodingKey::from_secret(b"shared secret"),
        );
        assert_eq!(
            f.validator.validate(&hs, now()),
            Err(JwtError::AlgorithmNotAllowed)
        );
        let hs = sign(
            Algorithm::HS256,
            Some("rsa1"),
            &claims(),
            &EncodingKey::from_secret(f.jwks.as_bytes()),
        );
        assert_eq!(
            f.validator.validate(&hs, now()),
            Err(JwtError::AlgorithmNotAllowed)
        );

        // A real algorithm the configuration does not allow.
        let t = sign(Algorithm::RS512, Some("rsa1"), &claims(), &rsa_key());
        assert_eq!(
            f.validator.validate(&t, now()),
            Err(JwtError::AlgorithmNotAllowed)
        );
        let mut cfg = config();
        cfg.algorithms.push(JwtAlgorithm::RS512);
        let g = fixture(cfg);
        assert!(g.validator.validate(&t, now()).is_ok());
    }

    #[test]
    fn user_and_groups_claims() {
        let f = fixture(config());
        let k = &f.ec.enc;
        let check = |v: &JwtValidator, c: Value| {
            v.validate(&sign(Algorithm::ES256, Some("ec1"), &c, k), now())
        };
        let mut c = claims();
        if let Some(m) = c.as_object_mut() {
            m.remove("sub");
        }
        assert_eq!(
            check(&f.validator, c),
            Err(JwtError::MissingClaim("sub".into()))
        );
        assert_eq!(
            check(&f.validator, with(claims(), "sub", json!(""))),
            Err(JwtError::MissingClaim("sub".into()))
        );
        assert_eq!(
            check(&f.validator, with(claims(), "sub", json!(42))),
            Err(JwtError::MissingClaim("sub".into()))
        );

        let v = check(&f.validator, with(claims(), "groups", json!("admins"))).expect("ok");
        assert_eq!(v.groups, vec!["admins"]);
        let mut c = claims();
        if let Some(m) = c.as_object_mut() {
            m.remove("groups");
        }
        assert!(check(&f.validator, c).expect("ok").groups.is_empty());

        let mut cfg = config();
        cfg.user_claim = "email".into();
        cfg.groups_claim = "roles".into();
        let jwks = json!({"keys": [f.ec.jwk]}).to_string();
        let v2 = JwtValidator::from_jwks_json(&jwks, cfg).expect("validator");
        let tok = check(&v2, with(claims(), "roles", json!(["dba"]))).expect("ok");
        assert_eq!(tok.user, "alice@example.com");
        assert_eq!(tok.groups, vec!["dba"]);
    }

    #[test]
    fn malformed_tokens() {
        let f = fixture(config());
        let good = sign(Algorithm::ES256, Some("ec1"), &claims(), &f.ec.enc);
        let parts: Vec<&str> = good.split('.').collect();
        let cases = [
            String::new(),
            "Bearer ".into(),
            "abc".into(),
            "a.b".into(),
            format!("{good}.extra"),
            format!("!!.{}.{}", parts[1], parts[2]),
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode("[1]"),
                parts[1],
                parts[2]
            ),
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("{}"), parts[1], parts[2]),
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":5}"#),
                parts[1],
                parts[2]
            ),
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"ec1","crit":["x"]}"#),
                parts[1],
                parts[2]
            ),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ];
        for c in &cases {
            assert!(
                matches!(f.validator.validate(c, now()), Err(JwtError::Malformed(_))),
                "{c:.60}"
            );
        }
        // A signed payload that is not an object.
        let t = {
            let header = parts[0];
            let payload = URL_SAFE_NO_PAD.encode("\"just a string\"");
            let msg = format!("{header}.{payload}");
            let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &f.ec.enc, Algorithm::ES256)
                .expect("sign");
            format!("{msg}.{sig}")
        };
        assert!(matches!(
            f.validator.validate(&t, now()),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn jwks_loading() {
        let cfg = config();
        assert!(matches!(
            JwtValidator::from_jwks_json("nope", cfg.clone()),
            Err(JwtError::Jwks(_))
        ));
        assert!(matches!(
            JwtValidator::from_jwks_json("{}", cfg.clone()),
            Err(JwtError::Jwks(_))
        ));
        assert!(matches!(
            JwtValidator::from_jwks_json(r#"{"keys":[]}"#, cfg.clone()),
            Err(JwtError::Jwks(_))
        ));
        let only_secret = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string();
        assert!(matches!(
            JwtValidator::from_jwks_json(&only_secret, cfg.clone()),
            Err(JwtError::Jwks(_))
        ));
        // A 1024-bit RSA key is refused.
        let small = json!({"keys": [{"kty": "RSA", "kid": "s",
            "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"}]})
        .to_string();
        assert!(matches!(
            JwtValidator::from_jwks_json(&small, cfg.clone()),
            Err(JwtError::Jwks(_))
        ));
        // A JWK that declares HS256 for an RSA key is skipped.
        let mut rsa = rsa_jwk("r");
        rsa["alg"] = json!("HS256");
        let bad = json!({"keys": [rsa]}).to_string();
        assert!(JwtValidator::from_jwks_json(&bad, cfg.clone()).is_err());
        // Unknown junk entries are skipped when a good key remains.
        let mixed = json!({"keys": [{"kty": "weird"}, 5, rsa_jwk("r")]}).to_string();
        let v = JwtValidator::from_jwks_json(&mixed, cfg.clone()).expect("validator");
        assert_eq!(v.key_count(), 1);
        // Configuration checks.
        let mut empty_aud = cfg.clone();
        empty_aud.audience.clear();
        assert!(matches!(
            JwtValidator::from_jwks_json(&mixed, empty_aud),
            Err(JwtError::Config(_))
        ));
        let mut no_algs = cfg.clone();
        no_algs.algorithms.clear();
        assert!(matches!(
            JwtValidator::from_jwks_json(&mixed, no_algs),
            Err(JwtError::Config(_))
        ));
        // From a file.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, &mixed).expect("write");
        assert!(JwtValidator::from_jwks_file(&path, cfg.clone()).is_ok());
        assert!(JwtValidator::from_jwks_file(&dir.path().join("missing"), cfg).is_err());
    }

    #[test]
    fn config_from_yaml_with_defaults() {
        let cfg: JwtConfig =
            serde_saphyr::from_str("issuer: https://i/\naudience: db\n").expect("yaml");
        assert_eq!(cfg, JwtConfig::new("https://i/", "db"));
        let cfg: JwtConfig = serde_saphyr::from_str(
            "issuer: i\naudience: a\nuser_claim: email\nalgorithms: [ES384, EdDSA]\nleeway_secs: 5\n",
        )
        .expect("yaml");
        assert_eq!(
            cfg.algorithms,
            vec![JwtAlgorithm::ES384, JwtAlgorithm::EdDSA]
        );
        assert!(serde_saphyr::from_str::<JwtConfig>(
            "issuer: i\naudience: a\nalgorithms: [HS256]\n"
        )
        .is_err());
        assert!(serde_saphyr::from_str::<JwtConfig>(
            "issuer: i\naudience: a\nalgorithms: [none]\n"
        )
        .is_err());
        assert!(
            serde_saphyr::from_str::<JwtConfig>("issuer: i\naudience: a\nsecret: x\n").is_err()
        );
    }

    #[test]
    fn validator_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<JwtValidator>();
        assert_send_sync::<crate::auth::users::UsersFile>();
        assert_send_sync::<crate::auth::scram::ScramServer>();
        assert_send_sync::<crate::auth::client_login::UpstreamLogin>();
    }

    #[test]
    fn random_tokens_never_panic() {
        let f = fixture(config());
        let good = sign(Algorithm::ES256, Some("ec1"), &claims(), &f.ec.enc);
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        let alphabet = b"abcXYZ019-_.=+/ {}\":,";
        for _ in 0..2000 {
            let mut t: Vec<u8> = good.as_bytes().to_vec();
            let edits = next() % 4 + 1;
            for _ in 0..edits {
                let pos = (next() as usize) % t.len().max(1);
                let c = alphabet[(next() as usize) % alphabet.len()];
                if let Some(b) = t.get_mut(pos) {
                    *b = c;
                }
            }
            let s = String::from_utf8_lossy(&t);
            if let Ok(v) = f.validator.validate(&s, now()) {
                assert_eq!(v.user, "alice");
            }
            let len = (next() as usize) % 200;
            let junk: String = (0..len)
                .map(|_| alphabet[(next() as usize) % alphabet.len()] as char)
                .collect();
            assert!(f.validator.validate(&junk, now()).is_err());
        }
    }
}
