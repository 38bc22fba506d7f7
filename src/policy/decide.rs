//! The decision for one client request (a Query string, a Parse, a
//! FunctionCall) under one profile. Pure: no I/O, so `pgward explain` and the
//! session take the same path.

use std::fmt::Write as _;

use super::compile::{AllowSet, DenyRule, Profile};
use super::model::{Mode, OnUnparseable};
use super::verdict::{Decision, DecisionContext, Denial};
use crate::sql::{Access, Analysis, Effect, ParseFailure, Statement};

fn qualified(schema: &Option<String>, name: &str) -> String {
    match schema {
        Some(s) => format!("{s}.{name}"),
        None => name.to_owned(),
    }
}

fn describe_target(st: &Statement) -> Option<String> {
    st.objects.first().map(|o| qualified(&o.schema, &o.name))
}

pub fn decide(
    profile: &Profile,
    analysis: &Result<Analysis, ParseFailure>,
    ctx: DecisionContext<'_>,
) -> Decision {
    let denial = match analysis {
        Err(failure) => {
            super::protect::unparseable(profile).or_else(|| unparseable(profile, failure))
        }
        Ok(a) => {
            let ordinary = || {
                a.statements
                    .iter()
                    .enumerate()
                    .find_map(|(i, st)| check_statement(profile, i, st, ctx))
            };
            let identity = || {
                a.statements
                    .iter()
                    .enumerate()
                    .find_map(|(i, st)| super::protect::identity(profile, i, st))
            };
            let filters = || {
                a.statements
                    .iter()
                    .enumerate()
                    .find_map(|(i, st)| super::protect::row_filters(profile, i, st, ctx))
            };
            match profile.mode {
                Mode::Enforce => identity().or_else(ordinary).or_else(filters),
                // What observe mode would let through must still not forge
                // the identity or unsettle row filters.
                Mode::Observe => identity().or_else(filters).or_else(ordinary),
            }
        }
    };
    match (denial, profile.mode) {
        (None, _) => Decision::Allow,
        (Some(d), _) if super::protect::never_observed(&d.rule) => Decision::Deny(d),
        (Some(d), Mode::Enforce) => Decision::Deny(d),
        (Some(d), Mode::Observe) => Decision::Observe(d),
    }
}

fn unparseable(profile: &Profile, failure: &ParseFailure) -> Option<Denial> {
    if profile.on_unparseable == OnUnparseable::Allow {
        return None;
    }
    Some(Denial {
        profile: profile.name.clone(),
        rule: "unparseable".into(),
        statement: 0,
        command: "?".into(),
        object: None,
        message: format!(
            "pgward could not analyze this statement ({}), and profile \"{}\" refuses statements it cannot analyze",
            failure.message, profile.name
        ),
        hint: Some("check the statement's syntax; statements PostgreSQL itself accepts are analyzed with its own grammar".into()),
        unqualified: false,
    })
}

fn check_statement(
    profile: &Profile,
    index: usize,
    st: &Statement,
    ctx: DecisionContext<'_>,
) -> Option<Denial> {
    let not_allowed: Vec<Effect> = st
        .effects
        .iter()
        .copied()
        .filter(|e| !profile_allows(profile, *e))
        .collect();
    if !not_allowed.is_empty() {
        let names: Vec<&str> = not_allowed.iter().map(|e| e.name()).collect();
        // Name the statement that does the forbidden thing: an inner one
        // (a DELETE in a WITH of a SELECT) when that is where it happens.
        let inner = not_allowed.iter().find_map(|e| st.source(*e));
        let (command, target) = match inner {
            Some(src) => (
                src.command,
                src.target
                    .as_ref()
                    .map(|o| qualified(&o.schema, &o.name))
                    .or_else(|| describe_target(st)),
            ),
            None => (st.command_tag, describe_target(st)),
        };
        let mut message = format!(
            "permission denied by pgward policy: profile \"{}\" does not allow {} statements ({command}",
            profile.name,
            names.join(", "),
        );
        if let Some(t) = &target {
            let _ = write!(message, " on {t}");
        }
        if inner.is_some() {
            let _ = write!(message, ", inside a {}", st.command_tag);
        }
        message.push(')');
        let hint = match &profile.allow {
            AllowSet::All => None,
            AllowSet::Only(set) => Some(format!(
                "profile \"{}\" allows only: {}; ask for a profile that allows {}",
                profile.name,
                set.iter().map(|e| e.name()).collect::<Vec<_>>().join(", "),
                names.join(", ")
            )),
        };
        return Some(Denial {
            profile: profile.name.clone(),
            rule: "allow".into(),
            statement: index,
            command: command.to_owned(),
            object: target,
            message,
            hint,
            unqualified: false,
        });
    }
    profile
        .deny
        .iter()
        .find_map(|rule| rule_matches(rule, st, ctx).map(|hit| (rule, hit)))
        .map(|(rule, (object, inner, unqualified))| {
            let command = inner.unwrap_or(st.command_tag);
            let mut message = format!(
                "permission denied by pgward policy: rule \"{}\" of profile \"{}\" forbids this {command}",
                rule.name, profile.name
            );
            if inner.is_some_and(|c| c != st.command_tag) {
                let _ = write!(message, " inside a {}", st.command_tag);
            }
            if let Some(o) = &object {
                let _ = write!(message, " ({o})");
            }
            if let Some(m) = &rule.message {
                let _ = write!(message, ": {m}");
            }
            Denial {
                profile: profile.name.clone(),
                rule: rule.name.clone(),
                statement: index,
                command: command.to_owned(),
                object,
                message,
                hint: None,
                unqualified,
            }
        })
}

/// An exception must certainly apply: an unqualified name is exempt only if
/// every schema it could resolve to is covered (the opposite of the deny
/// side, which matches if any could).
fn exempt(
    g: &super::glob::QualifiedGlob,
    o: &crate::sql::ObjectRef,
    ctx: DecisionContext<'_>,
) -> bool {
    match (&o.schema, ctx.candidates(o.naming)) {
        (Some(s), _) => g.is_match(Some(s), &o.name, None),
        (None, Some(cands)) => {
            let user_schemas: Vec<&String> = cands
                .iter()
                .filter(|c| c.as_str() != "pg_catalog")
                .collect();
            !user_schemas.is_empty()
                && user_schemas
                    .iter()
                    .all(|c| g.is_match(Some(c), &o.name, None))
        }
        (None, None) => g.is_match(None, &o.name, Some(&[])),
    }
}

fn profile_allows(profile: &Profile, e: Effect) -> bool {
    match &profile.allow {
        // `all` leaves pgward's identity parameters out: a profile must
        // name identity_setting to change them (see `protect`).
        AllowSet::All => e != Effect::IdentitySetting,
        AllowSet::Only(set) => {
            set.contains(&e)
                || (e == Effect::Unknown && profile.on_unparseable == OnUnparseable::Allow)
        }
    }
}

/// What matched, if every condition of the rule holds for the statement:
/// a description, and the inner statement that did it (when not the
/// statement itself), and whether it was named without a schema.
type RuleHit = (Option<String>, Option<&'static str>, bool);

fn rule_matches(rule: &DenyRule, st: &Statement, ctx: DecisionContext<'_>) -> Option<RuleHit> {
    let mut what: Option<String> = None;
    let mut inner: Option<&'static str> = None;
    let mut unqualified = false;
    if !rule.effects.is_empty() {
        let hit = rule.effects.iter().find(|e| st.effects.contains(e))?;
        what = Some(format!("{} statement", hit.name()));
        inner = st.source(*hit).map(|s| s.command);
    }
    if !rule.objects.is_empty() {
        let hit = st.objects.iter().find(|o| {
            (rule.access.is_empty() || rule.access.contains(&o.access))
                && rule
                    .objects
                    .iter()
                    .any(|g| g.is_match(o.schema.as_deref(), &o.name, ctx.candidates(o.naming)))
                && !rule.except_objects.iter().any(|g| exempt(g, o, ctx))
        })?;
        unqualified |= hit.schema.is_none();
        let access = match hit.access {
            Access::Read => "read of",
            Access::Write => "write to",
            Access::Ddl => "definition change of",
        };
        what = Some(format!("{access} {}", qualified(&hit.schema, &hit.name)));
        if hit.access == Access::Write {
            // The inner statement that writes this relation, if any.
            let written = st.sources.iter().find(|s| {
                s.target
                    .as_ref()
                    .is_some_and(|t| t.name == hit.name && t.schema == hit.schema)
            });
            inner = written.map(|s| s.command).or(inner);
        }
    }
    if !rule.functions.is_empty() {
        let hit = st.functions.iter().find(|f| {
            rule.functions.iter().any(|g| {
                // Built-in functions resolve to pg_catalog whether or not the
                // statement says so.
                let cands = ["pg_catalog".to_string()];
                g.is_match_routine(
                    f.schema.as_deref(),
                    &f.name,
                    Some(ctx.search_path.unwrap_or(&cands)),
                )
            })
        })?;
        unqualified |= hit.schema.is_none();
        what = Some(format!("call of {}()", qualified(&hit.schema, &hit.name)));
    }
    if rule.dml_without_where {
        if !st.dml_without_where {
            return None;
        }
        let command = st.dml_without_where_command.unwrap_or(st.command_tag);
        what = Some(format!("{command} without a WHERE clause"));
        if command != st.command_tag {
            inner = Some(command);
        }
    }
    Some((what, inner, unqualified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::sql::analyze;

    fn denial(profile: &str, policy: &Policy, sql: &str) -> Denial {
        let p = policy.profile(profile).expect("profile");
        let path = ["pg_catalog".to_string(), "public".to_string()];
        let ctx = DecisionContext {
            search_path: Some(&path),
            create_path: Some(&path),
        };
        match decide(&p, &analyze(sql), ctx) {
            Decision::Deny(d) => d,
            other => panic!("{sql}: expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn a_write_inside_a_select_is_reported_as_that_write() {
        let policy = Policy::allow_all();
        let d = denial(
            "read_only",
            &policy,
            "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d",
        );
        assert_eq!(d.command, "DELETE");
        assert_eq!(d.object.as_deref(), Some("t"));
        assert!(
            d.message
                .contains("does not allow write statements (DELETE on t, inside a SELECT)"),
            "{}",
            d.message
        );
        // A statement that is itself the write is named as before.
        let d = denial("read_only", &policy, "DELETE FROM s.t WHERE id = 1");
        assert_eq!(d.command, "DELETE");
        assert!(d.message.contains("(DELETE on s.t)"), "{}", d.message);
        // The inner write of an INSERT ... SELECT with a data-modifying CTE.
        let d = denial(
            "read_only",
            &policy,
            "WITH u AS (UPDATE a SET x = 1 WHERE y RETURNING x) SELECT x FROM u",
        );
        assert_eq!(d.command, "UPDATE");
        assert!(
            d.message.contains("(UPDATE on a, inside a SELECT)"),
            "{}",
            d.message
        );
    }

    #[test]
    fn deny_rules_name_the_inner_statement() {
        let policy = Policy::from_yaml(
            r#"
version: 1
default_profile: dev
profiles:
  dev:
    inherits: developer
    deny:
      - name: no-unbounded-dml
        dml_without_where: true
      - name: no-audit-writes
        objects: ["audit_log"]
        access: [write]
"#,
            "p.yaml",
        )
        .expect("policy");
        let d = denial(
            "dev",
            &policy,
            "WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone",
        );
        assert_eq!(d.rule, "no-unbounded-dml");
        assert_eq!(d.command, "DELETE");
        assert!(
            d.message
                .contains("forbids this DELETE inside a SELECT (DELETE without a WHERE clause)"),
            "{}",
            d.message
        );
        let d = denial(
            "dev",
            &policy,
            "WITH a AS (INSERT INTO x VALUES (1) RETURNING 1), \
             b AS (INSERT INTO audit_log VALUES (2) RETURNING 1) SELECT * FROM a, b",
        );
        assert_eq!(d.rule, "no-audit-writes");
        assert_eq!(d.command, "INSERT", "the second inner write, not the first");
        assert!(d.message.contains("(write to audit_log)"), "{}", d.message);
    }
}
