//! Structured logs on stderr (stdout carries only the "listening" line).

use serde::Deserialize;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

pub fn init(cfg: &LogConfig) -> Result<(), String> {
    let mut filter = EnvFilter::try_new(&cfg.level)
        .map_err(|e| format!("invalid log level {:?}: {e}", cfg.level))?;
    // The MCP library logs every message at info; pgward logs the tool calls itself.
    if !cfg.level.contains("rmcp") {
        if let Ok(d) = "rmcp=warn".parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let res = match cfg.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    res.map_err(|e| format!("cannot install logger: {e}"))
}
