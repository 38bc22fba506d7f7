//! DataRow rewriting, text and binary columns.
//!
//! Properties: a row that is rewritten is one well-formed DataRow with the
//! same number of columns; every unmasked field is the server's bytes
//! unchanged; every masked field is exactly what the mask function makes
//! of that field (NULL when it cannot be masked), and so NULL or valid for
//! its type; a row that is refused leaves the output buffer as it was.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use pgward::mask::{rewrite_data_row, ColumnMask, Format, Masked, RowPlan};
use pgward_fuzz::{mask_fn, type_oid, valid, Src};
use std::sync::Arc;

#[derive(Debug)]
struct Input {
    cols: Vec<Option<ColumnMask>>,
    body: Vec<u8>,
}

/// Format: the column count, per column a flag (odd: masked) and for a
/// masked one its function, type and format flag; then the DataRow body.
fn input(data: &[u8]) -> Input {
    let mut s = Src::new(data);
    let n = s.u8() % 9;
    let cols = (0..n)
        .map(|_| {
            s.bool().then(|| ColumnMask {
                func: Arc::new(mask_fn(&mut s)),
                type_oid: type_oid(&mut s),
                format: if s.bool() {
                    Format::Binary
                } else {
                    Format::Text
                },
            })
        })
        .collect();
    Input {
        cols,
        body: s.rest().to_vec(),
    }
}

/// The fields of a DataRow body (count, then length-prefixed values).
fn fields(body: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    let (h, mut r) = body.split_first_chunk::<2>()?;
    let n = i16::from_be_bytes(*h);
    let mut out = Vec::new();
    for _ in 0..usize::try_from(n).ok()? {
        let (h, t) = r.split_first_chunk::<4>()?;
        let len = i32::from_be_bytes(*h);
        r = t;
        if len == -1 {
            out.push(None);
        } else {
            let len = usize::try_from(len).ok()?;
            out.push(Some(r.get(..len)?));
            r = &r[len..];
        }
    }
    r.is_empty().then_some(out)
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let plan = RowPlan::new(input.cols.clone());
    let mut out = BytesMut::from(&b"before"[..]);
    let r = rewrite_data_row(&input.body, &plan, &mut out);
    if r.is_err() {
        assert_eq!(&out[..], b"before", "a refused row left bytes behind");
        return;
    }
    assert_eq!(&out[..6], b"before");
    let msg = &out[6..];
    assert_eq!(msg[0], b'D');
    let len = i32::from_be_bytes([msg[1], msg[2], msg[3], msg[4]]) as usize;
    assert_eq!(len, msg.len() - 1, "DataRow length word");
    let got = fields(&msg[5..]).expect("rewritten DataRow is malformed");
    let sent = fields(&input.body).expect("an accepted DataRow was malformed");
    assert_eq!(got.len(), plan.len());
    assert_eq!(sent.len(), plan.len());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        match (plan.column(i), s) {
            (None, _) | (Some(_), None) => assert_eq!(g, s, "column {i} changed"),
            (Some(m), Some(v)) => {
                let want = match m.func.apply(m.type_oid, m.format, v) {
                    Ok(Masked::Value(x)) => Some(x),
                    Ok(Masked::Null) | Err(_) => None,
                };
                assert_eq!(g.map(<[u8]>::to_vec), want, "column {i}");
                if let Some(g) = g {
                    if let Err(why) = valid::value(m.type_oid, m.format == Format::Binary, g) {
                        panic!(
                            "column {i}: {:?} made an invalid {}: {why}",
                            m.func, m.type_oid
                        );
                    }
                }
            }
        }
    }
});
