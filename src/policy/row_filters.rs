//! Row filters: a SQL predicate over a table's rows and pgward's identity
//! settings, per profile. pgward does not rewrite statements for them: the
//! server's own row-level security enforces them, through policies that
//! `pgward rls plan` writes and `pgward rls check` verifies. Each filter
//! becomes, on every table its globs match, a RESTRICTIVE policy
//! `pgward_filter_<name>`:
//!
//! ```sql
//! USING (current_setting('pgward.profile', true) = ANY (ARRAY['admin']::text[]) OR (
//! <predicate>
//! ))
//! ```
//!
//! with the same WITH CHECK, beside one PERMISSIVE `pgward_rows` policy
//! (`true`) so that a row every filter accepts is visible. A session whose
//! profile is not exempt sees only rows the predicate accepts; a connection
//! without pgward's settings (NULL profile) is filtered too.

use std::sync::Arc;

use serde_saphyr::Spanned;

use super::glob::QualifiedGlob;
use super::identity_settings::{self, IdentitySettings, PROFILE};
use super::masks::Issues;
use super::model::RowFilterDef;
use crate::sql::{Analysis, Effect};

/// Prefix of the policy of each filter.
pub const POLICY_PREFIX: &str = "pgward_filter_";
/// The permissive policy that lets rows through the restrictive ones.
pub const ROWS_POLICY: &str = "pgward_rows";
/// Every policy pgward owns is named with this prefix.
pub const OWNED_PREFIX: &str = "pgward_";

#[derive(Debug, PartialEq, Eq)]
pub struct RowFilter {
    pub name: String,
    pub description: Option<String>,
    pub tables: Vec<QualifiedGlob>,
    /// The predicate as written.
    pub predicate: String,
    /// Profiles that see every row, sorted.
    pub exempt: Vec<String>,
    /// Line and column of the filter in the policy file.
    pub position: (u64, u64),
}

impl RowFilter {
    pub fn applies_to(&self, profile: &str) -> bool {
        !self.exempt.iter().any(|p| p == profile)
    }

    /// Does a relation reference match one of the filter's tables? An
    /// unqualified reference matches if any schema it may mean does.
    pub fn matches(&self, schema: Option<&str>, name: &str, cands: Option<&[String]>) -> bool {
        self.tables.iter().any(|g| g.is_match(schema, name, cands))
    }

    /// The policy that carries the filter on each table.
    pub fn policy_name(&self) -> String {
        format!("{POLICY_PREFIX}{}", self.name)
    }

    /// The policy expression (USING and WITH CHECK alike).
    pub fn expression(&self) -> String {
        if self.exempt.is_empty() {
            return format!("(\n{}\n)", self.predicate);
        }
        let list: Vec<String> = self.exempt.iter().map(|p| sql_literal(p)).collect();
        format!(
            "current_setting('{PROFILE}', true) = ANY (ARRAY[{}]::text[]) OR (\n{}\n)",
            list.join(", "),
            self.predicate
        )
    }

    /// The CREATE POLICY statement for one table (`table` already quoted).
    pub fn create_policy(&self, table: &str) -> String {
        let e = self.expression();
        format!(
            "CREATE POLICY {} ON {table} AS RESTRICTIVE FOR ALL TO PUBLIC\n    USING ({e})\n    WITH CHECK ({e});",
            self.policy_name()
        )
    }
}

/// A string literal (standard conforming).
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Every row filter of a policy.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RowFilters {
    pub filters: Vec<Arc<RowFilter>>,
}

impl RowFilters {
    pub fn for_profile(&self, profile: &str) -> ProfileRowFilters {
        ProfileRowFilters {
            filters: self
                .filters
                .iter()
                .filter(|f| f.applies_to(profile))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

/// The row filters that apply to one profile.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProfileRowFilters {
    pub filters: Vec<Arc<RowFilter>>,
}

impl ProfileRowFilters {
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// The filters whose tables a relation reference may be.
    pub fn on<'a>(
        &'a self,
        schema: Option<&'a str>,
        name: &'a str,
        cands: Option<&'a [String]>,
    ) -> impl Iterator<Item = &'a Arc<RowFilter>> + 'a {
        self.filters
            .iter()
            .filter(move |f| f.matches(schema, name, cands))
    }

    /// Names of the filters that apply to the tables a request names.
    pub fn applying(&self, analysis: &Analysis, cands: Option<&[String]>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if self.is_empty() {
            return out;
        }
        for st in &analysis.statements {
            for o in &st.objects {
                for f in self.on(o.schema.as_deref(), &o.name, cands) {
                    if !out.contains(&f.name) {
                        out.push(f.name.clone());
                    }
                }
            }
        }
        out
    }
}

fn valid_filter_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Compiles `row_filters:`; problems come back as (position, message).
pub fn compile(
    defs: &[Spanned<RowFilterDef>],
    identity: &IdentitySettings,
    profiles: &[String],
) -> (RowFilters, Issues) {
    let mut issues: Issues = Vec::new();
    let mut filters: Vec<Arc<RowFilter>> = Vec::new();
    for d in defs {
        let at = (d.referenced.line(), d.referenced.column());
        let def = &d.value;
        let name = def.name.value.clone();
        let name_at = (def.name.referenced.line(), def.name.referenced.column());
        if !valid_filter_name(&name) {
            issues.push((
                name_at,
                format!(
                    "row filter name {name:?} must be 1 to 40 lower-case letters, digits or '_'"
                ),
            ));
        } else if filters.iter().any(|f| f.name == name) {
            issues.push((name_at, format!("row filter {name:?} is defined twice")));
        }
        let tables: Vec<QualifiedGlob> = def
            .tables
            .items()
            .into_iter()
            .map(QualifiedGlob::new)
            .collect();
        if tables.is_empty() {
            issues.push((at, format!("row filter {name:?} needs tables")));
        }
        for t in def.tables.items() {
            if t.is_empty() || t.split('.').count() > 2 || t.split('.').any(str::is_empty) {
                issues.push((
                    at,
                    format!(
                        "row filter {name:?}: table pattern {t:?} must be table or schema.table"
                    ),
                ));
            }
        }
        let pred_at = (
            def.predicate.referenced.line(),
            def.predicate.referenced.column(),
        );
        let predicate = def.predicate.value.trim().to_owned();
        let mut check_profiles = |list: &Option<super::model::OneOrMany>, what: &str| {
            let items: Vec<String> = list
                .as_ref()
                .map(|l| l.items().into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            for p in &items {
                if !profiles.iter().any(|x| x == p) {
                    issues.push((
                        at,
                        format!(
                            "row filter {name:?}: {what} names profile {p:?}, which is not defined"
                        ),
                    ));
                }
            }
            items
        };
        let exempt_list = check_profiles(&def.exempt, "exempt");
        let only = check_profiles(&def.profiles, "profiles");
        let mut exempt: Vec<String> = match (&def.exempt, &def.profiles) {
            (Some(_), Some(_)) => {
                issues.push((
                    at,
                    format!("row filter {name:?}: give exempt or profiles, not both"),
                ));
                exempt_list
            }
            (Some(_), None) => exempt_list,
            // Every other profile sees all rows; a session without pgward's
            // settings (no profile) stays filtered.
            (None, Some(_)) => profiles
                .iter()
                .filter(|p| !only.contains(p))
                .cloned()
                .collect(),
            (None, None) => vec!["admin".to_owned()],
        };
        exempt.sort();
        exempt.dedup();
        let filter = RowFilter {
            name,
            description: def.description.clone(),
            tables,
            predicate,
            exempt,
            position: at,
        };
        if let Err(e) = check_predicate(&filter, identity) {
            issues.push((pred_at, format!("row filter {:?}: {e}", filter.name)));
        }
        filters.push(Arc::new(filter));
    }
    (RowFilters { filters }, issues)
}

/// A predicate must be one boolean expression that only reads, and read
/// only the `pgward.*` settings pgward sets.
fn check_predicate(f: &RowFilter, identity: &IdentitySettings) -> Result<(), String> {
    if f.predicate.is_empty() {
        return Err("the predicate is empty".into());
    }
    if f.predicate.contains('\0') {
        return Err("the predicate contains a NUL byte".into());
    }
    let probe = format!("SELECT WHERE {}", f.expression());
    let parsed = std::panic::catch_unwind(|| {
        pg_query::parse(&probe, pg_query::ParserOptions::DEFAULT).map(|r| r.protobuf)
    })
    .map_err(|_| "the predicate cannot be analysed".to_owned())?
    .map_err(|e| format!("the predicate is not a valid SQL expression: {e}"))?;
    let only_where = match parsed.stmts.as_slice() {
        [one] => match one.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            Some(pg_query::NodeEnum::SelectStmt(s)) => {
                s.where_clause.is_some()
                    && s.target_list.is_empty()
                    && s.from_clause.is_empty()
                    && s.group_clause.is_empty()
                    && s.having_clause.is_none()
                    && s.window_clause.is_empty()
                    && s.sort_clause.is_empty()
                    && s.limit_count.is_none()
                    && s.limit_offset.is_none()
                    && s.locking_clause.is_empty()
                    && s.with_clause.is_none()
                    && s.into_clause.is_none()
                    && s.values_lists.is_empty()
                    && s.distinct_clause.is_empty()
                    && s.op == pg_query::protobuf::SetOperation::SetopNone as i32
            }
            _ => false,
        },
        _ => false,
    };
    if !only_where {
        return Err(
            "the predicate must be a single SQL boolean expression (it reaches outside its parentheses)"
                .into(),
        );
    }
    check_policy_statement(f)?;
    let analysis = crate::sql::analyze(&probe).map_err(|e| e.message)?;
    let effects: Vec<&str> = analysis
        .effects()
        .into_iter()
        .filter(|e| *e != Effect::Read)
        .map(Effect::name)
        .collect();
    if !effects.is_empty() {
        return Err(format!(
            "a predicate may only read; this one has: {}",
            effects.join(", ")
        ));
    }
    for name in identity_settings::mentioned(&f.predicate) {
        if !identity.sets(&name) {
            let names = identity.names().join(", ");
            return Err(format!(
                "it reads {name}, which pgward does not set (it sets: {names}; claims come from identity_settings.claims)"
            ));
        }
    }
    Ok(())
}

/// The generated CREATE POLICY must parse as exactly that statement.
fn check_policy_statement(f: &RowFilter) -> Result<(), String> {
    let text = f.create_policy("pgward_probe");
    let parsed = std::panic::catch_unwind(|| {
        pg_query::parse(&text, pg_query::ParserOptions::DEFAULT).map(|r| r.protobuf)
    })
    .map_err(|_| "the predicate cannot be analysed".to_owned())?
    .map_err(|e| format!("the predicate does not fit in a policy: {e}"))?;
    let ok = match parsed.stmts.as_slice() {
        [one] => match one.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            Some(pg_query::NodeEnum::CreatePolicyStmt(p)) => {
                p.policy_name == f.policy_name()
                    && p.cmd_name == "all"
                    && !p.permissive
                    && p.qual.is_some()
                    && p.with_check.is_some()
                    && p.roles.len() == 1
            }
            _ => false,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("the predicate does not fit in a policy as one expression".into())
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;

    fn policy(filters: &str) -> Result<Policy, String> {
        let text = format!(
            "version: 1\nidentity_settings:\n  claims: [tenant]\nprofiles:\n  support: {{ inherits: read_only }}\nrow_filters:\n{filters}"
        );
        Policy::from_yaml(&text, "p.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn filters_compile_with_exemptions() {
        let p = policy(
            "  - name: tenant\n    tables: [\"app.*\", invoices]\n    predicate: tenant_id = current_setting('pgward.claim.tenant', true)\n  - name: eu_only\n    tables: app.customers\n    predicate: region = 'eu'\n    profiles: [support]\n",
        )
        .expect("valid");
        let f = &p.row_filters.filters;
        assert_eq!(f[0].exempt, vec!["admin"]);
        assert!(f[1].exempt.contains(&"admin".to_string()));
        assert!(!f[1].exempt.contains(&"support".to_string()));
        assert!(f[1].exempt.contains(&"analyst".to_string()));
        assert!(f[0].matches(Some("app"), "orders", None));
        assert!(f[0].matches(Some("billing"), "invoices", None));
        assert!(!f[0].matches(Some("public"), "orders", None));
        let analyst = p.profile("analyst").expect("analyst");
        assert_eq!(analyst.row_filters.filters.len(), 1);
        let support = p.profile("support").expect("support");
        assert_eq!(support.row_filters.filters.len(), 2);
        assert!(p.profile("admin").expect("admin").row_filters.is_empty());
        let e = f[0].expression();
        assert!(
            e.starts_with(
                "current_setting('pgward.profile', true) = ANY (ARRAY['admin']::text[]) OR (\n"
            ),
            "{e}"
        );
        let a = crate::sql::analyze("select * from app.orders o join invoices i using (id)")
            .expect("parses");
        assert_eq!(analyst.row_filters.applying(&a, None), vec!["tenant"]);
    }

    #[test]
    fn bad_filters_are_reported_at_their_line() {
        let cases = [
            (
                "predicate: \"true)) WITH CHECK ((true\"",
                "not a valid SQL expression",
            ),
            (
                "predicate: \"true); DROP TABLE t; SELECT (1\"",
                "single SQL boolean expression",
            ),
            ("predicate: \"x = 1 UNION SELECT 1\"", ""),
            (
                "predicate: \"id in (select id from t for update)\"",
                "may only read",
            ),
            (
                "predicate: \"set_config('pgward.profile','admin',false) is not null\"",
                "may only read",
            ),
            (
                "predicate: \"tenant = current_setting('pgward.claim.region', true)\"",
                "pgward.claim.region",
            ),
            ("predicate: \"a = \"", "not a valid SQL expression"),
        ];
        for (line, needle) in cases {
            let err = policy(&format!("  - name: f\n    tables: t\n    {line}\n")).expect_err(line);
            assert!(err.contains("p.yaml:9:"), "{line}: {err}");
            assert!(err.contains(needle), "{line}: {err}");
        }
        let err = policy(
            "  - name: Bad-Name\n    tables: t\n    predicate: \"true\"\n    exempt: [nobody]\n",
        )
        .expect_err("invalid");
        assert!(err.contains("lower-case"), "{err}");
        assert!(err.contains("\"nobody\""), "{err}");
        let err = policy("  - name: f\n    tables: a.b.c\n    predicate: \"true\"\n")
            .expect_err("invalid");
        assert!(err.contains("schema.table"), "{err}");
    }
}
