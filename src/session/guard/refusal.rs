//! What a refused request becomes, and how the server's answer to it turns
//! back into pgward's error.
//!
//! A refused message is replaced by a marker the server rejects at parse
//! time (or, for text pgward's parser rejected, a probe that lets the
//! server say how); the marker's error, recognised in the reply stream by
//! its batch, becomes pgward's 42501 (or the server's own syntax error).

use bytes::Bytes;
use std::sync::Arc;
use tracing::{info, warn};

use super::markers::marker;
use super::{Guard, Verdict};
use crate::mask::statement::StatementMasking;
use crate::policy::{Decision, Denial};
use crate::wire::backend::{ErrorReport, ErrorSummary, SqlState};
use crate::wire::Frame;

/// A denial whose marker is in flight; its error comes back in `batch`.
pub(super) struct PendingDenial {
    pub batch: u64,
    pub report: ErrorReport,
    /// The server parses the client's text first (text pgward's parser
    /// rejected, see [`markers::probe_query`] and [`markers::probe_parse`]):
    /// the replies, in this order, the probe gets when the server's grammar
    /// accepts the text, which are not the client's.
    pub swallow: &'static [u8],
}

/// Why a request is refused, which decides what the server is sent instead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Policy,
    /// pgward's parser rejected the text: the server should say how.
    Syntax,
}

/// What a refused request is replaced with.
pub(super) enum Substitute {
    /// The marker: the server's error for it becomes pgward's.
    Marker(Bytes),
    /// A probe, then the marker, and the replies to swallow when the
    /// server's grammar accepts the text.
    Probe(Bytes, &'static [u8]),
}

/// Why a denial is logged: an observe-mode profile lets the statement
/// through (information), an enforcing one refuses it (a warning).
enum Logged {
    Observed,
    Denied,
}

/// One line per denial, with the same fields whichever way it went.
fn log_denial(d: &Denial, how: Logged) {
    macro_rules! line {
        ($level:ident, $message:literal) => {
            $level!(
                profile = %d.profile,
                rule = %d.rule,
                command = %d.command,
                object = d.object.as_deref().unwrap_or(""),
                $message
            )
        };
    }
    match how {
        Logged::Observed => line!(info, "observe mode: statement would be denied"),
        Logged::Denied => line!(warn, "statement denied"),
    }
}

impl Guard {
    pub(super) fn apply(
        &mut self,
        decision: Decision,
        batch: u64,
        substitute: impl FnOnce(Refusal) -> Substitute,
    ) -> Verdict {
        match decision {
            Decision::Allow => Verdict::Forward,
            Decision::Observe(d) => {
                log_denial(&d, Logged::Observed);
                Verdict::Forward
            }
            Decision::Deny(d) => {
                let syntax = self.syntax_error();
                let refusal = match syntax {
                    Some(_) => Refusal::Syntax,
                    None => Refusal::Policy,
                };
                let report = match syntax {
                    Some(r) => r,
                    None => {
                        log_denial(&d, Logged::Denied);
                        let mut report =
                            ErrorReport::error(SqlState::INSUFFICIENT_PRIVILEGE, d.message.clone())
                                .with_detail(format!(
                                    "pgward rule \"{}\" of profile \"{}\" (statement {})",
                                    d.rule,
                                    d.profile,
                                    d.statement + 1
                                ));
                        if let Some(h) = &d.hint {
                            report = report.with_hint(h.clone());
                        }
                        report
                    }
                };
                let (bytes, swallow) = match substitute(refusal) {
                    Substitute::Marker(b) => (b, &b""[..]),
                    Substitute::Probe(b, swallow) => {
                        // The server only parses the text: its error quotes
                        // the client's own SQL, never a value it read.
                        self.last_masking = Some(Arc::new(StatementMasking::default()));
                        (b, swallow)
                    }
                };
                self.pending.push_back(PendingDenial {
                    batch,
                    report,
                    swallow,
                });
                Verdict::Replace(bytes)
            }
        }
    }

    /// The server's own answer to text its grammar rejects: pgward does not
    /// forward it, but says what the server would.
    fn syntax_error(&self) -> Option<ErrorReport> {
        let Some(Err(f)) = self.last_analysis.as_deref() else {
            return None;
        };
        match &f.kind {
            crate::sql::FailureKind::Syntax {
                sqlstate,
                position,
                routine,
                file,
            } => {
                let mut r = ErrorReport::error(SqlState::from_code(sqlstate), f.message.clone());
                r.position = *position;
                r.routine = routine.clone();
                r.file = file.clone();
                Some(r)
            }
            crate::sql::FailureKind::Refused => None,
        }
    }

    /// Called for every backend ErrorResponse: returns pgward's error if this
    /// is the server's answer to a marker.
    pub fn backend_error(&mut self, frame: &Frame) -> Option<Bytes> {
        self.settings.error();
        let front = self.pending.front()?;
        if front.batch != self.done_batches {
            return None;
        }
        let summary = ErrorSummary::parse(frame.body())?;
        let ours = summary.code == "42601"
            && (summary.message.contains(marker())
                // The probe's text is several statements the server's
                // grammar accepts: the refusal is pgward's after all.
                || (!front.swallow.is_empty() && summary.routine == "exec_parse_message"));
        if !ours {
            return None;
        }
        self.pending.pop_front().map(|p| p.report.to_bytes())
    }

    /// A probe's ParseComplete or CloseComplete may be on its way: the
    /// relay must see those messages whole.
    pub fn probing(&self) -> bool {
        self.pending.iter().any(|p| !p.swallow.is_empty())
    }

    /// Called for a ParseComplete or CloseComplete: true if it answers the
    /// probe of the batch being answered (the server's grammar accepted
    /// text pgward's did not), which the client must not see. A probe
    /// starts its batch, so its replies come first in it.
    pub fn probe_reply(&mut self, tag: u8) -> bool {
        match self.pending.front_mut() {
            Some(p) if p.batch == self.done_batches && p.swallow.first() == Some(&tag) => {
                p.swallow = &p.swallow[1..];
                true
            }
            _ => false,
        }
    }
}
