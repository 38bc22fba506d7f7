//! The facts of a session's recent requests, shared with a later request
//! that was decided the same way.
//!
//! A statement that differs from an earlier one only in its constants gets
//! the earlier one's analysis from the cache (the same `Arc`), and usually
//! the same decision, masked columns, literal-free text and row filters:
//! then its facts, and the audit attributes encoded from them once, are
//! the earlier request's. Without this every such statement would build
//! its facts and encode its attribute block (JSON and OTLP) again, though
//! they come out byte for byte the same.
//!
//! Sharing is decided by comparing everything the facts are made of, so a
//! difference in any of them (another analysis, outcome, profile, text,
//! masked column or row filter, or a traceparent, which is new for every
//! statement) builds new facts. The analysis is compared by identity: the
//! memo holds the `Arc`, so its address cannot be reused by another
//! analysis while the entry lives.

use std::sync::Arc;

use super::guard::{Decided, Shared};
use super::recent::Recent;
use super::statements::{statement_text, Facts};
use crate::audit::StatementText;

/// Requests remembered per session: enough for the statements of a
/// typical transaction to find their predecessors.
const SLOTS: usize = 16;

#[derive(Default)]
pub struct RecentFacts {
    slots: Recent<(Shared, Arc<Facts>), SLOTS>,
}

impl RecentFacts {
    /// The facts of `d`: a recent request's when they are the same,
    /// otherwise new ones (remembered for the requests after it).
    pub fn facts(&mut self, mut d: Decided, mode: StatementText) -> Arc<Facts> {
        let text = statement_text(&mut d, mode);
        let Some(analysis) = d.analysis.clone().filter(|_| shareable(&d)) else {
            return Arc::new(Facts::with_text(d, text));
        };
        if let Some((_, f)) = self
            .slots
            .find(|(a, f)| Arc::ptr_eq(a, &analysis) && same(f, &d, text.as_deref()))
        {
            return Arc::clone(f);
        }
        let f = Arc::new(Facts::with_text(d, text));
        self.slots.push((analysis, Arc::clone(&f)));
        f
    }
}

/// A traceparent is new for each statement: facts carrying one are never
/// the same as another request's.
fn shareable(d: &Decided) -> bool {
    d.traceparent.is_none() && d.client_traceparent.is_none()
}

/// Would `d`, with `text`, make facts equal to `f`? (Its analysis is the
/// one `f` was made from.)
fn same(f: &Facts, d: &Decided, text: Option<&str>) -> bool {
    let masked_same = match &d.masking {
        None => f.masked_columns.is_empty(),
        Some(m) => {
            f.masked_columns.len() == m.masked_columns.len()
                && f.masked_columns
                    .iter()
                    .zip(&m.masked_columns)
                    .all(|(a, b)| a.as_str() == &**b)
        }
    };
    f.kind == d.kind
        && f.outcome == d.outcome
        && f.profile == d.profile
        && f.text.as_deref() == text
        && f.row_filters == d.row_filters
        && f.traceparent.is_none()
        && f.client_traceparent.is_none()
        && masked_same
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::statement::StatementMasking;
    use crate::session::guard::Outcome;

    fn analysis(sql: &str) -> Shared {
        Arc::new(crate::sql::analyze(sql))
    }

    fn decided(a: &Shared, normalized: &str) -> Decided {
        Decided {
            kind: b'Q',
            outcome: Outcome::Allow,
            profile: "developer".into(),
            sql: Some(normalized.replace("$1", "7")),
            analysis: Some(Arc::clone(a)),
            masking: None,
            traceparent: None,
            client_traceparent: None,
            row_filters: Vec::new(),
            normalized: Some(normalized.into()),
        }
    }

    const TEXT: &str = "SELECT * FROM t WHERE id = $1";

    #[test]
    fn a_request_decided_the_same_way_shares_the_facts_and_their_encoding() {
        let a = analysis("SELECT * FROM t WHERE id = 1");
        let mut recent = RecentFacts::default();
        let first = recent.facts(decided(&a, TEXT), StatementText::Fingerprint);
        let again = recent.facts(decided(&a, TEXT), StatementText::Fingerprint);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(again.text.as_deref(), Some(TEXT));
        assert_eq!(again.objects, vec!["t".to_string()]);
    }

    /// Every part the facts are made of, changed alone, gives new facts
    /// that say what the new request was.
    #[test]
    fn any_difference_builds_new_facts() {
        let a = analysis("SELECT * FROM t WHERE id = 1");
        type Change = fn(&mut Decided);
        let changes: [(&str, Change); 9] = [
            ("kind", |d| d.kind = b'P'),
            ("outcome", |d| {
                d.outcome = Outcome::Observe { rule: "r".into() }
            }),
            ("profile", |d| d.profile = "analyst".into()),
            ("text", |d| {
                d.normalized = Some("SELECT *  FROM t WHERE id = $1".into())
            }),
            ("row filters", |d| d.row_filters = vec!["t: id > 0".into()]),
            ("masked columns", |d| {
                let mut m = StatementMasking::default();
                m.masked_columns.insert(Arc::from("public.t.email"));
                d.masking = Some(Arc::new(m));
            }),
            ("traceparent", |d| {
                d.traceparent =
                    Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into())
            }),
            ("client traceparent", |d| {
                d.client_traceparent =
                    Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into())
            }),
            ("analysis", |d| {
                d.analysis = Some(analysis("SELECT * FROM u WHERE id = 1"))
            }),
        ];
        for (what, change) in changes {
            let mut recent = RecentFacts::default();
            let first = recent.facts(decided(&a, TEXT), StatementText::Fingerprint);
            let mut d = decided(&a, TEXT);
            change(&mut d);
            let expect = Facts::from_decided(
                {
                    let mut e = decided(&a, TEXT);
                    change(&mut e);
                    e
                },
                StatementText::Fingerprint,
            );
            let got = recent.facts(d, StatementText::Fingerprint);
            assert!(!Arc::ptr_eq(&first, &got), "{what}: shared");
            assert_eq!(
                (
                    got.kind,
                    &got.outcome,
                    &got.profile,
                    &got.text,
                    &got.row_filters,
                    &got.masked_columns,
                    &got.traceparent,
                    &got.client_traceparent,
                    &got.objects,
                ),
                (
                    expect.kind,
                    &expect.outcome,
                    &expect.profile,
                    &expect.text,
                    &expect.row_filters,
                    &expect.masked_columns,
                    &expect.traceparent,
                    &expect.client_traceparent,
                    &expect.objects,
                ),
                "{what}"
            );
            // The original facts are still found for a request like the first.
            let third = recent.facts(decided(&a, TEXT), StatementText::Fingerprint);
            assert!(Arc::ptr_eq(&first, &third), "{what}: first forgotten");
        }
    }

    /// Under full text the statement's own text is compared: a statement
    /// with other constants is a new text, and its facts say so.
    #[test]
    fn full_text_differs_with_the_constants() {
        let a = analysis("SELECT * FROM t WHERE id = 1");
        let mut recent = RecentFacts::default();
        let mut one = decided(&a, TEXT);
        one.sql = Some("SELECT * FROM t WHERE id = 1".into());
        let mut two = decided(&a, TEXT);
        two.sql = Some("SELECT * FROM t WHERE id = 2".into());
        let f1 = recent.facts(one, StatementText::Full);
        let f2 = recent.facts(two, StatementText::Full);
        assert!(!Arc::ptr_eq(&f1, &f2));
        assert_eq!(f2.text.as_deref(), Some("SELECT * FROM t WHERE id = 2"));
    }

    /// Past its slots the oldest entry gives way; nothing grows further.
    #[test]
    fn holds_a_bounded_number_of_requests() {
        let mut recent = RecentFacts::default();
        let all: Vec<Shared> = (0..SLOTS + 4)
            .map(|i| analysis(&format!("SELECT * FROM t{i}")))
            .collect();
        let first: Vec<Arc<Facts>> = all
            .iter()
            .map(|a| recent.facts(decided(a, "x"), StatementText::Fingerprint))
            .collect();
        assert_eq!(recent.slots.len(), SLOTS);
        let last = all.len() - 1;
        let again = recent.facts(decided(&all[last], "x"), StatementText::Fingerprint);
        assert!(Arc::ptr_eq(&first[last], &again));
        let oldest = recent.facts(decided(&all[0], "x"), StatementText::Fingerprint);
        assert!(!Arc::ptr_eq(&first[0], &oldest));
    }
}
