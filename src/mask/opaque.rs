//! Function calls that run code pgward cannot see into: user functions
//! (their bodies are not analysed) and built-ins that run SQL given as text.
//! Such a call may read any column, masked ones included, so what it
//! returns is treated as computed from masked data.

use crate::catalog::Snapshot;
use crate::sql::classify::FunctionRef;

/// Built-in functions that run SQL given as text, which pgward cannot analyse.
const DYNAMIC_SQL_FUNCTIONS: [&str; 10] = [
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "table_to_xml",
    "table_to_xmlschema",
    "table_to_xml_and_xmlschema",
    "schema_to_xml",
    "database_to_xml",
];

/// Does this call run code pgward does not analyse?
pub fn runs_unseen_code(snapshot: &Snapshot, f: &FunctionRef) -> bool {
    snapshot.is_user_function(f.schema.as_deref(), &f.name)
        || (matches!(f.schema.as_deref(), None | Some("pg_catalog"))
            && (DYNAMIC_SQL_FUNCTIONS.contains(&f.name.as_str()) || f.name.starts_with("dblink")))
}
