//! The Model Context Protocol endpoint: tools for AI agents that run SQL
//! through pgward's governed session path.
//!
//! The MCP layer is a PostgreSQL *client* of pgward's own session code: each
//! tool call opens an in-process connection ([`conn`]) to
//! [`crate::session::run_in_process`] and speaks the wire protocol through
//! it with tokio-postgres. So every statement an agent runs takes the path a
//! network client's takes — login, profile choice, guard, masks, stamp,
//! audit events, usage metrics — with `application_name = mcp/<tool>`, and
//! there is no second guard to keep in step with the first.
//!
//! * [`stdio`]: `pgward mcp`, started by an agent's host; identity from the
//!   config and environment.
//! * [`http`]: Streamable HTTP on `mcp.http.listen` (started by `pgward
//!   serve`), OAuth 2.1 bearer tokens per the MCP authorization spec.
//! * [`handler`]: the rmcp server handler; [`tools`]: the tools.
//! * [`auth`]: who the caller is; [`config`]: the `mcp:` section;
//!   [`error`]: failures as tool errors.

pub mod auth;
pub mod config;
pub mod conn;
pub mod error;
pub mod handler;
pub mod http;
pub mod stdio;
pub mod tools;

pub use error::McpError;
