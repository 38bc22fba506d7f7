//! JWT parsing and validation, and JWKS loading.
//!
//! Properties: arbitrary tokens and key sets never panic and never
//! validate; a token signed with the configured key validates exactly when
//! its claims satisfy the configuration (issuer, audience, expiry with
//! leeway, not-before, a non-empty user claim without NUL), and then yields
//! that user; changing any byte of a signed token makes it fail.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use pgward::auth::jwt::{JwtConfig, JwtValidator};
use pgward_fuzz::Src;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

/// A fixed Ed25519 key for this target only (PKCS#8 DER, and the raw public key).
const ED_PKCS8: &str = "302e020100300506032b657004220420a0a358dec3b38a79ff8e40debc6c9f44d2cd8d560930fef832e865cf89b6d03f";
const ED_PUBLIC: &str = "39933bb2f69381ad8135cfe764fcc875c43c5f8b09e050c6539a336a7f041d0d";
const ISS: &str = "https://issuer.example";
const AUD: &str = "pgward";
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 60;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fn jwks() -> String {
    json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "ed1", "alg": "EdDSA",
        "x": URL_SAFE_NO_PAD.encode(hex(ED_PUBLIC)),
    }]})
    .to_string()
}

fn validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        let mut c = JwtConfig::new(ISS, AUD);
        c.leeway_secs = LEEWAY;
        JwtValidator::from_jwks_json(&jwks(), c).expect("validator")
    })
}

/// Whether `claims` satisfy the configuration, and the user and groups
/// they name: the reference the validator is held to.
fn expected(claims: &serde_json::Map<String, Value>) -> Option<(String, Vec<String>)> {
    let now = NOW as f64;
    let leeway = LEEWAY as f64;
    let time = |k: &str| match claims.get(k) {
        None => Some(None),
        Some(v) => v.as_f64().filter(|f| f.is_finite()).map(Some),
    };
    let exp = time("exp")??;
    if now >= exp + leeway {
        return None;
    }
    if let Some(nbf) = time("nbf")? {
        if now + leeway < nbf {
            return None;
        }
    }
    if claims.get("iss")?.as_str()? != ISS {
        return None;
    }
    let aud_ok = match claims.get("aud")? {
        Value::String(a) => a == AUD,
        Value::Array(l) => l.iter().any(|a| a.as_str() == Some(AUD)),
        _ => false,
    };
    if !aud_ok {
        return None;
    }
    let user = claims.get("sub")?.as_str()?;
    if user.is_empty() || user.contains('\0') {
        return None;
    }
    let groups = match claims.get("groups") {
        Some(Value::String(g)) if !g.is_empty() => vec![g.clone()],
        Some(Value::Array(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some((user.to_owned(), groups))
}

// Format: a selector; a raw token or JWKS is the rest as text; a signed
// token takes flags (1: change one byte at the position and to the byte
// that follow, 2: "Bearer " prefix, 4: a kid field follows) and its
// claims as a JSON object.
fuzz_target!(|data: &[u8]| {
    let v = validator();
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let mut s = Src::new(data);
    match s.u8() % 3 {
        0 => {
            let t = String::from_utf8_lossy(s.rest());
            assert!(v.validate(&t, now).is_err(), "an unsigned token validated");
        }
        1 => {
            let j = String::from_utf8_lossy(s.rest());
            let _ = JwtValidator::from_jwks_json(&j, JwtConfig::new(ISS, AUD));
        }
        _ => {
            let flags = s.u8();
            let tamper = (flags & 1 != 0).then(|| (s.u16(), s.u8()));
            let kid = (flags & 4 != 0).then(|| s.text());
            let Ok(claims) = serde_json::from_slice::<serde_json::Map<String, Value>>(s.rest())
            else {
                return;
            };
            let kid_ok = kid.as_deref().is_none_or(|k| k == "ed1");
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = kid;
            let key = EncodingKey::from_ed_der(&hex(ED_PKCS8));
            let Ok(mut token) = encode(&header, &Value::Object(claims.clone()), &key) else {
                return;
            };
            let mut changed = false;
            if let Some((at, b)) = tamper {
                let mut bytes = token.clone().into_bytes();
                let i = usize::from(at) % bytes.len();
                changed = bytes[i] != b;
                bytes[i] = b;
                match String::from_utf8(bytes) {
                    Ok(t) => token = t,
                    Err(_) => return,
                }
            }
            if flags & 2 != 0 {
                token.insert_str(0, "Bearer ");
            }
            let want = expected(&claims).filter(|_| kid_ok && !changed);
            match (v.validate(&token, now), want) {
                (Ok(t), Some((user, groups))) => {
                    assert_eq!(t.user, user);
                    assert_eq!(t.groups, groups);
                }
                (Err(_), None) => {}
                (Ok(t), None) => panic!("accepted a token that must fail ({t:?}): {token}"),
                (Err(e), Some(_)) => panic!("refused a valid token ({e}): {token}"),
            }
        }
    }
});
