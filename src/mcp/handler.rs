//! The MCP server handler (rmcp's `ServerHandler`): the caller of each
//! request (fixed for stdio, the validated bearer token for HTTP), the tool
//! list it is offered, and each call turned into a result or a tool error.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tokio::sync::Semaphore;
use tracing::{debug, info};

use super::auth::Caller;
use super::error::McpError;
use super::tools;
use crate::shared::Shared;

const INSTRUCTIONS: &str = "pgward governs this PostgreSQL database. Every statement you run \
is decided by the platform's policy for your identity before it reaches the server; a denied \
statement is returned as a tool error with the policy's message and hint (follow the hint). \
Values of masked columns come back masked. Call whoami to see your profile, masks and which \
tools you have; explain_policy to check a statement without running it.";

#[derive(Clone)]
pub struct Handler {
    shared: Arc<Shared>,
    /// The stdio agent; `None` over HTTP, where each request names its caller.
    fixed: Option<Arc<Caller>>,
    /// Tool calls at once (`mcp.max_concurrent_calls`), shared by every
    /// handler of one endpoint: each call holds a server connection.
    calls: Arc<Semaphore>,
}

impl Handler {
    pub fn new(shared: Arc<Shared>, fixed: Option<Arc<Caller>>, calls: Arc<Semaphore>) -> Handler {
        Handler {
            shared,
            fixed,
            calls,
        }
    }

    /// The semaphore for one endpoint's handlers.
    pub fn call_limit(shared: &Shared) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(shared.config.mcp.max_concurrent_calls))
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Result<Arc<Caller>, ErrorData> {
        if let Some(c) = &self.fixed {
            return Ok(Arc::clone(c));
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Arc<Caller>>())
            .cloned()
            // The HTTP layer refuses requests without a valid token before
            // they get here; this is only reached if that changed.
            .ok_or_else(|| ErrorData::invalid_request("no authenticated caller", None))
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("pgward", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = self.caller(&context)?;
        let list = tools::offered(&self.shared, &caller)
            .into_iter()
            .map(tools::definition)
            .collect();
        // The list depends on who asks.
        let mut r = ListToolsResult::with_all_items(list);
        r.cache_scope = Some(CacheScope::Private);
        Ok(r)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller(&context)?;
        let _permit = self
            .calls
            .acquire()
            .await
            .map_err(|_| ErrorData::internal_error("pgward is shutting down", None))?;
        let started = Instant::now();
        let name = request.name.to_string();
        let args = request.arguments.unwrap_or_default();
        let result = tools::call(&self.shared, &caller, &name, args).await;
        let ms = started.elapsed().as_millis() as u64;
        Ok(match result {
            Ok(v) => {
                debug!(tool = %name, user = %caller.user, ms, "tool call");
                CallToolResult::structured(v).into()
            }
            Err(e) => {
                info!(tool = %name, user = %caller.user, ms, error = %e, "tool call failed");
                tool_error(&e).into()
            }
        })
    }
}

/// A failed call as the agent sees it: the message (with the policy's hint
/// for a denial) as text, and the parts as structured content.
pub fn tool_error(e: &McpError) -> CallToolResult {
    let mut r = CallToolResult::error(vec![ContentBlock::text(e.to_string())]);
    r.structured_content = Some(e.to_json());
    r
}
