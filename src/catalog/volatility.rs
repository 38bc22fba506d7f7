//! Which user functions are volatile, for profiles with
//! `volatile_functions: write`. The query runs on the session's own
//! connection after authentication and before the client's first message is
//! relayed, so it sees what the session's user sees.

use std::collections::HashSet;
use std::sync::Arc;

use super::query::simple_query;
use super::CatalogError;
use crate::session::peer::Peer;

/// Functions outside pg_catalog and information_schema, and whether any
/// overload of each is volatile (a session's view reads it alone; the
/// catalog snapshot reads it with the relations).
pub const FUNCTIONS_SQL: &str =
    "SELECT n.nspname, p.proname, pg_catalog.bool_or(p.provolatile = 'v') \
     FROM pg_catalog.pg_proc p \
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
     GROUP BY 1, 2";

/// The user functions a session's view of the catalog holds.
#[derive(Debug, Default)]
pub struct UserFunctions {
    /// (schema, name) of every user function.
    pub all: HashSet<(String, String)>,
    /// (schema, name) of those with a volatile overload.
    pub volatile: HashSet<(String, String)>,
}

impl UserFunctions {
    fn knows(&self, schema: Option<&str>, name: &str, candidates: Option<&[String]>) -> bool {
        match (schema, candidates) {
            (Some(s), _) => self.all.contains(&(s.to_owned(), name.to_owned())),
            (None, Some(c)) => c
                .iter()
                .any(|s| self.all.contains(&(s.clone(), name.to_owned()))),
            (None, None) => self.all.iter().any(|(_, n)| n == name),
        }
    }

    fn volatile(&self, schema: Option<&str>, name: &str, candidates: Option<&[String]>) -> bool {
        match (schema, candidates) {
            (Some(s), _) => self.volatile.contains(&(s.to_owned(), name.to_owned())),
            (None, Some(c)) => c
                .iter()
                .any(|s| self.volatile.contains(&(s.clone(), name.to_owned()))),
            (None, None) => self.volatile.iter().any(|(_, n)| n == name),
        }
    }
}

/// What the session knows about user functions' volatility.
#[derive(Clone, Debug)]
pub enum Volatility {
    /// The profile does not ask.
    NotNeeded,
    /// The user functions as last read.
    Known(Arc<UserFunctions>),
    /// The catalog could not be read: every user function counts as volatile.
    Unknown,
}

/// Could `schema.name` be a user function at all (not a built-in)?
fn may_be_user_function(schema: Option<&str>, name: &str, candidates: Option<&[String]>) -> bool {
    match schema {
        Some(s) => s != "pg_catalog" && s != "information_schema",
        // An unqualified built-in name resolves to pg_catalog, which is
        // searched first unless a path names it later.
        None => {
            !crate::sql::builtins::is_builtin_function(name)
                || candidates.is_some_and(|c| {
                    c.first().is_some_and(|s| s != "pg_catalog")
                        && c.iter().any(|s| s == "pg_catalog")
                })
        }
    }
}

impl Volatility {
    /// Could a call to `schema.name` (schema as written; `None` = resolved
    /// through `candidates`, or any schema when those are unknown) run a
    /// volatile user function? A function the catalog did not hold when it
    /// was read (created since, or not there at all) counts as volatile.
    pub fn may_be_volatile(
        &self,
        schema: Option<&str>,
        name: &str,
        candidates: Option<&[String]>,
    ) -> bool {
        match self {
            Volatility::NotNeeded => false,
            Volatility::Unknown => may_be_user_function(schema, name, candidates),
            Volatility::Known(f) => {
                f.volatile(schema, name, candidates)
                    || (may_be_user_function(schema, name, candidates)
                        && !f.knows(schema, name, candidates)
                        && !(schema.is_none() && crate::sql::builtins::is_builtin_function(name)))
            }
        }
    }
}

/// Parses rows of [`FUNCTIONS_SQL`]: schema, name, any overload volatile.
pub fn user_functions(rows: &[Vec<Option<String>>]) -> Result<UserFunctions, CatalogError> {
    let mut out = UserFunctions::default();
    for row in rows {
        let (Some(Some(schema)), Some(Some(name))) = (row.first(), row.get(1)) else {
            return Err(CatalogError::Protocol(
                "function row without schema or name",
            ));
        };
        let key = (schema.clone(), name.clone());
        if row.get(2).and_then(|v| v.as_deref()) == Some("t") {
            out.volatile.insert(key.clone());
        }
        out.all.insert(key);
    }
    Ok(out)
}

/// Runs the function query on an idle server connection and consumes the
/// whole reply, through ReadyForQuery.
pub async fn load_volatile_functions(server: &mut Peer) -> Result<UserFunctions, CatalogError> {
    let mut results = simple_query(server, FUNCTIONS_SQL).await?;
    let rows = results.pop().unwrap_or_default();
    user_functions(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_conservative() {
        let row = |s: &str, n: &str, v: &str| vec![Some(s.into()), Some(n.into()), Some(v.into())];
        let f = user_functions(&[row("app", "bump", "t"), row("app", "pure", "f")]).expect("rows");
        let v = Volatility::Known(Arc::new(f));
        assert!(v.may_be_volatile(Some("app"), "bump", None));
        assert!(!v.may_be_volatile(Some("app"), "pure", None));
        assert!(
            v.may_be_volatile(Some("other"), "bump", None),
            "not in the catalog as read: created since, fail closed"
        );
        assert!(!v.may_be_volatile(Some("pg_catalog"), "now", None));
        assert!(!v.may_be_volatile(None, "now", None));
        let path = vec!["pg_catalog".to_string(), "app".to_string()];
        assert!(v.may_be_volatile(None, "bump", Some(&path)));
        assert!(!v.may_be_volatile(None, "pure", Some(&path)));
        assert!(!v.may_be_volatile(None, "now", Some(&path)));
        let shadowing = vec!["app".to_string(), "pg_catalog".to_string()];
        assert!(
            !v.may_be_volatile(None, "now", Some(&shadowing)),
            "the catalog as read has no app.now()"
        );
        assert!(
            Volatility::Unknown.may_be_volatile(None, "now", Some(&shadowing)),
            "unread catalog: app.now() could shadow"
        );
        assert!(
            v.may_be_volatile(None, "bump", None),
            "unknown search_path: any schema"
        );
        assert!(Volatility::Unknown.may_be_volatile(None, "anything", None));
        assert!(!Volatility::Unknown.may_be_volatile(None, "now", None));
        assert!(!Volatility::Unknown.may_be_volatile(Some("pg_catalog"), "now", None));
    }
}
