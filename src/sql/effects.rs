//! What a statement can do, and which built-in functions and run-time
//! parameters carry which effect.

use std::collections::BTreeSet;
use std::fmt;

/// What a statement can do. Serialized in snake_case (policy files name them).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// SELECT/VALUES/TABLE/SHOW, EXPLAIN without ANALYZE, FETCH/MOVE/CLOSE,
    /// DECLARE of a read query, COPY ... TO STDOUT.
    Read,
    /// INSERT/UPDATE/DELETE/MERGE (also in CTEs or under EXPLAIN ANALYZE),
    /// TRUNCATE, COPY FROM STDIN, SELECT ... FOR UPDATE/SHARE, REFRESH
    /// MATERIALIZED VIEW, nextval/setval, functions that assign an xid.
    Write,
    /// CREATE/ALTER/DROP/COMMENT ON/SECURITY LABEL of schema objects,
    /// SELECT INTO, CREATE TABLE AS.
    Ddl,
    /// BEGIN/START/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/ROLLBACK TO, SET
    /// TRANSACTION, SET CONSTRAINTS, END, ABORT, two-phase commit commands.
    Transaction,
    /// SET/RESET of ordinary parameters, DISCARD, LISTEN/UNLISTEN,
    /// PREPARE/DEALLOCATE.
    Session,
    /// Anything that could turn read-only mode off (see the module docs).
    ReadOnlyChange,
    /// SET ROLE, SET SESSION AUTHORIZATION and their RESET forms,
    /// set_config('role' | 'session_authorization', ...).
    SetRole,
    /// Gives a `pgward.*` parameter (the identity pgward hands the server)
    /// a value: SET, SET LOCAL or set_config naming one, ALTER
    /// ROLE/DATABASE/SYSTEM ... SET and a function's SET clause naming one.
    /// (A set_config whose name is computed is not: like code, it is
    /// something the analysis cannot see into.) Not part of `allow: all`: a
    /// profile has it only by naming it.
    IdentitySetting,
    /// GRANT/REVOKE, roles, default privileges, REASSIGN/DROP OWNED, OWNER TO.
    Privilege,
    /// DO, CALL, SECURITY DEFINER or C-language functions, CREATE LANGUAGE,
    /// event triggers.
    Code,
    /// Server file access: COPY to/from a file or PROGRAM, pg_read_file and
    /// friends, server-side lo_import/lo_export, adminpack.
    ServerFiles,
    /// Large object functions and large object GRANT/ALTER/COMMENT.
    LargeObject,
    /// NOTIFY, pg_notify().
    Notify,
    /// pg_terminate_backend, pg_cancel_backend, pg_signal_backend.
    Signal,
    /// ALTER SYSTEM and server-wide administrative functions.
    Config,
    /// VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT.
    Maintenance,
    /// LOCK TABLE, advisory lock functions.
    Lock,
    /// CREATE/ALTER/DROP DATABASE and TABLESPACE.
    Database,
    /// Extensions, LOAD, foreign data wrappers, servers, user mappings,
    /// IMPORT FOREIGN SCHEMA, dblink.
    Extension,
    /// pg_sleep, pg_sleep_for, pg_sleep_until.
    Sleep,
    /// Reserved for a call to a function the catalog says is volatile. Never
    /// produced by this module (it has no catalog access).
    Volatile,
    /// Something this module does not understand. Treat like a statement
    /// that failed to parse.
    Unknown,
}

impl Effect {
    /// Every effect, in declaration order.
    pub const ALL: [Effect; 22] = [
        Effect::Read,
        Effect::Write,
        Effect::Ddl,
        Effect::Transaction,
        Effect::Session,
        Effect::ReadOnlyChange,
        Effect::SetRole,
        Effect::IdentitySetting,
        Effect::Privilege,
        Effect::Code,
        Effect::ServerFiles,
        Effect::LargeObject,
        Effect::Notify,
        Effect::Signal,
        Effect::Config,
        Effect::Maintenance,
        Effect::Lock,
        Effect::Database,
        Effect::Extension,
        Effect::Sleep,
        Effect::Volatile,
        Effect::Unknown,
    ];

    /// The snake_case name used in policy files and messages.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Write => "write",
            Effect::Ddl => "ddl",
            Effect::Transaction => "transaction",
            Effect::Session => "session",
            Effect::ReadOnlyChange => "read_only_change",
            Effect::SetRole => "set_role",
            Effect::IdentitySetting => "identity_setting",
            Effect::Privilege => "privilege",
            Effect::Code => "code",
            Effect::ServerFiles => "server_files",
            Effect::LargeObject => "large_object",
            Effect::Notify => "notify",
            Effect::Signal => "signal",
            Effect::Config => "config",
            Effect::Maintenance => "maintenance",
            Effect::Lock => "lock",
            Effect::Database => "database",
            Effect::Extension => "extension",
            Effect::Sleep => "sleep",
            Effect::Volatile => "volatile",
            Effect::Unknown => "unknown",
        }
    }

    /// Same as [`Effect::name`].
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    /// Parses the snake_case name used in policy files.
    pub fn from_name(name: &str) -> Option<Effect> {
        Effect::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The namespace of the parameters pgward gives the server session with the
/// verified identity (`pgward.user`, `pgward.claim.tenant`, ...).
pub const IDENTITY_PREFIX: &str = "pgward.";

/// True for a parameter in pgward's identity namespace (`name` already
/// lower-cased).
pub fn is_identity_setting(name: &str) -> bool {
    name.starts_with(IDENTITY_PREFIX)
}

/// Parameters whose change can turn read-only mode off.
pub(crate) fn is_read_only_setting(name: &str) -> bool {
    matches!(
        name,
        "default_transaction_read_only" | "transaction_read_only"
    )
}

/// Effects of setting or resetting the run-time parameter `name` (already
/// lower-cased: parameter names are case-insensitive in PostgreSQL).
pub(crate) fn setting_effects(name: &str, out: &mut BTreeSet<Effect>) {
    match name {
        "default_transaction_read_only" | "transaction_read_only" => {
            out.insert(Effect::ReadOnlyChange);
        }
        "role" | "session_authorization" => {
            out.insert(Effect::SetRole);
        }
        // RESET ALL and DISCARD ALL. `role` and `session_authorization` are
        // GUC_NO_RESET_ALL, and DISCARD ALL's session-authorization reset
        // only returns to the login identity, so neither assumes a role;
        // resetting the read-only default is a change pgward must see.
        "all" => {
            out.insert(Effect::ReadOnlyChange);
            out.insert(Effect::Session);
        }
        "transaction_isolation" | "transaction_deferrable" => {
            out.insert(Effect::Transaction);
        }
        _ => {
            out.insert(Effect::Session);
        }
    }
}

/// How a built-in function's arguments need special treatment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgRule {
    /// Nothing beyond the fixed effects.
    None,
    /// `set_config(name, value, is_local)`: effects depend on `name`.
    SetConfig,
    /// First argument names a sequence (nextval/setval/currval).
    Sequence,
    /// Argument `n` (0-based) is an SQL string the function executes.
    ExecutesSql(usize),
    /// First argument names a table whose contents the function reads.
    ReadsTable,
    /// Reads every table of a schema or database: not analysable here.
    ReadsMany,
}

/// Effects of a call to `name` as PostgreSQL resolves it.
///
/// `schema` is the qualification as written (`None` when unqualified). Only
/// unqualified or `pg_catalog.` calls are treated as built-ins; a call
/// qualified with any other schema is a user function, except for extension
/// functions (dblink, postgres_fdw) which live in arbitrary schemas.
pub(crate) fn function_effects(
    schema: Option<&str>,
    name: &str,
    exact_only: bool,
    out: &mut BTreeSet<Effect>,
) -> ArgRule {
    // Extension functions are installed into arbitrary schemas.
    if name.starts_with("dblink") || schema == Some("dblink") {
        out.insert(Effect::Extension);
        return ArgRule::None;
    }
    if matches!(
        name,
        "postgres_fdw_disconnect" | "postgres_fdw_disconnect_all"
    ) {
        out.insert(Effect::Extension);
        return ArgRule::None;
    }
    // Extensions that run SQL text later or in another backend.
    if name == "pg_background_launch"
        || (schema == Some("cron")
            && matches!(name, "schedule" | "schedule_in_database" | "alter_job"))
    {
        out.insert(Effect::Code);
        return ArgRule::None;
    }
    if matches!(name, "pg_stat_statements_reset") {
        out.insert(Effect::Config);
        return ArgRule::None;
    }
    if matches!(name, "pg_prewarm") || name.starts_with("pg_buffercache_evict") {
        out.insert(Effect::Maintenance);
        return ArgRule::None;
    }
    match schema {
        None | Some("pg_catalog") => {}
        Some(_) => return ArgRule::None,
    }
    let (effects, rule): (&[Effect], ArgRule) = match name {
        "set_config" => (&[], ArgRule::SetConfig),
        "nextval" | "setval" => (&[Effect::Write], ArgRule::Sequence),
        "currval" => (&[], ArgRule::Sequence),
        "txid_current" | "pg_current_xact_id" => (&[Effect::Write], ArgRule::None),
        "pg_notify" => (&[Effect::Notify], ArgRule::None),
        "pg_sleep" | "pg_sleep_for" | "pg_sleep_until" => (&[Effect::Sleep], ArgRule::None),
        "pg_terminate_backend" | "pg_cancel_backend" | "pg_signal_backend" => {
            (&[Effect::Signal], ArgRule::None)
        }
        "lo_import" | "lo_export" => (&[Effect::ServerFiles, Effect::LargeObject], ArgRule::None),
        "lo_creat" | "lo_create" | "lo_open" | "lo_close" | "loread" | "lowrite" | "lo_lseek"
        | "lo_lseek64" | "lo_tell" | "lo_tell64" | "lo_truncate" | "lo_truncate64"
        | "lo_unlink" | "lo_get" | "lo_put" | "lo_from_bytea" => {
            (&[Effect::LargeObject], ArgRule::None)
        }
        "pg_read_file"
        | "pg_read_binary_file"
        | "pg_ls_dir"
        | "pg_stat_file"
        | "pg_current_logfile"
        | "pg_show_all_file_settings"
        | "pg_hba_file_rules"
        | "pg_ident_file_mappings"
        | "pg_file_write"
        | "pg_file_rename"
        | "pg_file_unlink"
        | "pg_file_sync"
        | "pg_file_read"
        | "pg_file_length"
        | "pg_logdir_ls" => (&[Effect::ServerFiles], ArgRule::None),
        "pg_reload_conf"
        | "pg_rotate_logfile"
        | "pg_rotate_logfile_old"
        | "pg_promote"
        | "pg_switch_wal"
        | "pg_switch_xlog"
        | "pg_create_restore_point"
        | "pg_log_backend_memory_contexts"
        | "pg_backup_start"
        | "pg_backup_stop"
        | "pg_start_backup"
        | "pg_stop_backup"
        | "pg_wal_replay_pause"
        | "pg_wal_replay_resume"
        | "pg_xlog_replay_pause"
        | "pg_xlog_replay_resume"
        | "pg_create_physical_replication_slot"
        | "pg_create_logical_replication_slot"
        | "pg_drop_replication_slot"
        | "pg_copy_physical_replication_slot"
        | "pg_copy_logical_replication_slot"
        | "pg_replication_slot_advance"
        | "pg_sync_replication_slots"
        | "pg_logical_slot_get_changes"
        | "pg_logical_slot_get_binary_changes"
        | "pg_logical_slot_peek_changes"
        | "pg_logical_slot_peek_binary_changes"
        | "pg_logical_emit_message"
        | "pg_replication_origin_create"
        | "pg_replication_origin_drop"
        | "pg_replication_origin_advance"
        | "pg_replication_origin_session_setup"
        | "pg_replication_origin_session_reset"
        | "pg_replication_origin_xact_setup"
        | "pg_replication_origin_xact_reset"
        | "pg_stat_reset"
        | "pg_stat_reset_shared"
        | "pg_stat_reset_single_table_counters"
        | "pg_stat_reset_single_function_counters"
        | "pg_stat_reset_slru"
        | "pg_stat_reset_replication_slot"
        | "pg_stat_reset_subscription_stats"
        | "pg_stat_reset_backend_stats" => (&[Effect::Config], ArgRule::None),
        "pg_set_relation_stats"
        | "pg_clear_relation_stats"
        | "pg_restore_relation_stats"
        | "pg_set_attribute_stats"
        | "pg_clear_attribute_stats"
        | "pg_restore_attribute_stats"
        | "brin_summarize_new_values"
        | "brin_summarize_range"
        | "brin_desummarize_range"
        | "gin_clean_pending_list" => (&[Effect::Maintenance], ArgRule::None),
        "pg_import_system_collations" => (&[Effect::Ddl], ArgRule::None),
        "query_to_xml" | "query_to_xmlschema" | "query_to_xml_and_xmlschema" | "ts_stat" => {
            (&[], ArgRule::ExecutesSql(0))
        }
        "ts_rewrite" => (&[], ArgRule::ExecutesSql(1)),
        "table_to_xml" | "table_to_xmlschema" | "table_to_xml_and_xmlschema" => {
            (&[], ArgRule::ReadsTable)
        }
        "schema_to_xml"
        | "schema_to_xmlschema"
        | "schema_to_xml_and_xmlschema"
        | "database_to_xml"
        | "database_to_xmlschema"
        | "database_to_xml_and_xmlschema" => (&[], ArgRule::ReadsMany),
        _ if exact_only => (&[], ArgRule::None),
        // Families matched by prefix (fail closed for look-alike user functions).
        _ if name.starts_with("pg_advisory_") || name.starts_with("pg_try_advisory_") => {
            (&[Effect::Lock], ArgRule::None)
        }
        _ if name.starts_with("lo_") => (&[Effect::LargeObject], ArgRule::None),
        _ if name.starts_with("pg_ls_") && name.ends_with("dir") => {
            (&[Effect::ServerFiles], ArgRule::None)
        }
        _ if name.starts_with("pg_file_") => (&[Effect::ServerFiles], ArgRule::None),
        _ if name.starts_with("binary_upgrade_") => (&[Effect::Config], ArgRule::None),
        _ => (&[], ArgRule::None),
    };
    out.extend(effects.iter().copied());
    rule
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects_of(schema: Option<&str>, name: &str) -> BTreeSet<Effect> {
        let mut out = BTreeSet::new();
        function_effects(schema, name, false, &mut out);
        out
    }

    #[test]
    fn serde_names_are_snake_case() {
        for e in Effect::ALL {
            let json = format!("\"{}\"", e.as_str());
            assert_eq!(Effect::from_name(e.as_str()), Some(e));
            assert_eq!(e.to_string(), e.as_str());
            assert!(!json.contains(char::is_uppercase), "{json}");
        }
        assert_eq!(Effect::ReadOnlyChange.as_str(), "read_only_change");
        assert_eq!(Effect::from_name("nope"), None);
    }

    #[test]
    fn deserializes_policy_names() {
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        for e in Effect::ALL {
            let d: StrDeserializer<'_, Error> = e.as_str().into_deserializer();
            assert_eq!(Effect::deserialize(d).expect("known name"), e);
        }
        let d: StrDeserializer<'_, Error> = "ReadOnlyChange".into_deserializer();
        assert!(Effect::deserialize(d).is_err());
    }

    #[test]
    fn builtins_only_unqualified_or_pg_catalog() {
        assert_eq!(
            effects_of(None, "pg_sleep"),
            BTreeSet::from([Effect::Sleep])
        );
        assert_eq!(
            effects_of(Some("pg_catalog"), "pg_sleep"),
            BTreeSet::from([Effect::Sleep])
        );
        assert!(effects_of(Some("myschema"), "pg_sleep").is_empty());
        assert!(effects_of(None, "PG_SLEEP").is_empty());
    }

    #[test]
    fn families() {
        assert_eq!(
            effects_of(None, "pg_try_advisory_xact_lock_shared"),
            BTreeSet::from([Effect::Lock])
        );
        assert_eq!(
            effects_of(None, "pg_ls_waldir"),
            BTreeSet::from([Effect::ServerFiles])
        );
        assert_eq!(
            effects_of(Some("public"), "dblink_exec"),
            BTreeSet::from([Effect::Extension])
        );
        assert_eq!(
            effects_of(Some("cron"), "schedule"),
            BTreeSet::from([Effect::Code])
        );
        assert!(effects_of(Some("other"), "schedule").is_empty());
        assert_eq!(
            effects_of(None, "lo_whatever"),
            BTreeSet::from([Effect::LargeObject])
        );
        let mut out = BTreeSet::new();
        function_effects(None, "lo_whatever", true, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn settings() {
        let mut out = BTreeSet::new();
        setting_effects("transaction_read_only", &mut out);
        assert_eq!(out, BTreeSet::from([Effect::ReadOnlyChange]));
        let mut out = BTreeSet::new();
        setting_effects("all", &mut out);
        assert_eq!(
            out,
            BTreeSet::from([Effect::ReadOnlyChange, Effect::Session])
        );
        assert!(is_read_only_setting("default_transaction_read_only"));
        assert!(!is_read_only_setting("work_mem"));
    }
}
