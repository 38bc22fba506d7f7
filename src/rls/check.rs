//! `pgward rls check`: does a database carry the row filters the policy
//! file asks for, exactly as `pgward rls plan` created them?

use super::plan::{expected, parse_comment};
use super::state::DbState;
use crate::policy::row_filters::{RowFilters, OWNED_PREFIX};

/// Every difference between the database and the policy file, one line
/// each, naming the table and the policy.
pub fn problems(filters: &RowFilters, state: &DbState) -> Vec<String> {
    let want = expected(filters, state);
    let mut out = Vec::new();
    for e in &want {
        let t = format!("{}.{}", e.table.schema, e.table.name);
        let names = e.filter_names();
        if !e.table.rls_enabled {
            out.push(format!(
                "{t}: row-level security is not enabled (row filters {names})"
            ));
        }
        if !e.table.rls_forced {
            out.push(format!(
                "{t}: row-level security is not forced, so the table's owner is not filtered (row filters {names})"
            ));
        }
        for p in &e.policies {
            let what = match &p.filter {
                Some(f) => format!("row filter {}", f.name),
                None => "the rows every row filter lets through".to_owned(),
            };
            let Some(have) = state.policies_of(e.table.oid).find(|h| h.name == p.name) else {
                out.push(format!("{t}: policy {} is missing ({what})", p.name));
                continue;
            };
            match parse_comment(&have.comment) {
                None => out.push(format!(
                    "{t}: policy {} was not created by pgward rls plan (it has no pgward comment)",
                    p.name
                )),
                Some((definition, _)) if definition != p.definition => out.push(format!(
                    "{t}: policy {} does not match {what} in the policy file (the file changed since the plan was applied)",
                    p.name
                )),
                Some((_, server)) if server != have.server_digest => out.push(format!(
                    "{t}: policy {} was altered on the server after pgward rls plan created it",
                    p.name
                )),
                Some(_) => {}
            }
        }
        for extra in state
            .policies_of(e.table.oid)
            .filter(|h| h.name.starts_with(OWNED_PREFIX))
            .filter(|h| !e.policies.iter().any(|p| p.name == h.name))
        {
            out.push(format!(
                "{t}: policy {} is pgward's, but no row filter in the policy file asks for it",
                extra.name
            ));
        }
    }
    for t in &state.tables {
        if want.iter().any(|e| e.table.oid == t.oid) {
            continue;
        }
        for extra in state
            .policies_of(t.oid)
            .filter(|h| h.name.starts_with(OWNED_PREFIX))
        {
            out.push(format!(
                "{}.{}: policy {} is pgward's, but no row filter in the policy file covers this table",
                t.schema, t.name, extra.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::rls::plan::COMMENT_TAG;
    use crate::rls::state::{Policy as DbPolicy, Table};

    #[test]
    fn each_kind_of_drift_names_its_policy() {
        let p = Policy::from_yaml(
            "version: 1\nrow_filters:\n  - name: mine\n    tables: app.t\n    predicate: owner = current_setting('pgward.user', true)\n",
            "p.yaml",
        )
        .expect("valid");
        let mut state = DbState {
            tables: vec![Table {
                oid: 1,
                schema: "app".into(),
                name: "t".into(),
                rls_enabled: true,
                rls_forced: true,
                parents: vec![],
            }],
            policies: vec![],
        };
        let want = expected(&p.row_filters, &state);
        for ep in &want[0].policies {
            state.policies.push(DbPolicy {
                table: 1,
                name: ep.name.clone(),
                comment: format!("{COMMENT_TAG} definition={} server=s1", ep.definition),
                server_digest: "s1".into(),
            });
        }
        assert!(problems(&p.row_filters, &state).is_empty());
        state.policies[0].server_digest = "s2".into();
        let found = problems(&p.row_filters, &state);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("pgward_filter_mine was altered on the server"),
            "{found:?}"
        );
        state.policies.remove(0);
        state.tables[0].rls_forced = false;
        state.policies.push(DbPolicy {
            table: 1,
            name: "pgward_filter_old".into(),
            comment: String::new(),
            server_digest: String::new(),
        });
        let found = problems(&p.row_filters, &state).join("\n");
        assert!(
            found.contains("policy pgward_filter_mine is missing"),
            "{found}"
        );
        assert!(found.contains("not forced"), "{found}");
        assert!(found.contains("pgward_filter_old is pgward's"), "{found}");
    }
}
