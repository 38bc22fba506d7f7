//! Usage per branch × profile × tool (× user, when configured): what the
//! admin listener's `/metrics` shows. Counters are atomics behind one map
//! lookup per session and per change of tool, not per statement.
//!
//! Label cardinality is bounded on purpose: every distinct label set is a
//! time series kept forever by Prometheus. `tool` comes from
//! application_name, which any client sets to anything, so it is normalised
//! and capped (`metrics.max_tools`; later values count as `other`); `user`
//! is a label only with `metrics.per_user: true`.

pub mod otlp;
pub mod render;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::session::relay::StatementSink;
use crate::session::statements::Completed;

/// The tool label for statements without an application_name.
pub const UNKNOWN_TOOL: &str = "unknown";
/// The tool label once `max_tools` distinct values have been seen.
pub const OTHER_TOOL: &str = "other";
const MAX_TOOL_CHARS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels {
    pub branch: String,
    pub profile: String,
    pub tool: String,
    /// Empty unless `per_user`.
    pub user: String,
}

/// Statement counters of one label set.
#[derive(Default, Debug)]
pub struct StatementCounters {
    pub statements: AtomicU64,
    pub denied: AtomicU64,
    pub errors: AtomicU64,
    pub masked: AtomicU64,
    pub rows: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Sum of statement durations, forwarding to completion.
    pub busy_ns: AtomicU64,
}

/// Session counters of one branch × profile (× user).
#[derive(Default, Debug)]
pub struct SessionCounters {
    pub open: AtomicU64,
    pub total: AtomicU64,
}

pub struct Usage {
    per_user: bool,
    max_tools: usize,
    statements: Mutex<HashMap<Labels, Arc<StatementCounters>>>,
    sessions: Mutex<HashMap<Labels, Arc<SessionCounters>>>,
    tools: Mutex<HashSet<String>>,
}

/// A poisoned lock only means another thread panicked mid-update of plain
/// counters; the map itself is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Usage {
    pub fn new(cfg: &crate::config::MetricsConfig) -> Usage {
        Usage {
            per_user: cfg.per_user,
            max_tools: cfg.max_tools,
            statements: Mutex::default(),
            sessions: Mutex::default(),
            tools: Mutex::default(),
        }
    }

    /// The tool label for an application_name: normalised, then capped.
    pub fn tool_label(&self, application: &str) -> String {
        let t = normalise_tool(application);
        if t == UNKNOWN_TOOL {
            return t;
        }
        let mut tools = lock(&self.tools);
        if tools.contains(&t) {
            return t;
        }
        if tools.len() >= self.max_tools {
            return OTHER_TOOL.to_owned();
        }
        tools.insert(t.clone());
        t
    }

    fn statement_counters(&self, labels: Labels) -> Arc<StatementCounters> {
        Arc::clone(lock(&self.statements).entry(labels).or_default())
    }

    /// Counts a session as open until the returned sink is dropped.
    pub fn session(self: &Arc<Self>, branch: &str, profile: &str, user: &str) -> SessionUsage {
        let labels = Labels {
            branch: branch.to_owned(),
            profile: profile.to_owned(),
            tool: String::new(),
            user: if self.per_user {
                user.to_owned()
            } else {
                String::new()
            },
        };
        let sessions = Arc::clone(lock(&self.sessions).entry(labels.clone()).or_default());
        sessions.open.fetch_add(1, Ordering::Relaxed);
        sessions.total.fetch_add(1, Ordering::Relaxed);
        SessionUsage {
            usage: Arc::clone(self),
            labels,
            sessions,
            current: None,
        }
    }

    /// Every statement label set with its counters, sorted.
    pub fn statement_snapshot(&self) -> Vec<(Labels, Arc<StatementCounters>)> {
        let mut v: Vec<_> = lock(&self.statements)
            .iter()
            .map(|(k, c)| (k.clone(), Arc::clone(c)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn session_snapshot(&self) -> Vec<(Labels, Arc<SessionCounters>)> {
        let mut v: Vec<_> = lock(&self.sessions)
            .iter()
            .map(|(k, c)| (k.clone(), Arc::clone(c)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn per_user(&self) -> bool {
        self.per_user
    }
}

/// Lower case, `[a-z0-9._-]` kept and runs of anything else as one `_`,
/// at most 64 characters: `DBeaver 23.1 - Main` → `dbeaver_23.1_-_main`.
pub fn normalise_tool(application: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in application.trim().chars() {
        if out.len() >= MAX_TOOL_CHARS {
            break;
        }
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        UNKNOWN_TOOL.to_owned()
    } else {
        out
    }
}

/// One session's view of the usage counters.
pub struct SessionUsage {
    usage: Arc<Usage>,
    labels: Labels,
    sessions: Arc<SessionCounters>,
    /// The application and profile last seen, with their counters.
    current: Option<(String, String, Arc<StatementCounters>)>,
}

impl StatementSink for SessionUsage {
    fn completed(&mut self, c: &Completed, application: &str) {
        let profile = c
            .facts
            .as_ref()
            .map(|f| f.profile.as_str())
            .unwrap_or(&self.labels.profile);
        let fresh = match &self.current {
            Some((a, p, _)) => a != application || p != profile,
            None => true,
        };
        if fresh {
            let labels = Labels {
                profile: profile.to_owned(),
                tool: self.usage.tool_label(application),
                ..self.labels.clone()
            };
            let counters = self.usage.statement_counters(labels);
            self.current = Some((application.to_owned(), profile.to_owned(), counters));
        }
        let Some((_, _, k)) = &self.current else {
            return;
        };
        let add = |a: &AtomicU64, n: u64| {
            a.fetch_add(n, Ordering::Relaxed);
        };
        add(&k.statements, 1);
        match c.facts.as_ref().map(|f| f.decision()) {
            Some("deny") => add(&k.denied, 1),
            Some("masked") => add(&k.masked, 1),
            _ => {}
        }
        let denied = c.facts.as_ref().is_some_and(|f| f.decision() == "deny");
        if c.sqlstate.is_some() && !denied {
            add(&k.errors, 1);
        }
        add(&k.rows, c.rows.unwrap_or(0));
        add(&k.bytes_in, c.bytes_in);
        add(&k.bytes_out, c.bytes_out);
        add(
            &k.busy_ns,
            u64::try_from(c.duration.as_nanos()).unwrap_or(u64::MAX),
        );
    }
}

impl Drop for SessionUsage {
    fn drop(&mut self) {
        self.sessions.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_normalised_and_capped() {
        assert_eq!(normalise_tool("DBeaver 23.1 - Main"), "dbeaver_23.1_-_main");
        assert_eq!(normalise_tool("  "), UNKNOWN_TOOL);
        assert_eq!(normalise_tool("a*/b\n"), "a_b");
        let u = Usage::new(&crate::config::MetricsConfig {
            per_user: false,
            max_tools: 2,
            otlp: None,
        });
        assert_eq!(u.tool_label("psql"), "psql");
        assert_eq!(u.tool_label("agent"), "agent");
        assert_eq!(u.tool_label("third"), OTHER_TOOL);
        assert_eq!(u.tool_label("psql"), "psql");
        assert_eq!(u.tool_label(""), UNKNOWN_TOOL);
    }
}
