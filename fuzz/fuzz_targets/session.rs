//! The relay's protocol state machines on arbitrary interleavings of client
//! and server bytes: the frame scanners with the relay's dispositions, the
//! statement guard (Query, Parse, FunctionCall, Sync; ParameterStatus,
//! ErrorResponse, ReadyForQuery), the result masker (every frontend
//! message with a reply; RowDescription, DataRow, CopyOutResponse,
//! CopyData, errors) and the statement tracker. CopyData and CopyFail from
//! the client cross them as pass-through frames.
//!
//! Properties: nothing panics; a malformed message is an error, never
//! silently forwarded; what pgward forwards to the server and to the client
//! is a sequence of well-formed messages (once each side's input ended on a
//! message boundary); a replaced Query or Parse is a well-formed message of
//! the same type (and a Parse keeps its statement name).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgward::fuzzing::{parse_fields, RelayMode};
use pgward::mask::statement::Evaluation;
use pgward::policy::store::PolicyStore;
use pgward::policy::Identity;
use pgward::session::guard::{Guard, Verdict};
use pgward::session::results::{Action, ResultMasker, View};
use pgward::session::settings::{Known, SessionSettings};
use pgward::session::stamping::Attribution;
use pgward::session::statements::{Facts, StatementTracker};
use pgward::sql::AnalysisCache;
use pgward::wire::backend::TxnStatus;
use pgward::wire::{Chunk, Disposition, FrameScanner};
use pgward_fuzz::env::{env, DENY_POLICY};
use pgward_fuzz::Src;
use std::sync::{Arc, OnceLock};
use tokio::time::Instant;

#[derive(Debug)]
enum Step<'a> {
    Client(&'a [u8]),
    Server(&'a [u8]),
}

#[derive(Debug)]
struct Input<'a> {
    masked: bool,
    tracked: bool,
    steps: Vec<Step<'a>>,
}

/// Format: masked and tracked flags, then steps: a direction byte (even:
/// client, odd: server) and a length-prefixed chunk of bytes.
fn input(data: &[u8]) -> Input<'_> {
    let mut s = Src::new(data);
    let masked = s.bool();
    let tracked = s.bool();
    let mut steps = Vec::new();
    while !s.is_empty() {
        let client = s.u8() & 1 == 0;
        let b = s.chunk();
        steps.push(if client {
            Step::Client(b)
        } else {
            Step::Server(b)
        });
    }
    Input {
        masked,
        tracked,
        steps,
    }
}

fn store() -> Arc<PolicyStore> {
    static S: OnceLock<Arc<PolicyStore>> = OnceLock::new();
    Arc::clone(S.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("pgward-fuzz-policy-{}.yaml", std::process::id()));
        std::fs::write(&path, DENY_POLICY).expect("write policy");
        let s = PolicyStore::from_file(&path).expect("policy store");
        let _ = std::fs::remove_file(&path);
        s
    }))
}

/// Checks that `bytes` is a sequence of whole messages.
fn well_framed(bytes: &[u8]) -> bool {
    let mut r = bytes;
    while !r.is_empty() {
        if r.len() < 5 {
            return false;
        }
        let len = i32::from_be_bytes([r[1], r[2], r[3], r[4]]);
        if len < 4 || len as usize + 1 > r.len() {
            return false;
        }
        r = &r[len as usize + 1..];
    }
    true
}

fn ends_on_boundary(stream: &[u8]) -> bool {
    well_framed(stream)
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let env = env();
    let store = store();
    let installed = store.current();
    let identity = Identity::for_user("fuzz");
    let resolution = installed.policy.resolve(&identity);
    let mut guard = Guard::new(
        Arc::clone(&store),
        Arc::new(AnalysisCache::new(16)),
        identity,
        resolution,
        SessionSettings::new(Known::Value(Arc::new(vec!["public".into()]))),
        None,
        Attribution::new("fuzz", "guarded", "default", "s1", "fuzz"),
    );
    if input.tracked {
        guard.record_decisions(Some(pgward::audit::StatementText::Full));
    }
    let mut masker = input.masked.then(ResultMasker::new);
    let mut tracker = input.tracked.then(StatementTracker::new);
    let front = if masker.is_some() || tracker.is_some() {
        RelayMode::FrontendFollowed
    } else {
        RelayMode::FrontendGuarded
    }
    .disposition();
    let back_base = if tracker.is_some() {
        RelayMode::BackendTracked
    } else {
        RelayMode::BackendGuarded
    }
    .disposition();
    let view = View {
        snapshot: &env.snapshot,
        index: &env.index,
    };
    let path = vec!["pg_catalog".to_string(), "public".to_string()];
    let eval = Evaluation {
        snapshot: &env.snapshot,
        index: &env.index,
        masks: &env.analyst.masks,
        profile: "analyst",
        search_path: Some(&path),
        new_tables: &[],
        clear_names: None,
    };

    let mut cscan = FrameScanner::new(1 << 20);
    let mut sscan = FrameScanner::new(1 << 20);
    let (mut cbuf, mut sbuf) = (BytesMut::new(), BytesMut::new());
    let (mut client_in, mut server_in) = (Vec::new(), Vec::new());
    let (mut to_server, mut to_client) = (Vec::<u8>::new(), Vec::<u8>::new());
    let mut rewritten = BytesMut::new();
    let now = Instant::now();

    for step in &input.steps {
        match step {
            Step::Client(b) => {
                client_in.extend_from_slice(b);
                cbuf.extend_from_slice(b);
                loop {
                    let chunk = match cscan.next_chunk(&mut cbuf, front) {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(_) => return,
                    };
                    let f = match chunk {
                        Chunk::Pass(p) => {
                            guard.passed();
                            to_server.extend_from_slice(&p);
                            continue;
                        }
                        Chunk::Frame(f) => f,
                    };
                    if f.tag() == b'X' {
                        return;
                    }
                    let Ok(verdict) = guard.frontend(&f) else {
                        return;
                    };
                    let masking = match (f.tag(), guard.take_masking()) {
                        (_, Some(m)) => Some(m),
                        (b'Q', None) => pgward::fuzzing::query_text(f.body())
                            .and_then(|t| std::str::from_utf8(t).ok())
                            .and_then(|t| pgward::sql::analyze(t).ok())
                            .and_then(|a| eval.evaluate(&a, &|_| None).ok())
                            .map(Arc::new),
                        (b'P', None) => parse_fields(f.body())
                            .and_then(|(_, t, _)| std::str::from_utf8(t).ok())
                            .and_then(|t| pgward::sql::analyze(t).ok())
                            .and_then(|a| eval.evaluate(&a, &|_| None).ok())
                            .map(Arc::new),
                        _ => None,
                    };
                    let injected = match masker.as_mut() {
                        Some(m) => match m.frontend(&f, masking) {
                            Ok(i) => i,
                            Err(_) => return,
                        },
                        None => None,
                    };
                    if let Some(t) = tracker.as_mut() {
                        let facts = guard.take_decided().map(|d| {
                            Arc::new(Facts::from_decided(d, pgward::audit::StatementText::Full))
                        });
                        t.frontend(&f, facts, None, now);
                    }
                    if let Some(extra) = injected {
                        assert!(well_framed(&extra), "injected message is malformed");
                        to_server.extend_from_slice(&extra);
                    }
                    match verdict {
                        Verdict::Forward => to_server.extend_from_slice(f.as_bytes()),
                        Verdict::Replace(sub) => {
                            assert!(well_framed(&sub), "replacement is malformed");
                            check_replacement(&f, &sub);
                            to_server.extend_from_slice(&sub);
                        }
                        // The relay holds the message and asks the server;
                        // a question is a well-formed Query, and the model
                        // ends here (its answer is the server's to give).
                        Verdict::Ask(q) => {
                            assert!(well_framed(&q), "question is malformed");
                            assert_eq!(q[0], b'Q', "a question is a Query");
                            return;
                        }
                        // No catalog here: nothing to load.
                        Verdict::Load(_) => return,
                    }
                }
            }
            Step::Server(b) => {
                server_in.extend_from_slice(b);
                sbuf.extend_from_slice(b);
                loop {
                    let m = masker.as_ref();
                    let probing = guard.probing();
                    let disp = |tag: u8| match m {
                        _ if probing && matches!(tag, b'1' | b'3') => Disposition::Whole,
                        None => back_base(tag),
                        Some(r) => match tag {
                            b'D' if !r.rewrites_rows() => Disposition::Pass,
                            b'd' if !r.rewrites_copy() => Disposition::Pass,
                            _ => Disposition::Whole,
                        },
                    };
                    let chunk = match sscan.next_chunk(&mut sbuf, disp) {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(_) => return,
                    };
                    let f = match chunk {
                        Chunk::Pass(p) => {
                            to_client.extend_from_slice(&rewritten.split());
                            to_client.extend_from_slice(&p);
                            continue;
                        }
                        Chunk::Frame(f) => f,
                    };
                    // A probe's own ParseComplete and CloseComplete are
                    // not the client's (the relay drops them first).
                    if matches!(f.tag(), b'1' | b'3') && guard.probe_reply(f.tag()) {
                        continue;
                    }
                    if let Some(t) = tracker.as_mut() {
                        t.note_bytes_out(f.len());
                        t.backend(&f, now);
                        t.take_completed().for_each(drop);
                    }
                    let mut denial = None;
                    match f.tag() {
                        b'Z' => {
                            if let Some(st) = TxnStatus::from_ready_body(f.body()) {
                                guard.backend_ready(st);
                            }
                        }
                        b'E' => denial = guard.backend_error(&f),
                        b'S' => guard.parameter_status(f.body()),
                        _ => {}
                    }
                    let action = match masker.as_mut() {
                        Some(m) => match m.backend(&f, &view, &mut rewritten) {
                            Ok(a) => a,
                            Err(_) => return,
                        },
                        None => Action::Forward,
                    };
                    assert!(well_framed(&rewritten), "rewritten output is malformed");
                    if let Some(d) = denial {
                        assert!(well_framed(&d));
                        to_client.extend_from_slice(&rewritten.split());
                        to_client.extend_from_slice(&d);
                        continue;
                    }
                    match action {
                        Action::Forward => {
                            to_client.extend_from_slice(&rewritten.split());
                            to_client.extend_from_slice(f.as_bytes());
                        }
                        Action::Replace(b) => {
                            assert!(well_framed(&b), "replaced message is malformed");
                            to_client.extend_from_slice(&rewritten.split());
                            to_client.extend_from_slice(&b);
                        }
                        Action::Written | Action::Swallow => {}
                    }
                }
                to_client.extend_from_slice(&rewritten.split());
            }
        }
    }
    if ends_on_boundary(&client_in) && cbuf.is_empty() {
        assert!(
            well_framed(&to_server),
            "bytes to the server are not whole messages"
        );
    }
    if ends_on_boundary(&server_in) && sbuf.is_empty() {
        assert!(
            well_framed(&to_client),
            "bytes to the client are not whole messages"
        );
    }
});

/// The messages of a replacement, as (type, body).
fn messages(b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = b;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        out.push((rest[0], &rest[5..1 + len]));
        rest = &rest[1 + len..];
    }
    out
}

/// A denied message becomes a marker of the same type (a denied
/// FunctionCall a marker Query: the server answers both with an error and
/// ReadyForQuery) under the same statement name; text pgward's parser
/// rejects may instead become a probe: a Parse of exactly the client's
/// text (a Query's: unnamed, no parameter types, then the marker Parse and
/// one Sync; a Parse's: same name and parameter types, a Close of a named
/// statement, then the marker Parse).
fn check_replacement(f: &pgward::wire::Frame, sub: &[u8]) {
    let msgs = messages(sub);
    let tags: Vec<u8> = msgs.iter().map(|m| m.0).collect();
    match f.tag() {
        b'F' => assert_eq!(tags, b"Q", "a FunctionCall becomes a marker Query"),
        b'Q' if tags == b"Q" => {}
        b'Q' => {
            assert_eq!(tags, b"PPS", "a Query's probe");
            let (name, text, params) = parse_fields(msgs[0].1).expect("probe Parse");
            let orig = pgward::fuzzing::query_text(f.body()).expect("forwarded Query");
            assert!(
                name.is_empty() && params == [0, 0] && text == orig,
                "the probe parses the client's text"
            );
            let (marker, _, _) = parse_fields(msgs[1].1).expect("marker Parse");
            assert!(
                marker.is_empty(),
                "the marker replaces the unnamed statement"
            );
        }
        b'P' => {
            let (orig, text, params) = parse_fields(f.body()).expect("forwarded Parse");
            let last = msgs.last().expect("a message");
            let (name, _, _) = parse_fields(last.1).expect("marker Parse");
            assert_eq!(name, orig, "replacement Parse renames the statement");
            match tags.as_slice() {
                b"P" => {}
                b"PP" | b"PCP" => {
                    assert_eq!(tags.len() == 3, !orig.is_empty(), "a named probe is closed");
                    assert_eq!(
                        parse_fields(msgs[0].1),
                        Some((orig, text, params)),
                        "the probe is the client's Parse"
                    );
                    if tags.len() == 3 {
                        let mut want = vec![b'S'];
                        want.extend_from_slice(orig);
                        want.push(0);
                        assert_eq!(
                            msgs[1].1,
                            &want[..],
                            "the probe closes the client's statement"
                        );
                    }
                }
                t => panic!("unexpected replacement of a Parse: {t:?}"),
            }
        }
        t => panic!("replaced message type {t}"),
    }
}
