use super::*;
use crate::audit::event::{EventId, EventKind};

fn ev() -> AuditEvent {
    AuditEvent::new(EventKind::Statement).with("n", 1i64)
}

fn write(spool: &Spool, w: &mut SegmentWriter, n: usize) -> Vec<EventId> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let e = ev();
        ids.push(e.id.clone());
        let line = crate::audit::json_line::to_vec(&e);
        if Spool::needs_rotation(w, line.len() as u64, 4096) {
            spool.rotate(w, true).unwrap_or_else(|e| panic!("{e}"));
        }
        spool.append(w, &line, 1).unwrap_or_else(|e| panic!("{e}"));
    }
    ids
}

fn read_all(spool: &Spool, sink: &str) -> (Vec<EventId>, Pos) {
    let b = spool
        .read(spool.cursor(sink), spool.end(), usize::MAX, usize::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    (b.events.into_iter().map(|e| e.id).collect(), b.next)
}

#[test]
fn torn_last_line_is_cut_and_counted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sinks = vec!["a".to_string()];
    let c = Arc::new(Counters::default());
    let ids = {
        let (spool, mut w) =
            Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
        let ids = write(&spool, &mut w, 3);
        w.file
            .write_all(b"{\"id\":\"half")
            .unwrap_or_else(|e| panic!("{e}"));
        ids
    };
    let c2 = Arc::new(Counters::default());
    let (spool, _w) = Spool::open(dir.path(), &sinks, c2.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c2.torn_lines.load(Ordering::Relaxed), 1);
    let (got, _) = read_all(&spool, "a");
    assert_eq!(got, ids);
    assert_eq!(c2.corrupt_lines.load(Ordering::Relaxed), 0);
}

#[test]
fn corrupt_line_is_skipped() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sinks = vec!["a".to_string()];
    let c = Arc::new(Counters::default());
    let (spool, mut w) =
        Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
    let mut ids = write(&spool, &mut w, 1);
    spool
        .append(&mut w, b"not json\n", 1)
        .unwrap_or_else(|e| panic!("{e}"));
    ids.extend(write(&spool, &mut w, 1));
    let (got, _) = read_all(&spool, "a");
    assert_eq!(got, ids);
    assert_eq!(c.corrupt_lines.load(Ordering::Relaxed), 1);
}

#[test]
fn cursor_persists_and_acked_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sinks = vec!["a".to_string(), "b".to_string()];
    let c = Arc::new(Counters::default());
    let (first, rest) = {
        let (spool, mut w) =
            Spool::open(dir.path(), &sinks, c.clone()).unwrap_or_else(|e| panic!("{e}"));
        let ids = write(&spool, &mut w, 100);
        assert!(spool.segment_count() > 2, "rotation expected");
        let b = spool
            .read(spool.cursor("a"), spool.end(), 60, usize::MAX)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.events.len(), 60);
        spool.ack("a", b.next).unwrap_or_else(|e| panic!("{e}"));
        // b has acked nothing: nothing may be deleted yet.
        let before = spool.segment_count();
        spool.collect_garbage();
        assert_eq!(spool.segment_count(), before);
        let (all_b, end_b) = read_all(&spool, "b");
        assert_eq!(all_b, ids);
        spool.ack("b", end_b).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            spool.segment_count() < before,
            "a's floor frees segments before it"
        );
        (ids[..60].to_vec(), ids[60..].to_vec())
    };
    assert_eq!(first.len(), 60);
    // Restart: a resumes exactly after its 60, b has nothing left.
    let (spool, _w) = Spool::open(dir.path(), &sinks, c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_all(&spool, "a").0, rest);
    assert!(read_all(&spool, "b").0.is_empty());
    assert_eq!(spool.pending_events("a").unwrap_or_default(), 40);
    assert_eq!(spool.pending_events("b").unwrap_or_default(), 0);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "temp cursor files left: {names:?}");
}

#[test]
fn dropping_a_segment_counts_only_what_no_shipper_has_taken() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sinks = vec!["a".to_string()];
    let c = Arc::new(Counters::default());
    let (spool, mut w) = Spool::open(dir.path(), &sinks, c).unwrap_or_else(|e| panic!("{e}"));
    let ids = write(&spool, &mut w, 100);
    let first = spool.lock().segments.values().next().map(|m| m.events);
    let first = first.unwrap_or_default();
    assert!(first > 5 && spool.segment_count() > 2);
    // The shipper holds five events of the first segment in a batch.
    let b = spool
        .take("a", spool.cursor("a"), spool.end(), 5, usize::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.events.len(), 5);
    let d = spool.drop_oldest_segment();
    assert!(d.deleted);
    assert_eq!(d.lost, first - 5, "the five in the batch are not lost");
    // The next segment, untouched by the shipper, is lost whole.
    let second = spool.lock().segments.values().next().map(|m| m.events);
    let d = spool.drop_oldest_segment();
    assert_eq!(Some(d.lost), second);
    // The shipper goes on after its batch with what is left.
    let rest = spool
        .take("a", b.next, spool.end(), usize::MAX, usize::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    let lost = first - 5 + second.unwrap_or_default();
    assert_eq!(rest.events.len() as u64, 100 - 5 - lost);
    assert_eq!(
        rest.events.last().map(|e| e.id.clone()),
        ids.last().cloned()
    );
}

#[test]
fn new_segment_is_numbered_above_cursors() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sinks = vec!["a".to_string()];
    fs::write(
        dir.path().join(cursor_name("a")),
        br#"{"segment":41,"offset":7}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (spool, w) = Spool::open(dir.path(), &sinks, Arc::new(Counters::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(w.seq, 42);
    assert_eq!(
        spool.cursor("a"),
        Pos {
            segment: 42,
            offset: 0
        }
    );
}
