//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! a few counter families with fixed label sets do not justify a metrics
//! registry crate and its global state, and the format is small and stable.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{Labels, Usage};
use crate::audit::AuditStats;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label values may hold anything a client sent (tool, user): escaped as
/// the format requires.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn labels(l: &Labels, with_tool: bool, per_user: bool) -> String {
    let mut s = format!(
        "branch=\"{}\",profile=\"{}\"",
        escape(&l.branch),
        escape(&l.profile)
    );
    if with_tool {
        let _ = write!(s, ",tool=\"{}\"", escape(&l.tool));
    }
    if per_user {
        let _ = write!(s, ",user=\"{}\"", escape(&l.user));
    }
    s
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders everything `/metrics` serves.
pub fn render(usage: &Usage, audit: Option<&AuditStats>, ready: bool) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "pgward_ready",
        "gauge",
        "1 when /readyz answers 200.",
    );
    let _ = writeln!(out, "pgward_ready {}", u8::from(ready));

    let stmts = usage.statement_snapshot();
    let per_user = usage.per_user();
    type Get = fn(&super::StatementCounters) -> u64;
    let families: [(&str, &str, Get); 8] = [
        (
            "pgward_statements_total",
            "Statements completed (denied ones included).",
            |c| c.statements.load(Ordering::Relaxed),
        ),
        (
            "pgward_statements_denied_total",
            "Statements denied by the policy.",
            |c| c.denied.load(Ordering::Relaxed),
        ),
        (
            "pgward_statement_errors_total",
            "Statements that ended with a server error.",
            |c| c.errors.load(Ordering::Relaxed),
        ),
        (
            "pgward_statements_masked_total",
            "Statements whose results were masked.",
            |c| c.masked.load(Ordering::Relaxed),
        ),
        (
            "pgward_rows_total",
            "Rows returned or affected, from CommandComplete.",
            |c| c.rows.load(Ordering::Relaxed),
        ),
        (
            "pgward_request_bytes_total",
            "Bytes of the statements' requests, client to server.",
            |c| c.bytes_in.load(Ordering::Relaxed),
        ),
        (
            "pgward_response_bytes_total",
            "Bytes of the statements' replies, server to client.",
            |c| c.bytes_out.load(Ordering::Relaxed),
        ),
        (
            "pgward_server_busy_seconds_total",
            "Sum of statement durations, forwarding to completion.",
            |_| 0,
        ),
    ];
    for (name, help, get) in families {
        header(&mut out, name, "counter", help);
        for (l, c) in &stmts {
            let lab = labels(l, true, per_user);
            if name == "pgward_server_busy_seconds_total" {
                let secs = c.busy_ns.load(Ordering::Relaxed) as f64 / 1e9;
                let _ = writeln!(out, "{name}{{{lab}}} {secs}");
            } else {
                let _ = writeln!(out, "{name}{{{lab}}} {}", get(c));
            }
        }
    }

    let sessions = usage.session_snapshot();
    header(
        &mut out,
        "pgward_sessions_open",
        "gauge",
        "Sessions open now.",
    );
    for (l, c) in &sessions {
        let _ = writeln!(
            out,
            "pgward_sessions_open{{{}}} {}",
            labels(l, false, per_user),
            c.open.load(Ordering::Relaxed)
        );
    }
    header(
        &mut out,
        "pgward_sessions_total",
        "counter",
        "Sessions started.",
    );
    for (l, c) in &sessions {
        let _ = writeln!(
            out,
            "pgward_sessions_total{{{}}} {}",
            labels(l, false, per_user),
            c.total.load(Ordering::Relaxed)
        );
    }

    if let Some(a) = audit {
        let simple: [(&str, &str, &str, u64); 8] = [
            (
                "pgward_audit_events_emitted_total",
                "counter",
                "Audit events accepted.",
                a.emitted,
            ),
            (
                "pgward_audit_events_written_total",
                "counter",
                "Audit events written to the spool.",
                a.written,
            ),
            (
                "pgward_audit_events_dropped_total",
                "counter",
                "Audit events lost to the overflow policy.",
                a.dropped,
            ),
            (
                "pgward_audit_events_refused_total",
                "counter",
                "Audit events refused (refuse_sessions).",
                a.refused,
            ),
            (
                "pgward_audit_write_errors_total",
                "counter",
                "Spool write errors.",
                a.write_errors,
            ),
            (
                "pgward_audit_spool_bytes",
                "gauge",
                "Bytes in the spool.",
                a.spool_bytes,
            ),
            (
                "pgward_audit_queue_length",
                "gauge",
                "Events waiting to be written.",
                a.queue_len,
            ),
            (
                "pgward_audit_blocked_emitters",
                "gauge",
                "Sessions waiting for room in the audit queue.",
                a.blocked_emitters,
            ),
        ];
        for (name, kind, help, v) in simple {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {v}");
        }
        type SinkGet = fn(&crate::audit::SinkStats) -> u64;
        let sink_families: [(&str, &str, &str, SinkGet); 5] = [
            (
                "pgward_audit_events_shipped_total",
                "counter",
                "Audit events a sink acknowledged.",
                |s| s.shipped,
            ),
            (
                "pgward_audit_send_failures_total",
                "counter",
                "Failed sends to a sink (retried).",
                |s| s.send_failures,
            ),
            (
                "pgward_audit_events_read_back_total",
                "counter",
                "Audit events a sink read back from the spool instead of taking them as written.",
                |s| s.read_back,
            ),
            (
                "pgward_audit_cursor_saves_total",
                "counter",
                "Times a sink's cursor file was written.",
                |s| s.cursor_saves,
            ),
            (
                "pgward_audit_sink_lag_bytes",
                "gauge",
                "Spooled bytes a sink has not acknowledged.",
                |s| s.lag_bytes,
            ),
        ];
        for (name, kind, help, get) in sink_families {
            header(&mut out, name, kind, help);
            for s in &a.sinks {
                let _ = writeln!(out, "{name}{{sink=\"{}\"}} {}", escape(&s.name), get(s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn every_sink_counter_is_rendered_under_its_sink() {
        let usage = Usage::new(&crate::config::MetricsConfig {
            per_user: false,
            max_tools: 8,
            otlp: None,
        });
        let stats = AuditStats {
            sinks: vec![crate::audit::SinkStats {
                name: "grpc\"1".into(),
                shipped: 11,
                batches: 12,
                send_failures: 13,
                rejected: 14,
                lag_bytes: 15,
                read_back: 16,
                cursor_saves: 17,
            }],
            ..AuditStats::default()
        };
        let text = render(&usage, Some(&stats), true);
        for (family, value) in [
            ("pgward_audit_events_shipped_total", 11),
            ("pgward_audit_send_failures_total", 13),
            ("pgward_audit_events_read_back_total", 16),
            ("pgward_audit_cursor_saves_total", 17),
            ("pgward_audit_sink_lag_bytes", 15),
        ] {
            let line = format!("{family}{{sink=\"grpc\\\"1\"}} {value}");
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
