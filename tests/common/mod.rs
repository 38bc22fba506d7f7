//! Integration-test harness for pgward. Use from a test file with `mod common;`.
//!
//! - [`cluster`]: throwaway PostgreSQL clusters (`PgCluster`).
//! - [`certs`]: test CA / server certs, rustls client configs.
//! - [`proxy`]: the pgward process under test (`Pgward`).
//! - [`clients`]: tokio-postgres (plain/TLS) and psql/pgbench/pg_dump helpers.
//! - [`raw`]: raw wire-protocol socket and frame builders for hostile input.
#![allow(dead_code)]
// Re-exports below are unused by some test binaries.
#![allow(unused_imports)]

pub mod certs;
pub mod clients;
pub mod cluster;
pub mod jwt;
pub mod mcp_client;
pub mod otlp_receiver;
pub mod polling;
pub mod proxy;
pub mod raw;
pub mod rls;
pub mod util;

pub use certs::{IssuedCert, TestCa, TestCerts};
pub use clients::{
    connect, connect_tls, connect_with, psql, sqlstate, try_connect, try_connect_tls,
    try_connect_with,
};
pub use cluster::{
    PgCluster, PgClusterOptions, APP_DB, APP_PASSWORD, APP_USER, MD5_PASSWORD, MD5_USER,
    PW_PASSWORD, PW_USER, SUPERUSER, SUPERUSER_PASSWORD, TRUST_USER,
};
pub use proxy::{governed, Pgward, PgwardBuilder};
pub use raw::RawConn;
