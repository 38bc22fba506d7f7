//! The attribution stamp.
//!
//! Property: for any statement text the parser accepts and any user,
//! profile, branch, session, application and traceparent values (and any
//! trailing client comment in the text), the stamped text parses to the
//! same tree as the original (statement lengths aside, since the stamp
//! lengthens the last statement), and its trailing sqlcommenter comment
//! carries pgward's facts under pgward's keys exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::attribution::{client_comment, MAX_VALUE_BYTES};
use pgward::session::stamping::Attribution;
use pgward_fuzz::Src;

#[derive(Debug)]
struct Input {
    user: String,
    profile: String,
    branch: String,
    session: String,
    application: String,
    traceparent: Option<String>,
    /// Appended to the text as the client's own comment, when set.
    client_pairs: Option<Vec<(String, String)>>,
    sql: String,
}

/// Format: NUL-terminated user, profile, branch, session, application; a
/// flags byte (1: a traceparent field follows, 2: client comment pairs
/// follow, count byte then key/value fields); the SQL text.
fn input(data: &[u8]) -> Option<Input> {
    let mut s = Src::new(data);
    let (user, profile, branch, session, application) =
        (s.text(), s.text(), s.text(), s.text(), s.text());
    let flags = s.u8();
    let traceparent = (flags & 1 != 0).then(|| s.text());
    let client_pairs = (flags & 2 != 0).then(|| {
        let n = s.u8() % 6;
        (0..n).map(|_| (s.text(), s.text())).collect()
    });
    let sql = String::from_utf8(s.rest().to_vec()).ok()?;
    Some(Input {
        user,
        profile,
        branch,
        session,
        application,
        traceparent,
        client_pairs,
        sql,
    })
}

fn tree(sql: &str) -> Option<pg_query::protobuf::ParseResult> {
    let mut p = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT)
        .ok()?
        .protobuf;
    for s in &mut p.stmts {
        s.stmt_len = 0;
    }
    Some(p)
}

fn unreserved_len(s: &str) -> usize {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                1
            } else {
                3
            }
        })
        .sum()
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = input(data) else {
        return;
    };
    let mut sql = input.sql.clone();
    if let Some(pairs) = &input.client_pairs {
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
        sql.push_str(&format!(" /*{}*/", body.join(",")));
    }
    let Some(before) = tree(&sql) else {
        return;
    };
    let a = Attribution::new(
        &input.user,
        &input.profile,
        &input.branch,
        &input.session,
        &input.application,
    );
    // As the guard does: one scan serves the client's comment and the stamp.
    let Some(scanned) = pgward::attribution::scanned(&sql) else {
        return;
    };
    let Some(out) = a.apply(&scanned, input.traceparent.as_deref()) else {
        return;
    };
    let after = tree(&out).unwrap_or_else(|| panic!("stamped text does not parse: {out:?}"));
    assert_eq!(before, after, "the stamp changed the statement: {out:?}");

    // The trailing comment is pgward's, with each of its facts once.
    let c = client_comment(&out).unwrap_or_else(|| panic!("no trailing stamp in {out:?}"));
    for (key, value) in [
        ("application", &input.application),
        ("pgward_branch", &input.branch),
        ("pgward_profile", &input.profile),
        ("pgward_session", &input.session),
        ("pgward_user", &input.user),
    ] {
        let found: Vec<&(String, String)> = c.pairs.iter().filter(|(k, _)| k == key).collect();
        assert_eq!(
            found.len(),
            1,
            "{key} appears {} times in {out:?}",
            found.len()
        );
        if unreserved_len(value) <= MAX_VALUE_BYTES {
            assert_eq!(&found[0].1, value, "{key} in {out:?}");
        }
    }
    if let Some(tp) = &input.traceparent {
        let found: Vec<_> = c.pairs.iter().filter(|(k, _)| k == "traceparent").collect();
        assert_eq!(found.len(), 1, "traceparent in {out:?}");
        if unreserved_len(tp) <= MAX_VALUE_BYTES {
            assert_eq!(&found[0].1, tp);
        }
    }
});
