//! `query`, `execute`, `explain`: the agent's SQL, sent as the agent wrote
//! it over the simple protocol (so a multi-statement text reaches pgward's
//! guard whole, exactly as it would from any client). Nothing here inspects
//! the SQL: the session's guard decides, and a denial comes back as the
//! tool's error with the policy's message and hint.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::SimpleQueryMessage;

use super::super::auth::Caller;
use super::super::conn::{CallOptions, Session};
use super::super::error::McpError;
use super::{allows_writes, resolve, row_limit, timeout, Output, EXECUTE, EXPLAIN, QUERY};
use crate::shared::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    pub sql: String,
    pub max_rows: Option<usize>,
    pub timeout_ms: Option<u64>,
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecuteArgs {
    pub sql: String,
    pub timeout_ms: Option<u64>,
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainArgs {
    pub sql: String,
    #[serde(default)]
    pub analyze: bool,
    pub timeout_ms: Option<u64>,
    pub branch: Option<String>,
}

/// The results of a simple Query: one entry per statement.
struct Collected {
    results: Vec<Value>,
    truncated: bool,
}

/// Reads a simple Query's replies, keeping at most `max_rows` rows and
/// `max_bytes` bytes of values across all its statements. Returns early
/// (truncated) once a limit is reached; the caller cancels the rest.
async fn collect(
    s: &Session,
    sql: &str,
    max_rows: usize,
    max_bytes: usize,
) -> Result<Collected, McpError> {
    let stream = s
        .client
        .simple_query_raw(sql)
        .await
        .map_err(|e| McpError::from_pg(&e))?;
    let mut stream = std::pin::pin!(stream);
    let mut results: Vec<Value> = Vec::new();
    let mut current: Option<(Vec<String>, Vec<Value>)> = None;
    let (mut rows, mut bytes) = (0usize, 0usize);
    while let Some(msg) = stream.next().await {
        match msg.map_err(|e| McpError::from_pg(&e))? {
            SimpleQueryMessage::RowDescription(cols) => {
                current = Some((
                    cols.iter().map(|c| c.name().to_owned()).collect(),
                    Vec::new(),
                ));
            }
            SimpleQueryMessage::Row(row) => {
                if rows >= max_rows || bytes >= max_bytes {
                    if let Some((columns, data)) = current.take() {
                        results
                            .push(json!({ "columns": columns, "rows": data, "truncated": true }));
                    }
                    return Ok(Collected {
                        results,
                        truncated: true,
                    });
                }
                let mut values = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let v = row.get(i);
                    bytes += v.map_or(4, str::len);
                    values.push(json!(v));
                }
                rows += 1;
                if let Some((_, data)) = current.as_mut() {
                    data.push(Value::Array(values));
                }
            }
            SimpleQueryMessage::CommandComplete(n) => match current.take() {
                Some((columns, data)) => results.push(json!({
                    "columns": columns, "rows": data, "row_count": n, "truncated": false,
                })),
                None => results.push(json!({ "rows_affected": n })),
            },
            _ => {}
        }
    }
    Ok(Collected {
        results,
        truncated: false,
    })
}

pub async fn query(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: QueryArgs,
) -> Result<Output, McpError> {
    let limit = row_limit(shared, args.max_rows);
    let s = Session::open(
        shared,
        caller,
        &CallOptions {
            tool: QUERY,
            branch: args.branch.clone(),
            timeout: timeout(shared, args.timeout_ms),
            read_only: true,
        },
    )
    .await?;
    let max_bytes = shared.config.mcp.max_result_bytes;
    let c = s.bounded(collect(&s, &args.sql, limit, max_bytes)).await?;
    if c.truncated {
        s.cancel_running().await;
    }
    Ok(json!({
        "results": c.results,
        "truncated": c.truncated,
        "row_limit": limit,
    }))
}

pub async fn execute(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: ExecuteArgs,
) -> Result<Output, McpError> {
    let r = resolve(shared, caller, EXECUTE);
    if !allows_writes(&r.profile) {
        return Err(McpError::NotAvailable(format!(
            "execute is not available: profile {} (chosen by {}) allows no writes; use query to read",
            r.profile.name, r.rule
        )));
    }
    let limit = row_limit(shared, None);
    let s = Session::open(
        shared,
        caller,
        &CallOptions {
            tool: EXECUTE,
            branch: args.branch.clone(),
            timeout: timeout(shared, args.timeout_ms),
            read_only: false,
        },
    )
    .await?;
    let max_bytes = shared.config.mcp.max_result_bytes;
    let c = s.bounded(collect(&s, &args.sql, limit, max_bytes)).await?;
    if c.truncated {
        // The statement itself has run (or is running) to completion: only
        // the RETURNING rows shown are cut.
        s.cancel_running().await;
    }
    Ok(json!({ "results": c.results, "truncated": c.truncated }))
}

pub async fn explain(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: ExplainArgs,
) -> Result<Output, McpError> {
    let r = resolve(shared, caller, EXPLAIN);
    if args.analyze && r.profile.read_only {
        return Err(McpError::NotAvailable(format!(
            "EXPLAIN ANALYZE runs the statement; profile {} is read-only, so explain offers the plan without analyze",
            r.profile.name
        )));
    }
    let s = Session::open(
        shared,
        caller,
        &CallOptions {
            tool: EXPLAIN,
            branch: args.branch.clone(),
            timeout: timeout(shared, args.timeout_ms),
            read_only: !args.analyze,
        },
    )
    .await?;
    let text = format!(
        "EXPLAIN (FORMAT JSON{}) {}",
        if args.analyze { ", ANALYZE" } else { "" },
        args.sql
    );
    // The extended protocol takes exactly one statement: a text that hides a
    // second one after a semicolon is refused by the server, never run.
    let plan: Value = s
        .bounded(async {
            let pg = |e: tokio_postgres::Error| McpError::from_pg(&e);
            if args.analyze {
                s.client.batch_execute("BEGIN").await.map_err(pg)?;
                let row = s.client.query_one(&text, &[]).await;
                // Whatever it did is undone.
                let rolled_back = s.client.batch_execute("ROLLBACK").await;
                let plan: Value = row.map_err(pg)?.try_get(0).map_err(pg)?;
                rolled_back.map_err(pg)?;
                Ok(plan)
            } else {
                let row = s.client.query_one(&text, &[]).await.map_err(pg)?;
                row.try_get(0).map_err(pg)
            }
        })
        .await?;
    Ok(json!({ "plan": plan, "analyze": args.analyze, "rolled_back": args.analyze }))
}
