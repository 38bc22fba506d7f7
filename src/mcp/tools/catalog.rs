//! `list_schemas`, `list_tables`, `describe_table`: catalog questions, asked
//! through the caller's own governed session like any other SQL (so they are
//! decided, stamped and audited too).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Row;

use super::super::auth::Caller;
use super::super::conn::{CallOptions, Session};
use super::super::error::McpError;
use super::masks::MaskView;
use super::{resolve, timeout, Output, DESCRIBE_TABLE, LIST_SCHEMAS, LIST_TABLES};
use crate::shared::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchArgs {
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTablesArgs {
    pub schema: Option<String>,
    pub branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescribeArgs {
    pub table: String,
    pub schema: Option<String>,
    pub branch: Option<String>,
}

const SCHEMAS_SQL: &str = "SELECT n.nspname::text AS schema, \
     pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner, \
     pg_catalog.obj_description(n.oid, 'pg_namespace') AS description \
     FROM pg_catalog.pg_namespace n \
     WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
     ORDER BY 1";

/// User relations (tables, partitioned tables, views, materialized views,
/// foreign tables) with their columns, optionally of one schema.
const TABLES_SQL: &str = "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, \
     c.relkind::text AS kind, pg_catalog.obj_description(c.oid, 'pg_class') AS description, \
     a.attnum AS attnum, a.attname::text AS column_name \
     FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
     AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
     AND ($1::text IS NULL OR n.nspname = $1::text) \
     ORDER BY 2, 3, 6";

/// Candidates for a table name: an exact schema, or every schema with the
/// ones on the search path first.
const FIND_SQL: &str =
    "SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name, \
     c.relkind::text AS kind, pg_catalog.obj_description(c.oid, 'pg_class') AS description \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = $1::text \
     AND ($2::text IS NULL OR n.nspname = $2::text) \
     ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC, 2";

const COLUMNS_SQL: &str = "SELECT a.attnum AS attnum, a.attname::text AS name, \
     pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable, \
     pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_value, \
     pg_catalog.col_description(a.attrelid, a.attnum) AS description \
     FROM pg_catalog.pg_attribute a \
     LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

const CONSTRAINTS_SQL: &str = "SELECT conname::text AS name, contype::text AS kind, \
     pg_catalog.pg_get_constraintdef(oid) AS definition \
     FROM pg_catalog.pg_constraint WHERE conrelid = $1::int8::oid ORDER BY 1";

const INDEXES_SQL: &str = "SELECT i.indexrelid::regclass::text AS name, \
     pg_catalog.pg_get_indexdef(i.indexrelid) AS definition \
     FROM pg_catalog.pg_index i WHERE i.indrelid = $1::int8::oid ORDER BY 1";

fn kind_name(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        _ => "relation",
    }
}

fn get_str(row: &Row, col: &str) -> Result<Option<String>, McpError> {
    row.try_get::<_, Option<String>>(col)
        .map_err(|e| McpError::Session(format!("catalog column {col}: {e}")))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, col: &str) -> Result<T, McpError> {
    row.try_get::<_, T>(col)
        .map_err(|e| McpError::Session(format!("catalog column {col}: {e}")))
}

async fn open(
    shared: &Arc<Shared>,
    caller: &Caller,
    tool: &'static str,
    branch: &Option<String>,
) -> Result<Session, McpError> {
    Session::open(
        shared,
        caller,
        &CallOptions {
            tool,
            branch: branch.clone(),
            timeout: timeout(shared, None),
            read_only: true,
        },
    )
    .await
}

pub async fn list_schemas(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: BranchArgs,
) -> Result<Output, McpError> {
    let s = open(shared, caller, LIST_SCHEMAS, &args.branch).await?;
    let rows = s
        .bounded(async {
            s.client
                .query(SCHEMAS_SQL, &[])
                .await
                .map_err(|e| McpError::from_pg(&e))
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(json!({
            "schema": get_str(r, "schema")?,
            "owner": get_str(r, "owner")?,
            "description": get_str(r, "description")?,
        }));
    }
    Ok(json!({ "schemas": out }))
}

pub async fn list_tables(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: ListTablesArgs,
) -> Result<Output, McpError> {
    let s = open(shared, caller, LIST_TABLES, &args.branch).await?;
    let rows = s
        .bounded(async {
            s.client
                .query(TABLES_SQL, &[&args.schema])
                .await
                .map_err(|e| McpError::from_pg(&e))
        })
        .await?;
    let profile = resolve(shared, caller, LIST_TABLES).profile;
    let masks = MaskView::load(shared, caller, profile, args.branch.as_deref()).await?;
    // Rows come one per column, ordered by schema, table, attnum.
    let mut tables: BTreeMap<(String, String), Value> = BTreeMap::new();
    for r in &rows {
        let oid: i64 = get(r, "oid")?;
        let schema = get_str(r, "schema")?.unwrap_or_default();
        let name = get_str(r, "name")?.unwrap_or_default();
        let kind = get_str(r, "kind")?.unwrap_or_default();
        let entry = tables
            .entry((schema.clone(), name.clone()))
            .or_insert_with(|| {
                json!({
                    "schema": schema, "name": name, "kind": kind_name(&kind),
                    "columns": [], "masked_columns": [],
                })
            });
        if entry["description"].is_null() {
            entry["description"] = json!(get_str(r, "description")?);
        }
        let attnum: Option<i16> = get(r, "attnum")?;
        let Some(attnum) = attnum else { continue };
        let column = get_str(r, "column_name")?.unwrap_or_default();
        let masked = masks.column(oid as u32, attnum, &schema, &name, &column);
        if let Some(cols) = entry["columns"].as_array_mut() {
            cols.push(json!(column));
        }
        if let (Some(m), Some(list)) = (masked, entry["masked_columns"].as_array_mut()) {
            list.push(m);
        }
    }
    Ok(json!({ "tables": tables.into_values().collect::<Vec<_>>() }))
}

pub async fn describe_table(
    shared: &Arc<Shared>,
    caller: &Caller,
    args: DescribeArgs,
) -> Result<Output, McpError> {
    let (schema, table) = match (&args.schema, args.table.split_once('.')) {
        (Some(s), _) => (Some(s.clone()), args.table.clone()),
        (None, Some((s, t))) => (Some(s.to_owned()), t.to_owned()),
        (None, None) => (None, args.table.clone()),
    };
    let s = open(shared, caller, DESCRIBE_TABLE, &args.branch).await?;
    let (found, columns, constraints, indexes) = s
        .bounded(async {
            let q = |e: tokio_postgres::Error| McpError::from_pg(&e);
            let found = s
                .client
                .query(FIND_SQL, &[&table, &schema])
                .await
                .map_err(q)?;
            let Some(first) = found.first() else {
                return Ok((None, Vec::new(), Vec::new(), Vec::new()));
            };
            let oid: i64 = get(first, "oid")?;
            let columns = s.client.query(COLUMNS_SQL, &[&oid]).await.map_err(q)?;
            let constraints = s.client.query(CONSTRAINTS_SQL, &[&oid]).await.map_err(q)?;
            let indexes = s.client.query(INDEXES_SQL, &[&oid]).await.map_err(q)?;
            Ok((Some(found), columns, constraints, indexes))
        })
        .await?;
    let Some(found) = found else {
        return Err(McpError::Arguments(format!(
            "no table or view {} (list_tables shows what there is)",
            match &schema {
                Some(s) => format!("{s}.{table}"),
                None => table.clone(),
            }
        )));
    };
    let first = &found[0];
    let oid: i64 = get(first, "oid")?;
    let rel_schema = get_str(first, "schema")?.unwrap_or_default();
    let rel_name = get_str(first, "name")?.unwrap_or_default();
    let profile = resolve(shared, caller, DESCRIBE_TABLE).profile;
    let masks = MaskView::load(shared, caller, profile, args.branch.as_deref()).await?;
    let mut cols = Vec::with_capacity(columns.len());
    for c in &columns {
        let attnum: i16 = get(c, "attnum")?;
        let name = get_str(c, "name")?.unwrap_or_default();
        let mask = masks.column(oid as u32, attnum, &rel_schema, &rel_name, &name);
        cols.push(json!({
            "name": name,
            "type": get_str(c, "type")?,
            "nullable": get::<bool>(c, "nullable")?,
            "default": get_str(c, "default_value")?,
            "description": get_str(c, "description")?,
            "masked": mask.is_some(),
            "mask": mask.map(|m| json!({ "rule": m["rule"], "function": m["mask"] })),
        }));
    }
    let mut cons = Vec::new();
    for c in &constraints {
        cons.push(json!({
            "name": get_str(c, "name")?,
            "kind": match get_str(c, "kind")?.as_deref() {
                Some("p") => "primary key",
                Some("f") => "foreign key",
                Some("u") => "unique",
                Some("c") => "check",
                Some("x") => "exclusion",
                _ => "other",
            },
            "definition": get_str(c, "definition")?,
        }));
    }
    let mut idx = Vec::new();
    for i in &indexes {
        idx.push(json!({ "name": get_str(i, "name")?, "definition": get_str(i, "definition")? }));
    }
    let mut out = json!({
        "schema": rel_schema,
        "name": rel_name,
        "kind": kind_name(&get_str(first, "kind")?.unwrap_or_default()),
        "description": get_str(first, "description")?,
        "columns": cols,
        "constraints": cons,
        "indexes": idx,
    });
    if found.len() > 1 && args.schema.is_none() && !args.table.contains('.') {
        let others: Vec<String> = found[1..]
            .iter()
            .filter_map(|r| get_str(r, "schema").ok().flatten())
            .map(|s| format!("{s}.{table}"))
            .collect();
        out["also"] = json!(others);
    }
    Ok(out)
}
