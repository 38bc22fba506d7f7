//! The masker's own bookkeeping, below what a server conversation shows.

use super::*;
use crate::catalog::Snapshot;

/// A RowDescription of one column from `table`, attribute 1, int4, text.
fn row_description(table: u32) -> Vec<u8> {
    let mut b = 1i16.to_be_bytes().to_vec();
    b.extend_from_slice(b"c\0");
    b.extend_from_slice(&table.to_be_bytes());
    b.extend_from_slice(&1i16.to_be_bytes());
    b.extend_from_slice(&23u32.to_be_bytes());
    b.extend_from_slice(&4i16.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b.extend_from_slice(&0i16.to_be_bytes());
    b
}

/// A parsed statement with `masking`, not yet described or planned.
fn statement(masking: &Arc<StatementMasking>) -> StatementInfo {
    StatementInfo {
        masking: Arc::clone(masking),
        desc: None,
        planned: None,
        portal_rows: None,
    }
}

/// A portal bound from `statement`, results in text.
fn portal(statement: &'static [u8], masking: &Arc<StatementMasking>) -> PortalInfo {
    PortalInfo {
        masking: Arc::clone(masking),
        desc: None,
        formats: ResultFormats::AllText,
        statement: Bytes::from_static(statement),
    }
}

/// Statement `s1` bound to the unnamed portal, whose Describe is the head
/// of the queue.
fn masker_describing_portal() -> ResultMasker {
    let mut m = ResultMasker::new();
    let masking = Arc::new(StatementMasking::default());
    m.statements
        .insert(Bytes::from_static(b"s1"), statement(&masking));
    m.portals.insert(Bytes::new(), portal(b"s1", &masking));
    m.pending.push_back(Pending::DescribePortal {
        name: Bytes::new(),
        injected: false,
    });
    m
}

#[test]
fn a_portal_description_is_parsed_again_only_when_its_bytes_differ() {
    let mut m = masker_describing_portal();
    let first = m.description(&row_description(100)).expect("valid");
    let again = m.description(&row_description(100)).expect("valid");
    assert!(
        Arc::ptr_eq(&first, &again),
        "the same bytes share one parse"
    );
    let other = m.description(&row_description(200)).expect("valid");
    assert_eq!(other[0].table, 200, "other bytes are parsed");
    assert_eq!(first[0].table, 100);
    let back = m.description(&row_description(100)).expect("valid");
    assert_eq!(back[0].table, 100, "the last bytes seen are the ones kept");
    assert!(m.description(b"\0\x01").is_err(), "malformed is refused");
}

#[test]
fn descriptions_of_anything_but_a_portal_are_always_parsed() {
    let mut m = masker_describing_portal();
    m.pending.clear();
    m.pending.push_back(Pending::DescribeStatement {
        name: Bytes::from_static(b"s1"),
        injected: false,
    });
    let a = m.description(&row_description(100)).expect("valid");
    let b = m.description(&row_description(100)).expect("valid");
    assert!(!Arc::ptr_eq(&a, &b));
    assert!(
        m.statements
            .get(b"s1")
            .is_some_and(|s| s.portal_rows.is_none()),
        "a statement's own description is not a portal's"
    );
}

#[test]
fn a_statement_parsed_again_with_the_same_masking_keeps_its_description() {
    let mut m = masker_describing_portal();
    let masking = Arc::new(StatementMasking::default());
    m.statements.insert(Bytes::new(), statement(&masking));
    m.portals.insert(Bytes::new(), portal(b"", &masking));
    let first = m.description(&row_description(100)).expect("valid");
    let (_, kept) = reparsed(&mut m.statements, b"", &masking);
    let kept = kept.expect("the same masking keeps the description");
    assert!(Arc::ptr_eq(&kept.1, &first));
    assert_eq!(&*kept.0, &row_description(100)[..], "with its bytes");

    // Parsed again with other masking: nothing is kept.
    m.statements.insert(
        Bytes::new(),
        StatementInfo {
            portal_rows: Some(kept),
            ..statement(&masking)
        },
    );
    let other = Arc::new(StatementMasking {
        derived: true,
        ..StatementMasking::default()
    });
    assert!(matches!(
        reparsed(&mut m.statements, b"", &other),
        (None, None)
    ));
    assert!(matches!(
        reparsed(&mut m.statements, b"other", &masking),
        (None, None)
    ));
}

/// A catalog that knows no relation, and an index with no masks.
fn empty_view() -> (Arc<Snapshot>, Arc<MaskIndex>) {
    let snapshot = Snapshot::from_rows(vec![], vec![], vec![], 1).expect("empty catalog");
    let index = MaskIndex::build(&snapshot, &crate::policy::masks::ProfileMasks::default());
    (Arc::new(snapshot), Arc::new(index))
}

/// Runs one simple Query answered by `rows`, one DataRow and completion;
/// whether its row was rewritten.
fn run_query(
    m: &mut ResultMasker,
    view: &View<'_>,
    masking: &Arc<StatementMasking>,
    rows: &[u8],
) -> bool {
    use crate::fuzzing::frame;
    m.frontend(&frame(b'Q', b"SELECT 1\0"), Some(Arc::clone(masking)))
        .expect("valid Query");
    let mut out = BytesMut::new();
    let backend = |m: &mut ResultMasker, tag: u8, body: &[u8], out: &mut BytesMut| {
        m.backend(&frame(tag, body), view, out)
            .expect("valid reply")
    };
    assert!(matches!(backend(m, b'T', rows, &mut out), Action::Forward));
    let row = [0, 1, 0, 0, 0, 1, b'7'];
    let rewritten = matches!(backend(m, b'D', &row, &mut out), Action::Written);
    backend(m, b'C', b"SELECT 1\0", &mut out);
    backend(m, b'Z', b"I", &mut out);
    rewritten
}

#[test]
fn a_query_repeated_with_the_same_masking_keeps_its_plan_and_no_other_does() {
    let (snapshot, index) = empty_view();
    let view = View {
        snapshot: &snapshot,
        index: &index,
    };
    let computed = row_description(0);
    let masked = Arc::new(StatementMasking {
        derived: true,
        ..StatementMasking::default()
    });
    let clear = Arc::new(StatementMasking::default());
    let mut m = ResultMasker::new();

    assert!(
        run_query(&mut m, &view, &masked, &computed),
        "computed columns masked"
    );
    m.pending.push_back(Pending::Query {
        masking: Arc::clone(&masked),
    });
    assert!(
        m.kept_query_plan(&computed, &view).is_some(),
        "kept for the same bytes, masking, catalog and index"
    );
    assert!(m.kept_query_plan(&row_description(7), &view).is_none());
    let (other_snapshot, other_index) = empty_view();
    for (s, i) in [(&other_snapshot, &index), (&snapshot, &other_index)] {
        let other = View {
            snapshot: s,
            index: i,
        };
        assert!(m.kept_query_plan(&computed, &other).is_none());
    }
    m.pending.clear();
    assert!(
        run_query(&mut m, &view, &masked, &computed),
        "the kept plan masks"
    );

    // The same bytes under masking that clears computed columns: planned
    // anew, and not masked.
    assert!(!run_query(&mut m, &view, &clear, &computed));
    assert!(!run_query(&mut m, &view, &clear, &computed));

    // A cursor over masked data makes a fetch's computed columns masked:
    // the plan kept before it no longer fits.
    let fetches = Arc::new(StatementMasking {
        fetches: true,
        ..StatementMasking::default()
    });
    assert!(!run_query(&mut m, &view, &fetches, &computed));
    m.cursor_taint = true;
    assert!(run_query(&mut m, &view, &fetches, &computed));

    // Masking that differs in nothing else: a table created in the open
    // transaction leaves the columns of a relation the catalog lacks clear
    // (and that plan is kept); the same description under the usual
    // masking must not be served from it.
    let created_here = Arc::new(StatementMasking {
        unknown: crate::mask::statement::UnknownRelations::Clear,
        ..StatementMasking::default()
    });
    let unknown = row_description(20000);
    assert!(!run_query(&mut m, &view, &created_here, &unknown));
    m.pending.push_back(Pending::Query {
        masking: Arc::clone(&created_here),
    });
    assert!(m.kept_query_plan(&unknown, &view).is_some());
    m.pending.clear();

    // Columns of a relation the catalog lacks are masked, and the plan is
    // not kept: the next execution must meet the relation again.
    m.saw_unknown = false;
    assert!(run_query(&mut m, &view, &clear, &row_description(20000)));
    assert!(m.saw_unknown);
    m.pending.push_back(Pending::Query { masking: clear });
    assert!(m.kept_query_plan(&row_description(20000), &view).is_none());
}
