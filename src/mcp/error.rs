//! What can go wrong in a tool call, and how each failure reaches the agent:
//! always as a tool error (`isError: true`) with a message it can act on,
//! never as a protocol error it would only see as "internal error".

use serde_json::{json, Value};

/// A PostgreSQL error as the session returned it: pgward's own (42501 for a
/// denial, with the rule and the profile in the message) or the server's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl SqlError {
    /// SQLSTATE pgward answers a denied statement with.
    pub const DENIED: &'static str = "42501";

    pub fn is_denial(&self) -> bool {
        self.sqlstate == Self::DENIED
    }
}

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// A statement failed or was denied.
    #[error("{}", sql_text(.0))]
    Sql(SqlError),
    /// pgward refused the login (bad password or token, unknown branch, ...).
    #[error("cannot open a session: {}", sql_text(.0))]
    Login(SqlError),
    /// The arguments do not fit the tool's schema.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// The tool is not available to this caller (e.g. `execute` for a read-only profile).
    #[error("{0}")]
    NotAvailable(String),
    #[error("no statement finished within {0:?}; it was cancelled")]
    Timeout(std::time::Duration),
    /// The caller has no identity to log in with.
    #[error("no identity: {0}")]
    NoIdentity(String),
    /// The in-process session ended without a PostgreSQL error (a bug, or pgward shutting down).
    #[error("the session ended unexpectedly: {0}")]
    Session(String),
    #[error("the server's catalog is not readable: {0}")]
    Catalog(String),
}

fn sql_text(e: &SqlError) -> String {
    let mut s = format!("{} (SQLSTATE {})", e.message, e.sqlstate);
    if let Some(d) = &e.detail {
        s.push_str("\ndetail: ");
        s.push_str(d);
    }
    if let Some(h) = &e.hint {
        s.push_str("\nhint: ");
        s.push_str(h);
    }
    s
}

impl McpError {
    /// A short word for the kind of failure, for agents that branch on it.
    pub fn kind(&self) -> &'static str {
        match self {
            McpError::Sql(e) if e.is_denial() => "denied",
            McpError::Sql(_) => "sql_error",
            McpError::Login(_) => "login_failed",
            McpError::Arguments(_) => "invalid_arguments",
            McpError::NotAvailable(_) => "not_available",
            McpError::Timeout(_) => "timeout",
            McpError::NoIdentity(_) => "no_identity",
            McpError::Session(_) => "session_error",
            McpError::Catalog(_) => "catalog_error",
        }
    }

    /// The structured form of the error.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "error": self.kind(), "message": self.to_string() });
        if let McpError::Sql(e) | McpError::Login(e) = self {
            v["sqlstate"] = json!(e.sqlstate);
            v["message"] = json!(e.message);
            if let Some(d) = &e.detail {
                v["detail"] = json!(d);
            }
            if let Some(h) = &e.hint {
                v["hint"] = json!(h);
            }
        }
        v
    }

    /// From tokio-postgres: the PostgreSQL error if there is one.
    pub fn from_pg(e: &tokio_postgres::Error) -> McpError {
        match e.as_db_error() {
            Some(db) => McpError::Sql(SqlError {
                sqlstate: db.code().code().to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
                hint: db.hint().map(str::to_owned),
            }),
            None => McpError::Session(e.to_string()),
        }
    }

    /// As [`from_pg`](Self::from_pg), for a failed login.
    pub fn login(e: &tokio_postgres::Error) -> McpError {
        match McpError::from_pg(e) {
            McpError::Sql(s) => McpError::Login(s),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denial_carries_message_and_hint() {
        let e = McpError::Sql(SqlError {
            sqlstate: "42501".into(),
            message: "pgward: DROP denied".into(),
            detail: None,
            hint: Some("ask for developer".into()),
        });
        assert_eq!(e.kind(), "denied");
        let j = e.to_json();
        assert_eq!(j["hint"], "ask for developer");
        assert!(e.to_string().contains("hint: ask for developer"));
    }
}
