//! The four profiles every policy has. A policy file may redefine any of them
//! (its definition replaces the built-in one) or inherit from them.

/// Written in the policy format itself, so they read like the docs.
pub const BUILTIN_PROFILES: &str = r#"
version: 1
profiles:
  read_only:
    description: Reads only. Enforced twice - by the statement guard and by the server (default_transaction_read_only = on).
    allow: [read, transaction, session]
    read_only: true
    # A user function's body is invisible in its call, and the server's
    # read-only transaction does not stop everything (pg_notify, sequences,
    # dblink): a call to a volatile one is an effect read_only does not allow.
    volatile_functions: write
  analyst:
    description: Reads, with sensitive columns masked.
    inherits: read_only
  developer:
    description: Reads, writes and DDL on application schemas; no role, grant or server-level changes.
    allow: [read, write, ddl, transaction, session, read_only_change, lock, notify, maintenance, code, sleep, large_object, volatile]
    deny:
      - name: system-catalogs-are-read-only
        objects: ["pg_catalog.*", "information_schema.*", "pg_toast.*"]
        access: [write, ddl]
        message: system catalogs cannot be changed by the developer profile
  admin:
    description: Everything.
    allow: all
    on_unparseable: allow
"#;

pub const BUILTIN_NAMES: [&str; 4] = ["read_only", "analyst", "developer", "admin"];
