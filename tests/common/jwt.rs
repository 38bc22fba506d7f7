//! Test tokens: an EC P-256 signing key with its JWK, and signed JWTs with
//! the issuer and audience the suites configure pgward with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ISS: &str = "https://idp.test/";
pub const AUD: &str = "pgward";
pub const KID: &str = "k1";

pub struct Key {
    enc: EncodingKey,
    pub jwk: Value,
}

impl Key {
    pub fn generate() -> Key {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("keygen");
        let raw = kp.public_key_raw();
        Key {
            enc: EncodingKey::from_ec_der(&kp.serialize_der()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": KID, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
            }),
        }
    }

    /// The JWKS document pgward reads.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }

    /// A token for `sub`, valid for five minutes, with `extra` claims.
    pub fn token(&self, sub: &str, extra: Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut c = json!({ "iss": ISS, "aud": AUD, "sub": sub, "exp": now + 300, "iat": now - 5 });
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        encode(&header, &c, &self.enc).expect("sign")
    }
}

/// The `auth:` section of a pgward config for JWT clients, logging in
/// upstream as `upstream_user` with the password in `password_file`.
pub fn auth_section(jwks_file: &str, upstream_user: &str, password_file: &str) -> String {
    format!(
        "auth:\n  mode: jwt\n  jwks_file: {jwks_file}\n  jwt: {{ issuer: \"{ISS}\", audience: {AUD} }}\n  allow_tokens_without_tls: true\n  upstream_user: {upstream_user}\n  upstream_password_file: {password_file}\n"
    )
}
