//! Glob patterns for names: `*` matches any run of characters, `?` one
//! character, everything else itself. Matching is case-sensitive because
//! PostgreSQL names are (unquoted identifiers arrive already folded to lower
//! case).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            pattern: pattern.chars().collect(),
        }
    }

    pub fn as_string(&self) -> String {
        self.pattern.iter().collect()
    }

    pub fn is_match(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let p = &self.pattern;
        // Iterative matcher with backtracking to the last star: linear in practice.
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == '*' {
            pi += 1;
        }
        pi == p.len()
    }
}

/// A pattern for a schema-qualified name.
#[derive(Clone, Debug)]
pub struct QualifiedGlob {
    schema: Option<Glob>,
    name: Glob,
    source: String,
}

impl QualifiedGlob {
    /// `schema.table` or `table` (any schema). Quoted names are not needed:
    /// patterns compare against the names PostgreSQL resolved.
    pub fn new(pattern: &str) -> QualifiedGlob {
        let (schema, name) = match pattern.split_once('.') {
            Some((s, n)) => (Some(Glob::new(s)), Glob::new(n)),
            None => (None, Glob::new(pattern)),
        };
        QualifiedGlob {
            schema,
            name,
            source: pattern.to_owned(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Matches an object reference. An unqualified reference may resolve to
    /// any schema the session searches, so it matches a schema pattern if any
    /// of `candidates` does (deny rules err on the side of matching); `None`
    /// candidates means the search path is not known and any schema may be meant.
    pub fn is_match(
        &self,
        schema: Option<&str>,
        name: &str,
        candidates: Option<&[String]>,
    ) -> bool {
        if !self.name.is_match(name) {
            return false;
        }
        match (&self.schema, schema, candidates) {
            (None, _, _) => true,
            (Some(s), Some(schema), _) => s.is_match(schema),
            (Some(s), None, Some(cands)) => cands
                .iter()
                .filter(|c| could_resolve_into(c, name))
                .any(|c| s.is_match(c)),
            (Some(_), None, None) => true,
        }
    }
}

/// pg_catalog is searched first, but only holds system objects, all named
/// `pg_*` (other names cannot be created there without
/// allow_system_table_mods, a server setting): an unqualified `orders` can
/// never be a pg_catalog relation.
fn could_resolve_into(schema: &str, name: &str) -> bool {
    schema != "pg_catalog" || name.starts_with("pg_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(Glob::new("*").is_match(""));
        assert!(Glob::new("pg_*").is_match("pg_sleep"));
        assert!(!Glob::new("pg_*").is_match("xpg_sleep"));
        assert!(Glob::new("a*b*c").is_match("aXXbYYc"));
        assert!(!Glob::new("a*b*c").is_match("aXXbYY"));
        assert!(Glob::new("?x").is_match("ax"));
        assert!(!Glob::new("Users").is_match("users"));
        assert!(Glob::new("*@corp.com").is_match("ann@corp.com"));
    }

    #[test]
    fn qualified() {
        let public = vec!["pg_catalog".to_string(), "public".to_string()];
        let hr = vec!["pg_catalog".to_string(), "hr".to_string()];
        let g = QualifiedGlob::new("hr.*");
        assert!(g.is_match(Some("hr"), "salaries", Some(&public)));
        assert!(!g.is_match(Some("public"), "salaries", Some(&public)));
        assert!(!g.is_match(None, "salaries", Some(&public)));
        assert!(g.is_match(None, "salaries", Some(&hr)));
        assert!(
            g.is_match(None, "salaries", None),
            "unknown search_path matches any schema"
        );
        let g = QualifiedGlob::new("salaries");
        assert!(g.is_match(Some("hr"), "salaries", Some(&public)));
        let sys = QualifiedGlob::new("pg_catalog.*");
        assert!(!sys.is_match(None, "orders", Some(&public)));
        assert!(sys.is_match(None, "pg_class", Some(&public)));
    }
}
