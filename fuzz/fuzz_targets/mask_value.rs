//! Every mask function over arbitrary values of every supported type (and
//! arrays of them), in text and binary format.
//!
//! Property: a masked value is NULL or a value the server would accept for
//! the column's type in that format (checked by an independent model of the
//! server's input and receive functions); unknown types and xml only ever
//! become NULL; masking is deterministic and appends to a reused buffer
//! without disturbing what is already in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::mask::types::Emit;
use pgward::mask::{Format, MaskFn, Masked};
use pgward_fuzz::{mask_fn, type_oid, valid, Src};

#[derive(Debug)]
struct Input<'a> {
    func: MaskFn,
    oid: u32,
    format: Format,
    value: &'a [u8],
}

/// Format: the mask function (selector and parameters), the type, the
/// format flag, then the value's bytes.
fn input(data: &[u8]) -> Input<'_> {
    let mut s = Src::new(data);
    let func = mask_fn(&mut s);
    let oid = type_oid(&mut s);
    let format = if s.bool() {
        Format::Binary
    } else {
        Format::Text
    };
    Input {
        func,
        oid,
        format,
        value: s.rest(),
    }
}

fn known(oid: u32) -> bool {
    valid::SCALARS.contains(&oid) || valid::ARRAYS.contains(&oid)
}

fuzz_target!(|data: &[u8]| {
    let input = input(data);
    let f = &input.func;
    let binary = input.format == Format::Binary;
    let r = f.apply(input.oid, input.format, input.value);
    // Deterministic, and the same through the buffer-reusing entry point.
    let again = f.apply(input.oid, input.format, input.value);
    assert_eq!(r, again, "masking is not deterministic");
    let mut buf = b"prefix".to_vec();
    let via_buf = f.apply_into(input.oid, input.format, input.value, &mut buf);
    match (&r, via_buf) {
        (Ok(Masked::Value(v)), Ok(Emit::Value)) => {
            assert_eq!(&buf[..6], b"prefix");
            assert_eq!(&buf[6..], &v[..]);
        }
        (Ok(Masked::Null), Ok(Emit::Null)) | (Err(_), Err(_)) => {}
        (a, b) => panic!("apply and apply_into disagree: {a:?} / {b:?}"),
    }

    let Ok(Masked::Value(v)) = r else {
        return;
    };
    if !known(input.oid) {
        panic!("a type pgward does not know ({}) got a value", input.oid);
    }
    if f.validate().is_err() {
        // A policy cannot hold this function; only the absence of panics counts.
        return;
    }
    if let Err(why) = valid::value(input.oid, binary, &v) {
        panic!(
            "{f:?} on type {} ({}) made an invalid value: {why}\n input  {:?}\n output {:?}",
            input.oid,
            if binary { "binary" } else { "text" },
            String::from_utf8_lossy(input.value),
            String::from_utf8_lossy(&v),
        );
    }
});
