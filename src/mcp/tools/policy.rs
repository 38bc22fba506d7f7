//! `whoami` and `explain_policy`: what the policy says about the caller, from
//! the same policy store and identity the sessions use.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::super::auth::{application_name, Caller};
use super::super::conn::{database, CallOptions, Session};
use super::super::error::McpError;
use super::catalog::BranchArgs;
use super::{allows_writes, offered, resolve, timeout, Output, ALL, WHOAMI};
use crate::policy::compile::AllowSet;
use crate::policy::Profile;
use crate::shared::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainPolicyArgs {
    pub sql: String,
}

/// What the server reports about the caller's session.
const SESSION_SQL: &str =
    "SELECT current_user::text AS server_role, current_database()::text AS database, \
     current_setting('default_transaction_read_only') AS read_only, \
     current_setting('statement_timeout') AS statement_timeout";

fn profile_json(p: &Profile) -> Value {
    let allowed: Value = match &p.allow {
        AllowSet::All => json!("all"),
        AllowSet::Only(set) => json!(set.iter().map(|e| e.name()).collect::<Vec<_>>()),
    };
    let deny: Vec<Value> = p
        .deny
        .iter()
        .map(|d| json!({ "name": d.name, "message": d.message }))
        .collect();
    let settings: serde_json::Map<String, Value> = p
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let masks: Vec<Value> = p
        .masks
        .rules
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "columns": r.columns.iter().map(|c| c.source()).collect::<Vec<_>>(),
                "mask": r.function.describe(),
            })
        })
        .collect();
    json!({
        "name": p.name,
        "description": p.description,
        "read_only": p.read_only,
        "allows_writes": allows_writes(p),
        "allowed_effects": allowed,
        "deny_rules": deny,
        "settings": settings,
        "masks": masks,
        // Rows are filtered by the server's own row-level security, which
        // reads the identity settings pgward gives the session; these are
        // the filters of the policy that apply to this profile.
        "row_filters": p.row_filters.filters.iter().map(|f| json!({
            "name": f.name,
            "description": f.description,
            "tables": f.tables.iter().map(|t| t.source()).collect::<Vec<_>>(),
            "predicate": f.predicate,
            "server_policy": f.policy_name(),
        })).collect::<Vec<_>>(),
        "stamped": p.stamp,
    })
}

pub async fn whoami(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: BranchArgs,
) -> Result<Output, McpError> {
    let own = resolve(shared, caller, WHOAMI);
    let mut tools = serde_json::Map::new();
    for t in ALL {
        let r = resolve(shared, caller, t);
        tools.insert(
            t.to_owned(),
            json!({ "profile": r.profile.name, "chosen_by": r.rule, "application_name": application_name(t) }),
        );
    }
    // Logging in proves the identity; the server says what it enforces.
    let s = Session::open(
        shared,
        caller,
        &CallOptions {
            tool: WHOAMI,
            branch: args.branch.clone(),
            timeout: timeout(shared, None),
            read_only: true,
        },
    )
    .await?;
    let row = s
        .bounded(async {
            s.client
                .query_one(SESSION_SQL, &[])
                .await
                .map_err(|e| McpError::from_pg(&e))
        })
        .await?;
    let get = |c: &str| row.try_get::<_, Option<String>>(c).ok().flatten();
    Ok(json!({
        "identity": {
            "user": caller.user,
            "groups": caller.groups,
            "claims": caller.claims,
            "client_address": caller.peer.ip().to_string(),
            "transport": caller.transport.as_str(),
            "database": database(shared, caller),
            "branch": args.branch.clone().unwrap_or_else(|| shared.branches.default_branch().name.to_string()),
        },
        "profile": profile_json(&own.profile),
        "chosen_by": own.rule,
        "tools": tools,
        "offered_tools": offered(shared, caller),
        "session": {
            "server_role": get("server_role"),
            "database": get("database"),
            "default_transaction_read_only": get("read_only"),
            "statement_timeout": get("statement_timeout"),
        },
    }))
}

pub fn explain_policy(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: ExplainPolicyArgs,
) -> Result<Output, McpError> {
    let installed = shared.policy.current();
    // The answer for the tool that would run it: query's profile.
    let identity = caller.identity(super::QUERY);
    let r = crate::explain::report(&installed.policy, &identity, None, &args.sql);
    let denial = r.denial.as_ref().map(|d| {
        json!({
            "rule": d.rule,
            "statement": d.statement + 1,
            "command": d.command,
            "object": d.object,
            "message": d.message,
            "hint": d.hint,
        })
    });
    Ok(json!({
        "profile": r.profile,
        "chosen_by": r.chosen_by,
        "decision": r.decision,
        "denial": denial,
        "report": r.text,
    }))
}
