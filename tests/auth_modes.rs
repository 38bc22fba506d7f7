//! pgward-held authentication: SCRAM-SHA-256 against a users file, and JWT
//! bearer tokens validated against a JWKS. pgward logs in to the server with
//! its service account; the verified identity (user, groups, claims) chooses
//! the profile.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pgward::auth::scram::ScramVerifier;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const ISS: &str = "https://idp.test/";
const AUD: &str = "pgward";

const POLICY: &str = r#"
version: 1
default_profile: read_only
identities:
  - name: data-engineers
    match: { groups: [engineers] }
    profile: developer
  - name: corp-email
    match: { claims: { email: "*@corp.test" } }
    profile: developer
profiles: {}
"#;

struct Key {
    enc: EncodingKey,
    jwk: Value,
}

fn ec_key(kid: &str) -> Key {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("keygen");
    let raw = kp.public_key_raw();
    Key {
        enc: EncodingKey::from_ec_der(&kp.serialize_der()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        }),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn token(key: &Key, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, &claims, &key.enc).expect("sign")
}

fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({ "iss": ISS, "aud": AUD, "sub": sub, "exp": now() + 300, "iat": now() - 5 });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

fn start_jwt(pg: &PgCluster, key: &Key, allow_without_tls: bool) -> Pgward {
    let b = Pgward::builder().upstream_port(pg.port());
    let jwks = b.write_file("jwks.json", &json!({ "keys": [key.jwk] }).to_string());
    let pw = b.write_file("service.pw", &format!("{SUPERUSER_PASSWORD}\n"));
    let policy = b.write_file("policy.yaml", POLICY);
    let cfg = format!(
        "policy: {}\nauth:\n  mode: jwt\n  jwks_file: {}\n  jwt: {{ issuer: \"{ISS}\", audience: {AUD} }}\n  \
         allow_tokens_without_tls: {allow_without_tls}\n  upstream_user: {SUPERUSER}\n  upstream_password_file: {}\n",
        policy.display(),
        jwks.display(),
        pw.display()
    );
    b.config_yaml(&cfg).start()
}

async fn try_login(
    pgward: &Pgward,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    try_connect(pgward.port(), user, password, APP_DB).await
}

fn code_and_message(e: &tokio_postgres::Error) -> (String, String) {
    let d = e
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {e}"));
    (d.code().code().to_owned(), d.message().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_tokens_good_expired_wrong_audience_bad_signature() {
    let pg = PgCluster::start();
    pg.admin_sql(APP_DB, "create table t(id int); insert into t values (1)");
    let key = ec_key("k1");
    let pgward = start_jwt(&pg, &key, true);

    // Good: logged in; the server sees pgward's service account.
    let good = token(
        &key,
        "k1",
        claims("alice", json!({ "groups": ["analysts"] })),
    );
    let c = try_login(&pgward, "alice", &good)
        .await
        .expect("good token");
    let who: String = c
        .query_one("select current_user::text", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(who, SUPERUSER);
    // groups → no matching rule → default read_only: writes are refused.
    let err = c
        .batch_execute("delete from t")
        .await
        .expect_err("read_only");
    assert_eq!(code_and_message(&err).0, "42501");
    // A claim chooses a profile too.
    let dev = token(
        &key,
        "k1",
        claims("carol", json!({ "email": "carol@corp.test" })),
    );
    let c = try_login(&pgward, "carol", &dev)
        .await
        .expect("developer token");
    c.batch_execute("insert into t values (2)")
        .await
        .expect("developer may write");

    let cases = [
        (
            "expired",
            token(&key, "k1", claims("alice", json!({ "exp": now() - 3600 }))),
            "28P01",
            "expired",
        ),
        (
            "wrong audience",
            token(
                &key,
                "k1",
                claims("alice", json!({ "aud": "someone-else" })),
            ),
            "28P01",
            "another audience",
        ),
        (
            "bad signature",
            token(&ec_key("k1"), "k1", claims("alice", json!({}))),
            "28P01",
            "signature",
        ),
        (
            "wrong issuer",
            token(
                &key,
                "k1",
                claims("alice", json!({ "iss": "https://evil.test/" })),
            ),
            "28P01",
            "issuer",
        ),
        ("not a token", "hunter2".to_string(), "28P01", "token"),
        (
            "token for another user",
            token(&key, "k1", claims("bob", json!({}))),
            "28000",
            "not for user",
        ),
    ];
    for (what, tok, code, needle) in cases {
        let err = try_login(&pgward, "alice", &tok).await.expect_err(what);
        let (c, m) = code_and_message(&err);
        assert_eq!(c, code, "{what}: {m}");
        assert!(m.contains(needle), "{what}: {m}");
    }
    // pgward keeps serving after every refusal.
    try_login(&pgward, "alice", &good)
        .await
        .expect("still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_tokens_require_tls_unless_allowed() {
    let pg = PgCluster::start();
    let key = ec_key("k1");
    let pgward = start_jwt(&pg, &key, false);
    let good = token(&key, "k1", claims("alice", json!({})));
    let err = try_login(&pgward, "alice", &good)
        .await
        .expect_err("plain TCP refused");
    let (c, m) = code_and_message(&err);
    assert_eq!(c, "28000");
    assert!(m.contains("only over TLS"), "{m}");
}

fn start_scram(pg: &PgCluster) -> Pgward {
    let b = Pgward::builder().upstream_port(pg.port());
    let alice = ScramVerifier::generate("alice-pw", 4096).expect("verifier");
    let eve = ScramVerifier::generate("eve-pw", 4096).expect("verifier");
    let users = format!(
        "users:\n  - name: alice\n    scram: \"{alice}\"\n    groups: [engineers]\n  - name: eve\n    scram: \"{eve}\"\n"
    );
    let users = b.write_file("users.yaml", &users);
    let pw = b.write_file("service.pw", SUPERUSER_PASSWORD);
    let policy = b.write_file("policy.yaml", POLICY);
    let cfg = format!(
        "policy: {}\nauth:\n  mode: scram\n  users_file: {}\n  upstream_user: {SUPERUSER}\n  upstream_password_file: {}\n",
        policy.display(),
        users.display(),
        pw.display()
    );
    b.config_yaml(&cfg).start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_file_good_wrong_and_unknown() {
    let pg = PgCluster::start();
    pg.admin_sql(APP_DB, "create table t(id int)");
    let pgward = start_scram(&pg);
    // alice is in group engineers → developer.
    let alice = try_login(&pgward, "alice", "alice-pw")
        .await
        .expect("alice");
    alice
        .batch_execute("insert into t values (1)")
        .await
        .expect("developer writes");
    // eve has no group → read_only.
    let eve = try_login(&pgward, "eve", "eve-pw").await.expect("eve");
    let err = eve
        .batch_execute("insert into t values (2)")
        .await
        .expect_err("read_only");
    assert_eq!(code_and_message(&err).0, "42501");
    // Wrong password and unknown user read the same.
    for (user, pw) in [("alice", "nope"), ("mallory", "whatever")] {
        let err = try_login(&pgward, user, pw).await.expect_err("refused");
        let (c, m) = code_and_message(&err);
        assert_eq!(c, "28P01");
        assert_eq!(
            m,
            format!("password authentication failed for user \"{user}\"")
        );
    }
    // libpq (psql) speaks SCRAM with pgward too, and verifies pgward's signature.
    let out = psql(
        pgward.port(),
        "alice",
        "alice-pw",
        APP_DB,
        &["-Atc", "select count(*) from t"],
    );
    assert_eq!(
        common::clients::assert_success(&out, "psql via scram").trim(),
        "1"
    );
}

#[test]
fn bad_auth_configuration_stops_startup_with_a_clear_error() {
    let pg = PgCluster::start();
    let b = Pgward::builder().upstream_port(pg.port());
    let users = b.write_file(
        "users.yaml",
        "users:\n  - name: alice\n    password: plain\n",
    );
    let pw = b.write_file("service.pw", "x");
    let cfg = format!(
        "auth:\n  mode: scram\n  users_file: {}\n  upstream_user: x\n  upstream_password_file: {}\n",
        users.display(),
        pw.display()
    );
    let err = b
        .config_yaml(&cfg)
        .try_start()
        .err()
        .expect("must not start");
    assert!(err.contains("users.yaml:3:"), "{err}");
    let b = Pgward::builder().upstream_port(pg.port());
    let err = b
        .config_yaml("auth:\n  mode: jwt\n  upstream_user: x\n")
        .try_start()
        .err()
        .expect("must not start");
    assert!(err.contains("auth"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_client_certificate_subject_chooses_the_profile() {
    use common::certs::{client_config_for_ca_pem, client_config_with_cert};
    use common::clients::{tls_connstr, try_connect_tls_with};
    let pg = PgCluster::start();
    pg.admin_sql(APP_DB, "create table t(id int); grant all on t to app");
    let ca = TestCa::new("pgward test CA");
    let server = ca.issue_server(&["localhost", "127.0.0.1"]);
    let ci = ca.issue_client("ci-bot");
    let b = Pgward::builder().upstream_port(pg.port());
    let cert = b.write_file("server.pem", &server.cert_pem);
    let key = b.write_file("server.key", &server.key_pem);
    let client_ca = b.write_file("client-ca.pem", &ca.cert_pem);
    let policy = b.write_file(
        "policy.yaml",
        "version: 1\ndefault_profile: read_only\nidentities:\n  - name: ci-certificates\n    match: { tls_subject: \"CN=ci-*\" }\n    profile: developer\n",
    );
    let cfg = format!(
        "policy: {}\nupstream:\n  tls:\n    mode: disable\ntls:\n  cert_file: {}\n  key_file: {}\n  client_ca_file: {}\n",
        policy.display(),
        cert.display(),
        key.display(),
        client_ca.display()
    );
    let pgward = b.config_yaml(&cfg).start();
    let connstr = tls_connstr(pgward.port(), APP_USER, APP_PASSWORD, APP_DB);
    // With the certificate: its subject matches the rule, so developer.
    let with_cert = tokio_postgres_rustls::MakeRustlsConnect::new(client_config_with_cert(
        ca.cert_pem.as_bytes(),
        &ci,
    ));
    let (c, _h) = try_connect_tls_with(&connstr, with_cert)
        .await
        .expect("mTLS login");
    c.batch_execute("insert into t values (1)")
        .await
        .expect("developer may write");
    // Without one (allowed, as the certificate is optional): read_only.
    let without = tokio_postgres_rustls::MakeRustlsConnect::new(client_config_for_ca_pem(
        ca.cert_pem.as_bytes(),
    ));
    let (c, _h) = try_connect_tls_with(&connstr, without)
        .await
        .expect("TLS login");
    let err = c
        .batch_execute("insert into t values (2)")
        .await
        .expect_err("read_only");
    assert_eq!(code_and_message(&err).0, "42501");
    // A certificate from another CA is refused at the handshake.
    let other = TestCa::new("someone else").issue_client("ci-forged");
    let forged = tokio_postgres_rustls::MakeRustlsConnect::new(client_config_with_cert(
        ca.cert_pem.as_bytes(),
        &other,
    ));
    assert!(
        try_connect_tls_with(&connstr, forged).await.is_err(),
        "a client certificate from another CA must not be accepted"
    );
}
