//! Decoders of server messages: ErrorResponse/NoticeResponse (summary and
//! the scrubbed rewrite), RowDescription, CopyOutResponse, the SASL
//! mechanism list, CommandComplete row counts, and pgward's own upstream
//! login driven by arbitrary authentication requests.
//!
//! Properties: a scrubbed error is one well-formed message that keeps the
//! SQLSTATE and severity and carries no text field that could quote data;
//! RowDescription and CopyOutResponse accept exactly what a reference
//! decoder accepts; an upstream login that requires SCRAM never completes
//! on arbitrary server bytes (the server must prove the password).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::auth::client_login::{Secret, UpstreamLogin};
use pgward::mask::scrub::{scrub, WITHHELD};
use pgward::session::statements::command_rows;
use pgward::wire::backend::{sasl_mechanisms, ErrorSummary};
use pgward::wire::extended::{copy_out_response, row_description};
use pgward_fuzz::Src;

#[derive(Debug)]
enum Input {
    Error(bool, Vec<u8>),
    RowDescription(Vec<u8>),
    CopyOut(Vec<u8>),
    Sasl(Vec<u8>),
    Complete(Vec<u8>),
    Login {
        scram_only: bool,
        requests: Vec<Vec<u8>>,
    },
}

/// Format: a selector, then the body (for the login: a flag and
/// length-prefixed authentication request bodies).
fn input(data: &[u8]) -> Input {
    let mut s = Src::new(data);
    match s.u8() % 6 {
        0 => Input::Error(s.bool(), s.rest().to_vec()),
        1 => Input::RowDescription(s.rest().to_vec()),
        2 => Input::CopyOut(s.rest().to_vec()),
        3 => Input::Sasl(s.rest().to_vec()),
        4 => Input::Complete(s.rest().to_vec()),
        _ => {
            let scram_only = s.bool();
            let mut requests = Vec::new();
            while !s.is_empty() {
                requests.push(s.chunk().to_vec());
            }
            Input::Login {
                scram_only,
                requests,
            }
        }
    }
}

/// (field, value) pairs of an error body; `None` if malformed.
fn fields(body: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut r = body;
    loop {
        let (&f, t) = r.split_first()?;
        if f == 0 {
            return t.is_empty().then_some(out);
        }
        let n = t.iter().position(|&b| b == 0)?;
        out.push((f, &t[..n]));
        r = &t[n + 1..];
    }
}

fn ref_row_description(b: &[u8]) -> Option<usize> {
    let (h, mut r) = b.split_first_chunk::<2>()?;
    let n = usize::try_from(i16::from_be_bytes(*h)).ok()?;
    for _ in 0..n {
        let nul = r.iter().position(|&c| c == 0)?;
        r = r.get(nul + 1 + 18..)?;
    }
    r.is_empty().then_some(n)
}

fuzz_target!(|data: &[u8]| {
    match input(data) {
        Input::Error(notice, body) => {
            let tag = if notice { b'N' } else { b'E' };
            let parsed = fields(&body);
            assert_eq!(ErrorSummary::parse(&body).is_some(), parsed.is_some());
            match (scrub(tag, &body), parsed) {
                (Some(out), Some(sent)) => {
                    assert_eq!(out[0], tag);
                    let len = i32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
                    assert_eq!(len, out.len() - 1, "length word");
                    let got = fields(&out[5..]).expect("scrubbed message is malformed");
                    for (f, v) in &got {
                        match f {
                            b'M' => assert_eq!(*v, WITHHELD.as_bytes()),
                            b'D' | b'H' | b'W' | b'q' | b'p' => panic!("field {} kept", *f as char),
                            _ => assert!(sent.contains(&(*f, *v)), "field {} invented", *f as char),
                        }
                    }
                    for keep in [b'C', b'S', b'V'] {
                        let a: Vec<_> = sent.iter().filter(|(f, _)| *f == keep).collect();
                        let b: Vec<_> = got.iter().filter(|(f, _)| *f == keep).collect();
                        assert_eq!(a, b, "field {} not kept", keep as char);
                    }
                    assert_eq!(
                        got.iter().filter(|(f, _)| *f == b'M').count(),
                        sent.iter().filter(|(f, _)| *f == b'M').count().max(1)
                    );
                }
                (None, None) => {}
                (a, b) => panic!("scrub and the reference disagree: {a:?} / {b:?}"),
            }
        }
        Input::RowDescription(b) => {
            let got = row_description(&b).map(|v| v.len());
            assert_eq!(got, ref_row_description(&b));
        }
        Input::CopyOut(b) => {
            let want = (|| {
                let (&f, r) = b.split_first()?;
                let (h, r) = r.split_first_chunk::<2>()?;
                let n = usize::try_from(i16::from_be_bytes(*h)).ok()?;
                (f <= 1 && r.len() == 2 * n).then_some((f, n))
            })();
            assert_eq!(copy_out_response(&b), want);
        }
        Input::Sasl(b) => {
            if let Some(list) = sasl_mechanisms(&b) {
                let mut again = Vec::new();
                for m in &list {
                    assert!(!m.is_empty() && !m.contains(&0));
                    again.extend_from_slice(m);
                    again.push(0);
                }
                again.push(0);
                assert_eq!(again, b, "mechanism list re-encodes");
            }
        }
        Input::Complete(b) => {
            if let Some(n) = command_rows(&b) {
                let tag = b.split(|&c| c == 0).next().unwrap_or_default();
                let text = String::from_utf8_lossy(tag);
                assert!(text.ends_with(&n.to_string()));
            }
        }
        Input::Login {
            scram_only,
            requests,
        } => {
            let Ok(secret) = Secret::new("service-password") else {
                return;
            };
            let mut login = UpstreamLogin::new("svc", secret).scram_only(scram_only);
            for r in &requests {
                if login.respond(r).is_err() {
                    break;
                }
            }
            if scram_only {
                assert!(
                    !login.is_done(),
                    "a SCRAM-only login completed on arbitrary bytes"
                );
            }
        }
    }
});
