//! Who is asking. An identity is built from facts pgward verified (the user
//! the server or pgward authenticated, token claims, the TLS client
//! certificate) and facts the client claims (application_name); policy rules
//! match on both, and audit records say which is which.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A database user name as authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

impl UserName {
    pub fn new(s: impl Into<String>) -> Self {
        UserName(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Identity {
    pub user: Option<UserName>,
    /// `application_name` from the startup packet: claimed, not verified.
    pub application: Option<String>,
    pub client_addr: Option<IpAddr>,
    /// Group memberships from a verified token or the users file.
    pub groups: Vec<String>,
    /// Verified token claims, each as the list of its string values.
    pub claims: BTreeMap<String, Vec<String>>,
    /// Subject of a verified TLS client certificate.
    pub tls_subject: Option<String>,
}

impl Identity {
    pub fn for_user(user: &str) -> Identity {
        Identity {
            user: Some(UserName::new(user)),
            ..Identity::default()
        }
    }

    pub fn user_str(&self) -> &str {
        self.user.as_ref().map(UserName::as_str).unwrap_or("")
    }
}
