//! pgward: a PostgreSQL wire-protocol governance proxy.
//!
//! Layout, from the outside in: [`server`] accepts connections, [`session`]
//! runs each one (startup, [`auth`], relay), [`wire`] owns the protocol
//! framing, [`upstream`] and [`tls`] the connection to the database, and
//! [`cancel`] the mapping of cancel keys.

pub mod admin;
pub mod attribution;
pub mod audit;
pub mod auth;
pub mod branch;
pub mod cancel;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod explain;
#[doc(hidden)]
pub mod fuzzing;
pub mod lanes;
pub mod logging;
pub mod mask;
pub mod mcp;
pub mod memory;
pub mod metrics;
pub mod policy;
pub mod rls;
pub mod server;
pub mod session;
pub mod shared;
pub mod sql;
#[cfg(test)]
mod test_rng;
pub mod tls;
pub mod upstream;
pub mod wire;
