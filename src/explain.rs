//! `pgward check` and `pgward explain`: the policy engine without a server,
//! taking exactly the decision path a session takes.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::cli::{CheckArgs, ExplainArgs};
use crate::policy::{decide, Decision, DecisionContext, Denial, Identity, Policy, UserName};
use crate::sql::{self, Access};

/// Validates every file; returns the report and whether all were valid.
pub fn check(args: &CheckArgs) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let columns = match &args.database {
        None => None,
        Some(url) => match database_columns(url) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = writeln!(out, "pgward: --database: {e}");
                return (out, false);
            }
        },
    };
    for path in &args.files {
        match Policy::from_file(path) {
            Ok(p)
                if columns
                    .as_ref()
                    .is_some_and(|c| !ineffective_masks(&p, c, path, &mut out)) =>
            {
                ok = false;
            }
            Ok(p) => {
                let filters = match p.row_filters.filters.len() {
                    0 => String::new(),
                    n => format!(", {n} row filters"),
                };
                let _ = writeln!(
                    out,
                    "{}: ok ({} profiles, {} identity rules, {} masks{filters}, default profile {})",
                    path.display(),
                    p.profiles.len(),
                    p.identities.len(),
                    p.masking.rules.len(),
                    p.default_profile.name
                );
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{e}");
            }
        }
    }
    (out, ok)
}

/// A column of the database `check --database` reads.
struct DbColumn {
    schema: String,
    table: String,
    name: String,
    ty: crate::policy::mask_types::ColumnType,
}

const COLUMNS_SQL: &str = "SELECT n.nspname::text, c.relname::text, a.attname::text, \
     COALESCE(bt.typname, t.typname)::text, \
     CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, \
     pg_catalog.format_type(a.atttypid, a.atttypmod) \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped \
     AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'";

/// Every user column of the database at `url`, with its type.
fn database_columns(url: &str) -> Result<Vec<DbColumn>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let rows = client
            .query(COLUMNS_SQL, &[])
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let text = |i: usize| r.try_get::<_, String>(i).map_err(|e| e.to_string());
            out.push(DbColumn {
                schema: text(0)?,
                table: text(1)?,
                name: text(2)?,
                ty: crate::policy::mask_types::ColumnType {
                    type_name: text(3)?,
                    typmod: r.try_get::<_, i32>(4).map_err(|e| e.to_string())?,
                    display: text(5)?,
                },
            });
        }
        Ok(out)
    })
}

/// Reports the masks of `p` that cannot change a value of a column they
/// apply to, as FILE:LINE:COLUMN lines; true if there are none.
fn ineffective_masks(
    p: &Policy,
    columns: &[DbColumn],
    path: &std::path::Path,
    out: &mut String,
) -> bool {
    let mut ok = true;
    for rule in &p.masking.rules {
        let mut hits: Vec<(String, String)> = columns
            .iter()
            .filter(|c| rule.matches(&c.schema, &c.table, &c.name))
            .filter_map(|c| {
                crate::policy::mask_types::ineffective(&rule.function, &c.ty)
                    .map(|why| (format!("{}.{}.{}", c.schema, c.table, c.name), why))
            })
            .collect();
        hits.sort();
        for (column, why) in hits {
            ok = false;
            let _ = writeln!(
                out,
                "{}:{}:{}: mask {:?} on {column}: {why}",
                path.display(),
                rule.position.0,
                rule.position.1,
                rule.name
            );
        }
    }
    ok
}

/// What `explain` found, for callers that want the parts (the MCP
/// `explain_policy` tool) as well as the text.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub profile: String,
    /// Why the profile applies: an identity rule's name, `default_profile`, or `--profile`.
    pub chosen_by: String,
    /// `allow`, `deny`, ...: [`Decision::label`].
    pub decision: String,
    pub denial: Option<Denial>,
}

/// Explains a decision. Errors (bad policy, unknown profile) are returned as text.
pub fn explain(args: &ExplainArgs) -> Result<String, String> {
    let policy = Policy::from_file(&args.policy).map_err(|e| e.to_string())?;
    let mut claims: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for c in &args.claims {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| format!("--claim {c:?}: write NAME=VALUE"))?;
        claims.entry(k.to_owned()).or_default().push(v.to_owned());
    }
    let identity = Identity {
        user: Some(UserName::new(args.user.clone())),
        application: args.application.clone(),
        client_addr: args.client_address,
        groups: args.groups.clone(),
        claims,
        ..Identity::default()
    };
    let forced = match &args.profile {
        Some(name) => Some(policy.profile(name).ok_or_else(|| {
            format!(
                "profile {name:?} is not defined in {}",
                args.policy.display()
            )
        })?),
        None => None,
    };
    Ok(report(&policy, &identity, forced, &args.sql).text)
}

/// The decision for `sql` by `identity` (or by the `forced` profile), as
/// sessions would take it, without a server.
pub fn report(
    policy: &Policy,
    identity: &Identity,
    forced: Option<Arc<crate::policy::Profile>>,
    sql_text: &str,
) -> Report {
    let (profile, rule) = match forced {
        Some(p) => (p, "--profile".to_owned()),
        None => {
            let r = policy.resolve(identity);
            (Arc::clone(&r.profile), r.rule)
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "identity:  user={} application={} client_address={} groups=[{}]",
        identity.user_str(),
        identity.application.as_deref().unwrap_or("-"),
        identity
            .client_addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into()),
        identity.groups.join(",")
    );
    let _ = writeln!(out, "profile:   {} (chosen by {rule})", profile.name);
    let analysis = sql::analyze(sql_text);
    match &analysis {
        Err(f) => {
            let _ = writeln!(out, "analysis:  cannot parse: {}", f.message);
        }
        Ok(a) if a.statements.is_empty() => {
            let _ = writeln!(out, "analysis:  no statements");
        }
        Ok(a) => {
            for (i, st) in a.statements.iter().enumerate() {
                let effects: Vec<&str> = st.effects.iter().map(|e| e.name()).collect();
                let objects: Vec<String> = st
                    .objects
                    .iter()
                    .map(|o| {
                        let access = match o.access {
                            Access::Read => "read",
                            Access::Write => "write",
                            Access::Ddl => "ddl",
                        };
                        match &o.schema {
                            Some(s) => format!("{s}.{} ({access})", o.name),
                            None => format!("{} ({access})", o.name),
                        }
                    })
                    .collect();
                let functions: Vec<String> = st
                    .functions
                    .iter()
                    .map(|f| match &f.schema {
                        Some(s) => format!("{s}.{}()", f.name),
                        None => format!("{}()", f.name),
                    })
                    .collect();
                let _ = writeln!(out, "statement {}: {}", i + 1, st.command_tag);
                let _ = writeln!(out, "  effects:   {}", effects.join(", "));
                let _ = writeln!(
                    out,
                    "  objects:   {}",
                    if objects.is_empty() {
                        "-".into()
                    } else {
                        objects.join(", ")
                    }
                );
                let _ = writeln!(
                    out,
                    "  functions: {}",
                    if functions.is_empty() {
                        "-".into()
                    } else {
                        functions.join(", ")
                    }
                );
                if st.dml_without_where {
                    let _ = writeln!(out, "  note:      {} without WHERE", st.command_tag);
                }
                let filtered = profile.row_filters.applying(
                    &sql::Analysis {
                        statements: vec![st.clone()],
                    },
                    None,
                );
                if !filtered.is_empty() {
                    let _ = writeln!(
                        out,
                        "  rows:      filtered by the server (row filters {})",
                        filtered.join(", ")
                    );
                }
                if !profile.masks.is_empty() {
                    let l = &st.lineage;
                    let mut derived: Vec<&str> = l.derived.iter().map(String::as_str).collect();
                    derived.extend(l.whole_rows.iter().map(|w| w.as_str()));
                    if !derived.is_empty() || l.nested_star {
                        let _ = writeln!(
                            out,
                            "  computed:  from {}{} (masked whole if any is a masked column)",
                            derived.join(", "),
                            if l.nested_star { ", *" } else { "" }
                        );
                    }
                    if let Some(w) = &l.writes_from {
                        let names: Vec<&str> = w.names.iter().map(String::as_str).collect();
                        let _ = writeln!(
                            out,
                            "  writes:    from {}{} (refused if any is a masked column)",
                            names.join(", "),
                            if w.whole_row { ", whole rows" } else { "" }
                        );
                    }
                }
            }
        }
    }
    let decision = decide(&profile, &analysis, DecisionContext::default());
    let _ = writeln!(out, "decision:  {}", decision.label());
    if let Some(d) = decision.denial() {
        let _ = writeln!(out, "rule:      {} (statement {})", d.rule, d.statement + 1);
        let _ = writeln!(out, "message:   {}", d.message);
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "hint:      {h}");
        }
    }
    if !profile.masks.is_empty() {
        let _ = writeln!(
            out,
            "masks:     (applied to results by the server's column provenance)"
        );
        for rule in &profile.masks.rules {
            let cols: Vec<&str> = rule.columns.iter().map(|c| c.source()).collect();
            let _ = writeln!(
                out,
                "  {}: {} -> {}",
                rule.name,
                cols.join(", "),
                rule.function.describe()
            );
        }
    }
    identity_lines(policy, identity, &profile, &mut out);
    if matches!(decision, Decision::Allow) && profile.read_only {
        let _ = writeln!(
            out,
            "note:      the session also runs with default_transaction_read_only = on"
        );
    }
    Report {
        text: out,
        profile: profile.name.clone(),
        chosen_by: rule,
        decision: decision.label().to_string(),
        denial: decision.denial().cloned(),
    }
}

/// The identity settings a session would carry and the row filters of its
/// profile.
fn identity_lines(
    policy: &Policy,
    identity: &Identity,
    profile: &crate::policy::Profile,
    out: &mut String,
) {
    match policy.identity.values(identity, &profile.name, "<branch>") {
        Ok(values) => {
            let _ = writeln!(out, "settings:  (given to the server session at connect)");
            for (k, v) in values {
                let _ = writeln!(out, "  {k} = {v:?}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "settings:  the session would be refused: {e}");
        }
    }
    if !profile.row_filters.is_empty() {
        let _ = writeln!(
            out,
            "row filters: (enforced by the server's row-level security; pgward rls plan)"
        );
        for f in &profile.row_filters.filters {
            let tables: Vec<&str> = f.tables.iter().map(|t| t.source()).collect();
            let _ = writeln!(
                out,
                "  {}: {} -> {}",
                f.name,
                tables.join(", "),
                f.predicate.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }
}
