//! The policy and catalog the session-level targets run against: the
//! repository's example policy (masks on customers and orders) over a small
//! catalog with tables of every masked type and a view.

use pgward::catalog::Snapshot;
use pgward::mask::index::MaskIndex;
use pgward::policy::compile::Profile;
use pgward::policy::Policy;
use std::sync::{Arc, OnceLock};

pub const POLICY: &str = include_str!("../../policies/default.yaml");

/// A policy with deny rules of every kind, for decisions.
pub const DENY_POLICY: &str = r#"
version: 1
default_profile: guarded
profiles:
  guarded:
    inherits: developer
    deny:
      - name: no-secrets
        objects: ["secret.*", "*.salaries"]
        message: no secrets
      - name: no-unbounded-dml
        dml_without_where: true
      - name: no-dblink
        functions: ["dblink*", "pg_read_file"]
"#;

fn row(fields: &[&str]) -> Vec<Option<String>> {
    fields.iter().map(|f| Some((*f).to_owned())).collect()
}

pub struct Env {
    pub policy: Policy,
    pub analyst: Arc<Profile>,
    pub snapshot: std::sync::Arc<Snapshot>,
    pub index: std::sync::Arc<MaskIndex>,
    pub guarded: Policy,
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let policy = Policy::from_yaml(POLICY, "policies/default.yaml").expect("example policy");
        let analyst = policy.profile("analyst").expect("analyst profile");
        let mut rels = Vec::new();
        let cols: &[(&str, &str)] = &[
            ("id", "23"),
            ("full_name", "25"),
            ("email", "1043"),
            ("phone", "1042"),
            ("birth_date", "1082"),
            ("ssn", "25"),
            ("balance", "1700"),
            ("score", "701"),
            ("created", "1184"),
            ("tags", "1009"),
            ("doc", "3802"),
        ];
        for (i, (name, ty)) in cols.iter().enumerate() {
            let n = (i + 1).to_string();
            rels.push(row(&["16400", "public", "customers", "r", &n, name, ty]));
        }
        for (i, (name, ty)) in [
            ("id", "20"),
            ("customer_id", "23"),
            ("card_last4", "25"),
            ("ssn", "1007"),
        ]
        .iter()
        .enumerate()
        {
            let n = (i + 1).to_string();
            rels.push(row(&["16500", "public", "orders", "r", &n, name, ty]));
        }
        rels.push(row(&["16600", "public", "v", "v", "1", "id", "23"]));
        rels.push(row(&["16600", "public", "v", "v", "2", "s", "25"]));
        rels.push(row(&[
            "16700", "secret", "salaries", "r", "1", "amount", "1700",
        ]));
        let views = vec![row(&[
            "16600",
            " SELECT customers.id, upper(customers.ssn) AS s FROM customers;",
        ])];
        let fns = vec![row(&["public", "leak"])];
        let snapshot = Snapshot::from_rows(rels, views, fns, 1).expect("catalog rows");
        let index = MaskIndex::build(&snapshot, &analyst.masks);
        let guarded = Policy::from_yaml(DENY_POLICY, "deny").expect("deny policy");
        Env {
            policy,
            analyst,
            snapshot: std::sync::Arc::new(snapshot),
            index: std::sync::Arc::new(index),
            guarded,
        }
    })
}
