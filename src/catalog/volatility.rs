//! Which user functions are volatile, for profiles with
//! `volatile_functions: write`. The query runs on the session's own
//! connection after authentication and before the client's first message is
//! relayed, so it sees what the session's user sees.

use std::collections::HashSet;

use super::query::simple_query;
use super::CatalogError;
use crate::session::peer::Peer;

/// Volatile functions outside pg_catalog and information_schema, by schema and name.
const VOLATILE_FUNCTIONS_SQL: &str = "SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p \
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
     WHERE p.provolatile = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     GROUP BY 1, 2";

/// What the session knows about user functions' volatility.
#[derive(Clone, Debug)]
pub enum Volatility {
    /// The profile does not ask.
    NotNeeded,
    /// (schema, name) of every volatile user function.
    Known(HashSet<(String, String)>),
    /// The catalog could not be read: every user function counts as volatile.
    Unknown,
}

impl Volatility {
    /// Could a call to `schema.name` (schema as written; `None` = resolved
    /// through `candidates`, or any schema when those are unknown) run a
    /// volatile user function?
    pub fn may_be_volatile(
        &self,
        schema: Option<&str>,
        name: &str,
        candidates: Option<&[String]>,
    ) -> bool {
        match self {
            Volatility::NotNeeded => false,
            Volatility::Unknown => schema != Some("pg_catalog"),
            Volatility::Known(set) => match schema {
                Some(s) => set.contains(&(s.to_owned(), name.to_owned())),
                None => match candidates {
                    Some(c) => c
                        .iter()
                        .any(|s| set.contains(&(s.clone(), name.to_owned()))),
                    None => set.iter().any(|(_, n)| n == name),
                },
            },
        }
    }
}

/// Runs the volatility query on an idle server connection and consumes the
/// whole reply, through ReadyForQuery.
pub async fn load_volatile_functions(
    server: &mut Peer,
) -> Result<HashSet<(String, String)>, CatalogError> {
    let mut results = simple_query(server, VOLATILE_FUNCTIONS_SQL).await?;
    let rows = results.pop().unwrap_or_default();
    Ok(rows
        .into_iter()
        .filter_map(|row| match <[Option<String>; 2]>::try_from(row) {
            Ok([Some(schema), Some(name)]) => Some((schema, name)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_is_conservative() {
        let set = HashSet::from([("app".to_string(), "bump".to_string())]);
        let v = Volatility::Known(set);
        assert!(v.may_be_volatile(Some("app"), "bump", None));
        assert!(!v.may_be_volatile(Some("other"), "bump", None));
        let path = vec!["pg_catalog".to_string(), "app".to_string()];
        assert!(v.may_be_volatile(None, "bump", Some(&path)));
        assert!(!v.may_be_volatile(None, "bump", Some(&["public".to_string()])));
        assert!(
            v.may_be_volatile(None, "bump", None),
            "unknown search_path: any schema"
        );
        assert!(Volatility::Unknown.may_be_volatile(None, "anything", None));
        assert!(!Volatility::Unknown.may_be_volatile(Some("pg_catalog"), "now", None));
    }
}
