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
use crate::wire::frame::put_frame;

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
    pub fn apply(&self, sql: &str, traceparent: Option<&str>) -> Option<String> {
        attribution::apply(sql, &self.stamp, traceparent)
    }
}

/// A traceparent for one statement: the client's trace continues when it
/// sent a valid one (its span becomes the parent), otherwise a new trace.
pub fn child_traceparent(client: Option<&str>) -> Option<String> {
    let mut rnd = [0u8; 24];
    getrandom::fill(&mut rnd).ok()?;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
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
    let mut body = BytesMut::with_capacity(sql.len() + 1);
    body.extend_from_slice(sql.as_bytes());
    body.put_u8(0);
    let mut out = BytesMut::with_capacity(body.len() + 5);
    put_frame(&mut out, b'Q', &body);
    out.freeze()
}

/// A Parse message with the client's statement name and parameter types
/// (`params`: the count and OIDs exactly as the client sent them) around `sql`.
pub fn parse_frame(name: &[u8], sql: &str, params: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(name.len() + sql.len() + params.len() + 2);
    body.extend_from_slice(name);
    body.put_u8(0);
    body.extend_from_slice(sql.as_bytes());
    body.put_u8(0);
    body.extend_from_slice(params);
    let mut out = BytesMut::with_capacity(body.len() + 5);
    put_frame(&mut out, b'P', &body);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_only_on_change() {
        let mut a = Attribution::new("alice", "analyst", DEFAULT_BRANCH, "abc", "psql");
        let before = a.apply("SELECT 1", None);
        a.set_application("psql");
        assert_eq!(a.apply("SELECT 1", None), before);
        a.set_application("my tool */");
        let after = a.apply("SELECT 1", None).unwrap_or_default();
        assert!(
            after.contains("application='my%20tool%20%2A%2F'"),
            "{after}"
        );
        a.set_profile("admin");
        assert!(a
            .apply("SELECT 1", None)
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
