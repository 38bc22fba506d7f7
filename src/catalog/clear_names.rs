//! Relations created through pgward by DDL that could not bring masked data
//! (see `session::guard::ddl`), which therefore does not make the shared
//! snapshot stale. A snapshot that lacks such a relation would otherwise
//! treat it as unknown, and mask everything read from it; these names say
//! its contents are clear without reloading the catalog.
//!
//! The set only answers for relations the snapshot lacks. DDL that could
//! bring masked data and names such a relation (adding a masked column to
//! it, renaming it) takes its name out of the set and makes the snapshot
//! stale: the reload then shows the relation as it is.

use std::collections::HashSet;
use std::sync::Mutex;

/// Beyond this many names, DDL makes the snapshot stale as if it counted;
/// the reload forgets every name the catalog then holds.
const MAX_NAMES: usize = 16384;

#[derive(Debug, Default)]
pub struct ClearNames {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (schema it was created in, when known; name).
    names: HashSet<(Option<String>, String)>,
}

impl ClearNames {
    /// Records a name; false when the set is full (the caller then has
    /// the snapshot reloaded, which empties it of what the catalog holds).
    #[must_use]
    pub fn note(&self, schema: Option<&str>, name: &str) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        if inner.names.len() >= MAX_NAMES {
            return false;
        }
        inner
            .names
            .insert((schema.map(str::to_owned), name.to_owned()));
        true
    }

    /// DDL that could bring masked data names this relation: what it holds
    /// is the catalog's to say again.
    pub fn forget(&self, name: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.names.retain(|(_, n)| n != name);
        }
    }

    /// After a load: names the new snapshot holds are answered by it.
    /// Others stay (a relation created in a transaction still open when the
    /// load ran, or dropped since: a name with nothing behind it is never
    /// read).
    pub fn forget_loaded(&self, snapshot: &super::Snapshot) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.names.retain(|(schema, name)| {
                snapshot
                    .resolve(schema.as_deref().filter(|s| *s != "pg_temp"), name, None)
                    .is_empty()
            });
        }
    }

    /// Was a relation this reference may mean created by such DDL? An
    /// unqualified reference needs the recorded schema first on its search
    /// path, so a relation found earlier on the path is not taken for it; a
    /// name recorded without its schema (the creating session's path was
    /// not known) answers for a qualified reference in any schema.
    pub fn contains(&self, schema: Option<&str>, name: &str, path: Option<&[String]>) -> bool {
        let Ok(inner) = self.inner.lock() else {
            return false;
        };
        inner.names.iter().any(|(s, n)| {
            n == name
                && match (schema, s) {
                    (Some(w), Some(s)) => w == s,
                    // Created where the creating session's path put it,
                    // which pgward did not know.
                    (Some(_), None) => true,
                    (None, None) => path.is_none(),
                    // Temporary relations are found before the path.
                    (None, Some(s)) if s == "pg_temp" => true,
                    (None, Some(s)) => path.is_some_and(|p| {
                        // The first schema of the path that could hold it
                        // must be the recorded one.
                        p.iter()
                            .find(|c| c.as_str() != "pg_catalog" && !c.starts_with("pg_temp"))
                            == Some(s)
                    }),
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_answer_only_for_their_schema() {
        let c = ClearNames::default();
        assert!(c.note(Some("public"), "t"));
        let path = vec!["pg_catalog".to_string(), "public".to_string()];
        assert!(c.contains(Some("public"), "t", None));
        assert!(c.contains(None, "t", Some(&path)));
        assert!(!c.contains(Some("secret"), "t", Some(&path)));
        let other = vec!["secret".to_string(), "public".to_string()];
        assert!(
            !c.contains(None, "t", Some(&other)),
            "secret.t would be found first"
        );
        assert!(!c.contains(None, "t", None), "unknown path");
        assert!(!c.contains(Some("public"), "u", None));
    }
}
