//! DataRow rewriting.
//!
//! Only masked fields are decoded; runs of unmasked fields are copied as
//! byte slices, because most columns of a masked result are not sensitive and
//! DataRow is the hottest message on the wire.

use super::function::{Format, MaskFn};
use super::types::{Emit, Reader};
use bytes::{BufMut, BytesMut};
use std::sync::Arc;

/// How one result column is masked.
#[derive(Clone, Debug)]
pub struct ColumnMask {
    pub func: Arc<MaskFn>,
    pub type_oid: u32,
    pub format: Format,
}

/// The masks of one result set, by column position.
#[derive(Clone, Debug, Default)]
pub struct RowPlan {
    cols: Vec<Option<ColumnMask>>,
    masked: usize,
}

impl RowPlan {
    pub fn new(cols: Vec<Option<ColumnMask>>) -> Self {
        let masked = cols.iter().filter(|c| c.is_some()).count();
        RowPlan { cols, masked }
    }

    /// True when no column is masked, so rows can be forwarded untouched.
    pub fn is_empty(&self) -> bool {
        self.masked == 0
    }

    /// Number of columns in the result.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    /// The mask of column `i`, if any.
    pub fn column(&self, i: usize) -> Option<&ColumnMask> {
        self.cols.get(i).and_then(Option::as_ref)
    }
}

/// A DataRow that does not have the structure the protocol requires; the
/// relay cannot forward such a message safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("DataRow is truncated")]
    Truncated,
    #[error("DataRow has {got} columns but the result has {expected}")]
    ColumnCount { got: i16, expected: usize },
    #[error("DataRow column {column} has invalid length {len}")]
    InvalidLength { column: usize, len: i32 },
    #[error("DataRow has {0} bytes after its last column")]
    TrailingBytes(usize),
    #[error("rewritten DataRow exceeds the protocol's message size")]
    TooLarge,
}

/// Rewrites one DataRow body and appends the complete `'D'` message to
/// `out`. On error nothing is appended.
pub fn rewrite_data_row(body: &[u8], plan: &RowPlan, out: &mut BytesMut) -> Result<(), RowError> {
    let start = out.len();
    let r = rewrite_inner(body, plan, out, start);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn rewrite_inner(
    body: &[u8],
    plan: &RowPlan,
    out: &mut BytesMut,
    start: usize,
) -> Result<(), RowError> {
    let mut r = Reader::new(body);
    let count = r.i16().ok_or(RowError::Truncated)?;
    if usize::try_from(count).ok() != Some(plan.len()) {
        return Err(RowError::ColumnCount {
            got: count,
            expected: plan.len(),
        });
    }
    out.reserve(body.len() + 5);
    out.put_u8(b'D');
    out.put_i32(0);
    // Start of the body bytes not yet copied to `out`: unmasked fields are
    // flushed in runs when a masked field (or the end) is reached.
    let mut pending_from = 0usize;
    let mut scratch = Vec::new();
    for column in 0..plan.len() {
        let field_at = body.len() - r.remaining();
        let len = r.i32().ok_or(RowError::Truncated)?;
        let value = match len {
            -1 => None,
            n if n < 0 => return Err(RowError::InvalidLength { column, len }),
            n => Some(r.take(n as usize).ok_or(RowError::Truncated)?),
        };
        let Some(mask) = plan.column(column) else {
            continue;
        };
        let Some(value) = value else {
            // NULL stays NULL; it is still part of the pending run.
            continue;
        };
        out.put_slice(
            body.get(pending_from..field_at)
                .ok_or(RowError::Truncated)?,
        );
        pending_from = body.len() - r.remaining();
        scratch.clear();
        match mask
            .func
            .apply_into(mask.type_oid, mask.format, value, &mut scratch)
        {
            Ok(Emit::Value) => {
                let n = i32::try_from(scratch.len()).map_err(|_| RowError::TooLarge)?;
                out.put_i32(n);
                out.put_slice(&scratch);
            }
            // Undecodable or masked to NULL: never the original bytes.
            Ok(Emit::Null) | Err(_) => out.put_i32(-1),
        }
    }
    if r.remaining() != 0 {
        return Err(RowError::TrailingBytes(r.remaining()));
    }
    out.put_slice(body.get(pending_from..).unwrap_or_default());
    let len = i32::try_from(out.len() - start - 1).map_err(|_| RowError::TooLarge)?;
    if let Some(slot) = out.get_mut(start + 1..start + 5) {
        slot.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::function::DateUnit;

    fn body(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(fields.len() as i16).to_be_bytes());
        for f in fields {
            match f {
                Some(v) => {
                    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    b.extend_from_slice(v);
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        b
    }

    fn message(fields: &[Option<&[u8]>]) -> Vec<u8> {
        let b = body(fields);
        let mut m = vec![b'D'];
        m.extend_from_slice(&((b.len() + 4) as i32).to_be_bytes());
        m.extend_from_slice(&b);
        m
    }

    fn mask(func: MaskFn, type_oid: u32, format: Format) -> Option<ColumnMask> {
        Some(ColumnMask {
            func: Arc::new(func),
            type_oid,
            format,
        })
    }

    fn rewrite(b: &[u8], plan: &RowPlan) -> Result<Vec<u8>, RowError> {
        let mut out = BytesMut::new();
        rewrite_data_row(b, plan, &mut out).map(|()| out.to_vec())
    }

    fn mixed_plan() -> RowPlan {
        RowPlan::new(vec![
            None,
            mask(MaskFn::Partial { first: 1, last: 1 }, 25, Format::Text),
            mask(MaskFn::Redact, 25, Format::Text),
            None,
            mask(MaskFn::Round { digits: -2 }, 23, Format::Binary),
            mask(MaskFn::Email, 1043, Format::Text),
            None,
        ])
    }

    #[test]
    fn plan_reports_its_shape() {
        let p = mixed_plan();
        assert_eq!(p.len(), 7);
        assert!(!p.is_empty());
        assert!(RowPlan::new(vec![None, None]).is_empty());
        assert!(p.column(1).is_some() && p.column(0).is_none() && p.column(99).is_none());
    }

    #[test]
    fn rewrites_masked_fields_and_copies_the_rest() {
        let input = body(&[
            Some(b"42"),
            Some(b"secret"),
            None,
            Some(b"\x00\x01\x02"),
            Some(&1249i32.to_be_bytes()),
            Some(b"bob@example.com"),
            Some(b"tail"),
        ]);
        let want = message(&[
            Some(b"42"),
            Some(b"s****t"),
            None,
            Some(b"\x00\x01\x02"),
            Some(&1200i32.to_be_bytes()),
            Some(b"****@example.com"),
            Some(b"tail"),
        ]);
        assert_eq!(rewrite(&input, &mixed_plan()), Ok(want));
    }

    #[test]
    fn unmasked_rows_pass_through_byte_exact() {
        let fields: [Option<&[u8]>; 4] = [Some(b"a"), None, Some(b""), Some(&[0, 255, 10, 13])];
        let plan = RowPlan::new(vec![None, None, None, None]);
        assert_eq!(rewrite(&body(&fields), &plan), Ok(message(&fields)));
        // Same when masks exist but every masked field is NULL.
        let plan = RowPlan::new(vec![
            None,
            mask(MaskFn::Redact, 25, Format::Text),
            None,
            None,
        ]);
        assert_eq!(rewrite(&body(&fields), &plan), Ok(message(&fields)));
        assert_eq!(rewrite(&body(&[]), &RowPlan::new(vec![])), Ok(message(&[])));
    }

    #[test]
    fn null_results_and_undecodable_values_become_null() {
        let plan = RowPlan::new(vec![
            mask(MaskFn::Null, 25, Format::Text),
            mask(MaskFn::Round { digits: 0 }, 23, Format::Binary),
            mask(MaskFn::Truncate(DateUnit::Day), 1082, Format::Text),
            mask(MaskFn::Redact, 600, Format::Text),
        ]);
        let input = body(&[
            Some(b"x"),
            Some(b"\x00\x00\x01"),
            Some(b"not a date"),
            Some(b"(1,2)"),
        ]);
        assert_eq!(
            rewrite(&input, &plan),
            Ok(message(&[None, None, None, None]))
        );
    }

    #[test]
    fn appends_after_existing_output() {
        let mut out = BytesMut::from(&b"prefix"[..]);
        let input = body(&[Some(b"secret")]);
        let plan = RowPlan::new(vec![mask(MaskFn::Redact, 25, Format::Text)]);
        assert_eq!(rewrite_data_row(&input, &plan, &mut out), Ok(()));
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], &message(&[Some(b"****")])[..]);
        // A failing row leaves earlier output untouched.
        assert!(rewrite_data_row(&input[..5], &plan, &mut out).is_err());
        assert_eq!(out.len(), 6 + message(&[Some(b"****")]).len());
    }

    #[test]
    fn structural_errors() {
        let plan = mixed_plan();
        let good = body(&[
            Some(b"42"),
            Some(b"secret"),
            None,
            Some(b"x"),
            Some(&1i32.to_be_bytes()),
            Some(b"a@b"),
            Some(b"t"),
        ]);
        assert!(rewrite(&good, &plan).is_ok());
        for cut in 0..good.len() {
            assert!(rewrite(&good[..cut], &plan).is_err(), "prefix {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(rewrite(&trailing, &plan), Err(RowError::TrailingBytes(1)));
        assert_eq!(
            rewrite(&body(&[Some(b"1")]), &plan),
            Err(RowError::ColumnCount {
                got: 1,
                expected: 7
            })
        );
        let mut huge = good.clone();
        huge[..2].copy_from_slice(&i16::MAX.to_be_bytes());
        assert!(matches!(
            rewrite(&huge, &plan),
            Err(RowError::ColumnCount { .. })
        ));
        huge[..2].copy_from_slice(&(-1i16).to_be_bytes());
        assert!(matches!(
            rewrite(&huge, &plan),
            Err(RowError::ColumnCount { .. })
        ));
        let one = RowPlan::new(vec![mask(MaskFn::Redact, 25, Format::Text)]);
        let mut neg = body(&[Some(b"abc")]);
        neg[2..6].copy_from_slice(&(-2i32).to_be_bytes());
        assert_eq!(
            rewrite(&neg, &one),
            Err(RowError::InvalidLength { column: 0, len: -2 })
        );
        neg[2..6].copy_from_slice(&i32::MIN.to_be_bytes());
        assert!(rewrite(&neg, &one).is_err());
        let mut past = body(&[Some(b"abc")]);
        past[2..6].copy_from_slice(&4i32.to_be_bytes());
        assert_eq!(rewrite(&past, &one), Err(RowError::Truncated));
        past[2..6].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(rewrite(&past, &one), Err(RowError::Truncated));
        assert_eq!(rewrite(&[], &one), Err(RowError::Truncated));
    }

    /// Parses a complete DataRow message, checking its framing.
    fn well_formed(msg: &[u8], columns: usize) -> bool {
        let mut r = Reader::new(msg);
        let (Some(tag), Some(len)) = (r.take(1), r.i32()) else {
            return false;
        };
        if tag != b"D" || len as usize != msg.len() - 1 {
            return false;
        }
        if r.i16() != Some(columns as i16) {
            return false;
        }
        for _ in 0..columns {
            match r.i32() {
                Some(-1) => {}
                Some(n) if n >= 0 => {
                    if r.take(n as usize).is_none() {
                        return false;
                    }
                }
                _ => return false,
            }
        }
        r.remaining() == 0
    }

    #[test]
    fn random_rows_never_panic() {
        let plan = mixed_plan();
        let seed = body(&[
            Some(b"42"),
            Some(b"secret"),
            None,
            Some(b"x"),
            Some(&1i32.to_be_bytes()),
            Some(b"a@b"),
            Some(b"t"),
        ]);
        let mut rng = crate::test_rng::XorShift::new(0x9e3779b97f4a7c15);
        let mut next = move || rng.next_u64();
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 2 == 0 {
                let mut v = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() as usize) % v.len();
                    v[i] = next() as u8;
                }
                v
            } else {
                let n = (next() % 64) as usize;
                (0..n).map(|_| next() as u8).collect()
            };
            if let Ok(out) = rewrite(&input, &plan) {
                assert!(well_formed(&out, plan.len()));
            }
        }
    }
}
