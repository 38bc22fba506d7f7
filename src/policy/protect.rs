//! What keeps the identity pgward hands the server, and the row filters
//! that read it, intact. These refusals hold in every mode (a forged
//! identity cannot be taken back, so `mode: observe` does not apply), and
//! are checked beside the allow-list and deny rules:
//!
//! * **Identity settings.** A statement with the `identity_setting`
//!   effect (SET/set_config of a `pgward.*` parameter or of a name pgward
//!   cannot read, stored `pgward.*` settings) is refused unless the profile
//!   names that effect in its allow-list. `allow: all` does not include it.
//! * **Filtered profiles.** For a profile a row filter applies to, also
//!   what could change those settings where pgward cannot see it, or turn
//!   the server's row-level security off: code (DO, CALL, SECURITY DEFINER
//!   functions, anything the analysis cannot classify, text it cannot
//!   parse), function and procedure definitions, SET ROLE, the
//!   `row_security` parameter, and DDL or TRUNCATE on a filtered table
//!   (ALTER TABLE ... DISABLE / NO FORCE ROW LEVEL SECURITY, DROP/ALTER
//!   POLICY, DROP TABLE; TRUNCATE ignores row-level security).

use super::compile::{AllowSet, Profile};
use super::verdict::{DecisionContext, Denial};
use crate::sql::{Access, Effect, SettingValue, Statement};

/// Rule name of identity-setting refusals.
pub const IDENTITY_RULE: &str = "identity";
/// Rule name of the refusals that protect row filters.
pub const ROW_FILTER_RULE: &str = "row-filters";

/// True for a denial that observe mode must not turn into a warning.
pub fn never_observed(rule: &str) -> bool {
    rule == IDENTITY_RULE || rule == ROW_FILTER_RULE
}

/// Does the profile name `identity_setting` in its allow-list?
pub fn trusts_identity(profile: &Profile) -> bool {
    matches!(&profile.allow, AllowSet::Only(set) if set.contains(&Effect::IdentitySetting))
}

/// The refusal of a statement that could set an identity parameter.
pub fn identity(profile: &Profile, index: usize, st: &Statement) -> Option<Denial> {
    if !st.has(Effect::IdentitySetting) || trusts_identity(profile) {
        return None;
    }
    Some(Denial {
            profile: profile.name.clone(),
            rule: IDENTITY_RULE.into(),
            statement: index,
            command: st.command_tag.to_owned(),
            object: None,
            message: format!(
                "permission denied by pgward policy: profile \"{}\" may not change pgward's identity settings ({} could set a pgward.* parameter)",
                profile.name, st.command_tag
            ),
            hint: Some(
                "pgward.* parameters carry the identity pgward verified; only a profile whose allow-list names identity_setting may change them".into(),
            ),
        unqualified: false,
    })
}

/// The refusal of a statement that could unsettle the profile's row filters.
pub fn row_filters(
    profile: &Profile,
    index: usize,
    st: &Statement,
    ctx: DecisionContext<'_>,
) -> Option<Denial> {
    if profile.row_filters.is_empty() {
        return None;
    }
    let why: Option<(String, Option<String>, bool)> = if st.has(Effect::Code)
        || st.has(Effect::Unknown)
    {
        Some((
            format!(
                "{} runs code pgward cannot see into, which could change the identity settings the row filters read",
                st.command_tag
            ),
            None,
            false,
        ))
    } else if matches!(st.kind.as_str(), "CreateFunctionStmt" | "AlterFunctionStmt") {
        Some((
            format!(
                "{} defines code pgward cannot see into, which could change the identity settings the row filters read",
                st.command_tag
            ),
            None,
            false,
        ))
    } else if computes_a_setting_name(st) {
        Some((
            "set_config with a name pgward cannot read could change the identity settings the row filters read".to_owned(),
            None,
            false,
        ))
    } else if st.has(Effect::SetRole) {
        Some((
            format!(
                "{} could switch to a role that row-level security does not filter",
                st.command_tag
            ),
            None,
            false,
        ))
    } else if st.settings.iter().any(|s| s == "row_security") {
        Some((
            "row_security decides how the server applies the row filters".to_owned(),
            None,
            false,
        ))
    } else {
        filtered_table_change(profile, st, ctx)
    };
    let (reason, object, unqualified) = why?;
    let names: Vec<&str> = profile
        .row_filters
        .filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    Some(Denial {
        profile: profile.name.clone(),
        rule: ROW_FILTER_RULE.into(),
        statement: index,
        command: st.command_tag.to_owned(),
        object,
        message: format!(
            "permission denied by pgward policy: profile \"{}\" is filtered by row filters ({}): {reason}",
            profile.name,
            names.join(", ")
        ),
        hint: Some("row filters are enforced by the server's row-level security on pgward's identity settings; a profile no row filter applies to may run this".into()),
        unqualified,
    })
}

/// set_config whose parameter name is computed (any parameter, pgward's
/// own included).
fn computes_a_setting_name(st: &Statement) -> bool {
    st.setting_changes
        .iter()
        .any(|c| c.name == "all" && c.value == SettingValue::Unknown)
}

/// DDL on a filtered table (which can turn its row-level security off or
/// drop its policies), or TRUNCATE of one (which ignores row-level security).
fn filtered_table_change(
    profile: &Profile,
    st: &Statement,
    ctx: DecisionContext<'_>,
) -> Option<(String, Option<String>, bool)> {
    let truncate = st.kind == "TruncateStmt";
    st.objects.iter().find_map(|o| {
        if !(o.access == Access::Ddl || truncate) {
            return None;
        }
        let cands = match o.schema {
            Some(_) => None,
            None => ctx.search_path,
        };
        let f = profile
            .row_filters
            .on(o.schema.as_deref(), &o.name, cands)
            .next()?;
        let name = match &o.schema {
            Some(s) => format!("{s}.{}", o.name),
            None => o.name.clone(),
        };
        let reason = if truncate {
            format!("TRUNCATE removes rows of {name} that row filter \"{}\" hides from this profile (it ignores row-level security)", f.name)
        } else {
            format!("{} changes the definition of {name}, which row filter \"{}\" protects (its row-level security and policies)", st.command_tag, f.name)
        };
        Some((reason, Some(name), o.schema.is_none()))
    })
}

/// Text pgward cannot parse, for a filtered profile: it could do anything.
pub fn unparseable(profile: &Profile) -> Option<Denial> {
    if profile.row_filters.is_empty() {
        return None;
    }
    Some(Denial {
        profile: profile.name.clone(),
        rule: ROW_FILTER_RULE.into(),
        statement: 0,
        command: "?".into(),
        object: None,
        message: format!(
            "permission denied by pgward policy: profile \"{}\" is filtered by row filters, and pgward could not analyze this statement",
            profile.name
        ),
        hint: None,
        unqualified: false,
    })
}

#[cfg(test)]
mod tests {
    use crate::policy::{decide, Decision, DecisionContext, Policy};

    const POLICY: &str = r#"
version: 1
identity_settings:
  claims: [tenant]
profiles:
  tenant_dev:
    inherits: developer
  trusted:
    allow: [read, session, identity_setting]
  watcher:
    inherits: developer
    mode: observe
row_filters:
  - name: tenant
    tables: ["app.orders"]
    predicate: tenant_id = current_setting('pgward.claim.tenant', true)
    profiles: [tenant_dev, watcher]
"#;

    fn decision(profile: &str, sql: &str) -> Decision {
        let p = Policy::from_yaml(POLICY, "p.yaml").expect("valid");
        let profile = p.profile(profile).expect("profile");
        let path = ["pg_catalog".to_string(), "app".to_string()];
        let ctx = DecisionContext {
            search_path: Some(&path),
            create_path: Some(&path[1..]),
        };
        decide(&profile, &crate::sql::analyze(sql), ctx)
    }

    fn rule(d: &Decision) -> Option<&str> {
        match d {
            Decision::Deny(d) => Some(d.rule.as_str()),
            _ => None,
        }
    }

    #[test]
    fn identity_settings_need_the_effect_by_name() {
        for sql in [
            "SET pgward.claim.tenant = 'other'",
            "SET LOCAL pgward.profile = admin",
            "SELECT set_config('pgward.user', 'x', false)",
            "ALTER ROLE app SET pgward.claim.tenant = 'x'",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET pgward.profile = 'admin' AS 'select 1'",
        ] {
            assert_eq!(rule(&decision("admin", sql)), Some("identity"), "{sql}");
            // Observe mode does not let a forgery through.
            assert_eq!(rule(&decision("watcher", sql)), Some("identity"), "{sql}");
        }
        // What the analysis cannot see into is the trust of a profile no
        // row filter applies to (as its DO blocks are).
        for sql in [
            "RESET pgward.claim.tenant",
            "RESET ALL",
            "DISCARD ALL",
            "SELECT set_config('pg' || 'ward.user', 'x', false)",
        ] {
            assert_eq!(decision("admin", sql), Decision::Allow, "{sql}");
        }
        assert_eq!(
            decision("trusted", "SET pgward.claim.tenant = 'other'"),
            Decision::Allow
        );
    }

    #[test]
    fn filtered_profiles_cannot_unsettle_their_filters() {
        for sql in [
            "DO $$ BEGIN PERFORM 1; END $$",
            "CALL app.p()",
            "CREATE FUNCTION app.f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
            "ALTER FUNCTION app.f() STABLE",
            "ALTER TABLE app.orders DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE orders NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY pgward_filter_tenant ON app.orders",
            "ALTER POLICY pgward_filter_tenant ON app.orders USING (true)",
            "CREATE POLICY mine ON app.orders USING (true)",
            "DROP TABLE app.orders",
            "TRUNCATE app.orders",
            "SET row_security = off",
            "SET ROLE postgres",
            "SELECT set_config('pg' || 'ward.user', 'x', false)",
            "SELEC 1",
        ] {
            // (developer does not allow SET ROLE in the first place)
            let expected = if sql.starts_with("SET ROLE") || sql.contains("'pg' ||") {
                "allow"
            } else {
                "row-filters"
            };
            assert_eq!(rule(&decision("tenant_dev", sql)), Some(expected), "{sql}");
            assert_eq!(
                rule(&decision("watcher", sql)),
                Some("row-filters"),
                "{sql}"
            );
        }
        for sql in [
            "SELECT * FROM app.orders",
            "INSERT INTO app.orders VALUES (1)",
            "ALTER TABLE app.other ADD COLUMN x int",
            "TRUNCATE app.other",
        ] {
            assert_eq!(decision("tenant_dev", sql), Decision::Allow, "{sql}");
        }
        // A profile no filter applies to keeps its usual rights.
        assert_eq!(
            decision("developer", "DO $$ BEGIN PERFORM 1; END $$"),
            Decision::Allow
        );
        assert_eq!(
            decision(
                "developer",
                "ALTER TABLE app.orders DISABLE ROW LEVEL SECURITY"
            ),
            Decision::Allow
        );
    }
}
