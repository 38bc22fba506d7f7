//! The masker's own bookkeeping, below what a server conversation shows.

use super::*;

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
