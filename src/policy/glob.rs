//! Glob patterns for names: `*` matches any run of characters, `?` one
//! character, everything else itself. Matching is case-sensitive because
//! PostgreSQL names are (unquoted identifiers arrive already folded to lower
//! case).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    pattern: Vec<char>,
    shape: Shape,
}

/// What a pattern needs from a name, found once when it is compiled: the
/// patterns policies hold are almost all `*`, a plain name, `prefix*` or
/// `*suffix`, and those need no walk of the name with backtracking (which
/// cost hundreds of instructions per name, rule and statement).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    Any,
    Exact,
    /// The text before the trailing stars.
    Prefix(String),
    /// The text after the leading star.
    Suffix(String),
    General,
}

impl Shape {
    fn of(pattern: &str) -> Shape {
        let wild = |c: char| c == '*' || c == '?';
        if pattern.chars().all(|c| c == '*') && !pattern.is_empty() {
            return Shape::Any;
        }
        if !pattern.contains(wild) {
            return Shape::Exact;
        }
        let head = pattern.trim_end_matches('*');
        if !head.contains(wild) {
            return Shape::Prefix(head.to_owned());
        }
        if let Some(tail) = pattern.strip_prefix('*') {
            if !tail.contains(wild) {
                return Shape::Suffix(tail.to_owned());
            }
        }
        Shape::General
    }
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob {
            text: pattern.to_owned(),
            pattern: pattern.chars().collect(),
            shape: Shape::of(pattern),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_match(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Any => true,
            Shape::Exact => self.text == text,
            Shape::Prefix(p) => text.starts_with(p.as_str()),
            Shape::Suffix(p) => text.ends_with(p.as_str()),
            Shape::General => self.walk(text),
        }
    }

    /// Walks the text in place (byte offsets on character boundaries): it
    /// runs for every name of every statement against every rule, and
    /// collecting the text's characters first was an allocation each time.
    fn walk(&self, text: &str) -> bool {
        let p = &self.pattern;
        // Iterative matcher with backtracking to the last star: linear in practice.
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = text[ti..].chars().next() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == c) {
                pi += 1;
                ti += c.len_utf8();
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                // The star takes one more character.
                let next = st + text[st..].chars().next().map_or(1, char::len_utf8);
                pi = sp + 1;
                ti = next;
                star = Some((sp, next));
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
            // Any schema may be meant, except that the system's own schemas
            // hold only their own names.
            (Some(s), None, None) => {
                let literal = s.as_str();
                !RESERVED_SCHEMAS.contains(&literal) || could_resolve_into(literal, name)
            }
        }
    }
}

impl QualifiedGlob {
    /// Matches a function or procedure name. Routines have no naming rule
    /// per schema (pg_catalog has `lo_import` as well as `pg_sleep`), so an
    /// unqualified name matches if any candidate schema does.
    pub fn is_match_routine(
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
            (Some(s), None, Some(cands)) => cands.iter().any(|c| s.is_match(c)),
            (Some(_), None, None) => true,
        }
    }
}

/// Schemas only the system creates relations in.
const RESERVED_SCHEMAS: [&str; 3] = ["pg_catalog", "information_schema", "pg_toast"];

/// The relations of information_schema (PostgreSQL 15).
const INFORMATION_SCHEMA: [&str; 69] = [
    "_pg_foreign_data_wrappers",
    "_pg_foreign_servers",
    "_pg_foreign_table_columns",
    "_pg_foreign_tables",
    "_pg_user_mappings",
    "administrable_role_authorizations",
    "applicable_roles",
    "attributes",
    "character_sets",
    "check_constraint_routine_usage",
    "check_constraints",
    "collation_character_set_applicability",
    "collations",
    "column_column_usage",
    "column_domain_usage",
    "column_options",
    "column_privileges",
    "column_udt_usage",
    "columns",
    "constraint_column_usage",
    "constraint_table_usage",
    "data_type_privileges",
    "domain_constraints",
    "domain_udt_usage",
    "domains",
    "element_types",
    "enabled_roles",
    "foreign_data_wrapper_options",
    "foreign_data_wrappers",
    "foreign_server_options",
    "foreign_servers",
    "foreign_table_options",
    "foreign_tables",
    "information_schema_catalog_name",
    "key_column_usage",
    "parameters",
    "referential_constraints",
    "role_column_grants",
    "role_routine_grants",
    "role_table_grants",
    "role_udt_grants",
    "role_usage_grants",
    "routine_column_usage",
    "routine_privileges",
    "routine_routine_usage",
    "routine_sequence_usage",
    "routine_table_usage",
    "routines",
    "schemata",
    "sequences",
    "sql_features",
    "sql_implementation_info",
    "sql_parts",
    "sql_sizing",
    "table_constraints",
    "table_privileges",
    "tables",
    "transforms",
    "triggered_update_columns",
    "triggers",
    "udt_privileges",
    "usage_privileges",
    "user_defined_types",
    "user_mapping_options",
    "user_mappings",
    "view_column_usage",
    "view_routine_usage",
    "view_table_usage",
    "views",
];

/// pg_catalog is searched first, but only holds system objects, all named
/// `pg_*` (other names cannot be created there without
/// allow_system_table_mods, a server setting): an unqualified `orders` can
/// never be a pg_catalog relation. Likewise information_schema holds its
/// fixed set of views and pg_toast only `pg_toast_*` tables.
fn could_resolve_into(schema: &str, name: &str) -> bool {
    match schema {
        "pg_catalog" => name.starts_with("pg_"),
        "pg_toast" => name.starts_with("pg_toast_"),
        "information_schema" => INFORMATION_SCHEMA.contains(&name),
        _ => true,
    }
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
        assert!(Glob::new("é*ü?").is_match("éaüüx"));
        assert!(Glob::new("*ß").is_match("ßßß"));
        assert!(!Glob::new("?").is_match("éé"));
        assert!(Glob::new("??").is_match("éé"));
        assert!(Glob::new("a*é*").is_match("aXéY"));
        assert!(!Glob::new("a*é").is_match("aéX"));
        assert!(Glob::new("*@corp.com").is_match("ann@corp.com"));
    }

    /// The shortcuts answer as the general walk does, for every pattern
    /// and name built from a few characters, stars and question marks.
    #[test]
    fn shapes_agree_with_the_walk() {
        let alphabet = ["", "a", "b", "é", "*", "?", "**"];
        let mut patterns = Vec::new();
        for x in alphabet {
            for y in alphabet {
                for z in alphabet {
                    patterns.push(format!("{x}{y}{z}"));
                }
            }
        }
        let names = [
            "", "a", "b", "ab", "ba", "aé", "éa", "aab", "abb", "bab", "aéb",
        ];
        let mut shortcuts = 0;
        for p in &patterns {
            let g = Glob::new(p);
            shortcuts += usize::from(g.shape != Shape::General);
            for n in names {
                assert_eq!(g.is_match(n), g.walk(n), "{p:?} against {n:?}");
            }
        }
        assert!(
            shortcuts > patterns.len() / 3,
            "{shortcuts} of {}",
            patterns.len()
        );
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
