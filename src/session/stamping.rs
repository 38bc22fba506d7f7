//! The session's attribution stamp: which facts go into the sqlcommenter
//! comment, when it is rebuilt, and the re-framing of a Query or Parse that
//! carries it. The comment's syntax and its safety live in
//! [`crate::attribution`]; this module only decides what to say.
//!
//! The comment is rendered once per change of a fact (profile after a
//! policy reload, application_name reported by the server), never per
//! statement, so applying it is one append to the statement text.

use bytes::{BufMut, Bytes, BytesMut};

use crate::attribution::{self, Stamp};

/// The name of the branch a session is on when it chooses none and the
/// configuration names no other default.
pub const DEFAULT_BRANCH: &str = "default";

/// The facts pgward vouches for, plus the application the client claims.
pub struct Attribution {
    user: String,
    profile: String,
    branch: String,
    session: String,
    application: String,
    stamp: Stamp,
}

impl Attribution {
    pub fn new(user: &str, profile: &str, branch: &str, session: &str, application: &str) -> Self {
        let mut a = Attribution {
            user: user.to_owned(),
            profile: profile.to_owned(),
            branch: branch.to_owned(),
            session: session.to_owned(),
            application: application.to_owned(),
            stamp: Stamp::new(&[]),
        };
        a.render();
        a
    }

    fn render(&mut self) {
        self.stamp = Stamp::new(&[
            ("application", &self.application),
            ("pgward_branch", &self.branch),
            ("pgward_profile", &self.profile),
            ("pgward_session", &self.session),
            ("pgward_user", &self.user),
        ]);
    }

    /// The server reported a new application_name (the client set it).
    pub fn set_application(&mut self, application: &str) {
        if self.application != application {
            self.application = application.to_owned();
            self.render();
        }
    }

    /// A policy reload moved the session to another profile.
    pub fn set_profile(&mut self, profile: &str) {
        if self.profile != profile {
            self.profile = profile.to_owned();
            self.render();
        }
    }

    pub fn application(&self) -> &str {
        &self.application
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The stamped text, or `None` when the statement goes unchanged.
    pub fn apply(
        &self,
        sql: &attribution::Scanned<'_>,
        traceparent: Option<&str>,
    ) -> Option<String> {
        sql.apply(&self.stamp, traceparent)
    }
}

/// A traceparent for one statement: the client's trace continues when it
/// sent a valid one (its span becomes the parent), otherwise a new trace.
pub fn child_traceparent(client: Option<&str>) -> Option<String> {
    let mut rnd = [0u8; 24];
    getrandom::fill(&mut rnd).ok()?;
    let hex = |b: &[u8]| {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(b.len() * 2);
        for x in b {
            out.push(char::from(DIGITS[usize::from(x >> 4)]));
            out.push(char::from(DIGITS[usize::from(x & 0xf)]));
        }
        out
    };
    let (trace, flags) = match client.and_then(|c| {
        let mut parts = c.split('-');
        let _version = parts.next()?;
        let trace = parts.next()?;
        let _parent = parts.next()?;
        Some((trace.to_owned(), parts.next()?.to_owned()))
    }) {
        Some(t) => t,
        None => (hex(&rnd[..16]), "01".to_owned()),
    };
    // An all-zero span id is invalid in W3C trace context.
    if rnd[16..].iter().all(|&b| b == 0) {
        rnd[23] = 1;
    }
    Some(format!("00-{trace}-{}-{flags}", hex(&rnd[16..])))
}

/// A Query message carrying `sql`.
pub fn query_frame(sql: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(sql.len() + 6);
    out.put_u8(b'Q');
    out.put_i32(frame_len(sql.len() + 1));
    out.extend_from_slice(sql.as_bytes());
    out.put_u8(0);
    out.freeze()
}

/// A Parse message with the client's statement name and parameter types
/// (`params`: the count and OIDs exactly as the client sent them) around `sql`.
pub fn parse_frame(name: &[u8], sql: &str, params: &[u8]) -> Bytes {
    let body = name.len() + sql.len() + params.len() + 2;
    let mut out = BytesMut::with_capacity(body + 5);
    out.put_u8(b'P');
    out.put_i32(frame_len(body));
    out.extend_from_slice(name);
    out.put_u8(0);
    out.extend_from_slice(sql.as_bytes());
    out.put_u8(0);
    out.extend_from_slice(params);
    out.freeze()
}

/// The length field of a message with a body of `body` bytes. The texts
/// built here are a client's frame plus a stamp of a few hundred bytes; one
/// beyond the field's range saturates, and the server refuses it as too long.
fn frame_len(body: usize) -> i32 {
    i32::try_from(body + 4).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_only_on_change() {
        let mut a = Attribution::new("alice", "analyst", DEFAULT_BRANCH, "abc", "psql");
        let sql = attribution::scanned("SELECT 1").expect("terminated");
        let sql = &sql;
        let before = a.apply(sql, None);
        a.set_application("psql");
        assert_eq!(a.apply(sql, None), before);
        a.set_application("my tool */");
        let after = a.apply(sql, None).unwrap_or_default();
        assert!(
            after.contains("application='my%20tool%20%2A%2F'"),
            "{after}"
        );
        a.set_profile("admin");
        assert!(a
            .apply(sql, None)
            .is_some_and(|s| s.contains("pgward_profile='admin'")));
    }

    #[test]
    fn traceparent_continues_the_clients_trace() {
        let client = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let tp = child_traceparent(Some(client)).unwrap_or_default();
        assert!(
            tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{tp}"
        );
        assert!(!tp.contains("b7ad6b7169203331"));
        let fresh = child_traceparent(None).unwrap_or_default();
        assert_eq!(fresh.len(), 55);
    }

    #[test]
    fn frames_are_well_formed() {
        let q = query_frame("SELECT 1");
        assert_eq!(&q[..], b"Q\0\0\0\x0dSELECT 1\0");
        let p = parse_frame(b"s1", "SELECT $1", &[0, 1, 0, 0, 0, 23]);
        assert_eq!(&p[..], b"P\0\0\0\x17s1\0SELECT $1\0\0\x01\0\0\0\x17");
    }
}
