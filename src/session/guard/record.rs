//! What an allowed request carries to the server (the attribution stamp)
//! and what the audit trail keeps of every decided request.

use super::{Decided, Guard, Outcome};
use crate::policy::Decision;
use crate::session::stamping;

impl Guard {
    /// The stamped text of an allowed request, or `None` to forward it as
    /// sent. Only text the parser accepted under the server's current string
    /// syntax is stamped: the comment lexer relies on both. Also records the
    /// request for the audit trail.
    pub(super) fn stamp(
        &mut self,
        decision: &Decision,
        sql: Option<&str>,
        kind: u8,
    ) -> Option<String> {
        let profile = &self.resolution.profile;
        let parsed = self
            .last_analysis
            .as_ref()
            .is_some_and(|a| a.as_ref().is_ok());
        let stampable = profile.stamp
            && parsed
            && self.settings.strings_certain() == Some(true)
            && (self.settings.encoding_safe() || sql.is_some_and(str::is_ascii))
            && !matches!(decision, Decision::Deny(_));
        let wants_trace = stampable && profile.traceparent;
        let found = self.last_comments.take();
        let scanned = sql
            .filter(|_| stampable || self.record_text)
            .and_then(|sql| match found {
                Some(c) => crate::attribution::Scanned::with(sql, c),
                None => crate::attribution::scanned(sql),
            });
        let client_tp = match &scanned {
            Some(s) if self.record_text || wants_trace => s
                .client_comment()
                .and_then(|c| c.traceparent().map(str::to_owned)),
            _ => None,
        };
        let tp = if wants_trace {
            stamping::child_traceparent(client_tp.as_deref())
        } else {
            None
        };
        let stamped = match &scanned {
            Some(s) if stampable => self.attribution.apply(s, tp.as_deref()),
            _ => None,
        };
        let tp = tp.filter(|_| stamped.is_some());
        self.note(kind, decision, sql, tp, client_tp);
        stamped
    }

    /// Does the trail need the client's text of the request just decided?
    /// In full, or to derive the literal-free form the analysis lookup did
    /// not make.
    fn keeps_text(&self) -> bool {
        use crate::audit::StatementText;
        match self.text_kept {
            StatementText::Full => true,
            StatementText::Fingerprint => self.last_normalized.is_none(),
            StatementText::None => false,
        }
    }

    pub(super) fn note(
        &mut self,
        kind: u8,
        decision: &Decision,
        sql: Option<&str>,
        traceparent: Option<String>,
        client_traceparent: Option<String>,
    ) {
        if !self.record {
            return;
        }
        let outcome = match decision {
            Decision::Allow => Outcome::Allow,
            Decision::Observe(d) => Outcome::Observe {
                rule: d.rule.clone(),
            },
            Decision::Deny(d) => Outcome::Deny {
                rule: d.rule.clone(),
            },
        };
        let row_filters = match self.last_analysis.as_deref() {
            Some(Ok(a)) => {
                let cands = self.settings.resolved().map(|r| &r.lookup[..]);
                self.resolution.profile.row_filters.applying(a, cands)
            }
            _ => Vec::new(),
        };
        self.decided = Some(Decided {
            kind,
            outcome,
            profile: self.resolution.profile.name.clone(),
            sql: sql.filter(|_| self.keeps_text()).map(str::to_owned),
            analysis: self.last_analysis.clone(),
            masking: self.last_masking.clone(),
            traceparent,
            client_traceparent,
            row_filters,
            normalized: self.last_normalized.take(),
        });
    }
}
