//! `pgward rls plan` and `pgward rls check`: the server's row-level
//! security as the policy file's `row_filters:` section asks for it. pgward
//! never rewrites statements for row filters; it writes (plan) and verifies
//! (check) the server's own policies, which read the identity settings every
//! governed session carries (see `policy::identity_settings`).
//!
//! A database is named by a connection string (`--url`), or by pgward's
//! configuration (`--config` and `--database`): then pgward connects to each
//! of its branches as it does for its catalog, with TLS as configured.

pub mod check;
pub mod plan;
pub mod state;

use std::sync::Arc;

use crate::catalog::CatalogSource;
use crate::cli::RlsArgs;
use crate::config::Config;
use crate::policy::Policy;
use crate::upstream::Upstream;
use state::DbState;

/// A database to plan for or check.
enum Target {
    Url(String),
    Branch {
        name: String,
        upstream: Arc<Upstream>,
        source: Arc<CatalogSource>,
        database: String,
    },
}

impl Target {
    fn label(&self) -> String {
        match self {
            Target::Url(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(c) => format!(
                    "database {} on {}",
                    c.get_dbname().unwrap_or("?"),
                    c.get_hosts()
                        .first()
                        .map(|h| match h {
                            tokio_postgres::config::Host::Tcp(s) => s.clone(),
                            #[cfg(unix)]
                            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                        })
                        .unwrap_or_default()
                ),
                Err(_) => "the database of --url".to_owned(),
            },
            Target::Branch { name, database, .. } => {
                format!("database {database} on branch {name}")
            }
        }
    }

    async fn state(&self) -> Result<DbState, String> {
        let policies = state::policies_sql();
        match self {
            Target::Url(url) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                let rows = |msgs: Vec<tokio_postgres::SimpleQueryMessage>| {
                    msgs.into_iter()
                        .filter_map(|m| match m {
                            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                                (0..r.len())
                                    .map(|i| r.get(i).map(str::to_owned))
                                    .collect::<Vec<_>>(),
                            ),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                };
                let tables = client
                    .simple_query(state::TABLES_SQL)
                    .await
                    .map_err(|e| e.to_string())?;
                let pols = client
                    .simple_query(&policies)
                    .await
                    .map_err(|e| e.to_string())?;
                DbState::from_rows(rows(tables), rows(pols))
            }
            Target::Branch {
                upstream,
                source,
                database,
                ..
            } => {
                let mut peer = crate::catalog::registry::connect(source, upstream, database)
                    .await
                    .map_err(|e| e.to_string())?;
                let one = |r: Vec<crate::catalog::query::Rows>| r.into_iter().next();
                let tables = crate::catalog::query::simple_query(&mut peer, state::TABLES_SQL)
                    .await
                    .map_err(|e| e.to_string())?;
                let pols = crate::catalog::query::simple_query(&mut peer, &policies)
                    .await
                    .map_err(|e| e.to_string())?;
                DbState::from_rows(
                    one(tables).unwrap_or_default(),
                    one(pols).unwrap_or_default(),
                )
            }
        }
    }
}

/// The policy and the databases the arguments name; `all_branches` when no
/// branch is named (check: every fixed branch; plan: the default one).
fn resolve(args: &RlsArgs, all_branches: bool) -> Result<(Policy, Vec<Target>), String> {
    let config = match &args.config {
        None => None,
        Some(path) => {
            let serve = crate::cli::ServeArgs {
                config: Some(path.clone()),
                ..Default::default()
            };
            Some(Config::load(&serve).map_err(|e| e.to_string())?)
        }
    };
    let policy_path = args
        .policy
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.policy.clone()))
        .ok_or("give --policy (or --config with a policy)")?;
    let policy = Policy::from_file(&policy_path).map_err(|e| e.to_string())?;
    let mut targets: Vec<Target> = args.urls.iter().cloned().map(Target::Url).collect();
    if let Some(config) = &config {
        let database = args
            .database
            .clone()
            .ok_or("with --config, give --database (the database name on each branch)")?;
        let source = crate::shared::catalog_source(config)
            .map_err(|e| e.to_string())?
            .ok_or("the configuration has no catalog credential (catalog.user) or service account to connect with")?;
        let source = Arc::new(source);
        let upstream = Upstream::from_config(&config.upstream).map_err(|e| e.to_string())?;
        let branches =
            crate::branch::Branches::new(upstream, &config.branches).map_err(|e| e.to_string())?;
        let chosen: Vec<Arc<crate::branch::Branch>> = if !args.branches.is_empty() {
            args.branches
                .iter()
                .map(|b| branches.get(b).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?
        } else if all_branches {
            branches.fixed().cloned().collect()
        } else {
            vec![Arc::clone(branches.default_branch())]
        };
        for b in chosen {
            targets.push(Target::Branch {
                name: b.name.to_string(),
                upstream: Arc::clone(&b.upstream),
                source: Arc::clone(&source),
                database: database.clone(),
            });
        }
    }
    if targets.is_empty() {
        return Err("name a database: --url CONNSTR, or --config FILE --database NAME".into());
    }
    Ok((policy, targets))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// `pgward rls plan`: the SQL for one database.
pub fn plan(args: &RlsArgs) -> Result<String, String> {
    let (policy, targets) = resolve(args, false)?;
    let [target] = targets.as_slice() else {
        return Err("pgward rls plan writes SQL for one database: name exactly one".into());
    };
    let state = runtime()?.block_on(target.state())?;
    if policy.row_filters.is_empty() {
        return Err(format!("{} has no row_filters", policy.source_name));
    }
    Ok(plan::sql(
        &policy.row_filters,
        &state,
        &format!(
            "pgward rls plan: row filters of {} for {}",
            policy.source_name,
            target.label()
        ),
    ))
}

/// `pgward rls check`: the report, and whether every database matches.
pub fn check(args: &RlsArgs) -> (String, bool) {
    use std::fmt::Write as _;
    let (policy, targets) = match resolve(args, true) {
        Ok(r) => r,
        Err(e) => return (format!("pgward: {e}\n"), false),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return (format!("pgward: {e}\n"), false),
    };
    let mut out = String::new();
    let mut ok = true;
    for t in &targets {
        match rt.block_on(t.state()) {
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{}: cannot read: {e}", t.label());
            }
            Ok(state) => {
                let found = check::problems(&policy.row_filters, &state);
                let tables = plan::expected(&policy.row_filters, &state).len();
                if found.is_empty() {
                    let _ = writeln!(
                        out,
                        "{}: ok ({} row filters on {tables} tables)",
                        t.label(),
                        policy.row_filters.filters.len()
                    );
                } else {
                    ok = false;
                    let n = found.len();
                    let _ = writeln!(
                        out,
                        "{}: {n} problem{}",
                        t.label(),
                        if n == 1 { "" } else { "s" }
                    );
                    for p in found {
                        let _ = writeln!(out, "  {p}");
                    }
                    let _ = writeln!(
                        out,
                        "  (pgward rls plan prints the SQL that brings it in line)"
                    );
                }
            }
        }
    }
    (out, ok)
}
