//! The tools: their names, descriptions and input schemas (what
//! `tools/list` shows), which of them a caller is offered, and the dispatch
//! of a call to its group (`catalog`, `sql`, `policy`).

pub mod catalog;
pub mod masks;
pub mod policy;
pub mod sql;

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::McpError;
use crate::policy::compile::AllowSet;
use crate::policy::{Profile, Resolution};
use crate::shared::Shared;
use crate::sql::Effect;

pub const LIST_SCHEMAS: &str = "list_schemas";
pub const LIST_TABLES: &str = "list_tables";
pub const DESCRIBE_TABLE: &str = "describe_table";
pub const QUERY: &str = "query";
pub const EXECUTE: &str = "execute";
pub const EXPLAIN: &str = "explain";
pub const WHOAMI: &str = "whoami";
pub const EXPLAIN_POLICY: &str = "explain_policy";

/// Every tool, in the order `tools/list` shows them.
pub const ALL: [&str; 8] = [
    LIST_SCHEMAS,
    LIST_TABLES,
    DESCRIBE_TABLE,
    QUERY,
    EXECUTE,
    EXPLAIN,
    WHOAMI,
    EXPLAIN_POLICY,
];

/// What one tool call returns: a JSON value (the structured result; its
/// serialisation is the text content too).
pub type Output = Value;

/// The profile `caller` gets when running `tool`.
pub fn resolve(shared: &Shared, caller: &Caller, tool: &str) -> Resolution {
    shared
        .policy
        .current()
        .policy
        .resolve(&caller.identity(tool))
}

/// Whether a profile may change data at all: not read-only, and writes or
/// DDL among its allowed effects.
pub fn allows_writes(p: &Profile) -> bool {
    !p.read_only
        && match &p.allow {
            AllowSet::All => true,
            AllowSet::Only(set) => set.contains(&Effect::Write) || set.contains(&Effect::Ddl),
        }
}

/// The tools `caller` is offered: all but `execute` unless its profile for
/// `execute` allows writes.
pub fn offered(shared: &Shared, caller: &Caller) -> Vec<&'static str> {
    ALL.into_iter()
        .filter(|t| *t != EXECUTE || allows_writes(&resolve(shared, caller, EXECUTE).profile))
        .collect()
}

/// Runs one tool.
pub async fn call(
    shared: &Arc<Shared>,
    caller: &Caller,
    name: &str,
    args: JsonObject,
) -> Result<Output, McpError> {
    match name {
        LIST_SCHEMAS => catalog::list_schemas(shared, caller, parse(args)?).await,
        LIST_TABLES => catalog::list_tables(shared, caller, parse(args)?).await,
        DESCRIBE_TABLE => catalog::describe_table(shared, caller, parse(args)?).await,
        QUERY => sql::query(shared, caller, parse(args)?).await,
        EXECUTE => sql::execute(shared, caller, parse(args)?).await,
        EXPLAIN => sql::explain(shared, caller, parse(args)?).await,
        WHOAMI => policy::whoami(shared, caller, parse(args)?).await,
        EXPLAIN_POLICY => policy::explain_policy(shared, caller, parse(args)?),
        other => Err(McpError::Arguments(format!("there is no tool {other:?}"))),
    }
}

fn parse<T: DeserializeOwned>(args: JsonObject) -> Result<T, McpError> {
    serde_json::from_value(Value::Object(args)).map_err(|e| McpError::Arguments(e.to_string()))
}

/// The statement timeout of a call: its own (in milliseconds) or the
/// configured default, never above `mcp.max_statement_timeout`.
pub fn timeout(shared: &Shared, requested_ms: Option<u64>) -> Duration {
    let cfg = &shared.config.mcp;
    match requested_ms {
        Some(ms) => Duration::from_millis(ms.max(1)).min(cfg.max_statement_timeout),
        None => cfg.statement_timeout,
    }
}

/// The row limit of a call: its own or the configured one, whichever is smaller.
pub fn row_limit(shared: &Shared, requested: Option<usize>) -> usize {
    let max = shared.config.mcp.max_rows;
    requested.map_or(max, |n| n.clamp(1, max))
}

fn schema(properties: Value, required: &[&str]) -> Arc<JsonObject> {
    let mut s = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    match s {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

fn branch_property() -> Value {
    json!({
        "type": "string",
        "description": "Database branch to run on (letters, digits, '.', '_', '-'); the default branch when absent. The same policy applies on every branch."
    })
}

fn sql_properties(extra: Value) -> Value {
    let mut p = json!({
        "sql": { "type": "string", "description": "SQL text" },
        "timeout_ms": { "type": "integer", "minimum": 1, "description": "Statement timeout in milliseconds (capped by the server's configuration)" },
        "branch": branch_property(),
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            p.insert(k.clone(), v.clone());
        }
    }
    p
}

/// The definition of one tool, as `tools/list` shows it.
pub fn definition(name: &'static str) -> Tool {
    let read = || ToolAnnotations::new().read_only(true).open_world(false);
    let (description, input, annotations) = match name {
        LIST_SCHEMAS => (
            "List the database's schemas (system schemas left out).",
            schema(json!({ "branch": branch_property() }), &[]),
            read(),
        ),
        LIST_TABLES => (
            "List tables and views with their columns. Columns whose values this caller receives masked are flagged under masked_columns, with the mask.",
            schema(
                json!({
                    "schema": { "type": "string", "description": "Only this schema" },
                    "branch": branch_property(),
                }),
                &[],
            ),
            read(),
        ),
        DESCRIBE_TABLE => (
            "Describe one table or view: columns (type, nullability, default, whether masked for this caller), constraints and indexes.",
            schema(
                json!({
                    "table": { "type": "string", "description": "Table name, optionally schema-qualified (schema.table)" },
                    "schema": { "type": "string", "description": "Schema of the table (instead of qualifying the name)" },
                    "branch": branch_property(),
                }),
                &["table"],
            ),
            read(),
        ),
        QUERY => (
            "Run SQL that reads and return its rows (values as text; masked columns come back masked). Transactions start read-only; pgward's policy decides every statement, and a denial is returned with the policy's message and hint.",
            schema(
                sql_properties(json!({
                    "max_rows": { "type": "integer", "minimum": 1, "description": "Most rows to return (capped by the server's configuration)" },
                })),
                &["sql"],
            ),
            read(),
        ),
        EXECUTE => (
            "Run SQL that changes data or schema (INSERT, UPDATE, DELETE, DDL) and return the rows affected and any RETURNING rows. Offered only when the caller's profile allows writes; pgward's policy still decides every statement.",
            schema(sql_properties(json!({})), &["sql"]),
            ToolAnnotations::new()
                .read_only(false)
                .destructive(true)
                .open_world(false),
        ),
        EXPLAIN => (
            "Show the query plan of one statement (EXPLAIN, JSON format). analyze=true runs it (EXPLAIN ANALYZE) inside a transaction that is rolled back; not available to read-only profiles.",
            schema(
                sql_properties(json!({
                    "analyze": { "type": "boolean", "description": "Run the statement and report real timings (rolled back afterwards)" },
                })),
                &["sql"],
            ),
            read(),
        ),
        WHOAMI => (
            "Who pgward says you are: the verified identity, the profile each tool runs under and why, what the profile allows, the masks and row filters that apply to you, and what the server reports for your session.",
            schema(json!({ "branch": branch_property() }), &[]),
            read(),
        ),
        EXPLAIN_POLICY => (
            "What pgward's policy would do with a SQL string for you, without running it (the same answer as `pgward explain`): statement kinds, objects, the decision, the rule, message and hint of a denial, and the masks that apply.",
            schema(
                json!({ "sql": { "type": "string", "description": "SQL text (one or more statements)" } }),
                &["sql"],
            ),
            read(),
        ),
        _ => ("", schema(json!({}), &[]), read()),
    };
    let mut t = Tool::new(name, description, input);
    t.annotations = Some(annotations);
    t
}
